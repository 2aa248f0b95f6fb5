//! [`LambdaFunctions`]: Lambda functions, invoked synchronously.
//!
//! | what happened | outcome |
//! |---|---|
//! | 200, no `FunctionError` | `Ok(payload)` (an empty payload is `null`; a payload that is not JSON is the error `Runtime.InvalidResponse`, or `States.DataLimitExceeded` above 256 KiB) |
//! | 200 with `FunctionError` | `Error` with the payload's `errorType` (else the `FunctionError` value, e.g. `Unhandled`, else `Lambda.Unknown`) and `errorMessage` |
//! | `ResourceNotFoundException` | `NotFound` |
//! | a 500 whose body has an `errorType` (`cargo lambda watch`'s way of reporting a raised error) | that error |
//! | another error Invoke's model declares, code `X` | `Error` of type `Lambda.X` (`Lambda.TooManyRequestsException`, ...), so Retry can match it |
//! | an undeclared error (`AccessDeniedException`: the role may not invoke) or none | `Lambda.ServiceException` (5xx) or `Lambda.AWSLambdaException`, the cause naming the code (`... (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: ...; Proxy: null)`) |
//! | no response (connection, I/O) | `Lambda.SdkClientException` |
//! | the task's timeout passes | `TimedOut` |
//!
//! The client does not retry by itself: the state machine's Retry decides (Step Functions
//! reports these errors to Retry the same way).
//!
//! With [`LambdaFunctions::with_roles`], a Task's invocation is made as the execution's state
//! machine role (credentials assumed through `stepwise_sdk`'s cache); a role that cannot be
//! assumed fails the task with `States.Runtime`, and a role Lambda refuses fails it as Lambda
//! reports it (`Lambda.AccessDeniedException`, naming the assumed role).

use crate::count;
use aws_config::SdkConfig;
use aws_sdk_lambda::config::Credentials;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use aws_smithy_types::retry::RetryConfig;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use stepwise_asl::integrations::aws::Identity;
use stepwise_asl::integrations::FunctionOutcome;
use stepwise_runtime::ports::Functions;

/// Lambda functions through the Invoke API (see the module documentation for how responses
/// map to outcomes).
#[derive(Debug, Clone)]
pub struct LambdaFunctions {
    client: Client,
    roles: Option<Arc<stepwise_sdk::SdkClient>>,
}

fn error(error_type: &str, message: &str) -> FunctionOutcome {
    FunctionOutcome::error(error_type, message)
}

impl LambdaFunctions {
    /// Functions through a client made from `sdk` with the SDK's own retries off.
    pub fn new(sdk: &SdkConfig) -> LambdaFunctions {
        let conf = aws_sdk_lambda::config::Builder::from(sdk).retry_config(RetryConfig::disabled()).build();
        LambdaFunctions { client: Client::from_conf(conf), roles: None }
    }

    /// Functions through this client (as configured: retries included).
    pub fn from_client(client: Client) -> LambdaFunctions {
        LambdaFunctions { client, roles: None }
    }

    /// Task invocations made as the execution's role, its credentials from `roles`.
    pub fn with_roles(self, roles: Arc<stepwise_sdk::SdkClient>) -> LambdaFunctions {
        LambdaFunctions { roles: Some(roles), ..self }
    }

    /// The credentials an invocation as `identity` is made with: `Ok(None)` for the client's
    /// own; `Err` with the task's outcome when the role cannot be assumed.
    async fn credentials(&self, identity: Option<&Identity>) -> Result<Option<Credentials>, FunctionOutcome> {
        let (Some(roles), Some(identity)) = (&self.roles, identity) else { return Ok(None) };
        roles.identity_credentials(identity).await.map_err(|e| error("States.Runtime", &e.to_string()))
    }

    /// The operation's configuration for `creds` (none: the client's).
    fn as_identity(creds: Option<Credentials>) -> aws_sdk_lambda::config::Builder {
        let mut b = aws_sdk_lambda::config::Builder::default();
        if let Some(c) = creds {
            b = b.credentials_provider(c);
        }
        b
    }

    /// The Lambda client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Functions for LambdaFunctions {
    async fn invoke_as(
        &self,
        function: &str,
        payload: &Value,
        timeout: Option<Duration>,
        asynchronous: bool,
        identity: Option<&Identity>,
    ) -> FunctionOutcome {
        let creds = match self.credentials(identity).await {
            Ok(c) => c,
            Err(outcome) => return outcome,
        };
        if asynchronous {
            self.event(function, payload, creds).await
        } else {
            self.request_response(function, payload, timeout, creds).await
        }
    }

    async fn invoke_event(&self, function: &str, payload: &Value) -> FunctionOutcome {
        self.event(function, payload, None).await
    }

    async fn invoke(&self, function: &str, payload: &Value, timeout: Option<Duration>) -> FunctionOutcome {
        self.request_response(function, payload, timeout, None).await
    }
}

impl LambdaFunctions {
    async fn event(&self, function: &str, payload: &Value, creds: Option<Credentials>) -> FunctionOutcome {
        let bytes = match serde_json::to_vec(payload) {
            Ok(b) => b,
            Err(e) => return error("Lambda.SdkClientException", &format!("encoding the payload: {e}")),
        };
        count("lambda", "Invoke");
        match self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(bytes))
            .customize()
            .config_override(Self::as_identity(creds))
            .send()
            .await
        {
            // Accepted (202): the function runs on its own; there is no result to report.
            Ok(_) => FunctionOutcome::Ok(Value::Null),
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_resource_not_found_exception() => FunctionOutcome::NotFound,
                _ => error(
                    &format!(
                        "Lambda.{}",
                        e.as_service_error()
                            .and_then(|x| aws_smithy_types::error::metadata::ProvideErrorMetadata::code(x))
                            .unwrap_or("SdkClientException")
                    ),
                    &e.to_string(),
                ),
            },
        }
    }

    async fn request_response(
        &self,
        function: &str,
        payload: &Value,
        timeout: Option<Duration>,
        creds: Option<Credentials>,
    ) -> FunctionOutcome {
        let bytes = match serde_json::to_vec(payload) {
            Ok(b) => b,
            Err(e) => return error("Lambda.SdkClientException", &format!("encoding the payload: {e}")),
        };
        count("lambda", "Invoke");
        let call = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(bytes))
            .customize()
            .config_override(Self::as_identity(creds))
            .send();
        let result = match timeout {
            Some(t) => match tokio::time::timeout(t, call).await {
                Ok(r) => r,
                Err(_) => return FunctionOutcome::TimedOut,
            },
            None => call.await,
        };
        match result {
            Ok(out) => {
                let body = out.payload().map(std::convert::AsRef::as_ref).unwrap_or_default();
                if let Some(kind) = out.function_error() {
                    let fallback = if kind.is_empty() { "Lambda.Unknown" } else { kind };
                    return FunctionOutcome::from_error_body(body, Some(fallback))
                        .unwrap_or_else(|| error(fallback, ""));
                }
                FunctionOutcome::from_output_body(body)
            }
            Err(SdkError::ServiceError(ctx)) => {
                let raw = ctx.raw();
                let status = raw.status().as_u16();
                let body = raw.body().bytes().unwrap_or_default();
                let err = ctx.err();
                if err.is_resource_not_found_exception() {
                    return FunctionOutcome::NotFound;
                }
                if status == 500 {
                    if let Some(e) = FunctionOutcome::from_error_body(body, None) {
                        return e;
                    }
                }
                let message =
                    err.message().map(String::from).unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
                // Invoke's modelled errors keep their names (Retry matches them); others (an IAM
                // refusal: AccessDeniedException) are the SDK's generic AWSLambdaException, as
                // Step Functions reports them.
                #[allow(deprecated)]
                let modelled = !matches!(err, aws_sdk_lambda::operation::invoke::InvokeError::Unhandled(_));
                let error_type = match err.code() {
                    Some(code) if modelled => format!("Lambda.{code}"),
                    _ if status >= 500 => "Lambda.ServiceException".to_string(),
                    _ => "Lambda.AWSLambdaException".to_string(),
                };
                let code = err.code().unwrap_or("AWSLambdaException");
                let request =
                    err.meta().extra("aws_request_id").or_else(|| raw.headers().get("x-amzn-RequestId")).unwrap_or("");
                error(
                    &error_type,
                    &format!(
                        "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {request}; Proxy: null)"
                    ),
                )
            }
            Err(SdkError::TimeoutError(_)) => FunctionOutcome::TimedOut,
            Err(e) => error(
                "Lambda.SdkClientException",
                &format!("cannot invoke {function}: {}", aws_smithy_types::error::display::DisplayErrorContext(e)),
            ),
        }
    }
}
