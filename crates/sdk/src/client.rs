//! [`SdkClient`]: sends a call to the service's endpoint, signed with SigV4 (`aws-sigv4`, the
//! AWS SDK's own signer) as the configured identity or the task's role, over hyper with
//! rustls (the SDK's HTTP stack), and answers as the runtime's `AwsCalls` port.
//!
//! Where calls go, first match wins: the client's own endpoint (`stepwise conformance
//! --aws-endpoint`), `AWS_ENDPOINT_URL_<SERVICE>` (`AWS_ENDPOINT_URL_DYNAMODB`,
//! `..._SECRETS_MANAGER`), `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, else AWS
//! (`https://<prefix>.<region>.amazonaws.com`). Credentials come from the standard chain
//! (environment, profile, SSO, container or instance role); calls are made as the execution's
//! state machine role and a Task's `Credentials.RoleArn`, assumed through STS (see
//! [`crate::roles`]).

use crate::model::{self, Protocol, Service};
use crate::roles::{AssumeIdentities, Roles, Sessions};
use crate::wire::{self, Request, Response};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use stepwise_asl::integrations::aws::{AwsAnswer, AwsCall, AwsFault, AwsReply, Flavour, Identity};
use stepwise_runtime::AwsCalls;
use tokio::sync::OnceCell;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// How an [`SdkClient`] is set up.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Send every call here (a local emulator), whatever the environment says.
    pub endpoint: Option<String>,
    /// The region to sign for and build AWS endpoints with (default: the SDK configuration's,
    /// else `us-east-1`).
    pub region: Option<String>,
    /// Credentials to use instead of the standard chain.
    pub credentials: Option<Credentials>,
    /// Whether Task SQS sends and SNS publishes go to the configured endpoint rather than the
    /// runtime's own queues and topics (the local runtime: yes when an endpoint is
    /// configured; the Lambda step driver: no, its queues and topics are SQS and SNS already).
    pub route_messaging: bool,
    /// Whether Task SQS sends and SNS publishes always go through this client, whatever the
    /// environment says: the step driver on AWS, whose Task calls are all made as the
    /// execution's role.
    pub messaging_always: bool,
    /// When calls are made as the execution's identity (its state machine's role).
    pub assume_identities: AssumeIdentities,
    /// What one STS session of an identity covers (an execution, or a machine).
    pub sessions: Sessions,
    /// Told of every request sent (`service`, `Action`): the AWS adapters' request counters.
    pub observer: Option<fn(&str, &str)>,
}

impl Settings {
    /// Every call to a local emulator at `url` (moto, LocalStack), signed for `region` with
    /// placeholder credentials (emulators accept any), SQS and SNS tasks routed there too.
    pub fn for_endpoint(url: &str, region: &str) -> Settings {
        Settings {
            endpoint: Some(url.to_string()),
            region: Some(region.to_string()),
            credentials: Some(Credentials::new("test", "test", None, None, "stepwise-endpoint")),
            route_messaging: true,
            ..Settings::default()
        }
    }

    /// The step driver's client on AWS: calls go to AWS in `region` with the function's own
    /// credentials, every Task call (SQS and SNS included) made as the execution's role.
    pub fn for_aws(region: &str) -> Settings {
        Settings {
            region: Some(region.to_string()),
            route_messaging: true,
            messaging_always: true,
            assume_identities: AssumeIdentities::Always,
            ..Settings::default()
        }
    }
}

/// Calls AWS services from their models (see the module documentation).
pub struct SdkClient {
    settings: Settings,
    config: OnceCell<SdkConfig>,
    http: std::sync::OnceLock<Result<Client<Https, Full<Bytes>>, String>>,
    roles: Roles,
}

impl std::fmt::Debug for SdkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Why a call was not sent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No model, or no such action.
    #[error("{0}")]
    Unknown(String),
    /// The parameters do not fit the action.
    #[error("{0}")]
    Parameters(String),
    /// No credentials, or the role could not be assumed.
    #[error("{0}")]
    Credentials(String),
    /// The request could not be sent (host unknown, connection refused, timeout).
    #[error("{0}")]
    Transport(String),
}

impl SdkClient {
    /// A client with these settings.
    pub fn new(settings: Settings) -> SdkClient {
        SdkClient { settings, config: OnceCell::new(), http: std::sync::OnceLock::new(), roles: Roles::default() }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(e) = &self.settings.endpoint {
                    loader = loader.endpoint_url(e);
                }
                if let Some(r) = &self.settings.region {
                    loader = loader.region(aws_config::Region::new(r.clone()));
                }
                if let Some(c) = &self.settings.credentials {
                    loader = loader.credentials_provider(c.clone());
                }
                loader.load().await
            })
            .await
    }

    fn http(&self) -> Result<&Client<Https, Full<Bytes>>, Error> {
        let built = self.http.get_or_init(|| {
            let provider = Arc::new(rustls_provider());
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(provider)
                .map_err(|e| format!("no TLS root certificates: {e}"))?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
        });
        built.as_ref().map_err(|e| Error::Transport(e.clone()))
    }

    /// The region calls are signed for.
    pub async fn region(&self) -> String {
        if let Some(r) = &self.settings.region {
            return r.clone();
        }
        self.config().await.region().map_or_else(|| "us-east-1".to_string(), ToString::to_string)
    }

    pub(crate) fn roles(&self) -> &Roles {
        &self.roles
    }

    /// Whether an endpoint is configured for the service named `service` (its
    /// `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, or the client's own).
    pub(crate) fn endpoint_configured_for(&self, service: &str) -> bool {
        model::service(service).is_some_and(|svc| self.configured_endpoint(&svc).is_some())
    }

    /// The endpoint explicitly configured for a service, if any.
    fn configured_endpoint(&self, svc: &Service) -> Option<String> {
        if let Some(e) = &self.settings.endpoint {
            return Some(e.clone());
        }
        let ignore = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        if ignore {
            return None;
        }
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        var(&svc.endpoint_env()).or_else(|| var("AWS_ENDPOINT_URL"))
    }

    /// Where a call of `svc` goes.
    async fn endpoint(&self, svc: &Service) -> String {
        if let Some(e) = self.configured_endpoint(svc) {
            return e;
        }
        if let Some(e) = self.config().await.endpoint_url() {
            return e.to_string();
        }
        let region = self.region().await;
        let domain = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        format!("https://{}.{region}.{domain}", svc.endpoint_prefix)
    }

    /// The configured credentials (the standard chain, or the settings').
    pub(crate) async fn base_credentials(&self) -> Result<Credentials, Error> {
        let config = self.config().await;
        let base = config.credentials_provider().ok_or_else(|| {
            Error::Credentials("no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE".into())
        })?;
        base.provide_credentials().await.map_err(|e| Error::Credentials(format!("no AWS credentials: {e}")))
    }

    /// Calls `action` of `service` with Step Functions-named `input`; the answer in Step
    /// Functions' names, or the service's refusal.
    pub async fn call(
        &self,
        service: &str,
        action: &str,
        input: &Value,
        role: Option<&str>,
    ) -> Result<Result<(Value, Response), wire::Refusal>, Error> {
        self.call_as(service, action, input, None, role).await
    }

    /// [`SdkClient::call`] made as an execution's `identity` (when identities are assumed
    /// here), then as `role`.
    pub async fn call_as(
        &self,
        service: &str,
        action: &str,
        input: &Value,
        identity: Option<&Identity>,
        role: Option<&str>,
    ) -> Result<Result<(Value, Response), wire::Refusal>, Error> {
        let creds = self.credentials_for(identity, role).await?;
        self.call_with(service, action, input, creds).await
    }

    /// [`SdkClient::call`] with these credentials.
    pub(crate) async fn call_with(
        &self,
        service: &str,
        action: &str,
        input: &Value,
        creds: Credentials,
    ) -> Result<Result<(Value, Response), wire::Refusal>, Error> {
        let svc = model::service(service)
            .ok_or_else(|| Error::Unknown(format!("AWS publishes no model of a service named '{service}'")))?;
        let op = svc
            .operation(action)
            .ok_or_else(|| Error::Unknown(format!("the service {service} has no action '{action}'")))?;
        let request = wire::build(&svc, op, input).map_err(Error::Parameters)?;
        let base = self.endpoint_for(&svc, input).await;
        if let Some(observe) = self.settings.observer {
            observe(&svc.id, &op.name);
        }
        let response = self.send(&svc, &base, request, creds).await?;
        Ok(wire::parse(&svc, op, &response).map(|v| (v, response)))
    }

    /// The endpoint of a call: an SQS queue URL outside AWS's domains is its own endpoint (the
    /// SDK Step Functions uses sends there), everything else goes to the service's endpoint.
    async fn endpoint_for(&self, svc: &Service, input: &Value) -> String {
        if svc.id == "sqs" {
            if let Some(url) = input.get("QueueUrl").and_then(Value::as_str) {
                if let Some(origin) = foreign_origin(url) {
                    return origin;
                }
            }
        }
        self.endpoint(svc).await
    }

    async fn send(&self, svc: &Service, base: &str, req: Request, creds: Credentials) -> Result<Response, Error> {
        let region = self.region().await;
        let base = base.trim_end_matches('/');
        let uri = format!("{base}{}", req.path);
        let mut builder = http::Request::builder().method(req.method.as_str()).uri(&uri);
        let mut headers = req.headers.clone();
        if svc.protocol == Protocol::RestXml || svc.id == "s3" {
            // S3 wants the payload's hash signed.
            headers.push(("x-amz-content-sha256".into(), sha256_hex(&req.body)));
            if req.method == "PUT" || req.method == "POST" {
                headers.push(("x-amz-checksum-crc32".into(), crc32_b64(&req.body)));
                headers.push(("x-amz-sdk-checksum-algorithm".into(), "CRC32".into()));
            }
        }
        headers.push(("content-length".into(), req.body.len().to_string()));
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let mut request = builder
            .body(Full::new(Bytes::from(req.body.clone())))
            .map_err(|e| Error::Parameters(format!("invalid request {uri}: {e}")))?;
        sign(&mut request, &req.body, &creds, &region, &svc.signing_name, svc.id == "s3")?;
        let client = self.http()?;
        let sent = tokio::time::timeout(Duration::from_secs(60), client.request(request))
            .await
            .map_err(|_| Error::Transport(format!("Unable to execute HTTP request: {uri}: timed out after 60 s")))?;
        let resp = sent.map_err(|e| Error::Transport(transport_message(&uri, &e)))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).to_string()))
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::Transport(format!("Unable to read the answer of {uri}: {e}")))?
            .to_bytes()
            .to_vec();
        Ok(Response { status, headers, body })
    }
}

/// The origin of a queue URL whose host is not AWS's.
fn foreign_origin(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host_port = rest.split('/').next()?;
    let host = host_port.split(':').next()?;
    if host.ends_with("amazonaws.com") || host.ends_with("amazonaws.com.cn") || host == "localhost" {
        return None;
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let scheme = url.split("://").next()?;
    Some(format!("{scheme}://{host_port}"))
}

fn rustls_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// What a transport failure says, in the SDK's words ("Unable to execute HTTP request: HOST:
/// Name or service not known").
fn transport_message(uri: &str, e: &hyper_util::client::legacy::Error) -> String {
    let chain = error_chain(e);
    let host = uri.split("://").nth(1).and_then(|r| r.split(['/', ':']).next()).unwrap_or(uri);
    if chain.contains("failed to lookup address")
        || chain.contains("Name or service not known")
        || chain.contains("dns error")
    {
        return format!("Unable to execute HTTP request: {host}: Name or service not known");
    }
    format!("Unable to execute HTTP request: {chain}")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn sign(
    request: &mut http::Request<Full<Bytes>>,
    body: &[u8],
    creds: &Credentials,
    region: &str,
    name: &str,
    s3: bool,
) -> Result<(), Error> {
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode,
    };
    let mut settings = SigningSettings::default();
    if s3 {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let identity = creds.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(name)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| Error::Credentials(format!("cannot sign: {e}")))?
        .into();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).to_string()))
        .collect();
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| Error::Parameters(format!("cannot sign {uri}: {e}")))?;
    let (instructions, _) =
        sign(signable, &params).map_err(|e| Error::Credentials(format!("cannot sign: {e}")))?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn crc32_b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(b).to_be_bytes())
}

/// The error names Step Functions' optimized integrations use for a service (the Java SDK v1's).
fn v1_name(service: &str) -> String {
    match stepwise_asl::integrations::aws::v1_names(service) {
        Some((name, _)) => name.to_string(),
        None => model::service(service).map_or_else(|| service.to_string(), |s| s.sdk_name()),
    }
}

impl AwsCalls for SdkClient {
    fn check_result(&self, resource: &str, result: &Value, strict: bool) -> Result<(), String> {
        crate::validate::check_result(resource, result, strict)
    }

    fn get_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        identity: Option<&'a Identity>,
    ) -> stepwise_runtime::services::ObjectBytes<'a> {
        Box::pin(async move {
            let input = serde_json::json!({"Bucket": bucket, "Key": key});
            match SdkClient::call_as(self, "s3", "getObject", &input, identity, None).await {
                Ok(Ok((_, response))) => Ok(response.body),
                Ok(Err(refusal)) => Err((format!("S3.{}", refusal.code), refusal.message)),
                Err(e) => Err(("S3.SdkClientException".into(), e.to_string())),
            }
        })
    }

    fn call<'a>(&'a self, call: &'a AwsCall) -> Pin<Box<dyn Future<Output = AwsReply> + Send + 'a>> {
        Box::pin(async move {
            let sdk_name = model::service(&call.service).map_or_else(|| call.service.clone(), |s| s.sdk_name());
            let (identity, role) = (call.identity.as_ref(), call.role.as_deref());
            match SdkClient::call_as(self, &call.service, &call.action, &call.input, identity, role).await {
                Ok(Ok((output, response))) => AwsReply::Answer(AwsAnswer {
                    status: response.status,
                    request_id: response.request_id().unwrap_or_default().to_string(),
                    output,
                    body: compact_body(&response),
                }),
                Ok(Err(refusal)) => {
                    let exception = model::service(&call.service).and_then(|s| s.exception(&refusal.code));
                    AwsReply::Fault(AwsFault {
                        status: refusal.status,
                        code: refusal.code,
                        message: refusal.message,
                        request_id: refusal.request_id,
                        extended_request_id: refusal.extended_request_id,
                        exception,
                        sdk_name,
                    })
                }
                Err(Error::Transport(cause)) => {
                    let name = if call.flavour == Flavour::Optimized { v1_name(&call.service) } else { sdk_name };
                    AwsReply::NotSent { error: format!("{name}.SdkClientException"), cause }
                }
                Err(e) => AwsReply::NotSent { error: "States.Runtime".into(), cause: e.to_string() },
            }
        })
    }

    /// SQS and SNS tasks leave the runtime's own queues and topics only when asked for that
    /// service by name (`AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_SNS`) or by the client's own
    /// endpoint: a global `AWS_ENDPOINT_URL` (set for DynamoDB or S3, say) leaves them local.
    fn routes(&self, service: &str) -> bool {
        if !self.settings.route_messaging {
            return false;
        }
        if self.settings.messaging_always || self.settings.endpoint.is_some() {
            return true;
        }
        model::service(service).is_some_and(|s| std::env::var(s.endpoint_env()).is_ok_and(|v| !v.trim().is_empty()))
    }
}

/// The body as AWS would send it: JSON compact (emulators may space theirs), anything else as is.
fn compact_body(r: &Response) -> String {
    let text = String::from_utf8_lossy(&r.body);
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => v.to_string(),
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_outside_aws_are_their_own_endpoint() {
        assert_eq!(foreign_origin("http://no-such-queue-1/"), Some("http://no-such-queue-1".into()));
        assert_eq!(foreign_origin("https://sqs.us-east-1.amazonaws.com/1/q"), None);
        assert_eq!(foreign_origin("http://127.0.0.1:4566/1/q"), None);
        assert_eq!(foreign_origin("http://localhost:4566/1/q"), None);
    }
}
