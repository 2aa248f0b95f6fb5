//! `stepwise run DIR`: a state machine project (definition with `${Name}` substitutions, its
//! bindings, its functions) run end to end on the durable embedded runtime, printing each
//! transition as it happens, the messages its queues and topics receive, and the result.
//!
//! A project directory holds `definition.asl.json`, `bindings.json`, `functions.json` and
//! optionally `input.json` (see `examples/stock-trading/README.md`). Executions live in the data
//! directory (`./.stepwise` by default): run the command again after killing it and the
//! execution still running there resumes from the store.

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stepwise_asl::stepper::Status;
use stepwise_embedded::functions::FunctionRouter;
use stepwise_embedded::{Embedded, SqliteQueue, SqliteStore, SqliteTopics};
use stepwise_runtime::ports::{ExecutionQuery, ExecutionStatus, Queue, SystemClock};
use stepwise_runtime::{Config, Runtime};

/// The runtime over the embedded adapters.
pub type LocalRuntime = Runtime<SqliteStore, SqliteQueue, SqliteTopics, FunctionRouter, SystemClock>;

/// Options of `stepwise run`.
pub struct RunArgs {
    /// Project directory.
    pub dir: PathBuf,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Execution input (overrides `input.json`).
    pub input: Option<Value>,
    /// Last line: the DescribeExecution-shaped result.
    pub json: bool,
    /// Don't approve automatically: print the command that does.
    pub manual_approval: bool,
    /// Real seconds per second of Wait, Retry, TimeoutSeconds and HeartbeatSeconds timers.
    pub time_scale: f64,
}

/// Opens the embedded runtime in `data_dir` with the functions of `functions` (a router config).
/// Also returns the adapters (sharing the runtime's database), for what only the embedded
/// runtime can show: the messages its queues and topics hold.
pub fn open_runtime(data_dir: &Path, functions: Option<&Path>, time_scale: f64) -> Result<(LocalRuntime, Embedded)> {
    open_runtime_with(data_dir, functions, time_scale, None)
}

/// [`open_runtime`], answering starts on `stateMachine:NAME#CASE` from a mock configuration.
pub fn open_runtime_with(
    data_dir: &Path,
    functions: Option<&Path>,
    time_scale: f64,
    mocks: Option<&Path>,
) -> Result<(LocalRuntime, Embedded)> {
    let embedded =
        Embedded::open(data_dir).with_context(|| format!("opening the data directory {}", data_dir.display()))?;
    let router = match functions {
        Some(f) => FunctionRouter::load(f, &stepwise_sample::dyn_handler)
            .with_context(|| format!("loading {}", f.display()))?,
        None => FunctionRouter::default(),
    };
    let Embedded { store, queue, topics } = embedded.clone();
    let config = Config { time_scale, ..Config::default() };
    let mut runtime = Runtime::new(store, queue, topics, router, SystemClock, config).with_aws(aws_services());
    if let Some(path) = mocks {
        let file = stepwise_runtime::mocks::MockFile::open(path).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        runtime = runtime.with_mocks(std::sync::Arc::new(file));
    }
    Ok((runtime, embedded))
}

/// The AWS services local runs call (DynamoDB, EventBridge, `aws-sdk:*`): wherever
/// `AWS_ENDPOINT_URL[_<SERVICE>]` or the profile points, else AWS. Where an endpoint is
/// configured for SQS or SNS by name (`AWS_ENDPOINT_URL_SQS`, `_SNS`), Task sends and
/// publishes go there too instead of the embedded queues and topics.
pub fn aws_services() -> std::sync::Arc<stepwise_sdk::SdkClient> {
    std::sync::Arc::new(stepwise_sdk::SdkClient::new(stepwise_sdk::Settings {
        route_messaging: true,
        ..stepwise_sdk::Settings::default()
    }))
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// The project's definition with its `${Name}` variables bound.
pub fn project_definition(dir: &Path) -> Result<(String, Value, Value)> {
    let def_path = dir.join("definition.asl.json");
    let text = std::fs::read_to_string(&def_path).with_context(|| format!("reading {}", def_path.display()))?;
    let bindings = match read_json(&dir.join("bindings.json")) {
        Ok(Value::Object(m)) => m,
        Ok(_) => bail!("{}: bindings must be a JSON object", dir.join("bindings.json").display()),
        Err(_) if !dir.join("bindings.json").exists() => Default::default(),
        Err(e) => return Err(e),
    };
    let text =
        stepwise_sample::substitute(&text, &bindings).map_err(|e| anyhow::anyhow!("{}: {e}", def_path.display()))?;
    let definition: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON after substitution", def_path.display()))?;
    let input = if dir.join("input.json").exists() { read_json(&dir.join("input.json"))? } else { json!({}) };
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "StateMachine".into());
    let name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    Ok((name, definition, input))
}

/// The SQS queue names the definition sends `.waitForTaskToken` messages to.
fn callback_queues(definition: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if m.get("Resource").and_then(Value::as_str)
                    == Some("arn:aws:states:::sqs:sendMessage.waitForTaskToken")
                {
                    // JSONPath states give the queue in Parameters, JSONata states in Arguments.
                    let args = m.get("Parameters").or_else(|| m.get("Arguments"));
                    if let Some(url) = args.and_then(|p| p.get("QueueUrl")).and_then(Value::as_str) {
                        out.push(stepwise_runtime::driver::queue_name(url).to_string());
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(definition, &mut out);
    out
}

/// `stepwise run`.
pub async fn run(args: RunArgs) -> Result<bool> {
    let (name, definition, input) = project_definition(&args.dir)?;
    let functions = args.dir.join("functions.json");
    let (rt, data) = open_runtime(&args.data_dir, functions.exists().then_some(functions.as_path()), args.time_scale)?;
    let rt = Arc::new(rt);
    let role = format!("arn:aws:iam::{}:role/stepwise-{name}", rt.config().account);
    let machine =
        rt.create_machine(&name, definition.clone(), &role, false).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    // Resume the execution a previous run left running, or start a new one.
    let query = ExecutionQuery {
        machine_arn: machine.arn.clone(),
        status: Some(ExecutionStatus::Running),
        limit: 1,
        page: None,
    };
    let running = rt.list_executions(&query).await?.executions.into_iter().next();
    let arn = match running {
        Some(e) => {
            println!("resuming execution {} (started {})", e.execution_arn, e.start);
            e.execution_arn
        }
        None => {
            let exec_name = format!("run-{}", rt.now().format("%Y%m%dT%H%M%S%.3fZ")).replace('.', "-");
            let input = args.input.clone().unwrap_or(input);
            let arn = rt.start_execution(&machine.arn, &exec_name, input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("started execution {arn}");
            arn
        }
    };

    let done = Arc::new(AtomicBool::new(false));
    // The step driver.
    let driver = {
        let (rt, done) = (rt.clone(), done.clone());
        tokio::spawn(async move { rt.work_until(|| done.load(Ordering::Relaxed)).await })
    };
    // The approval callback: consumes the callback queues and approves, as the sample's
    // ApproveSqsLambda does.
    let queues = callback_queues(&definition);
    let approver = {
        let (rt, queue, done, queues) = (rt.clone(), data.queue.clone(), done.clone(), queues.clone());
        let manual = args.manual_approval;
        let data_dir = args.data_dir.clone();
        tokio::spawn(async move {
            let mut seen = HashMap::<String, ()>::new();
            while !done.load(Ordering::Relaxed) {
                for q in &queues {
                    // A short visibility: if this process dies before approving, the message is
                    // soon visible again to the next run.
                    let Ok(msgs) = queue.receive(q, 10, Duration::from_secs(2)).await else { continue };
                    for m in msgs {
                        let first = seen.insert(m.id.clone(), ()).is_none();
                        if first {
                            println!("  queue {q} received message {}: {}", m.id, m.body);
                        } else if manual {
                            continue;
                        }
                        match stepwise_sample::approval_token(&m.body) {
                            Ok(token) if manual => {
                                println!("  waiting for approval; from another terminal run:");
                                println!(
                                    "    stepwise send-task-success --data-dir {} --task-token {token} --task-output '\"approved\"'",
                                    data_dir.display()
                                );
                            }
                            Ok(token) => match rt.send_task_success(&token, stepwise_sample::APPROVAL_OUTPUT).await {
                                Ok(()) => {
                                    println!(
                                        "  approval callback: SendTaskSuccess {}",
                                        stepwise_sample::APPROVAL_OUTPUT
                                    );
                                    let _ = queue.ack(q, &m.receipt).await;
                                }
                                Err(e) => println!("  approval callback: {e}"),
                            },
                            Err(e) => println!("  approval callback: {e}"),
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Show the history as it grows, and the topic's messages, until the execution ends.
    let mut shown = 0usize;
    let mut published_shown = 0usize;
    let status = loop {
        let history = rt.history(&arn).await?;
        for e in history.iter().skip(shown) {
            println!("{}", describe_event(&e.to_aws_json()));
        }
        shown = history.len();
        let show_published = |shown: usize| -> anyhow::Result<usize> {
            let mut published = Vec::new();
            for topic in data.topics.topics()? {
                published.extend(data.topics.list(&topic)?);
            }
            published.sort_by_key(|p| p.published_at);
            for p in published.iter().skip(shown) {
                println!("  topic {} published message {}: {}", p.topic_arn, p.id, p.message);
            }
            Ok(published.len())
        };
        published_shown = show_published(published_shown)?;
        let stored = rt.describe(&arn).await?;
        if !matches!(stored.execution.status, Status::Running) {
            // One more pass so the last events and messages are printed (the execution may have
            // published and ended since the pass above).
            let history = rt.history(&arn).await?;
            for e in history.iter().skip(shown) {
                println!("{}", describe_event(&e.to_aws_json()));
            }
            show_published(published_shown)?;
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    done.store(true, Ordering::Relaxed);
    let _ = driver.await;
    let _ = approver.await;

    let exec = &status.execution;
    let mut describe = stepwise_api::describe_execution(exec, &machine.arn);
    if let Some(stop) = status.stop_date {
        describe["stopDate"] = stepwise_asl::timestamp::format(&stop).into();
    }
    if args.json {
        println!("{describe}");
    } else {
        println!("execution {}: {}", exec.info.execution_arn, exec.status.as_str());
        match &exec.status {
            Status::Succeeded { output } => println!("output: {output}"),
            other => println!("{}", serde_json::to_string(other).unwrap_or_default()),
        }
    }
    Ok(matches!(exec.status, Status::Succeeded { .. }))
}

/// One line for a history event: `  #5 TaskStateEntered  Check Stock Price  {input}`.
fn describe_event(e: &Value) -> String {
    let ty = e["type"].as_str().unwrap_or("?");
    let details = e.as_object().and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, v)| v));
    let name = details.and_then(|d| d.get("name")).and_then(Value::as_str).unwrap_or("");
    let data = details
        .and_then(|d| {
            d.get("output").or_else(|| d.get("input")).or_else(|| d.get("parameters")).or_else(|| d.get("error"))
        })
        .map(|v| {
            let s = v.to_string();
            if s.len() > 160 {
                format!("{}…", s.chars().take(160).collect::<String>())
            } else {
                s
            }
        })
        .unwrap_or_default();
    format!("  #{:<3} {ty:<28} {name:<34} {data}", e["id"])
}

/// `stepwise send-task-success|failure|heartbeat`: complete a task token in a data directory.
pub async fn complete_token(data_dir: &Path, token: &str, action: TokenAction) -> Result<()> {
    let (rt, _) = open_runtime(data_dir, None, 1.0)?;
    let r = match action {
        TokenAction::Success(output) => rt.send_task_success(token, &output).await,
        TokenAction::Failure { error, cause } => rt.send_task_failure(token, error.as_deref(), cause.as_deref()).await,
        TokenAction::Heartbeat => rt.send_task_heartbeat(token).await,
    };
    match r {
        Ok(()) => {
            println!("{{}}");
            Ok(())
        }
        Err(e) => bail!("An error occurred ({}) when completing the task: {e}", e.code()),
    }
}

/// What to do with a task token.
pub enum TokenAction {
    /// SendTaskSuccess with this output (JSON text).
    Success(String),
    /// SendTaskFailure.
    Failure {
        /// Error name.
        error: Option<String>,
        /// Cause.
        cause: Option<String>,
    },
    /// SendTaskHeartbeat.
    Heartbeat,
}

/// `stepwise list`: executions, queue messages and topic messages of a data directory, one JSON
/// object a line.
pub async fn list(data_dir: &Path) -> Result<()> {
    if !data_dir.join(stepwise_embedded::DB_FILE).exists() {
        bail!("{} holds no stepwise data (no {})", data_dir.display(), stepwise_embedded::DB_FILE);
    }
    let data =
        Embedded::open(data_dir).with_context(|| format!("opening the data directory {}", data_dir.display()))?;
    for e in data.store.all_executions().await? {
        println!(
            "{}",
            json!({"execution": e.execution_arn, "stateMachine": e.machine_arn, "status": e.status, "startDate": stepwise_asl::timestamp::format(&e.start)})
        );
    }
    for q in data.queue.queues()? {
        for (m, sent, acked) in data.queue.list(&q)? {
            println!(
                "{}",
                json!({"queue": q, "messageId": m.id, "sent": stepwise_asl::timestamp::format(&sent), "receiveCount": m.receive_count, "acknowledged": acked, "body": m.body})
            );
        }
    }
    for t in data.topics.topics()? {
        for p in data.topics.list(&t)? {
            println!(
                "{}",
                json!({"topic": t, "messageId": p.id, "published": stepwise_asl::timestamp::format(&p.published_at), "message": p.message})
            );
        }
    }
    Ok(())
}
