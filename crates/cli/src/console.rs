//! The console `stepwise serve` shows at `GET /` (the API stays `POST /`): a single page
//! (`console/index.html`, `app.js`, `app.css`, embedded in the binary, so it works offline)
//! that lists state machines and executions through the Step Functions API on the same origin,
//! and two read-only endpoints of its own:
//!
//! - `GET /console/api/graph?machine=ARN` or `?execution=ARN`: the machine's picture as SVG
//!   (`stepwise-graph`, the same image `stepwise graph` writes), coloured by the execution's
//!   history when one is named (it shows the revision the execution ran).
//! - `GET /console/api/execution?arn=ARN`: DescribeExecution, the whole history (as
//!   GetExecutionHistory returns it), each state's status, input and output, and the tasks
//!   waiting for a task token with their tokens (so the page can complete them).
//!
//! Errors are the API's (`{"__type", "message"}`), 404 for an unknown resource.

use crate::run::LocalRuntime;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode, Uri};
use serde_json::{json, Value};
use stepwise_api::ApiError;
use stepwise_graph::{Graph, Outcome};

const INDEX: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const APP_CSS: &str = include_str!("../console/app.css");

/// Serves a `GET` of the console.
pub async fn get(rt: &LocalRuntime, uri: &Uri) -> Response<Full<Bytes>> {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let result = match uri.path() {
        "/" | "/index.html" => Ok((INDEX.to_string(), "text/html; charset=utf-8")),
        "/console/app.js" => Ok((APP_JS.to_string(), "text/javascript; charset=utf-8")),
        "/console/app.css" => Ok((APP_CSS.to_string(), "text/css; charset=utf-8")),
        "/console/api/graph" => graph(rt, param("machine"), param("execution")).await.map(|s| (s, "image/svg+xml")),
        "/console/api/execution" => match param("arn") {
            Some(arn) => execution(rt, arn).await.map(|v| (v.to_string(), "application/json")),
            None => Err(invalid("the execution's ARN is missing: /console/api/execution?arn=ARN")),
        },
        other => Err(ApiError { status: 404, code: "NotFound".into(), message: format!("no page at {other}") }),
    };
    let (status, body, ty) = match result {
        Ok((body, ty)) => (StatusCode::OK, body, ty),
        Err(e) => {
            // Unknown machines and executions are 404s here (the API says 400).
            let status = if e.code.ends_with("DoesNotExist") { 404 } else { e.status };
            (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), e.body().to_string(), "application/json")
        }
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ty));
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn invalid(message: &str) -> ApiError {
    ApiError { status: 400, code: "ValidationException".into(), message: message.into() }
}

/// One API operation, as a client would call it.
async fn call(rt: &LocalRuntime, op: &str, input: Value) -> Result<Value, ApiError> {
    stepwise_api::call_in(rt, None, op, input.to_string().as_bytes()).await
}

/// A definition as the API returns it (a JSON string), parsed.
fn definition(described: &Value) -> Result<Value, ApiError> {
    let text = described["definition"].as_str().unwrap_or_default();
    serde_json::from_str(text).map_err(|e| ApiError {
        status: 500,
        code: "InternalFailure".into(),
        message: format!("the stored definition does not parse: {e}"),
    })
}

fn drawn(e: stepwise_graph::Error) -> ApiError {
    ApiError { status: 400, code: "InvalidDefinition".into(), message: e.to_string() }
}

/// The whole history of an execution, page by page.
pub async fn history(rt: &LocalRuntime, arn: &str) -> Result<Vec<Value>, ApiError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"executionArn": arn, "maxResults": 1000});
        if let Some(t) = &token {
            input["nextToken"] = json!(t);
        }
        let page = call(rt, "GetExecutionHistory", input).await?;
        events.extend(page["events"].as_array().cloned().unwrap_or_default());
        match page["nextToken"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(events),
        }
    }
}

/// An execution's definition (the revision it ran), history, waiting tasks and outcome.
pub struct Ran {
    /// DescribeExecution.
    pub described: Value,
    /// The definition it ran.
    pub definition: Value,
    /// Its events.
    pub history: Vec<Value>,
    /// `(state name, token)` of its tasks waiting for a token.
    pub waiting: Vec<(String, String)>,
    /// What happened to each state.
    pub outcome: Outcome,
}

/// Reads what an execution did.
pub async fn ran(rt: &LocalRuntime, arn: &str) -> Result<Ran, ApiError> {
    let described = call(rt, "DescribeExecution", json!({"executionArn": arn})).await?;
    let machine = call(rt, "DescribeStateMachineForExecution", json!({"executionArn": arn})).await?;
    let definition = definition(&machine)?;
    let history = history(rt, arn).await?;
    let waiting = rt.waiting_tasks(arn).await.map_err(ApiError::from)?;
    let running = described["status"] == "RUNNING";
    let names: Vec<String> = waiting.iter().map(|(s, _)| s.clone()).collect();
    let outcome = Outcome::of(&history, running, &names);
    Ok(Ran { described, definition, history, waiting, outcome })
}

async fn graph(rt: &LocalRuntime, machine: Option<&str>, execution: Option<&str>) -> Result<String, ApiError> {
    let (definition, outcome) = match (machine, execution) {
        (_, Some(arn)) => {
            let r = ran(rt, arn).await?;
            (r.definition, Some(r.outcome))
        }
        (Some(arn), None) => {
            (definition(&call(rt, "DescribeStateMachine", json!({"stateMachineArn": arn})).await?)?, None)
        }
        (None, None) => return Err(invalid("name a machine or an execution: ?machine=ARN or ?execution=ARN")),
    };
    stepwise_graph::render(&definition, stepwise_graph::Format::Svg, outcome.as_ref()).map_err(drawn)
}

async fn execution(rt: &LocalRuntime, arn: &str) -> Result<Value, ApiError> {
    let r = ran(rt, arn).await?;
    let graph = Graph::of(&r.definition).map_err(drawn)?;
    let states: Vec<Value> = graph
        .nodes
        .iter()
        .map(|n| {
            let run = r.outcome.states.get(&n.name);
            json!({
                "id": n.id,
                "name": n.name,
                "type": n.kind,
                "status": r.outcome.status(&n.name).as_str(),
                "input": run.and_then(|r| r.input.clone()),
                "output": run.and_then(|r| r.output.clone()),
                "entered": run.and_then(|r| r.entered.clone()),
                "exited": run.and_then(|r| r.exited.clone()),
            })
        })
        .collect();
    let waiting: Vec<Value> = r
        .waiting
        .iter()
        .map(|(state, token)| {
            let id = graph.nodes.iter().find(|n| &n.name == state).map(|n| n.id.clone());
            json!({"id": id, "state": state, "token": token})
        })
        .collect();
    Ok(json!({"execution": r.described, "states": states, "history": r.history, "waiting": waiting}))
}
