//! The stepwise Lambda functions: Step Functions' service rebuilt as a handful of functions over
//! the runtime's ports (on AWS: DynamoDB, SQS, SNS and Lambda, from `stepwise-aws`).
//!
//! Every handler is a plain async function over a [`Runtime`] generic in its ports, so the same
//! code runs on the AWS adapters (the binaries in `src/bin/`) and on the embedded ones (the
//! tests, with the event files of `events/`).
//!
//! | function (binary) | trigger | handler |
//! |---|---|---|
//! | `step-driver` | the step queue (SQS) | [`step_driver`]: one transition per record, partial batch failures |
//! | `approval-callback` | `RequestHumanApprovalQueue` (SQS) | [`approval_callback`]: the sample's ApproveSqsLambda, `SendTaskSuccess "approved"` |
//! | `api` (the API function) | HTTP API `POST /` (the whole Step Functions API, AWS JSON 1.0), `/send-task-success`, `/send-task-failure`, `/send-task-heartbeat` | [`api_function`] over [`stepwise_api`] |
//! | `start-execution` | HTTP API `POST /executions`, and the start queue (SQS) | [`start_execution_http`], [`start_execution_sqs`], dispatched by [`start_execution_event`] |
//! | `check-stock-price`, `generate-buy-sell-recommendation`, `buy-stock`, `sell-stock` | invoked by the step driver | [`check_stock_price`], [`generate_buy_sell_recommendation`], [`buy_stock`], [`sell_stock`] |
//!
//! The state machine the driver runs is registered in the store by the `start-execution`
//! function on its cold start, from its environment ([`register_machine_from_env`]); see
//! `template.yaml`.
//!
//! Logging goes through `tracing`: each record or request is handled inside a span carrying
//! `execution_arn` and `state` (the state name, where the handler can know it without an extra
//! read of the execution), so every log line names the execution ([`init_logging`]).
#![warn(missing_docs)]

#[cfg(feature = "aws")]
mod function;
mod http;
mod logging;
mod machine;
mod sample;
mod sqs;

#[cfg(feature = "aws")]
pub use function::run_sqs_function;
pub use http::{api_error, api_function, start_execution_event, start_execution_http, StartEvent, StartEventResponse};
pub use logging::{init_logging, json_subscriber};
pub use machine::{register_machine_from_env, MachineEnv};
pub use sample::{buy_stock, check_stock_price, generate_buy_sell_recommendation, sell_stock};
pub use sqs::{approval_callback, start_execution_sqs, step_driver, StartExecutionInput};

/// The runtime the handlers take: generic over the store, queues, topics, functions and clock.
pub use stepwise_runtime::Runtime;

/// The Lambda event types the handlers take and return (`aws_lambda_events`, the version
/// `lambda_http` uses).
pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// A random (version 4) UUID, the default execution name; and a time as the AWS JSON protocol
/// writes timestamps (epoch seconds, milliseconds as the fraction).
pub use stepwise_api::{epoch_seconds, uuid_v4};
