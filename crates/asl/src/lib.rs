//! The Amazon States Language, as AWS Step Functions runs it: the definition model, its
//! validation, JSONPath (Jayway dialect), intrinsic functions, and a pure stepper.
//!
//! Nothing in this crate performs I/O. The stepper takes the machine, the execution state and
//! one event, and returns the new execution state, the effects the runtime must perform (invoke
//! a function, send a message, wait, ...) and the history events of that transition. Clocks and
//! randomness come in through an environment, so every transition can be replayed.
#![warn(missing_docs)]

pub mod arn;
pub mod choice;
pub mod history;
pub mod integrations;
pub mod intrinsics;
pub mod item_reader;
pub mod jsonata;
pub mod jsonpath;
pub mod local;
pub mod map_run;
pub mod mock;
pub mod model;
pub mod payload;
pub mod stepper;
pub mod test_state;
pub mod timestamp;
pub mod uuid;
pub mod validate;
pub mod value_type;

pub use model::StateMachine;

/// Why a definition cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Static validation failed; the message is AWS's `InvalidDefinition` text.
    #[error("{message}")]
    InvalidDefinition {
        /// AWS's message.
        message: String,
        /// Every problem found.
        diagnostics: Vec<validate::Diagnostic>,
    },
    /// The definition passed validation but could not be compiled.
    #[error("Invalid State Machine Definition: '{0}'")]
    Model(#[from] model::ModelError),
}

/// Validates a definition (with AWS's diagnostics) and compiles it for the stepper.
pub fn load(definition: &serde_json::Value, express: bool) -> Result<StateMachine, Error> {
    let diagnostics = validate::validate(definition, &validate::ValidateOptions { express });
    if !diagnostics.is_empty() {
        return Err(Error::InvalidDefinition { message: validate::aws_message(&diagnostics), diagnostics });
    }
    Ok(StateMachine::from_value(definition)?)
}
