//! Calls any AWS service action from the models AWS publishes of its services.
//!
//! Step Functions' `aws-sdk:<service>:<action>` integration reaches over 200 services and
//! thousands of actions with no per-action code; so does this crate:
//! - [`model`]: the service models (generated from botocore's, see
//!   `scripts/gen_service_models.py`), loaded per service on first use;
//! - [`wire`]: a Step Functions-named input → the service's HTTP request, the answer → Step
//!   Functions-named output or a refusal, for the JSON 1.0/1.1, REST-JSON, REST-XML and
//!   query protocols;
//! - [`client`]: endpoints, credentials (the standard chain), SigV4 signing, sending;
//!   [`SdkClient`] is the runtime's `AwsCalls` port;
//! - [`roles`]: every Task call made as the execution's state machine role (STS AssumeRole,
//!   a session per execution, cached), and as a Task's `Credentials.RoleArn`.
//!
//! The optimized DynamoDB and EventBridge integrations and, where an endpoint routes them, SQS
//! sends and SNS publishes use it too.
#![warn(missing_docs)]

pub mod client;
pub mod logs;
pub mod model;
pub mod roles;
pub mod validate;
pub mod wire;
pub mod xml;

pub use client::{Error, SdkClient, Settings};
pub use roles::{AssumeIdentities, Sessions};
