//! The Amazon States Language, as AWS Step Functions runs it: the definition model, its
//! validation, JSONPath (Jayway dialect), intrinsic functions, and a pure stepper.
//!
//! Nothing in this crate performs I/O. The stepper takes the machine, the execution state and
//! one event, and returns the new execution state, the effects the runtime must perform (invoke
//! a function, send a message, wait, ...) and the history events of that transition. Clocks and
//! randomness come in through an environment, so every transition can be replayed.
#![warn(missing_docs)]

pub mod jsonpath;
