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

pub mod aws;
pub mod contract;
pub mod driver;
pub mod logs;
pub mod metrics;
pub mod mocks;
pub mod ports;
pub mod services;

pub use driver::{Config, FaultPoint, Handled, Runtime};
pub use services::{AwsCalls, NoAws};

/// The underlying error of a storage or messaging failure, kept as the source.
pub type Source = Box<dyn std::error::Error + Send + Sync>;

/// The resource an [`Error::NotFound`] is about; decides AWS's exception name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `ExecutionDoesNotExist`.
    Execution,
    /// `StateMachineDoesNotExist`.
    StateMachine,
    /// `TaskDoesNotExist` (an unknown task token).
    Task,
    /// `ActivityDoesNotExist`.
    Activity,
    /// A Map Run.
    MapRun,
    /// `ResourceNotFound`: an alias, a resource to tag.
    Resource,
}

/// What an [`Error::Invalid`] request got wrong; decides AWS's exception name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// `InvalidDefinition`: the definition is not valid ASL.
    Definition,
    /// `InvalidName`: a name breaks AWS's rules.
    Name,
    /// `InvalidExecutionInput`: not JSON, or too large.
    ExecutionInput,
    /// `InvalidToken`: a malformed task token.
    Token,
    /// `InvalidOutput`: a task output that is not JSON, or too large.
    Output,
    /// `MissingRequiredParameter`: none of the fields the operation needs one of.
    MissingParameter,
    /// `ValidationException`: a field out of its bounds.
    Parameter,
    /// `InvalidArn`: not an ARN of the kind the operation takes.
    Arn,
}

/// Errors of the runtime and its adapters, grouped by what a caller can do about them:
/// retry ([`Error::Conflict`]), report a missing resource ([`Error::NotFound`],
/// [`Error::AlreadyExists`]), reject the request ([`Error::Invalid`], [`Error::TaskTimedOut`]),
/// or fail internally ([`Error::Storage`], [`Error::Messaging`], keeping the underlying error as
/// the source). [`Error::code`] gives AWS's exception name and [`Error::message`] its message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another writer changed the execution first.
    #[error("the execution was changed concurrently (expected version {expected})")]
    Conflict {
        /// The version the writer expected.
        expected: u64,
    },
    /// An execution with this ARN exists (`ExecutionAlreadyExists`).
    #[error("ExecutionAlreadyExists: {}", aws::already_exists(.arn))]
    AlreadyExists {
        /// The execution ARN.
        arn: String,
    },
    /// No such resource.
    #[error("{}: {message}", Error::not_found_code(*.what))]
    NotFound {
        /// What kind of resource.
        what: Missing,
        /// AWS's message.
        message: String,
    },
    /// The request is invalid.
    #[error("{}: {message}", Error::invalid_code(*.what))]
    Invalid {
        /// What is wrong.
        what: Invalid,
        /// AWS's message, naming the field and the value or limit.
        message: String,
    },
    /// The task of this token is no longer running (finished, timed out, execution ended).
    #[error("TaskTimedOut: {0}")]
    TaskTimedOut(String),
    /// The store failed.
    #[error("{context}: {}", chain(.source.as_ref()))]
    Storage {
        /// What was being done (the operation, the table, the key).
        context: String,
        /// The underlying error.
        source: Source,
    },
    /// A queue or topic failed.
    #[error("{context}: {}", chain(.source.as_ref()))]
    Messaging {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: Source,
    },
    /// A fault injected by a test.
    #[error("injected crash at {0}")]
    InjectedCrash(String),
    /// The request conflicts with the resource's state or AWS's limits: an exception of its
    /// own (`ConflictException`, `ServiceQuotaExceededException`, `TooManyTags`,
    /// `ExecutionNotRedrivable`, `InvalidLoggingConfiguration`, ...).
    #[error("{code}: {message}")]
    Rejected {
        /// AWS's exception name.
        code: &'static str,
        /// AWS's message.
        message: String,
    },
}

/// An error and its sources, `: `-separated (SDK errors say little at the top level: "service
/// error"; the cause is further down the chain).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = s.source();
    }
    text
}

impl Error {
    /// A storage failure while doing `context`.
    pub fn storage(context: impl Into<String>, source: impl Into<Source>) -> Error {
        Error::Storage { context: context.into(), source: source.into() }
    }
    /// A messaging failure while doing `context`.
    pub fn messaging(context: impl Into<String>, source: impl Into<Source>) -> Error {
        Error::Messaging { context: context.into(), source: source.into() }
    }
    /// An invalid request.
    pub fn invalid(what: Invalid, message: impl Into<String>) -> Error {
        Error::Invalid { what, message: message.into() }
    }
    /// `ValidationException` with this message.
    pub fn validation(message: impl Into<String>) -> Error {
        Error::invalid(Invalid::Parameter, message)
    }
    /// `ExecutionDoesNotExist` for this ARN.
    pub fn no_execution(arn: &str) -> Error {
        Error::NotFound { what: Missing::Execution, message: format!("Execution Does Not Exist: '{arn}'") }
    }
    /// `StateMachineDoesNotExist` for this ARN.
    pub fn no_machine(arn: &str) -> Error {
        Error::NotFound { what: Missing::StateMachine, message: format!("State Machine Does Not Exist: '{arn}'") }
    }
    /// `ActivityDoesNotExist` for this ARN.
    pub fn no_activity(arn: &str) -> Error {
        Error::NotFound { what: Missing::Activity, message: format!("Activity Does Not Exist: '{arn}'") }
    }
    /// `ResourceNotFound` for this Map Run ARN.
    pub fn no_map_run(arn: &str) -> Error {
        Error::NotFound { what: Missing::MapRun, message: format!("Resource not found: '{arn}'") }
    }
    /// `TaskDoesNotExist` with this message.
    pub fn no_task(message: impl Into<String>) -> Error {
        Error::NotFound { what: Missing::Task, message: message.into() }
    }

    fn not_found_code(what: Missing) -> &'static str {
        match what {
            Missing::Execution => "ExecutionDoesNotExist",
            Missing::StateMachine => "StateMachineDoesNotExist",
            Missing::Task => "TaskDoesNotExist",
            Missing::Activity => "ActivityDoesNotExist",
            Missing::MapRun | Missing::Resource => "ResourceNotFound",
        }
    }

    fn invalid_code(what: Invalid) -> &'static str {
        match what {
            Invalid::Definition => "InvalidDefinition",
            Invalid::Name => "InvalidName",
            Invalid::ExecutionInput => "InvalidExecutionInput",
            Invalid::Token => "InvalidToken",
            Invalid::Output => "InvalidOutput",
            Invalid::MissingParameter => "MissingRequiredParameter",
            Invalid::Parameter => "ValidationException",
            Invalid::Arn => "InvalidArn",
        }
    }

    /// AWS's exception name (`ExecutionAlreadyExists`, ...), for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Conflict { .. } => "ConflictException",
            Error::AlreadyExists { .. } => "ExecutionAlreadyExists",
            Error::NotFound { what, .. } => Error::not_found_code(*what),
            Error::Invalid { what, .. } => Error::invalid_code(*what),
            Error::TaskTimedOut(_) => "TaskTimedOut",
            Error::Rejected { code, .. } => code,
            Error::Storage { .. } | Error::Messaging { .. } | Error::InjectedCrash(_) => "InternalFailure",
        }
    }

    /// The message an API answers with (without the exception name).
    pub fn message(&self) -> String {
        match self {
            Error::AlreadyExists { arn } => aws::already_exists(arn),
            Error::NotFound { message, .. }
            | Error::Invalid { message, .. }
            | Error::TaskTimedOut(message)
            | Error::Rejected { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// The HTTP status an API answers this error with: 400 for the caller's errors (409 for a
    /// `ConflictException`, 402 for `ServiceQuotaExceededException`, as AWS), 500 for ours.
    pub fn status(&self) -> u16 {
        match self.code() {
            "InternalFailure" => 500,
            "ConflictException" => 409,
            "ServiceQuotaExceededException" => 402,
            _ => 400,
        }
    }

    /// Whether the caller is at fault (an API answers 400) rather than the runtime (500).
    pub fn is_client_error(&self) -> bool {
        self.code() != "InternalFailure"
    }
}
