//! Runs an execution to completion in memory, on a simulated clock.
//!
//! This is the smallest runtime around the pure stepper: a priority queue of step messages
//! ordered by due time, a virtual clock that jumps to the next due message (sleeping
//! `delay × time_scale` of real time on the way, so `time_scale = 0` makes waits instant while
//! still recording them), and [`Services`] for Task states, performed by
//! [`crate::integrations::perform`], the same code the durable runtime uses.
//!
//! The run is an `async fn` because the integration port is async; it does nothing else
//! asynchronous, so any executor drives it (`futures_executor::block_on` in synchronous code).

use crate::history::HistoryEvent;
use crate::integrations;
use crate::model::StateMachine;
use crate::stepper::{self, Effect, Env, Event, ExecutionInfo, ExecutionStatus, Status};
use crate::Error;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

pub use crate::integrations::{FunctionOutcome, NoFunctions, Services};

/// AWS's limit on history events per execution.
pub const MAX_HISTORY_EVENTS: usize = 25_000;

/// Account, region and names an execution runs under.
#[derive(Debug, Clone)]
pub struct ExecutionContext {
    /// AWS account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// State machine name.
    pub state_machine_name: String,
    /// Execution name.
    pub execution_name: String,
    /// Execution role ARN.
    pub role_arn: String,
    /// An EXPRESS machine.
    pub express: bool,
}

impl Default for ExecutionContext {
    fn default() -> Self {
        ExecutionContext {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            state_machine_name: "StateMachine".into(),
            execution_name: "local-execution".into(),
            role_arn: "arn:aws:iam::123456789012:role/stepwise".into(),
            express: false,
        }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Names and account.
    pub context: ExecutionContext,
    /// Real seconds slept per simulated second of Wait/Retry delay (0 = instant).
    pub time_scale: f64,
    /// The execution's start time (the simulated clock starts here).
    pub start_time: DateTime<Utc>,
    /// Seed of the random source (task tokens, States.UUID, jitter).
    pub seed: u64,
    /// Save and reload the execution (JSON) between every step, as a durable runtime does.
    pub replay: bool,
    /// The input's text as the client gave it (shown verbatim in `ExecutionStarted`); `None`:
    /// compact JSON.
    pub input_text: Option<String>,
    /// The mock configuration's test case the execution runs, if any.
    pub mocks: Option<crate::mock::ExecutionMocks>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            context: ExecutionContext::default(),
            time_scale: 1.0,
            start_time: Utc::now(),
            seed: 0x5eed,
            replay: false,
            input_text: None,
            mocks: None,
        }
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// SUCCEEDED, FAILED, TIMED_OUT, ABORTED, or RUNNING when it waits for a task token
    /// nobody can send in memory.
    pub status: ExecutionStatus,
    /// Output when SUCCEEDED.
    pub output: Option<Value>,
    /// Error when not SUCCEEDED.
    pub error: Option<String>,
    /// Cause when not SUCCEEDED.
    pub cause: Option<String>,
    /// History events (see [`RunResult::history_json`] for AWS's JSON shape).
    pub history: Vec<HistoryEvent>,
    /// Number of steps (state transitions and task outcomes) taken.
    pub steps: u64,
}

impl RunResult {
    /// The history in AWS's `GetExecutionHistory` JSON shape.
    pub fn history_json(&self) -> Vec<Value> {
        self.history.iter().map(HistoryEvent::to_aws_json).collect()
    }
}

/// A deterministic environment: a simulated clock and a SplitMix64 random source.
#[derive(Debug, Clone)]
pub struct SimEnv {
    /// The simulated now.
    pub now: DateTime<Utc>,
    state: u64,
}

impl SimEnv {
    /// A clock at `now` and a random source seeded with `seed`.
    pub fn new(now: DateTime<Utc>, seed: u64) -> Self {
        SimEnv { now, state: seed }
    }
}

impl Env for SimEnv {
    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }
    fn random(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Validates, compiles and runs a definition.
pub async fn run<S: Services>(
    definition: &Value,
    input: Value,
    opts: &RunOptions,
    services: &mut S,
) -> Result<RunResult, Error> {
    let machine = crate::load(definition, opts.context.express)?;
    Ok(run_machine(&machine, input, opts, services).await)
}

/// Runs a compiled machine to completion.
pub async fn run_machine<S: Services>(
    machine: &StateMachine,
    input: Value,
    opts: &RunOptions,
    services: &mut S,
) -> RunResult {
    let c = &opts.context;
    let mut info =
        ExecutionInfo::new(&c.account, &c.region, &c.state_machine_name, &c.execution_name, &c.role_arn, c.express);
    let mut env = SimEnv::new(opts.start_time, opts.seed);
    if c.express {
        // Express execution ARNs carry one more part, a unique id.
        let id = integrations::uuid(&mut || env.random());
        info.execution_arn = format!("{}:{id}", info.execution_arn);
    }
    let mut exec = stepper::new_execution(info, input, opts.start_time);
    exec.mocks = opts.mocks.clone().map(Box::new);
    exec.input_text = opts.input_text.clone();
    let mut history = Vec::new();
    // Messages due now, in order; and timers: (due time, sequence) → event, Reverse makes the
    // heap a min-heap.
    let mut ready: VecDeque<Event> = VecDeque::from([Event::Start]);
    let mut queue: BinaryHeap<Reverse<(DateTime<Utc>, u64, QueuedEvent)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut steps = 0u64;
    let mut overflow = false;
    loop {
        let (at, event) = match ready.pop_front() {
            Some(e) => (env.now, e),
            None => match queue.pop() {
                Some(Reverse((at, _, QueuedEvent(e)))) => (at, e),
                None => break,
            },
        };
        if at > env.now {
            if opts.time_scale > 0.0 {
                let secs = (at - env.now).num_milliseconds() as f64 / 1000.0 * opts.time_scale;
                std::thread::sleep(Duration::from_secs_f64(secs.min(86_400.0)));
            }
            env.now = at;
        }
        if opts.replay {
            // What a durable runtime does between two steps: save, then load.
            let reloaded = serde_json::to_string(&exec).and_then(|text| serde_json::from_str(&text));
            match reloaded {
                Ok(x) => exec = x,
                Err(e) => {
                    return RunResult {
                        status: ExecutionStatus::Failed,
                        output: None,
                        error: Some("Stepwise.ReplayFailure".into()),
                        cause: Some(format!("the execution state does not round-trip through JSON: {e}")),
                        history,
                        steps,
                    }
                }
            }
        }
        let t = stepper::step(machine, exec, event, &mut env);
        steps += 1;
        exec = t.execution;
        history.extend(t.history);
        if history.len() > MAX_HISTORY_EVENTS {
            overflow = true;
            break;
        }
        let mut done = false;
        for effect in t.effects {
            match effect {
                Effect::Schedule { frame, timer, at } => match at {
                    Some(due) if due > env.now => {
                        seq += 1;
                        queue.push(Reverse((due, seq, QueuedEvent(Event::Advance { frame, timer }))));
                    }
                    _ => ready.push_back(Event::Advance { frame, timer }),
                },
                Effect::Invoke(req) => {
                    let ctx = integrations::InvokeContext { region: &c.region, account: &c.account, now: env.now };
                    let mut rid = || env.random();
                    let outcomes = integrations::perform(&req, &ctx, services, &mut rid).await;
                    for outcome in outcomes {
                        ready.push_back(Event::Task { frame: req.frame, task: req.task, outcome });
                    }
                }
                Effect::ReadItems { frame, task, call, manifest } => {
                    let reply = match services.call(&integrations::Call::Aws(*call)).await {
                        _ if manifest => integrations::aws::AwsReply::NotSent {
                            error: "States.ItemReaderFailed".into(),
                            cause: "an S3 inventory (InputType MANIFEST) is read by `stepwise run` and `serve`, \
                                    not by the in-memory runner"
                                .into(),
                        },
                        integrations::CallResult::Aws(reply) => reply,
                        _ => integrations::aws::AwsReply::NotSent {
                            error: "States.ItemReaderFailed".into(),
                            cause: "the runner has no S3 endpoint".into(),
                        },
                    };
                    ready.push_back(Event::Items { frame, task, reply: Box::new(reply) });
                }
                Effect::Complete => done = true,
                // No child executions in memory: a Distributed Map runs its children as frames
                // (the environment says so), so no Map Run starts here.
                Effect::StopExecution { .. } | Effect::StartMapRun(_) => {}
            }
        }
        if done {
            break;
        }
    }
    if overflow {
        return RunResult {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some("States.Runtime".into()),
            cause: Some(format!("The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS}).")),
            history,
            steps,
        };
    }
    let (status, output, error, cause) = match exec.status {
        Status::Succeeded { output } => (ExecutionStatus::Succeeded, Some(output), None, None),
        Status::Failed { error, cause } => (ExecutionStatus::Failed, None, error, cause),
        Status::TimedOut { error, cause } => (ExecutionStatus::TimedOut, None, error, cause),
        Status::Aborted { error, cause } => (ExecutionStatus::Aborted, None, error, cause),
        Status::Running => (
            ExecutionStatus::Running,
            None,
            None,
            Some("the execution waits for a task token; an in-memory run has nobody to send it".into()),
        ),
    };
    RunResult { status, output, error, cause, history, steps }
}

/// Events ordered only by their queue position.
struct QueuedEvent(Event);

impl PartialEq for QueuedEvent {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for QueuedEvent {}
impl PartialOrd for QueuedEvent {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for QueuedEvent {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}
