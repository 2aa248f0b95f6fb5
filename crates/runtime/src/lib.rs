//! The durable stepwise runtime: the step driver and task-token completion, written against
//! ports (traits) for the execution store, queues, topics, functions and the clock.
//!
//! The driver advances an execution **one transition per step message**: it loads the
//! execution, applies the pure stepper once, commits the new state together with its history and
//! the actions still to do (an outbox) conditionally on the version it loaded, then does the
//! actions (enqueue the next step messages, invoke a task integration) and empties the outbox.
//! A crash anywhere leaves either no commit (the message is delivered again and redone) or a
//! commit with its outbox (whoever loads it next does the actions first). Queue sends carry
//! deduplication ids, so doing an action twice sends one message. Lambda tasks therefore run at
//! least once; transitions exactly once.
#![warn(missing_docs)]

pub mod contract;
pub mod driver;
pub mod ports;

pub use driver::{Config, FaultPoint, Handled, Runtime};

/// Errors of the runtime and its adapters, in Step Functions' vocabulary where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Another writer changed the execution first.
    #[error("the execution was changed concurrently (expected version {expected})")]
    Conflict {
        /// The version the writer expected.
        expected: u64,
    },
    /// An execution with this ARN exists.
    #[error("ExecutionAlreadyExists: Execution Already Exists: '{0}'")]
    ExecutionAlreadyExists(String),
    /// No such execution.
    #[error("ExecutionDoesNotExist: Execution Does Not Exist: '{0}'")]
    ExecutionDoesNotExist(String),
    /// No such state machine.
    #[error("StateMachineDoesNotExist: State Machine Does Not Exist: '{0}'")]
    StateMachineDoesNotExist(String),
    /// A request names none of the fields an operation needs one of.
    #[error("MissingRequiredParameter: {0}")]
    MissingRequiredParameter(String),
    /// The definition is invalid (AWS's message).
    #[error("InvalidDefinition: {0}")]
    InvalidDefinition(String),
    /// A name breaks AWS's rules.
    #[error("InvalidName: {0}")]
    InvalidName(String),
    /// The execution input is not valid JSON or too large.
    #[error("InvalidExecutionInput: {0}")]
    InvalidExecutionInput(String),
    /// A task token is malformed.
    #[error("InvalidToken: {0}")]
    InvalidToken(String),
    /// No task has this token.
    #[error("TaskDoesNotExist: {0}")]
    TaskDoesNotExist(String),
    /// The task of this token is no longer running (finished, timed out, execution ended).
    #[error("TaskTimedOut: {0}")]
    TaskTimedOut(String),
    /// A task output is not valid JSON or too large.
    #[error("InvalidOutput: {0}")]
    InvalidOutput(String),
    /// A request field is out of bounds.
    #[error("ValidationException: {0}")]
    Validation(String),
    /// The store failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// A queue or topic failed.
    #[error("messaging error: {0}")]
    Messaging(String),
    /// A fault injected by a test.
    #[error("injected crash at {0}")]
    InjectedCrash(String),
}

impl Error {
    /// AWS's exception name (`ExecutionAlreadyExists`, ...), for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Conflict { .. } => "ConflictException",
            Error::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            Error::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            Error::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            Error::MissingRequiredParameter(_) => "MissingRequiredParameter",
            Error::InvalidDefinition(_) => "InvalidDefinition",
            Error::InvalidName(_) => "InvalidName",
            Error::InvalidExecutionInput(_) => "InvalidExecutionInput",
            Error::InvalidToken(_) => "InvalidToken",
            Error::TaskDoesNotExist(_) => "TaskDoesNotExist",
            Error::TaskTimedOut(_) => "TaskTimedOut",
            Error::InvalidOutput(_) => "InvalidOutput",
            Error::Validation(_) => "ValidationException",
            Error::Storage(_) | Error::Messaging(_) | Error::InjectedCrash(_) => "InternalFailure",
        }
    }
}
