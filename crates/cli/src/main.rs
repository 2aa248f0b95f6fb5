//! `stepwise`: run Amazon States Language state machines without the Step Functions service.
//!
//! Subcommands:
//! - `exec`: run a definition to completion in memory and print one JSON line.
//! - `validate`: check a definition with AWS's diagnostics.
//! - `conformance`: run the AWS-recorded conformance corpus.
//! - `run`: run a project end to end on the durable embedded runtime.
//! - `send-task-success`, `send-task-failure`, `send-task-heartbeat`: complete a task token.
//! - `serve`: the Step Functions API (AWS JSON 1.0) on 127.0.0.1 over the embedded runtime.
//! - `policy`: print the least-privilege IAM policy for a definition's Task resources.
//! - `graph`: draw a definition (SVG, Graphviz DOT or Mermaid), coloured by an execution.

mod console;
mod durable;
mod functions;
mod policy;
mod run;
mod serve;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stepwise_asl::local::{self, ExecutionContext, RunOptions};
use stepwise_asl::stepper::ExecutionStatus;

/// mimalloc for Rust's allocations and, through its `override` feature, for SQLite's (which
/// calls `malloc`): glibc's allocator was a fifth of the durable runtime's CPU time under load,
/// and with mimalloc a stock-trading execution costs 15-25% less CPU (docs/performance.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "stepwise", version, about = "AWS Step Functions, rebuilt: run Amazon States Language state machines")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a definition to completion in memory; prints {"status","output"} or {"status","error","cause"}.
    Exec {
        /// The definition file (JSON), or - for stdin.
        definition: PathBuf,
        /// Execution input: JSON text, or @FILE.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Functions registry (JSON): function name or ARN -> command reading the event on stdin.
        #[arg(long)]
        functions: Option<PathBuf>,
        /// Include the execution history in the output line.
        #[arg(long)]
        history: bool,
        /// Real seconds per simulated second of Wait and Retry delays (0 = instant, still recorded).
        #[arg(long, default_value_t = 1.0, value_parser = time_scale)]
        time_scale: f64,
        /// Execution name.
        #[arg(long, default_value = "local-execution")]
        name: String,
        /// Mock configuration (Step Functions Local's format); with --test-case.
        #[arg(long, requires = "test_case")]
        mock_config: Option<PathBuf>,
        /// The mock configuration's test case to run (of the state machine named after the
        /// definition file, or --state-machine).
        #[arg(long, requires = "mock_config")]
        test_case: Option<String>,
        /// The state machine's name (default: the definition file's name without extension).
        #[arg(long)]
        state_machine: Option<String>,
    },
    /// Run a project (definition.asl.json, bindings.json, functions.json, input.json) end to end
    /// on the durable embedded runtime; resumes the execution a killed run left behind.
    Run {
        /// The project directory (e.g. examples/stock-trading).
        dir: PathBuf,
        /// Where executions are stored.
        #[arg(long, default_value = ".stepwise")]
        data_dir: PathBuf,
        /// Execution input: JSON text, or @FILE (default: the project's input.json).
        #[arg(long)]
        input: Option<String>,
        /// End with one line: the DescribeExecution-shaped result.
        #[arg(long)]
        json: bool,
        /// Don't approve task-token requests automatically; print the command that does.
        #[arg(long)]
        manual_approval: bool,
        /// Real seconds per second of Wait states, Retry intervals, TimeoutSeconds and
        /// HeartbeatSeconds (0 = at once; the history keeps the definition's values).
        #[arg(long, default_value_t = 1.0, value_parser = time_scale)]
        time_scale: f64,
    },
    /// Serve the Step Functions API (AWS JSON 1.0: the AWS CLI and SDKs with --endpoint-url) on
    /// 127.0.0.1 over the durable embedded runtime; executions advance in the background.
    Serve {
        /// TCP port (0: any free port; the address is printed as `listening on http://ADDR`).
        #[arg(long, default_value_t = 8083)]
        port: u16,
        /// Where state machines and executions are stored.
        #[arg(long, default_value = ".stepwise")]
        data_dir: PathBuf,
        /// Functions registry for Lambda tasks (functions.json format).
        #[arg(long)]
        functions: Option<PathBuf>,
        /// Real seconds per second of Wait states, Retry intervals, TimeoutSeconds and
        /// HeartbeatSeconds (0 = at once; the history keeps the definition's values).
        #[arg(long, default_value_t = 1.0, value_parser = time_scale)]
        time_scale: f64,
        /// Mock configuration (Step Functions Local's format): StartExecution on
        /// `stateMachine:NAME#CASE` runs test case CASE (default: $SFN_MOCK_CONFIG; reloaded
        /// when the file changes).
        #[arg(long)]
        mock_config: Option<PathBuf>,
        /// Where the execution logs of machines with a loggingConfiguration go: a directory
        /// (one JSON-lines file per log group, named after it) or - for stdout (default: logs
        /// in the data directory).
        #[arg(long)]
        execution_logs: Option<PathBuf>,
    },
    /// TestState: run one state of a definition (a lone state, or a machine with --state) and
    /// print AWS's TestState answer: status, output, next state, error, inspection data.
    TestState {
        /// The definition file (JSON): one state, or a whole machine; - for stdin.
        definition: PathBuf,
        /// The state to test in a whole machine.
        #[arg(long)]
        state: Option<String>,
        /// The state's input: JSON text, or @FILE.
        #[arg(long, default_value = "{}")]
        input: String,
        /// The mock, as TestState takes it: `{"result": JSON}` or `{"errorOutput": {"error",
        /// "cause"}}`, with "fieldValidationMode" STRICT (default), PRESENT or NONE.
        #[arg(long)]
        mock: Option<String>,
        /// INFO, DEBUG or TRACE.
        #[arg(long, default_value = "DEBUG")]
        inspection_level: String,
        /// The execution role (needed to call a service for real).
        #[arg(long)]
        role_arn: Option<String>,
        /// The context object `$$` (JSON text).
        #[arg(long)]
        context: Option<String>,
        /// Workflow variables (a JSON object's text).
        #[arg(long)]
        variables: Option<String>,
        /// stateConfiguration (JSON): retrierRetryCount, errorCausedByState,
        /// mapIterationFailureCount, mapItemReaderData.
        #[arg(long)]
        state_configuration: Option<String>,
        /// Functions registry for unmocked Lambda tasks (functions.json format).
        #[arg(long)]
        functions: Option<PathBuf>,
    },
    /// SendTaskSuccess: complete a waiting task with an output.
    SendTaskSuccess {
        /// The task token (it may start with `-`: tokens are URL-safe base64).
        #[arg(long, allow_hyphen_values = true)]
        task_token: String,
        /// The task's output (JSON text).
        #[arg(long)]
        task_output: String,
        /// The data directory of the runtime that issued the token.
        #[arg(long, default_value = ".stepwise")]
        data_dir: PathBuf,
    },
    /// SendTaskFailure: fail a waiting task.
    SendTaskFailure {
        /// The task token (it may start with `-`: tokens are URL-safe base64).
        #[arg(long, allow_hyphen_values = true)]
        task_token: String,
        /// Error name.
        #[arg(long)]
        error: Option<String>,
        /// Cause.
        #[arg(long)]
        cause: Option<String>,
        /// The data directory.
        #[arg(long, default_value = ".stepwise")]
        data_dir: PathBuf,
    },
    /// SendTaskHeartbeat: tell a waiting task it is still being worked on.
    SendTaskHeartbeat {
        /// The task token (it may start with `-`: tokens are URL-safe base64).
        #[arg(long, allow_hyphen_values = true)]
        task_token: String,
        /// The data directory.
        #[arg(long, default_value = ".stepwise")]
        data_dir: PathBuf,
    },
    /// List what the embedded runtime keeps: executions, and every message sent to its queues
    /// and published to its topics.
    List {
        /// The data directory.
        #[arg(long, default_value = ".stepwise")]
        data_dir: PathBuf,
    },
    /// Print the least-privilege IAM policy for what a definition's Task states call (Lambda
    /// functions, SQS queues, SNS topics), as Step Functions generates it; ${Name} variables are
    /// kept unless --bindings substitutes them.
    Policy {
        /// The definition file (JSON), or - for stdin.
        definition: PathBuf,
        /// A JSON object binding the definition's ${Name} variables (like bindings.json).
        #[arg(long)]
        bindings: Option<PathBuf>,
        /// Region of Lambda functions named without an ARN.
        #[arg(long, default_value = "*")]
        region: String,
        /// Account of Lambda functions named without an ARN.
        #[arg(long, default_value = "*")]
        account: String,
        /// The state machine's name (a Distributed Map starts its children as executions of it).
        #[arg(long, default_value = "*")]
        name: String,
    },
    /// Draw a state machine: its states, transitions, Parallel branches and Map processors, as
    /// SVG (laid out, the console's picture), Graphviz DOT or a Mermaid flowchart; with
    /// --execution, each state coloured by what that execution did.
    Graph {
        /// The definition file (JSON; - for stdin), or a project directory
        /// (definition.asl.json with bindings.json, as `stepwise run` takes).
        definition: PathBuf,
        /// svg, dot or mermaid.
        #[arg(long, default_value = "svg")]
        format: stepwise_graph::Format,
        /// Colour the states by this execution's history (read from --data-dir).
        #[arg(long)]
        execution: Option<String>,
        /// The data directory holding the execution.
        #[arg(long, default_value = ".stepwise")]
        data_dir: PathBuf,
        /// A JSON object binding the definition's ${Name} variables (default: the project's
        /// bindings.json).
        #[arg(long)]
        bindings: Option<PathBuf>,
        /// Write the picture here instead of to stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Validate a definition; prints AWS's InvalidDefinition message on failure.
    Validate {
        /// The definition file (JSON), or - for stdin.
        definition: PathBuf,
        /// Validate as an EXPRESS state machine.
        #[arg(long)]
        express: bool,
    },
    /// Run the AWS-recorded conformance corpus: execution cases (cases.jsonl) or invalid
    /// definitions (validation_cases.jsonl).
    Conformance {
        /// The cases file.
        file: PathBuf,
        /// Only this family (e.g. choice, map, pass/io).
        #[arg(long)]
        family: Option<String>,
        /// Only cases whose id contains this.
        #[arg(long)]
        id: Option<String>,
        /// Save and reload the execution between every step and require identical results.
        #[arg(long)]
        replay: bool,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Print a line for every case.
        #[arg(long)]
        verbose: bool,
        /// Start time of every execution (RFC 3339); the corpus' timestamps were generated for
        /// its default.
        #[arg(long, default_value = "2026-11-21T17:00:04Z")]
        start_time: String,
        /// Which runtime runs the cases: `memory` (the in-memory runner) or `durable` (the
        /// embedded store, queue and step driver that `serve` and `run` use).
        #[arg(long, value_enum, default_value_t = RuntimeKind::Memory)]
        runtime: RuntimeKind,
        /// Run service cases against this local AWS endpoint (a moto server as account
        /// 111111111111; reset before every case): their setup is created there and the
        /// runtime's AWS calls go there. Implies `--runtime durable` and one case at a time.
        #[arg(long)]
        aws_endpoint: Option<String>,
    },
}

/// The runtimes `conformance` can run cases on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RuntimeKind {
    /// The in-memory runner (`stepwise_asl::local`).
    Memory,
    /// The durable runtime on an embedded database.
    Durable,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stepwise: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn read_text(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_json(path: &Path, what: &str) -> Result<Value> {
    let text = read_text(path)?;
    serde_json::from_str(&text).with_context(|| format!("{what} {} is not valid JSON", path.display()))
}

/// `--time-scale`: a finite number >= 0.
fn time_scale(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("must be a finite number >= 0, got {arg}")),
    }
}

fn parse_input(arg: &str) -> Result<Value> {
    if let Some(file) = arg.strip_prefix('@') {
        return read_json(Path::new(file), "input file");
    }
    serde_json::from_str(arg).with_context(|| format!("--input is not valid JSON: {arg}"))
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting tokio")
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Run { dir, data_dir, input, json, manual_approval, time_scale } => {
            let input = input.as_deref().map(parse_input).transpose()?;
            let args = run::RunArgs { dir, data_dir, input, json, manual_approval, time_scale };
            let ok = tokio_runtime()?.block_on(run::run(args))?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Serve { port, data_dir, functions, time_scale, mock_config, execution_logs } => {
            let args = serve::ServeArgs { port, data_dir, functions, time_scale, mock_config, execution_logs };
            tokio_runtime()?.block_on(serve::serve(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::SendTaskSuccess { task_token, task_output, data_dir } => {
            tokio_runtime()?.block_on(run::complete_token(
                &data_dir,
                &task_token,
                run::TokenAction::Success(task_output),
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::SendTaskFailure { task_token, error, cause, data_dir } => {
            tokio_runtime()?.block_on(run::complete_token(
                &data_dir,
                &task_token,
                run::TokenAction::Failure { error, cause },
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::List { data_dir } => {
            tokio_runtime()?.block_on(run::list(&data_dir))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::SendTaskHeartbeat { task_token, data_dir } => {
            tokio_runtime()?.block_on(run::complete_token(&data_dir, &task_token, run::TokenAction::Heartbeat))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::TestState {
            definition,
            state,
            input,
            mock,
            inspection_level,
            role_arn,
            context,
            variables,
            state_configuration,
            functions,
        } => {
            let def = read_json(&definition, "definition")?;
            let input = parse_input(&input)?;
            let mut req = json!({
                "definition": def.to_string(),
                "input": input.to_string(),
                "inspectionLevel": inspection_level,
            });
            for (key, value) in [
                ("stateName", state.map(Value::String)),
                ("roleArn", role_arn.map(Value::String)),
                ("context", context.map(Value::String)),
                ("variables", variables.map(Value::String)),
            ] {
                if let Some(v) = value {
                    req[key] = v;
                }
            }
            if let Some(m) = mock {
                let mut m: Value = serde_json::from_str(&m).with_context(|| format!("--mock is not JSON: {m}"))?;
                // The API's result is JSON text; a JSON value is taken as the result itself.
                if let Some(r) = m.get_mut("result").filter(|r| !r.is_string()) {
                    *r = Value::String(r.to_string());
                }
                req["mock"] = m;
            }
            if let Some(c) = state_configuration {
                let mut c: Value =
                    serde_json::from_str(&c).with_context(|| format!("--state-configuration is not JSON: {c}"))?;
                if let Some(d) = c.get_mut("mapItemReaderData").filter(|d| !d.is_string()) {
                    *d = Value::String(d.to_string());
                }
                req["stateConfiguration"] = c;
            }
            let req: stepwise_asl::test_state::TestStateRequest =
                serde_json::from_value(req).context("the TestState request")?;
            let mut services = match functions {
                Some(f) => functions::LocalFunctions::load(&f)?,
                None => functions::LocalFunctions::none()?,
            };
            let check = |resource: &str, v: &Value, mode: stepwise_asl::test_state::FieldValidation| {
                stepwise_sdk::validate::check_result(
                    resource,
                    v,
                    mode == stepwise_asl::test_state::FieldValidation::Strict,
                )
            };
            let mut random = rand::random::<u64>;
            let env = stepwise_asl::test_state::TestStateEnv {
                account: "123456789012",
                region: "us-east-1",
                now: chrono::Utc::now(),
                random: &mut random,
                check_mock: Some(&check),
            };
            let answer = tokio_runtime()?.block_on(stepwise_asl::test_state::test_state(&req, &mut services, env));
            match answer {
                Ok(v) => {
                    println!("{v}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("{}", json!({"error": e.code(), "message": e.message()}));
                    Ok(ExitCode::from(2))
                }
            }
        }
        Cmd::Exec {
            definition,
            input,
            functions,
            history,
            time_scale,
            name,
            mock_config,
            test_case,
            state_machine,
        } => {
            let def = read_json(&definition, "definition")?;
            let input = parse_input(&input)?;
            let mut registry = match functions {
                Some(f) => functions::LocalFunctions::load(&f)?,
                None => functions::LocalFunctions::none()?,
            };
            let machine_name = state_machine.unwrap_or_else(|| {
                definition
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .filter(|s| *s != "-")
                    .unwrap_or("StateMachine")
                    .to_string()
            });
            let mocks = match (mock_config, test_case) {
                (Some(file), Some(case)) => {
                    let file = stepwise_runtime::mocks::MockFile::open(&file)
                        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
                    Some(file.test_case(&machine_name, &case).map_err(|e| anyhow::anyhow!("{}", e.message()))?)
                }
                _ => None,
            };
            let opts = RunOptions {
                context: ExecutionContext {
                    state_machine_name: machine_name,
                    execution_name: name,
                    ..Default::default()
                },
                time_scale,
                seed: rand::random(),
                mocks,
                ..Default::default()
            };
            let r = match tokio_runtime()?.block_on(local::run(&def, input, &opts, &mut registry)) {
                Ok(r) => r,
                Err(e) => {
                    println!(
                        "{}",
                        json!({"status": "INVALID_DEFINITION", "error": "InvalidDefinition", "cause": e.to_string()})
                    );
                    return Ok(ExitCode::from(1));
                }
            };
            let mut line = serde_json::Map::new();
            line.insert("status".into(), r.status.as_str().into());
            match &r.output {
                Some(o) => {
                    line.insert("output".into(), o.clone());
                }
                None => {
                    line.insert("error".into(), r.error.clone().map(Value::String).unwrap_or(Value::Null));
                    line.insert("cause".into(), r.cause.clone().map(Value::String).unwrap_or(Value::Null));
                }
            }
            if history {
                line.insert("history".into(), Value::Array(r.history_json()));
            }
            println!("{}", Value::Object(line));
            Ok(if r.status == ExecutionStatus::Succeeded { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Policy { definition, bindings, region, account, name } => {
            let text = read_text(&definition)?;
            let bindings = bindings.as_deref().map(read_text).transpose()?;
            let def = policy::load_definition(&text, bindings.as_deref())
                .with_context(|| format!("reading {}", definition.display()))?;
            let p = policy::policy(&def, &policy::PolicyOptions { region, account, machine: name })?;
            for u in &p.uncovered {
                eprintln!("stepwise: not in the policy (not a Lambda, SQS or SNS task): {u}");
            }
            println!("{}", serde_json::to_string_pretty(&p.document)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Graph { definition, format, execution, data_dir, bindings, output } => {
            let (file, bindings) = if definition.is_dir() {
                let b = bindings.or_else(|| Some(definition.join("bindings.json")).filter(|p| p.exists()));
                (definition.join("definition.asl.json"), b)
            } else {
                (definition, bindings)
            };
            let text = read_text(&file)?;
            let bindings = bindings.as_deref().map(read_text).transpose()?;
            let def = policy::load_definition(&text, bindings.as_deref())
                .with_context(|| format!("reading {}", file.display()))?;
            let outcome = match execution {
                Some(arn) => {
                    let rt = run::open_runtime_with(&data_dir, None, 1.0, None)?.0;
                    let ran = tokio_runtime()?
                        .block_on(console::ran(&rt, &arn))
                        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
                    Some(ran.outcome)
                }
                None => None,
            };
            let picture = stepwise_graph::render(&def, format, outcome.as_ref())?;
            match output {
                Some(path) => std::fs::write(&path, picture).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{picture}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Validate { definition, express } => {
            let def = read_json(&definition, "definition")?;
            match stepwise_asl::load(&def, express) {
                Ok(_) => {
                    println!("{}", json!({"result": "OK", "diagnostics": []}));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("{}", json!({"result": "FAIL", "error": "InvalidDefinition", "message": e.to_string()}));
                    Ok(ExitCode::from(1))
                }
            }
        }
        Cmd::Conformance { file, family, id, replay, threads, verbose, start_time, runtime, aws_endpoint } => {
            let runtime = if aws_endpoint.is_some() { RuntimeKind::Durable } else { runtime };
            let threads = if aws_endpoint.is_some() { 1 } else { threads };
            if stepwise_conformance::is_validation_file(&file) {
                let mut out = std::io::stdout();
                let s = match runtime {
                    RuntimeKind::Memory => stepwise_conformance::run_validation_cases(&file, id.as_deref(), &mut out)?,
                    RuntimeKind::Durable => stepwise_conformance::run_validation_cases_with(
                        &file,
                        id.as_deref(),
                        &mut out,
                        &durable::validate,
                    )?,
                };
                return Ok(if s.passed() == s.total { ExitCode::SUCCESS } else { ExitCode::from(1) });
            }
            let start = chrono::DateTime::parse_from_rfc3339(&start_time)
                .with_context(|| format!("--start-time is not an RFC 3339 time: {start_time}"))?
                .with_timezone(&chrono::Utc);
            let filter = stepwise_conformance::Filter {
                families: family.into_iter().collect(),
                ids: id.into_iter().collect(),
                ..Default::default()
            };
            let options = stepwise_conformance::RunnerOptions {
                threads: threads.max(1),
                replay,
                verbose,
                start_time: stepwise_conformance::StartTime::Fixed(start),
                ..Default::default()
            };
            let mut out = std::io::stdout();
            let engine: std::sync::Arc<dyn stepwise_conformance::Engine> = match runtime {
                RuntimeKind::Memory => std::sync::Arc::new(stepwise_conformance::LocalEngine),
                RuntimeKind::Durable => std::sync::Arc::new(durable::DurableEngine { aws_endpoint }),
            };
            let summary = stepwise_conformance::run_corpus_with(&file, &filter, &options, engine, &mut out);
            Ok(if summary.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
