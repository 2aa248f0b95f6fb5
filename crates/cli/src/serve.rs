//! `stepwise serve`: the Step Functions API on 127.0.0.1, over the durable embedded runtime.
//!
//! The server speaks the **AWS JSON 1.0** protocol as the Step Functions endpoint does: `POST /`
//! with `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON body with AWS's (camelCase)
//! field names; answers are `application/x-amz-json-1.0`, timestamps are epoch seconds with
//! milliseconds as the fraction, and errors are HTTP 400 with `{"__type": CODE, "message": ...}`
//! and AWS's exception names (500 with `InternalFailure` when the store fails), so the AWS CLI
//! and SDKs raise their typed exceptions. SigV4 signatures are accepted and not checked.
//!
//! `GET /` is the console (`console.rs`): the state machines, their graphs and executions in a
//! browser.
//!
//! The operations and their semantics are `stepwise-api`'s ([`stepwise_api::call`]): this
//! module is only the HTTP transport, the same API the API Lambda serves on AWS.
//!
//! Executions advance in the background: the server runs the step driver (`work_until`) on the
//! same runtime. Everything lives in the data directory, so a restarted server carries on with
//! the executions it left running.

use crate::run::{open_runtime_with, LocalRuntime};
use anyhow::{Context as _, Result};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stepwise_api::{ApiError, AMZ_JSON, MAX_BODY};
use stepwise_embedded::logs::{JsonLineLogs, LogFiles};

/// Options of `stepwise serve`.
pub struct ServeArgs {
    /// TCP port on 127.0.0.1 (0: any free port; the address is printed).
    pub port: u16,
    /// Data directory of the embedded runtime.
    pub data_dir: PathBuf,
    /// Functions registry (`functions.json` format) for Lambda tasks.
    pub functions: Option<PathBuf>,
    /// Real seconds per second of Wait, Retry, TimeoutSeconds and HeartbeatSeconds timers.
    pub time_scale: f64,
    /// Mock configuration (Step Functions Local's format) for starts on `NAME#CASE`.
    pub mock_config: Option<PathBuf>,
    /// Where execution log records go: a directory (a file per log group) or `-` for stdout
    /// (default: `logs` in the data directory).
    pub execution_logs: Option<PathBuf>,
}

/// `stepwise serve`: binds 127.0.0.1:`port`, prints `listening on http://ADDR`, starts the
/// step driver and serves requests until the process is killed.
pub async fn serve(args: ServeArgs) -> Result<()> {
    // `--mock-config`, else Step Functions Local's variable.
    let mocks = args.mock_config.clone().or_else(|| std::env::var_os("SFN_MOCK_CONFIG").map(PathBuf::from));
    let rt = open_runtime_with(&args.data_dir, args.functions.as_deref(), args.time_scale, mocks.as_deref())?.0;
    let to = match args.execution_logs.as_deref() {
        Some(p) if p == std::path::Path::new("-") => LogFiles::Stdout,
        Some(p) => LogFiles::Dir(p.to_path_buf()),
        None => LogFiles::Dir(args.data_dir.join("logs")),
    };
    let rt = Arc::new(rt.with_logs(Arc::new(JsonLineLogs::new(to))));
    let api = Arc::new(Api { rt: rt.clone() });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    // Both lines in one write; a reader that stops after the first (the tests read only the
    // address) must not make the server fail.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "listening on http://{addr}\nconsole: http://{addr}/\n");
        let _ = out.flush();
    }
    // The step driver; if its queue fails it is restarted after a pause.
    tokio::spawn(async move {
        loop {
            if let Err(e) = rt.work_until(|| false).await {
                eprintln!("stepwise serve: step driver stopped ({e}); restarting");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("stepwise serve: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let api = api.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await
            {
                eprintln!("stepwise serve: connection error: {e}");
            }
        });
    }
}

/// The server's state: the runtime its requests go to.
pub struct Api {
    rt: Arc<LocalRuntime>,
}

impl Api {
    /// Serves one HTTP request; never fails (errors are AWS error answers).
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() == Method::GET {
            return crate::console::get(&self.rt, req.uri()).await;
        }
        let result = self.handle_inner(req).await;
        let (status, body) = match result {
            Ok(v) => (StatusCode::OK, v),
            Err(e) => (StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.body()),
        };
        let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
        *resp.status_mut() = status;
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
        if let Ok(id) = HeaderValue::from_str(&stepwise_api::uuid_v4()) {
            resp.headers_mut().insert("x-amzn-requestid", id);
        }
        resp
    }

    async fn handle_inner(&self, req: Request<Incoming>) -> Result<Value, ApiError> {
        if req.method() != Method::POST {
            return Err(ApiError {
                status: 405,
                code: "UnknownOperationException".into(),
                message: format!("{} is not supported: use POST / (GET / is the console)", req.method()),
            });
        }
        let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        // The region the client signed for: its machines get that region's ARNs.
        let region = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(stepwise_api::signed_region)
            .map(str::to_string);
        let op = stepwise_api::operation(&target)?;
        let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return Err(ApiError {
                    status: 413,
                    code: "SerializationException".into(),
                    message: format!("the request body could not be read: {e}"),
                })
            }
        };
        stepwise_api::call_in(&self.rt, region.as_deref(), op, &bytes).await
    }
}
