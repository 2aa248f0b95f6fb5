//! The step driver: one transition per step message, committed with its outbox.
//!
//! `handle` is the whole protocol (see the crate docs); `start_execution` and the task-token
//! calls are the ways in. Fault points let tests crash the driver between any two of its writes.

mod activities;
mod map_runs;
mod test_state;
pub mod versions;

pub use activities::{activity_arn, ActivityTask};
pub use map_runs::{ChildPage, UpdateMapRun};

use crate::aws::{check_error_cause, check_name, machine_arn};
use crate::ports::{
    Action, Clock, Commit, ExecutionPage, ExecutionQuery, ExecutionStatus, Functions, Machine, OutboxItem, Queue,
    QueuedSend, StepMessage, Store, Stored, TokenEntry, Topics, STEP_QUEUE,
};
use crate::services::{AwsCalls, NoAws, PortServices, SelfCalls};
use crate::{Error, Invalid};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepwise_asl::history::HistoryEvent;
use stepwise_asl::integrations::aws::Identity;
use stepwise_asl::integrations::states::{self, ParentTask, Started};
use stepwise_asl::integrations::{self, Integration, InvokeContext};
use stepwise_asl::stepper::{self, Effect, Env, Event, ExecutionInfo, Phase, TaskOutcome};
use stepwise_asl::StateMachine;

/// Where a test may crash the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultPoint {
    /// After loading the execution, before anything is written.
    AfterLoad,
    /// After a task performed inline (its call made, its outcome applied), before the commit.
    BeforeCommit,
    /// After the commit, before any action of its outbox is done.
    AfterCommit,
    /// After the outbox action with this index was done.
    AfterAction(usize),
    /// After all actions, before the message is acknowledged.
    BeforeAck,
}

/// Decides whether to crash at a point (for fault tests).
pub type FaultHook = Arc<dyn Fn(&str, FaultPoint) -> bool + Send + Sync>;

/// Account and region the runtime builds ARNs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// AWS account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// How long a received step message stays hidden before it is delivered again.
    pub visibility: Duration,
    /// How long GetActivityTask waits for a task: AWS's 60 seconds, or less where the API
    /// sits behind something that cuts requests shorter (API Gateway: 30 seconds).
    pub activity_poll: Duration,
    /// Real seconds per second of a timer: Wait states, Retry intervals, TimeoutSeconds and
    /// HeartbeatSeconds are scheduled `delay × time_scale` from now (0: at once). 1 is AWS's
    /// time; tests use 0. The stepper still computes (and the history shows) the definition's
    /// values; only when the step message is delivered changes.
    pub time_scale: f64,
    /// How many transitions one step message may run: after a commit whose only action is
    /// the next step of the same execution, due now, the driver runs that step itself instead
    /// of sending it (pure transitions in a row share a commit). 1 runs one state per message (the AWS
    /// runtime: one state per Lambda invocation); the embedded runtime saves a queue round
    /// trip per state.
    pub inline_steps: u32,
    /// How long one step message may go on running successors (well under the visibility
    /// timeout, so the message is not delivered again meanwhile).
    pub inline_budget: Duration,
    /// Whether a callback task's call (the message carrying its token) is made inside its
    /// step, before the commit that records the running task (one commit fewer; the token is
    /// indexed before the call, and an answer that comes before that commit waits for it), or
    /// after it.
    pub inline_callbacks: bool,
    /// How long a task completion (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat) waits
    /// for the commit that issued its token, when it arrives first (inline callbacks); past
    /// it, the completion fails with a retryable error.
    pub token_commit_wait: Duration,
    /// How long StartExecution may reuse a machine's record (definition, role, versions,
    /// aliases) this runtime read, instead of reading it again. Changes made through this
    /// runtime drop the copy at once; a change another process makes (another `stepwise`
    /// sharing the data directory, another Lambda instance) reaches starts within this time,
    /// as AWS's do: "All StartExecution calls within a few seconds will use the updated
    /// definition and roleArn" (Step Functions' read consistency). Zero reads it every time.
    pub start_reuse: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            visibility: Duration::from_secs(30),
            activity_poll: Duration::from_secs(60),
            time_scale: 1.0,
            inline_steps: 256,
            inline_budget: Duration::from_millis(250),
            inline_callbacks: false,
            token_commit_wait: Duration::from_secs(10),
            start_reuse: Duration::from_secs(1),
        }
    }
}

/// How many step messages one worker ([`Runtime::work_until`]) handles at once.
pub const IN_FLIGHT: usize = 256;

/// What [`Runtime::apply`] did.
enum Applied {
    /// The event changed nothing.
    NoOp,
    /// A transition was committed and its actions done.
    Done,
    /// The transition's only action is the next step of the same execution, due now, and it
    /// was not sent: the execution as it is now (with the last commit's version and outbox),
    /// that step, and the transitions since that commit when they are not committed yet.
    Next(Box<(Stored, StepMessage, Pending)>),
}

/// Transitions run by this driver and not yet committed (see [`Runtime::run_successors`]).
#[derive(Default)]
struct Pending {
    /// How many.
    steps: usize,
    /// Their history events.
    history: Vec<HistoryEvent>,
    /// The outbox the last one would have committed (its next step).
    outbox: Vec<OutboxItem>,
    /// Their execution log records, with their log group.
    logged: Option<(String, Vec<Value>)>,
    /// Their metric records.
    metrics: Vec<Value>,
}

impl Config {
    /// The AWS runtime's: one state per step message (one per driver invocation), where the
    /// step queue spreads an execution's states over the drivers, and callbacks called inside
    /// their step (a commit saved is money saved).
    pub fn aws_step_driver(self) -> Config {
        Config { inline_steps: 1, inline_budget: Duration::ZERO, inline_callbacks: true, ..self }
    }
}

/// What `handle` did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A transition was committed and its actions done.
    Applied,
    /// The message changed nothing (a duplicate, a late timer, a finished execution).
    NoOp,
    /// The message arrived before its time and was sent on again.
    Deferred,
}

/// The runtime: ports plus the machines they run. Its methods are the operations the API and
/// the command line need; the ports stay inside.
pub struct Runtime<S, Q, T, F, C> {
    store: S,
    queue: Q,
    topics: T,
    functions: F,
    clock: C,
    config: Config,
    machines: Mutex<HashMap<String, Arc<StateMachine>>>,
    /// Machine records as StartExecution read them, with when ([`Config::start_reuse`]).
    records: Mutex<HashMap<String, (std::time::Instant, Arc<Machine>)>>,
    /// Counts this runtime's machine changes: a record read before one is not kept after it.
    machine_changes: std::sync::atomic::AtomicU64,
    faults: Option<FaultHook>,
    aws: Arc<dyn AwsCalls>,
    mocks: Option<Arc<crate::mocks::MockFile>>,
    logs: Option<Arc<dyn crate::logs::ExecutionLogs>>,
    /// The logging configuration of each compiled machine (by the same key).
    log_configs: Mutex<HashMap<String, Option<crate::logs::LogConfig>>>,
    metrics: Option<Arc<dyn crate::metrics::MetricsSink>>,
    /// Held while a machine's record is read, changed and written back (updates, versions,
    /// aliases, tags): this process's control-plane writes never undo each other.
    machine_writes: tokio::sync::Mutex<()>,
    /// Told whenever this runtime commits the end of an execution ([`Runtime::wait_for_end`]).
    ended: tokio::sync::Notify,
}

/// A state machine to create.
#[derive(Debug, Clone)]
pub struct NewMachine<'a> {
    /// Its name.
    pub name: &'a str,
    /// The definition.
    pub definition: Value,
    /// The definition's text as the client sent it.
    pub definition_text: Option<String>,
    /// The role executions run as.
    pub role_arn: &'a str,
    /// EXPRESS.
    pub express: bool,
    /// The region of its ARN (default: the runtime's).
    pub region: Option<&'a str>,
    /// Configurations and tags.
    pub settings: crate::ports::MachineSettings,
}

/// Where an execution comes from, besides a plain start.
#[derive(Debug, Default)]
pub(crate) struct Begin {
    /// The task of another execution that started it.
    pub(crate) parent: Option<ParentTask>,
    /// The Map Run that started it, and its index.
    pub(crate) map_run: Option<stepper::MapRunChild>,
    /// The mock configuration's test case it runs.
    pub(crate) mocks: Option<Box<stepwise_asl::mock::ExecutionMocks>>,
}

/// The stepper's environment: the runtime's clock and the OS's randomness.
struct RuntimeEnv {
    now: DateTime<Utc>,
}

impl Env for RuntimeEnv {
    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }
    fn random(&mut self) -> u64 {
        rand::random()
    }
    fn child_executions(&self) -> bool {
        true
    }
}

/// Compiles a definition (`InvalidDefinition` with AWS's message when it is not valid).
fn load(definition: &Value, express: bool) -> Result<StateMachine, Error> {
    stepwise_asl::load(definition, express).map_err(|e| Error::invalid(Invalid::Definition, e.to_string()))
}

/// The member of a step queue message that names the stored step message it stands for.
const SPILLED: &str = "stepwiseStoredStep";

/// Hex SHA-256 of a task token: what the store indexes.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A redrive appends at least two events; AWS redrives histories of fewer than 24,999.
const MAX_REDRIVE_HISTORY: usize = 24_999;

fn delay_until(now: DateTime<Utc>, at: Option<DateTime<Utc>>) -> Duration {
    at.and_then(|t| (t - now).to_std().ok()).unwrap_or(Duration::ZERO)
}

/// The queue name in an SQS queue URL (its last path segment).
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Runtime<S, Q, T, F, C> {
    /// A runtime over these ports.
    pub fn new(store: S, queue: Q, topics: T, functions: F, clock: C, config: Config) -> Self {
        Runtime {
            store,
            queue,
            topics,
            functions,
            clock,
            config,
            machines: Mutex::new(HashMap::new()),
            records: Mutex::new(HashMap::new()),
            machine_changes: std::sync::atomic::AtomicU64::new(0),
            faults: None,
            aws: Arc::new(NoAws),
            mocks: None,
            logs: None,
            log_configs: Mutex::new(HashMap::new()),
            machine_writes: tokio::sync::Mutex::new(()),
            ended: tokio::sync::Notify::new(),
            metrics: None,
        }
    }

    /// The same runtime calling AWS services (DynamoDB, EventBridge, `aws-sdk:*`, and SQS/SNS
    /// where `aws` routes them) through `aws`. Without it those tasks fail with `States.Runtime`.
    pub fn with_aws(mut self, aws: Arc<dyn AwsCalls>) -> Self {
        self.aws = aws;
        self
    }

    /// Answers starts on `stateMachine:NAME#CASE` from this mock configuration file.
    pub fn with_mocks(mut self, mocks: Arc<crate::mocks::MockFile>) -> Self {
        self.mocks = Some(mocks);
        self
    }

    /// Emits Step Functions' metrics of every transition here (EMF records).
    pub fn with_metrics(mut self, metrics: Arc<dyn crate::metrics::MetricsSink>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The metric records of a transition's events (`resource`: the running task's, when the
    /// event is its outcome), emitted by [`Runtime::emit_metrics`] once it is committed.
    fn metric_records(
        &self,
        machine_arn: &str,
        x: &stepper::Execution,
        resource: Option<&str>,
        events: &[HistoryEvent],
    ) -> Vec<Value> {
        if self.metrics.is_none() {
            return Vec::new();
        }
        let points = crate::metrics::points(machine_arn, x.start_time, resource, events);
        let at = events.last().map(|e| e.timestamp.timestamp_millis()).unwrap_or_default();
        crate::metrics::emf(&points, at)
    }

    fn emit_metrics(&self, records: Vec<Value>) {
        if let (Some(sink), false) = (&self.metrics, records.is_empty()) {
            sink.emit(records);
        }
    }

    /// Writes the execution logs of machines with a `loggingConfiguration` here.
    pub fn with_logs(mut self, logs: Arc<dyn crate::logs::ExecutionLogs>) -> Self {
        self.logs = Some(logs);
        self
    }

    /// The log records of `events` of an execution of the machine compiled as `key`, with
    /// their log group: `None` when its machine does not log them.
    fn log_records(
        &self,
        key: &str,
        execution: &stepper::Execution,
        events: &[HistoryEvent],
    ) -> Option<(String, Vec<Value>)> {
        self.logs.as_ref()?;
        let configs = self.log_configs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let config = configs.get(key)?.as_ref()?;
        let records = config.records(&execution.info.execution_arn, execution.redrive_count, events);
        (!records.is_empty()).then(|| (config.group.clone(), records))
    }

    /// Sends log records (after the commit that made their events).
    async fn write_logs(&self, arn: &str, logged: Option<(String, Vec<Value>)>) {
        if let (Some(logs), Some((group, records))) = (&self.logs, logged) {
            logs.write(&group, arn, records).await;
        }
    }

    /// The key a machine is compiled under for an execution (its revision's).
    fn machine_key(execution: &stepper::Execution, machine_arn: &str) -> String {
        match &execution.info.state_machine_revision {
            Some(rev) => format!("{machine_arn}#{rev}"),
            None => machine_arn.to_string(),
        }
    }

    /// The mock configuration file, if any.
    pub fn mocks(&self) -> Option<&crate::mocks::MockFile> {
        self.mocks.as_deref()
    }

    /// Account, region and timings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store adapter, for tests and tools that inspect it directly; callers that run
    /// machines use the runtime's operations.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The queue adapter (tests deliver step messages by hand, tools show what a queue holds).
    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// The topics adapter (tests and tools look at what was published).
    pub fn topics(&self) -> &T {
        &self.topics
    }

    /// Now, by the runtime's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The same runtime calling functions through `functions` (tests point Lambda at a local
    /// Invoke endpoint).
    pub fn with_functions(self, functions: F) -> Self {
        Runtime { functions, ..self }
    }

    /// Crashes (returns `InjectedCrash`) wherever `hook` says, for fault tests.
    pub fn with_faults(mut self, hook: FaultHook) -> Self {
        self.faults = Some(hook);
        self
    }

    fn fault(&self, arn: &str, point: FaultPoint) -> Result<(), Error> {
        match &self.faults {
            Some(h) if h(arn, point) => Err(Error::InjectedCrash(format!("{point:?}"))),
            _ => Ok(()),
        }
    }

    /// Validates a definition and stores it as a state machine (registering: a machine of the
    /// same name is replaced, keeping its creation date; the same configuration again changes
    /// nothing). Returns the machine.
    pub async fn create_machine(
        &self,
        name: &str,
        definition: Value,
        role_arn: &str,
        express: bool,
    ) -> Result<Machine, Error> {
        self.create_machine_text(name, definition, None, role_arn, express, None).await
    }

    /// [`Runtime::create_machine`], keeping the definition's text as the client sent it
    /// (`definition_text`, which must parse to `definition`), in `region` (the one the client
    /// addressed; default: the runtime's).
    pub async fn create_machine_text(
        &self,
        name: &str,
        definition: Value,
        definition_text: Option<String>,
        role_arn: &str,
        express: bool,
        region: Option<&str>,
    ) -> Result<Machine, Error> {
        let new =
            NewMachine { name, definition, definition_text, role_arn, express, region, settings: Default::default() };
        self.create_machine_new(new).await
    }

    /// CreateStateMachine with its configurations and tags (one write: a machine is never
    /// seen without them, and has no revision id of an update).
    pub async fn create_machine_new(&self, new: NewMachine<'_>) -> Result<Machine, Error> {
        let arn = machine_arn(new.region.unwrap_or(&self.config.region), &self.config.account, new.name);
        self.store_machine(arn, new.name, new.definition, new.definition_text, new.role_arn, new.express, new.settings)
            .await
    }

    /// [`Runtime::create_machine`] in `account` rather than the runtime's: one runtime can hold
    /// the machines of several accounts, which cross-account tasks (`Credentials.RoleArn` of
    /// the other account) then start.
    pub async fn create_machine_in_account(
        &self,
        account: &str,
        name: &str,
        definition: Value,
        role_arn: &str,
        express: bool,
    ) -> Result<Machine, Error> {
        let arn = machine_arn(&self.config.region, account, name);
        self.store_machine(arn, name, definition, None, role_arn, express, Default::default()).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_machine(
        &self,
        arn: String,
        name: &str,
        definition: Value,
        definition_text: Option<String>,
        role_arn: &str,
        express: bool,
        settings: crate::ports::MachineSettings,
    ) -> Result<Machine, Error> {
        check_name(name)?;
        let _writing = self.machine_writes.lock().await;
        load(&definition, express)?;
        let existing = self.store.get_machine(&arn).await?;
        let now = self.clock.now();
        let mut m = Machine {
            arn,
            name: name.to_string(),
            definition,
            definition_text,
            role_arn: role_arn.to_string(),
            express,
            created: existing.as_ref().map_or(now, |m| m.created),
            revision_id: String::new(),
            updated: existing.is_some().then_some(now),
            settings: existing.as_ref().map_or(settings, |m| m.settings.clone()),
        };
        m.revision_id = m.revision();
        if let Some(e) = existing.filter(|e| e.revision_id == m.revision_id) {
            return Ok(e);
        }
        self.store.put_machine(&m).await?;
        self.forget_machine(&m.arn)?;
        Ok(m)
    }

    /// UpdateStateMachine: a new definition and/or role for an existing machine. Running
    /// executions keep the revision they started with; new ones run the update. Returns the
    /// machine as updated (unchanged, with its revision, when nothing differs).
    pub async fn update_machine(
        &self,
        arn: &str,
        definition: Option<(Value, Option<String>)>,
        role_arn: Option<String>,
    ) -> Result<Machine, Error> {
        if definition.is_none() && role_arn.is_none() {
            return Err(Error::invalid(
                Invalid::MissingParameter,
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
            ));
        }
        let _writing = self.machine_writes.lock().await;
        for _attempt in 0..16 {
            let current = self.get_machine(arn).await?;
            if let Some((d, _)) = &definition {
                load(d, current.express)?;
            }
            let (definition, definition_text) =
                definition.clone().unwrap_or_else(|| (current.definition.clone(), current.definition_text.clone()));
            let role_arn = role_arn.clone().unwrap_or_else(|| current.role_arn.clone());
            let mut m = Machine { definition, definition_text, role_arn, ..current.clone() };
            m.revision_id = m.revision();
            if m.revision_id == current.revision_id {
                return Ok(current);
            }
            m.updated = Some(self.clock.now());
            // Only over the machine as read: a version or tag written meanwhile is kept.
            if self.replaced(&m, &current).await? {
                return Ok(m);
            }
        }
        Err(Error::storage(format!("updating state machine {arn}"), "too many concurrent updates"))
    }

    /// DeleteStateMachine: the machine is gone for new executions at once (Describe and Start
    /// answer `StateMachineDoesNotExist`); its running executions end with `ExecutionFailed`
    /// (`States.Runtime`, "State machine NAME has been deleted.", as on AWS) when the step
    /// driver takes the termination message this sends each of them. Deleting a machine that
    /// does not exist is not an error. Returns how many executions were told to terminate.
    pub async fn delete_machine(&self, arn: &str) -> Result<usize, Error> {
        let writing = self.machine_writes.lock().await;
        let Some(m) = self.store.get_machine(arn).await? else { return Ok(0) };
        self.store.delete_machine(arn).await?;
        drop(writing);
        self.forget_machine(arn)?;
        let mut told = 0;
        let mut page = None;
        loop {
            let query = ExecutionQuery {
                machine_arn: arn.to_string(),
                status: Some(ExecutionStatus::Running),
                limit: 100,
                page,
            };
            let running = self.store.list_executions(&query).await?;
            for e in &running.executions {
                let event = Event::Terminate {
                    error: "States.Runtime".into(),
                    cause: format!("State machine {} has been deleted.", m.name),
                };
                let msg = StepMessage { execution_arn: e.execution_arn.clone(), event, not_before: None, origin: None };
                self.send_step(&msg, Duration::ZERO, Some(&format!("{}#deleted", e.execution_arn))).await?;
                told += 1;
            }
            match running.next {
                Some(next) => page = Some(next),
                None => return Ok(told),
            }
        }
    }

    /// Sends a step message on the step queue.
    async fn send_step(&self, msg: &StepMessage, delay: Duration, dedup: Option<&str>) -> Result<(), Error> {
        let body = self.step_body(msg, dedup).await?;
        self.queue.send(STEP_QUEUE, &body, delay, dedup).await?;
        Ok(())
    }

    /// A step message as JSON, and whether the queue takes a body that long.
    fn step_json(&self, msg: &StepMessage) -> Result<(String, bool), Error> {
        let body = serde_json::to_string(msg).map_err(|e| Error::messaging("encoding a step message", e))?;
        let fits = self.queue.max_body().is_none_or(|max| body.len() <= max);
        Ok((body, fits))
    }

    /// The queue body of a step message sent with a creation ([`Store::create_sending`]);
    /// `None` when it is too big for the queue (it then goes the usual way, after).
    fn step_send(&self, msg: &StepMessage, delay: Duration, dedup: &str) -> Result<Option<QueuedSend>, Error> {
        let (body, fits) = self.step_json(msg)?;
        Ok(fits.then(|| QueuedSend { queue: STEP_QUEUE.into(), body, delay, dedup_id: Some(dedup.into()) }))
    }

    /// A step message's queue body: the message, or (too big for the queue) the key of a copy
    /// kept in the store.
    async fn step_body(&self, msg: &StepMessage, dedup: Option<&str>) -> Result<String, Error> {
        let (mut body, fits) = self.step_json(msg)?;
        if !fits {
            // Too big for the queue (a task's output near 256 KiB, with the message around it):
            // the store keeps it and the message carries its key. A redone send (same dedup id)
            // writes the same blob under the same key.
            let key = match dedup {
                Some(d) => format!("step#{}", &token_hash(d)[..32]),
                None => format!("step#{}", stepwise_asl::uuid::v4(rand::random(), rand::random())),
            };
            self.store.put_blob(&key, body.as_bytes()).await?;
            body = serde_json::json!({ SPILLED: key }).to_string();
        }
        Ok(body)
    }

    /// The step message a queue message's body carries: the message itself, or the one kept in
    /// the store because it was too big for the queue.
    pub async fn step_message(&self, body: &str) -> Result<StepMessage, Error> {
        let e = match serde_json::from_str::<StepMessage>(body) {
            Ok(m) => return Ok(m),
            Err(e) => e,
        };
        let key = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get(SPILLED).and_then(Value::as_str).map(String::from))
            .ok_or_else(|| Error::messaging("a message on the step queue is not a step message", e))?;
        let data = self
            .store
            .get_blob(&key)
            .await?
            .ok_or_else(|| Error::messaging(format!("the step message kept as {key} is gone"), "no such blob"))?;
        serde_json::from_slice(&data).map_err(|e| Error::messaging(format!("the step message kept as {key}"), e))
    }

    /// A state machine (its current revision); `StateMachineDoesNotExist` if there is none.
    pub async fn get_machine(&self, arn: &str) -> Result<Machine, Error> {
        self.find_machine(arn).await?.ok_or_else(|| Error::no_machine(arn))
    }

    /// A state machine, if it exists.
    pub async fn find_machine(&self, arn: &str) -> Result<Option<Machine>, Error> {
        self.store.get_machine(arn).await
    }

    /// Every state machine, oldest first.
    pub async fn list_machines(&self) -> Result<Vec<Machine>, Error> {
        self.store.list_machines().await
    }

    /// The machine as an execution runs it: the revision it started with (also after updates
    /// and deletion), or the current machine for an execution stored before revisions existed.
    pub async fn machine_for_execution(&self, stored: &Stored) -> Result<Machine, Error> {
        let arn = &stored.machine_arn;
        match &stored.execution.info.state_machine_revision {
            Some(rev) => self.store.get_machine_revision(arn, rev).await?,
            None => self.store.get_machine(arn).await?,
        }
        .ok_or_else(|| Error::no_machine(arn))
    }

    /// A page of a state machine's executions (see [`Store::list_executions`]).
    pub async fn list_executions(&self, query: &ExecutionQuery) -> Result<ExecutionPage, Error> {
        self.store.list_executions(query).await
    }

    /// The history of an execution, in id order (empty for an unknown one).
    pub async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, Error> {
        self.store.history(arn).await
    }

    /// The execution, if it exists.
    pub async fn find_execution(&self, arn: &str) -> Result<Option<Stored>, Error> {
        self.store.load(arn).await
    }

    /// The execution and state a task token belongs to, if the token is known (for logs).
    pub async fn token_entry(&self, token: &str) -> Result<Option<TokenEntry>, Error> {
        self.store.find_token(&token_hash(token)).await
    }

    /// Records the execution and state a task token belongs to in the current tracing span's
    /// `execution_arn` and `state` fields (so the log lines of a SendTask* call name them), if
    /// the token is known. A failing look-up only costs the log fields.
    pub async fn trace_token(&self, token: &str) {
        if let Ok(Some(entry)) = self.store.find_token(&token_hash(token)).await {
            let span = tracing::Span::current();
            span.record("execution_arn", entry.execution_arn.as_str());
            span.record("state", entry.state_name.as_str());
        }
    }

    /// The machine a running execution runs: its revision, or the current machine for an
    /// execution stored before revisions existed.
    async fn machine_of(&self, execution: &stepper::Execution, machine_arn: &str) -> Result<Arc<StateMachine>, Error> {
        match &execution.info.state_machine_revision {
            Some(rev) => self.machine_revision(machine_arn, rev).await,
            None => self.machine(machine_arn).await,
        }
    }

    fn forget_machine(&self, arn: &str) -> Result<(), Error> {
        self.cache().remove(arn);
        self.machine_changes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(arn);
        Ok(())
    }

    /// A machine's record for a start: the copy read within [`Config::start_reuse`], or a
    /// fresh read (kept for the next starts).
    pub(crate) async fn start_record(&self, arn: &str) -> Result<Option<Arc<Machine>>, Error> {
        let reuse = self.config.start_reuse;
        if !reuse.is_zero() {
            let records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((read, m)) = records.get(arn) {
                if read.elapsed() < reuse {
                    return Ok(Some(m.clone()));
                }
            }
        }
        let read = std::time::Instant::now();
        let changes = self.machine_changes.load(std::sync::atomic::Ordering::SeqCst);
        let Some(m) = self.store.get_machine(arn).await? else { return Ok(None) };
        let m = Arc::new(m);
        if !reuse.is_zero() {
            let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A change made here while this read was under way: this copy may predate it.
            if self.machine_changes.load(std::sync::atomic::Ordering::SeqCst) != changes {
                return Ok(Some(m));
            }
            // A handful of machines in practice; a long-lived process cleans up now and then.
            if records.len() >= 1024 {
                records.retain(|_, (t, _)| t.elapsed() < reuse);
            }
            records.insert(arn.to_string(), (read, m.clone()));
        }
        Ok(Some(m))
    }

    /// The compiled machines (a poisoned lock only means a panic elsewhere while inserting:
    /// the map is still whole).
    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<StateMachine>>> {
        self.machines.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached(&self, key: &str) -> Result<Option<Arc<StateMachine>>, Error> {
        Ok(self.cache().get(key).cloned())
    }

    fn compile(&self, key: &str, rec: &Machine) -> Result<Arc<StateMachine>, Error> {
        let m = Arc::new(load(&rec.definition, rec.express)?);
        let logging = rec.settings.logging.as_ref().and_then(crate::logs::LogConfig::of);
        self.log_configs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.into(), logging);
        self.cache().insert(key.into(), m.clone());
        Ok(m)
    }

    /// A revision, compiled once per process (revisions never change).
    async fn machine_revision(&self, arn: &str, revision: &str) -> Result<Arc<StateMachine>, Error> {
        let key = format!("{arn}#{revision}");
        if let Some(m) = self.cached(&key)? {
            return Ok(m);
        }
        let rec = self
            .store
            .get_machine_revision(arn, revision)
            .await?
            .ok_or_else(|| Error::no_machine(&format!("{arn} (revision {revision})")))?;
        self.compile(&key, &rec)
    }

    async fn machine(&self, arn: &str) -> Result<Arc<StateMachine>, Error> {
        if let Some(m) = self.cached(arn)? {
            return Ok(m);
        }
        let rec = self.get_machine(arn).await?;
        self.compile(arn, &rec)
    }

    /// Starts an execution: stores it and sends its first step message. Returns the ARN.
    pub async fn start_execution(&self, machine_arn: &str, name: &str, input: Value) -> Result<String, Error> {
        self.start_execution_with_date(machine_arn, name, input, None).await.map(|(arn, _)| arn)
    }

    /// [`Runtime::start_execution`], keeping the input's text as the client sent it
    /// (`input_text`, which must parse to `input`: DescribeExecution and `ExecutionStarted`
    /// show it verbatim, as AWS does), and also returning the start date as stored.
    pub async fn start_execution_with_date(
        &self,
        machine_arn: &str,
        name: &str,
        input: Value,
        input_text: Option<String>,
    ) -> Result<(String, DateTime<Utc>), Error> {
        // `stateMachine:NAME#CASE`: the machine NAME, its mocked states answering from test
        // case CASE of the mock configuration (Step Functions Local's convention).
        let (machine_arn, mocks) = match machine_arn.split_once('#') {
            None => (machine_arn, None),
            Some((base, case)) => {
                let Some(file) = &self.mocks else {
                    return Err(Error::invalid(
                        Invalid::Arn,
                        format!("Invalid Arn: '{machine_arn}': a test case (#{case}) needs a mock configuration (stepwise serve --mock-config FILE or SFN_MOCK_CONFIG)"),
                    ));
                };
                let name = base.rsplit(':').next().unwrap_or(base);
                (base, Some(Box::new(file.test_case(name, case)?)))
            }
        };
        self.start(machine_arn, name, input, input_text, Begin { mocks, ..Begin::default() }).await
    }

    /// Starts an execution, started by `parent`'s task when it is a child.
    async fn start(
        &self,
        machine_arn: &str,
        name: &str,
        input: Value,
        input_text: Option<String>,
        begin: Begin,
    ) -> Result<(String, DateTime<Utc>), Error> {
        let Begin { parent, map_run, mocks } = begin;
        check_name(name)?;
        // A version's or an alias's start runs the version's revision of the machine.
        let target = self.start_target(machine_arn).await?;
        let (base, version, alias_arn) = (target.machine.arn.clone(), target.version, target.alias_arn);
        let machine_arn = base.as_str();
        let rec = match &version {
            Some(v) => Arc::new(
                self.store
                    .get_machine_revision(machine_arn, &v.revision_id)
                    .await?
                    .ok_or_else(|| Error::no_machine(machine_arn))?,
            ),
            None => target.machine,
        };
        let size = match &input_text {
            Some(t) => t.len(),
            None => serde_json::to_vec(&input).map(|b| b.len()).unwrap_or(0),
        };
        if size > stepper::MAX_PAYLOAD_BYTES {
            return Err(Error::invalid(
                Invalid::ExecutionInput,
                format!("the input exceeds the maximum size of {} bytes", stepper::MAX_PAYLOAD_BYTES),
            ));
        }
        // An execution lives where its machine does (the region and account of its ARN).
        let mut fields = rec.arn.split(':');
        let (region, account) = (fields.nth(3), fields.next());
        let region = region.filter(|r| !r.is_empty()).unwrap_or(&self.config.region);
        let account = account.filter(|a| !a.is_empty()).unwrap_or(&self.config.account);
        let mut info = ExecutionInfo::new(account, region, &rec.name, name, &rec.role_arn, rec.express);
        info.version_arn = version.as_ref().map(|v| versions::version_arn(machine_arn, v.number));
        info.alias_arn = alias_arn;
        if rec.express {
            // AWS: an EXPRESS execution's ARN carries one more part, a unique id (derived for a
            // Map Run's child, whose ARN the run must find again from its name).
            let id = match map_run {
                Some(_) => stepwise_asl::map_run::child_name(name, 1),
                None => stepwise_asl::uuid::v4(rand::random(), rand::random()),
            };
            info.execution_arn = format!("{}:{id}", info.execution_arn);
        }
        let arn = info.execution_arn.clone();
        let now = self.clock.now();
        // The execution runs this revision of the machine, whatever updates follow.
        let machine = if rec.revision_id.is_empty() {
            self.machine(machine_arn).await?
        } else {
            info.state_machine_revision = Some(rec.revision_id.clone());
            let key = format!("{machine_arn}#{}", rec.revision_id);
            match self.cached(&key)? {
                Some(m) => m,
                None => self.compile(&key, &rec)?,
            }
        };
        // The Start transition (ExecutionStarted) is part of the creation: one write and one
        // message fewer per execution than a separate Start step.
        let mut execution = stepper::new_execution(info, input, now);
        execution.input_text = input_text;
        execution.parent = parent;
        execution.map_run = map_run;
        execution.mocks = mocks;
        let mut t = stepper::step(&machine, execution, Event::Start, &mut RuntimeEnv { now });
        if self.config.time_scale != 1.0 {
            keep_scaled_timers(&mut t);
        }
        let outbox = outbox_of(&arn, 1, t.effects, Timers { now, virtual_now: now, scale: self.config.time_scale });
        let logged = self.log_records(&Self::machine_key(&t.execution, machine_arn), &t.execution, &t.history);
        let metrics = self.metric_records(machine_arn, &t.execution, None, &t.history);
        let identity = Identity::of(&t.execution.info);
        let commit = Commit {
            execution: t.execution,
            expected_version: 0,
            history: t.history,
            outbox: outbox.clone(),
            tokens: Vec::new(),
        };
        // The first step, due now or later, sent in the creation's own write where the store
        // can (the embedded one): one write fewer, and no window in which a start that died
        // leaves an execution without its first message.
        let first = match outbox.as_slice() {
            [OutboxItem { id, action: Action::Step { message, at } }] => {
                self.step_send(message, delay_until(self.clock.now(), *at), id)?
            }
            _ => None,
        };
        let created = match &first {
            Some(send) => self.store.create_sending(machine_arn, commit, send).await,
            None => self.store.create(machine_arn, commit).await.map(|()| false),
        };
        let sent = match created {
            Ok(sent) => sent,
            Err(e) => {
                if let (Error::AlreadyExists { .. }, Some(existing)) = (&e, self.store.load(&arn).await?) {
                    // A start that died between creating and sending: a repeated start finishes it.
                    if !existing.outbox.is_empty() {
                        self.do_actions(&arn, Identity::of(&existing.execution.info).as_ref(), &existing.outbox)
                            .await?;
                    }
                }
                return Err(e);
            }
        };
        self.write_logs(&arn, logged).await;
        self.emit_metrics(metrics);
        if !sent {
            self.do_actions(&arn, identity.as_ref(), &outbox).await?;
        }
        if !last_sends_a_message(&outbox) {
            self.store.clear_outbox(&arn, 1).await?;
        }
        Ok((arn, now))
    }

    /// Handles one step message: at most one transition of one execution.
    pub async fn handle(&self, msg: &StepMessage) -> Result<Handled, Error> {
        let arn = &msg.execution_arn;
        if let Event::Run(event) = &msg.event {
            return self.handle_run(arn, event.clone()).await;
        }
        for attempt in 0..64 {
            let Some(stored) = self.store.load(arn).await? else { return Ok(Handled::NoOp) };
            self.fault(arn, FaultPoint::AfterLoad)?;
            // A commit whose actions may not all be done: do them first (their ids make the
            // second time harmless). A message sent by the outbox's last action proves it done.
            let proven = msg.origin == Some((stored.version, stored.outbox.len().saturating_sub(1)));
            if !stored.outbox.is_empty() && !proven {
                self.do_actions(arn, Identity::of(&stored.execution.info).as_ref(), &stored.outbox).await?;
                self.store.clear_outbox(arn, stored.version).await?;
            }
            let now = self.clock.now();
            // The execution's clock: the wall clock, plus what the time scale skipped so far.
            let mut clock = Timers { now, virtual_now: stored.execution.clock(now), scale: self.config.time_scale };
            if let Some(nb) = msg.not_before {
                // Early delivery (bounded queue delays): send it on for the rest of the wait.
                let left = clock.delay_to(nb);
                if left > Duration::from_millis(5) {
                    self.send_step(msg, left, None).await?;
                    return Ok(Handled::Deferred);
                }
                if clock.scale != 1.0 {
                    // A timer fired early by the time scale. One due before it goes first (both
                    // are delivered at about once: the scale shrank the gap between them).
                    let ex = &stored.execution;
                    let this = match &msg.event {
                        Event::Advance { timer: Some(id), .. } => Some(*id),
                        _ => None,
                    };
                    let overtakes = ex
                        .scaled_timers
                        .iter()
                        .any(|(id, due)| Some(*id) != this && *due < nb && ex.timer_is_pending(*id));
                    if overtakes {
                        self.send_step(msg, Duration::from_millis(1), None).await?;
                        return Ok(Handled::Deferred);
                    }
                    // The execution's clock moves to the timer's time.
                    clock.virtual_now = clock.virtual_now.max(nb);
                }
            }
            let defer = self.config.inline_steps > 1;
            let outcome = match self.apply(stored, msg.event.clone(), clock, Pending::default(), defer).await {
                Ok(Applied::NoOp) => Ok(Handled::NoOp),
                Ok(Applied::Done) => Ok(Handled::Applied),
                // A conflict from here means the message's own transition was not committed.
                Ok(Applied::Next(held)) => self.run_successors(held.0, held.1, held.2).await,
                Err(e) => Err(e),
            };
            match outcome {
                Err(Error::Conflict { .. }) => {
                    // Someone else moved it: reload and retry, after a short random pause so
                    // drivers racing on one execution (its Parallel branches, Map iterations)
                    // spread out.
                    let pause = rand::random::<u64>() % (1 + 2 * attempt.min(16) as u64);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                other => return other,
            }
        }
        Err(Error::storage(format!("committing a step of {arn}"), "too many concurrent updates"))
    }

    /// Runs the successors of a step here, while a transition's whole outbox is the next step
    /// of the same execution, due now (a Pass, a Choice, a Task whose call was made inline):
    /// that message would only come back to this driver, so it is not sent. Pure transitions
    /// in a row are committed together, in one atomic commit with all their history events
    /// (nothing outside the execution saw them, so a crash before that commit only makes the
    /// redelivered message compute them again); a transition that made a call is committed
    /// before the next one runs. A commit replaces the outbox it follows, which marks that
    /// step done, atomically with the transitions. A crash between two commits leaves the last
    /// one's outbox unsent and the message that began the run unacknowledged: its redelivery
    /// finds the outbox, sends it and goes on, as after any crash after a commit. Bounded by
    /// [`Config::inline_steps`] and [`Config::inline_budget`]; past them, the last commit's
    /// outbox is sent as usual.
    async fn run_successors(
        &self,
        mut stored: Stored,
        mut next: StepMessage,
        mut pending: Pending,
    ) -> Result<Handled, Error> {
        let began = std::time::Instant::now();
        let mut steps = pending.steps.max(1) as u32;
        // Whether the transition of the message that began the run is still uncommitted: a
        // conflict then means that transition must be taken again (the caller reloads), not
        // dropped.
        let mut own_pending = pending.steps > 0;
        loop {
            let arn = stored.execution.info.execution_arn.clone();
            let identity = Identity::of(&stored.execution.info);
            let out_of_time = began.elapsed() >= self.config.inline_budget;
            if pending.steps == 0 && (steps >= self.config.inline_steps || out_of_time) {
                self.do_actions(&arn, identity.as_ref(), &stored.outbox).await?;
                return Ok(Handled::Applied);
            }
            // The last step the bounds allow commits what is pending.
            let defer = steps + 1 < self.config.inline_steps && !out_of_time;
            // The execution is as this driver left it: no load.
            self.fault(&arn, FaultPoint::AfterLoad)?;
            let now = self.clock.now();
            let clock = Timers { now, virtual_now: stored.execution.clock(now), scale: self.config.time_scale };
            let committed_outbox = stored.outbox.clone();
            // The outcome of a call already made, when that is the step: sent if not taken here.
            let made = matches!(committed_outbox.as_slice(), [OutboxItem { action: Action::Invoke(_), .. }])
                .then(|| next.clone());
            match self.apply(stored, next.event, clock, pending, defer).await {
                Ok(Applied::Next(held)) => {
                    let (s, m, p) = *held;
                    own_pending &= p.steps > 0;
                    (stored, next, pending) = (s, m, p);
                    steps += 1;
                }
                Ok(Applied::Done) => return Ok(Handled::Applied),
                Err(e @ Error::Conflict { .. }) if own_pending => return Err(e),
                // Nothing to do after all, or another writer moved the execution first (it
                // found the committed outbox and sent it; the id makes sending it again
                // harmless). Transitions not yet committed are dropped: whoever takes that
                // step computes them again from what is committed.
                Ok(Applied::NoOp) | Err(Error::Conflict { .. }) => {
                    match (made, committed_outbox.first()) {
                        // The call was made: send its outcome, as doing the outbox would have.
                        (Some(message), Some(item)) => {
                            self.send_step(&message, Duration::ZERO, Some(&format!("{}#0", item.id))).await?;
                        }
                        _ => self.do_actions(&arn, identity.as_ref(), &committed_outbox).await?,
                    }
                    return Ok(Handled::Applied);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Applies `event` to the execution: one transition, committed (conditionally on the
    /// stored version) together with the `pending` ones before it, and its actions done. With
    /// `defer`, a *pure* transition (it made no call, issued no token, stored nothing apart)
    /// whose only action is the next step of the same execution, due now, is not committed
    /// yet: it is handed back with that step ([`Applied::Next`]) to be committed with the
    /// transitions that follow it ([`Runtime::run_successors`]).
    async fn apply(
        &self,
        stored: Stored,
        event: Event,
        clock: Timers,
        mut pending: Pending,
        defer: bool,
    ) -> Result<Applied, Error> {
        let arn = stored.execution.info.execution_arn.clone();
        let machine = self.machine_of(&stored.execution, &stored.machine_arn).await?;
        let now = clock.now;
        let mut env = RuntimeEnv { now: clock.virtual_now };
        let Stored { execution, machine_arn, version: committed, outbox: committed_outbox, .. } = stored;
        let mut execution = execution;
        execution.clock_offset_ms = (clock.virtual_now - now).num_milliseconds();
        // The task an outcome is for (its resource names the metrics' dimension).
        let resource = match &event {
            Event::Task { frame, .. } => match execution.frames.get(*frame).map(|f| &f.phase) {
                Some(Phase::Running(rt)) => Some(rt.request.resource.clone()),
                _ => None,
            },
            _ => None,
        };
        let t = stepper::step(&machine, execution, event, &mut env);
        let no_op = t.is_no_op();
        if no_op && pending.steps == 0 {
            return Ok(Applied::NoOp);
        }
        let version = committed + 1;
        let pure = t.effects.iter().all(|e| matches!(e, Effect::Schedule { .. }));
        let tokens: Vec<TokenEntry> = t
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Invoke(req) => req.token.as_ref().map(|tok| TokenEntry {
                    hash: token_hash(tok),
                    execution_arn: arn.clone(),
                    frame: req.frame,
                    task: req.task,
                    state_name: req.state_name.clone(),
                    created: now,
                    version,
                }),
                _ => None,
            })
            .collect();
        let mut tokens = tokens;
        let t = self.inline_task(&machine, t, &arn, version, &mut tokens, &mut env).await?;
        let t = self.read_items(&machine, t, &mut env).await?;
        let t = self.store_map_inputs(t).await?;
        log_transition(&arn, version, &t.history);
        let mut t = t;
        if clock.scale != 1.0 {
            keep_scaled_timers(&mut t);
        }
        // A no-op after deferred transitions (not expected: the step was theirs) commits them
        // with the outbox the last one would have had.
        let outbox =
            if no_op { std::mem::take(&mut pending.outbox) } else { outbox_of(&arn, version, t.effects, clock) };
        if let Some((group, records)) =
            self.log_records(&Self::machine_key(&t.execution, &machine_arn), &t.execution, &t.history)
        {
            pending.logged.get_or_insert_with(|| (group, Vec::new())).1.extend(records);
        }
        pending.metrics.extend(self.metric_records(&machine_arn, &t.execution, resource.as_deref(), &t.history));
        pending.history.extend(t.history);
        pending.steps += 1;
        if defer && pure && !no_op {
            if let Some(next) = due_successor(&arn, &outbox) {
                pending.outbox = outbox;
                let held = Stored {
                    execution: t.execution,
                    machine_arn,
                    version: committed,
                    outbox: committed_outbox,
                    stop_date: None,
                };
                return Ok(Applied::Next(Box::new((held, next, pending))));
            }
        }
        let identity = Identity::of(&t.execution.info);
        let Pending { history, logged, metrics, .. } = pending;
        let commit = Commit { execution: t.execution, expected_version: committed, history, outbox, tokens };
        self.fault(&arn, FaultPoint::BeforeCommit)?;
        self.store.commit(&commit).await?;
        if commit.execution.status != stepper::Status::Running {
            self.ended.notify_waiters();
        }
        self.fault(&arn, FaultPoint::AfterCommit)?;
        self.write_logs(&arn, logged).await;
        self.emit_metrics(metrics);
        if self.config.inline_steps > 1 {
            if let Some(next) = due_successor(&arn, &commit.outbox) {
                let Commit { execution, outbox, .. } = commit;
                let held = Stored { execution, machine_arn, version, outbox, stop_date: None };
                return Ok(Applied::Next(Box::new((held, next, Pending::default()))));
            }
            // A callback called after its commit: the call's one outcome (the message was sent)
            // is this execution's next step, due now. Run here like any successor; its commit
            // replaces this outbox. (Crash before that commit: the outbox is done again, as
            // after any crash between a commit and its actions.)
            if let [OutboxItem { id, action: Action::Invoke(req) }] = commit.outbox.as_slice() {
                if req.token.is_some() {
                    let mut outcomes = self.perform(&arn, req, id, identity.as_ref()).await?;
                    self.fault(&arn, FaultPoint::AfterAction(0))?;
                    if outcomes.len() == 1 {
                        let next = outcome_message(&arn, req, id, outcomes.remove(0));
                        let Commit { execution, outbox, .. } = commit;
                        let held = Stored { execution, machine_arn, version, outbox, stop_date: None };
                        return Ok(Applied::Next(Box::new((held, next, Pending::default()))));
                    }
                    for (k, outcome) in outcomes.into_iter().enumerate() {
                        let message = outcome_message(&arn, req, id, outcome);
                        self.send_step(&message, Duration::ZERO, Some(&format!("{id}#{k}"))).await?;
                    }
                    self.store.clear_outbox(&arn, version).await?;
                    return Ok(Applied::Done);
                }
            }
        }
        // An execution nobody waits for (no `.sync` parent, no Map Run) has nobody to report its
        // end to: skip the action's load of what was just committed.
        let reports =
            commit.execution.map_run.is_some() || commit.execution.parent.as_ref().is_some_and(|p| p.sync.is_some());
        let actions = match commit.outbox.as_slice() {
            [done @ .., OutboxItem { action: Action::Complete, .. }] if !reports => done,
            all => all,
        };
        self.do_actions(&arn, identity.as_ref(), actions).await?;
        // When the last action sends a step message, that message proves the outbox done; only
        // an outbox ending otherwise (an invocation with no outcome yet, completion) is emptied
        // with a write of its own.
        if !last_sends_a_message(&commit.outbox) {
            self.store.clear_outbox(&arn, version).await?;
        }
        Ok(Applied::Done)
    }

    /// A transition that starts one task integration performs it right away and applies its
    /// outcome before committing, so a Task state costs one commit and one message instead of
    /// two. This moves the call before the commit; that changes nothing for correctness, since
    /// integrations run at least once anyway (a driver that dies after the call and before the
    /// commit repeats it when the message comes back, as it would repeat it from the outbox).
    /// A call that times out yields no outcome: the transition is committed without the
    /// invocation and the task's timeout timer decides.
    async fn inline_task(
        &self,
        machine: &StateMachine,
        t: stepper::Transition,
        arn: &str,
        version: u64,
        tokens: &mut Vec<TokenEntry>,
        env: &mut RuntimeEnv,
    ) -> Result<stepper::Transition, Error> {
        let invokes = t.effects.iter().filter(|e| matches!(e, Effect::Invoke(_))).count();
        if invokes != 1 {
            return Ok(t);
        }
        let Some(Effect::Invoke(req)) = t.effects.iter().find(|e| matches!(e, Effect::Invoke(_))).cloned() else {
            return Ok(t);
        };
        // An activity task or a `.sync` child is performed after the commit that indexes its
        // token and records the running task: a worker taking the task (once) or the child's
        // end arriving before that commit would find neither, and be lost. A callback
        // (`.waitForTaskToken`) stays inline where `Config::inline_callbacks` says so (the AWS
        // runtime): the commit it saves is a third of a callback state's cost, and its token is
        // indexed before the call, so a consumer's early answer waits for the commit
        // (`Runtime::committed_for`). The embedded runtime's consumers answer within
        // microseconds, before that commit more often than not: there the token is committed
        // first.
        let callback_after_commit = req.token.is_some() && !self.config.inline_callbacks;
        if callback_after_commit
            || matches!(
                req.integration,
                Integration::Activity | Integration::StatesStartExecutionSync | Integration::StatesStartExecutionSync2
            )
        {
            return Ok(t);
        }
        // A callback's message carries its token: a step redone after a crash before its commit
        // draws a new token, so its message must not be deduplicated against the first one
        // (whose token was never committed); other sends keep the step's id.
        let action_id = match &req.token {
            Some(t) => format!("{arn}#{version}#inline#{}", &token_hash(t)[..16]),
            None => format!("{arn}#{version}#inline"),
        };
        // The callback's token is indexed before its message is sent, so its consumer may
        // complete it the moment the message arrives: the entry is *pending* until this
        // commit lands, and a completion meanwhile waits for it (`Runtime::running_task`)
        // rather than being refused as unknown, which AWS never does for a token it sent.
        // The same one write as in the commit (which then puts no token).
        if req.token.is_some() && !tokens.is_empty() {
            self.store.put_tokens(tokens).await?;
            tokens.clear();
        }
        let identity = Identity::of(&t.execution.info);
        let outcomes = self.perform(arn, &req, &action_id, identity.as_ref()).await?;
        let stepper::Transition { mut execution, effects, mut history, mut changed_silently } = t;
        let mut effects: Vec<Effect> = effects.into_iter().filter(|e| !matches!(e, Effect::Invoke(_))).collect();
        for outcome in outcomes {
            let next =
                stepper::step(machine, execution, Event::Task { frame: req.frame, task: req.task, outcome }, env);
            execution = next.execution;
            history.extend(next.history);
            effects.extend(next.effects);
            changed_silently |= next.changed_silently;
        }
        // Timers of a task that already ended would only arrive to do nothing: don't send them.
        let still_running = matches!(
            execution.frames.get(req.frame).map(|f| &f.phase),
            Some(Phase::Running(rt)) if rt.task == req.task
        );
        if !still_running {
            effects.retain(|e| !matches!(e, Effect::Schedule { frame, timer: Some(_), .. } if *frame == req.frame && !timer_is_live(&execution, *frame)));
        }
        Ok(stepper::Transition { execution, effects, history, changed_silently })
    }

    /// Does outbox actions in order. Every send carries the action's id (and outcome index) as
    /// its deduplication id.
    /// Task calls are made as `identity`, the execution's.
    async fn do_actions(&self, arn: &str, identity: Option<&Identity>, items: &[OutboxItem]) -> Result<(), Error> {
        for (i, item) in items.iter().enumerate() {
            match &item.action {
                Action::Step { message, at } => {
                    self.send_step(message, delay_until(self.clock.now(), *at), Some(&item.id)).await?;
                }
                Action::Invoke(req) => {
                    let outcomes = self.perform(arn, req, &item.id, identity).await?;
                    for (k, outcome) in outcomes.into_iter().enumerate() {
                        let message = outcome_message(arn, req, &item.id, outcome);
                        self.send_step(&message, Duration::ZERO, Some(&format!("{}#{k}", item.id))).await?;
                    }
                }
                Action::Complete => self.report_to_parent(arn).await?,
                Action::StartMapRun(start) => self.begin_map_run(start).await?,
                Action::Stop { execution_arn } => match self.stop_execution(execution_arn, None, None).await {
                    // A child that is gone has nothing to stop.
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                },
            }
            self.fault(arn, FaultPoint::AfterAction(i))?;
        }
        Ok(())
    }

    /// When a child execution started by a `.sync` task ends, its parent's task gets the
    /// outcome (a step message, deduplicated per child: doing this again sends nothing new). A
    /// parent no longer waiting ignores it.
    async fn report_to_parent(&self, arn: &str) -> Result<(), Error> {
        let Some(stored) = self.store.load(arn).await? else { return Ok(()) };
        if let Some(child) = &stored.execution.map_run {
            let status = stored.execution.status.kind();
            return self.report_to_map_run(arn, child, status).await;
        }
        let Some(parent) = &stored.execution.parent else { return Ok(()) };
        let Some(sync) = parent.sync else { return Ok(()) };
        let outcome = states::sync_outcome(&stored.execution, &stored.machine_arn, self.clock.now(), sync);
        let message = StepMessage {
            execution_arn: parent.execution_arn.clone(),
            event: Event::Task { frame: parent.frame, task: parent.task, outcome },
            not_before: None,
            origin: None,
        };
        self.send_step(&message, Duration::ZERO, Some(&format!("{arn}#parent"))).await
    }

    /// The integration port over this runtime's ports, for a task of `arn` (`action_id`
    /// deduplicates what a redone call sends).
    pub(crate) fn port_services<'a>(&'a self, arn: &'a str, action_id: &'a str) -> PortServices<'a, Q, T, F> {
        PortServices {
            queue: &self.queue,
            topics: &self.topics,
            functions: &self.functions,
            aws: self.aws.as_ref(),
            runtime: self,
            execution_arn: arn,
            identity: None,
            action_id,
            failure: None,
        }
    }

    /// Performs a task integration through the ports and returns its outcomes. `action_id`
    /// (the outbox item's) deduplicates the message a redone send would repeat.
    async fn perform(
        &self,
        arn: &str,
        req: &stepper::TaskRequest,
        action_id: &str,
        identity: Option<&Identity>,
    ) -> Result<Vec<TaskOutcome>, Error> {
        let ctx = InvokeContext { region: &self.config.region, account: &self.config.account, now: self.clock.now() };
        let mut services = self.port_services(arn, action_id);
        services.identity = identity;
        let outcomes = integrations::perform(req, &ctx, &mut services, &mut rand::random::<u64>).await;
        match services.failure {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    }

    /// Receives and handles step messages until `done()` says stop; acknowledges each one that
    /// was handled (a failed one is delivered again after the visibility timeout).
    ///
    /// Receiving and handling run side by side: up to [`IN_FLIGHT`] messages are being
    /// handled at once, and as soon as some finish (or a new message is sent, with queues
    /// that tell: [`Queue::wait`]) more are taken, so a new execution does not wait for the
    /// batch before it. When the queue is empty the worker waits, up to 100 ms at a time.
    /// Once `done()` says stop, it finishes the messages it holds and returns.
    pub async fn work_until(&self, done: impl Fn() -> bool) -> Result<(), Error> {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let slots = &tokio::sync::Semaphore::new(IN_FLIGHT);
        let (batches, mut taken) = tokio::sync::mpsc::unbounded_channel::<Vec<crate::ports::Message>>();
        let receiving = async move {
            let mut idle = Duration::from_millis(1);
            while !done() {
                // At least one free slot; as many as are free (queues may give fewer: SQS
                // gives at most 10).
                let want = slots.available_permits().clamp(1, 64);
                let Ok(permits) = slots.acquire_many(want as u32).await else { break };
                permits.forget();
                let msgs = match self.queue.receive(STEP_QUEUE, want, self.config.visibility).await {
                    Ok(m) => m,
                    Err(e) => {
                        slots.add_permits(want);
                        return Err(e);
                    }
                };
                slots.add_permits(want - msgs.len());
                if msgs.is_empty() {
                    self.queue.wait(STEP_QUEUE, idle).await;
                    idle = (idle * 2).min(Duration::from_millis(100));
                    continue;
                }
                idle = Duration::from_millis(1);
                let drained = msgs.len() < want;
                if batches.send(msgs).is_err() {
                    break;
                }
                if drained {
                    // Fewer than asked for: the queue is empty for now. Wait for a send rather
                    // than asking again at once (which would only compete with the batch).
                    self.queue.wait(STEP_QUEUE, idle).await;
                }
            }
            Ok(())
        };
        let handling = async {
            let mut running = FuturesUnordered::new();
            loop {
                tokio::select! {
                    batch = taken.recv() => match batch {
                        Some(msgs) => running.push(async move {
                            // The batch's messages are handled concurrently: stores that
                            // commit in groups (the embedded one) then write the steps of many
                            // executions in one transaction. Messages of one execution may
                            // race; its commits are conditional (a loser reloads and retries),
                            // so the outcome is the same as one after the other.
                            let outcomes = self.process_batch(&msgs).await;
                            for (m, outcome) in msgs.iter().zip(outcomes) {
                                // A failed message stays unacknowledged and comes back after
                                // the visibility timeout; the worker goes on with the others.
                                if let Err(e) = outcome {
                                    eprintln!("stepwise: step message {} not handled (it will be retried): {e}", m.id);
                                }
                            }
                            msgs.len()
                        }),
                        None => break,
                    },
                    Some(n) = running.next(), if !running.is_empty() => slots.add_permits(n),
                }
            }
            while let Some(n) = running.next().await {
                slots.add_permits(n);
            }
        };
        let (received, ()) = futures_util::future::join(receiving, handling).await;
        received
    }

    /// Handles a batch of received messages concurrently, acknowledging each one handled. The
    /// events of one Map Run are applied together, in one step of the run
    /// ([`Runtime::handle_messages`]).
    pub async fn process_batch(&self, msgs: &[crate::ports::Message]) -> Vec<Result<Handled, Error>> {
        let mut parsed = Vec::new();
        let mut out: Vec<Option<Result<Handled, Error>>> = Vec::with_capacity(msgs.len());
        for m in msgs {
            match self.step_message(&m.body).await {
                Ok(msg) => {
                    parsed.push((out.len(), msg));
                    out.push(None);
                }
                // The store could not give a kept message now: it comes back later.
                Err(e @ Error::Storage { .. }) => out.push(Some(Err(e))),
                Err(e) => {
                    let acked = self.queue.ack(STEP_QUEUE, &m.receipt).await;
                    out.push(Some(
                        acked.and(Err(Error::messaging(format!("dropped a malformed step message {}", m.id), e))),
                    ));
                }
            }
        }
        let (indexes, steps): (Vec<usize>, Vec<StepMessage>) = parsed.into_iter().unzip();
        let handled = self.handle_messages(&steps).await;
        let acks = indexes.iter().zip(&steps).zip(handled).map(|((&i, msg), h)| async move {
            let r = match h {
                Ok(h) => match self.fault(&msg.execution_arn, FaultPoint::BeforeAck) {
                    Ok(()) => self.queue.ack(STEP_QUEUE, &msgs[i].receipt).await.map(|()| h),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            (i, r)
        });
        for (i, r) in futures_util::future::join_all(acks).await {
            out[i] = Some(r);
        }
        out.into_iter().map(|r| r.unwrap_or(Ok(Handled::NoOp))).collect()
    }

    /// Handles step messages concurrently: each execution's message with [`Runtime::handle`],
    /// and the events of one Map Run together (one load and one commit of the run instead of a
    /// race per event). The results are in the messages' order.
    pub async fn handle_messages(&self, msgs: &[StepMessage]) -> Vec<Result<Handled, Error>> {
        let mut runs: Vec<(String, Vec<usize>)> = Vec::new();
        let mut singles = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            match &m.event {
                Event::Run(_) => match runs.iter_mut().find(|(arn, _)| *arn == m.execution_arn) {
                    Some((_, ix)) => ix.push(i),
                    None => runs.push((m.execution_arn.clone(), vec![i])),
                },
                _ => singles.push(i),
            }
        }
        let mut results: Vec<Option<Result<Handled, Error>>> = msgs.iter().map(|_| None).collect();
        let single = singles.iter().map(|&i| async move { vec![(i, self.handle(&msgs[i]).await)] });
        let grouped = runs.iter().map(|(arn, ix)| async move {
            let events: Vec<stepwise_asl::map_run::RunEvent> = ix
                .iter()
                .filter_map(|&i| match &msgs[i].event {
                    Event::Run(e) => Some(e.clone()),
                    _ => None,
                })
                .collect();
            let r = self.handle_run_events(arn, &events).await;
            ix.iter()
                .map(|&i| {
                    let copy = match &r {
                        Ok(h) => Ok(*h),
                        Err(e) => Err(Error::messaging(format!("a step of {arn}"), e.to_string())),
                    };
                    (i, copy)
                })
                .collect::<Vec<_>>()
        });
        let (a, b) =
            futures_util::future::join(futures_util::future::join_all(single), futures_util::future::join_all(grouped))
                .await;
        for (i, r) in a.into_iter().chain(b).flatten() {
            results[i] = Some(r);
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(Handled::NoOp))).collect()
    }

    /// Handles one received step message and acknowledges it when handled. A malformed body
    /// is acknowledged (it can never succeed) and reported.
    pub async fn process(&self, m: &crate::ports::Message) -> Result<Handled, Error> {
        let msg: StepMessage = match self.step_message(&m.body).await {
            Ok(msg) => msg,
            Err(e @ Error::Storage { .. }) => return Err(e),
            Err(e) => {
                self.queue.ack(STEP_QUEUE, &m.receipt).await?;
                return Err(Error::messaging(format!("dropped a malformed step message {}", m.id), e));
            }
        };
        match self.handle(&msg).await {
            Ok(h) => {
                self.fault(&msg.execution_arn, FaultPoint::BeforeAck)?;
                self.queue.ack(STEP_QUEUE, &m.receipt).await?;
                Ok(h)
            }
            Err(e) => Err(e),
        }
    }

    /// Waits until execution `arn` is no longer running, or `max` passed; returns it as stored
    /// then. An end this runtime commits wakes the wait at once; one committed elsewhere (another
    /// process's driver) is seen within 20 ms.
    pub async fn wait_for_end(&self, arn: &str, max: Duration) -> Result<Stored, Error> {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            // Listening before looking: an end committed in between is not missed.
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let stored = self.describe(arn).await?;
            let now = tokio::time::Instant::now();
            if stored.execution.status != stepper::Status::Running || now >= deadline {
                return Ok(stored);
            }
            let _ = tokio::time::timeout((deadline - now).min(Duration::from_millis(20)), ended).await;
        }
    }

    /// The execution, if it exists.
    pub async fn describe(&self, arn: &str) -> Result<Stored, Error> {
        self.find_execution(arn).await?.ok_or_else(|| Error::no_execution(arn))
    }

    /// StopExecution: sends a stop message.
    pub async fn stop_execution(&self, arn: &str, error: Option<String>, cause: Option<String>) -> Result<(), Error> {
        check_error_cause(error.as_deref(), cause.as_deref())?;
        if map_runs::is_map_run(arn) {
            return self.handle_run(arn, stepwise_asl::map_run::RunEvent::Stop).await.map(|_| ());
        }
        self.describe(arn).await?;
        let msg = StepMessage {
            execution_arn: arn.into(),
            event: Event::Stop { error, cause },
            not_before: None,
            origin: None,
        };
        self.send_step(&msg, Duration::ZERO, Some(&format!("{arn}#stop"))).await
    }

    /// Why an execution cannot be redriven now (AWS's `redriveStatusReason`), if it cannot.
    pub async fn not_redrivable(&self, stored: &Stored) -> Result<Option<String>, Error> {
        let history_len = stored.execution.last_event_id as usize;
        let x = &stored.execution;
        if x.info.execution_arn.contains(":express:") {
            return Ok(Some("Execution is an EXPRESS execution and cannot be redriven".into()));
        }
        if x.map_run.is_some() {
            return Ok(Some("Execution is a child workflow of a Map Run: redrive the Map Run's parent".into()));
        }
        let status = ExecutionStatus::of(&x.status);
        if matches!(status, ExecutionStatus::Running | ExecutionStatus::Succeeded) {
            return Ok(Some(format!("Execution is {} and cannot be redriven", status.as_str())));
        }
        if self.store.get_machine(&stored.machine_arn).await?.is_none() {
            return Ok(Some("State machine is in DELETING status".into()));
        }
        if stored.stop_date.is_some_and(|t| self.clock.now() - t > chrono::Duration::days(14)) {
            return Ok(Some("Execution redrivable period exceeded".into()));
        }
        if history_len >= MAX_REDRIVE_HISTORY {
            return Ok(Some("Execution history event limit exceeded".into()));
        }
        Ok(None)
    }

    /// RedriveExecution: a FAILED, TIMED_OUT or ABORTED STANDARD execution, ended less than 14
    /// days ago, runs again from the state it did not finish (`ExecutionRedriven`); returns the
    /// redrive date. Otherwise `ExecutionNotRedrivable` with AWS's reason.
    /// A `client_token` makes a repeated request answer the redrive it made (AWS's
    /// idempotency for the SDKs' retries).
    pub async fn redrive_execution(&self, arn: &str, client_token: Option<&str>) -> Result<DateTime<Utc>, Error> {
        let stored = self.describe(arn).await?;
        if let Some(t) = client_token {
            // The same request within 15 minutes answers the redrive it made (one of the last ten).
            let now = stored.execution.clock(self.clock.now());
            let made = stored.execution.redrive_tokens.iter().find(|(done, _)| done == t);
            if let Some((_, when)) = made.filter(|(_, when)| now - *when <= chrono::Duration::minutes(15)) {
                return Ok(*when);
            }
        }
        if let Some(reason) = self.not_redrivable(&stored).await? {
            return Err(Error::Rejected { code: "ExecutionNotRedrivable", message: reason });
        }
        let event =
            Event::Redrive { count: stored.execution.redrive_count, client_token: client_token.map(str::to_string) };
        let msg = StepMessage { execution_arn: arn.into(), event, not_before: None, origin: None };
        let handled = self.handle(&msg).await?;
        let after = self.describe(arn).await?;
        match (handled, after.execution.redrive_time) {
            (Handled::Applied, Some(t)) => Ok(t),
            _ => {
                let reason = self.not_redrivable(&after).await?;
                Err(Error::Rejected {
                    code: "ExecutionNotRedrivable",
                    message: reason.unwrap_or_else(|| "Execution has no unfinished state to run again".into()),
                })
            }
        }
    }

    // ---------- task tokens ----------

    async fn running_task(&self, token: &str) -> Result<TokenEntry, Error> {
        check_token(token)?;
        let hash = token_hash(token);
        let entry = self
            .store
            .find_token(&hash)
            .await?
            .ok_or_else(|| Error::no_task("Task does not exist: the task token is not known to this runtime"))?;
        let stored = self.committed_for(&entry).await?;
        let running = stored.as_ref().is_some_and(|s| {
            matches!(s.execution.frames.get(entry.frame).map(|f| &f.phase), Some(Phase::Running(rt)) if rt.task == entry.task)
        });
        if !running {
            return Err(Error::TaskTimedOut("Task Timed Out: the task of this token is no longer running".into()));
        }
        Ok(entry)
    }

    /// The execution a token belongs to, once the commit that issued the token has landed. A
    /// callback sent before its commit (the AWS step driver's inline callbacks) can be answered
    /// before that commit: while the execution runs at a lower version, the completion waits
    /// for it, polling with backoff for up to [`Config::token_commit_wait`]. A commit that still has not
    /// landed by then (its driver died or is retrying) is a retryable error, never a refusal:
    /// refusing would lose the answer to a task that is about to run.
    async fn committed_for(&self, entry: &TokenEntry) -> Result<Option<Stored>, Error> {
        let deadline = std::time::Instant::now() + self.config.token_commit_wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let stored = self.store.load(&entry.execution_arn).await?;
            let pending = stored
                .as_ref()
                .is_some_and(|s| s.version < entry.version && s.execution.status == stepper::Status::Running);
            if !pending {
                return Ok(stored);
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::storage(
                    format!("completing a task of {}", entry.execution_arn),
                    "the commit that issued this task token has not landed yet; try again",
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    async fn send_outcome(&self, entry: &TokenEntry, outcome: TaskOutcome, dedup: &str) -> Result<(), Error> {
        let msg = StepMessage {
            execution_arn: entry.execution_arn.clone(),
            event: Event::Task { frame: entry.frame, task: entry.task, outcome },
            not_before: None,
            origin: None,
        };
        self.send_step(&msg, Duration::ZERO, Some(dedup)).await
    }

    /// SendTaskSuccess.
    pub async fn send_task_success(&self, token: &str, output: &str) -> Result<(), Error> {
        // A malformed token is refused before its output is looked at (recorded).
        check_token(token)?;
        let value: Value = serde_json::from_str(output).map_err(|e| {
            Error::invalid(Invalid::Output, format!("Invalid Output: the output is not valid JSON: {e}"))
        })?;
        if output.len() > stepper::MAX_PAYLOAD_BYTES {
            return Err(Error::invalid(
                Invalid::Output,
                format!("Invalid Output: the output exceeds the maximum size of {} bytes", stepper::MAX_PAYLOAD_BYTES),
            ));
        }
        let entry = self.running_task(token).await?;
        // One completion per token: the queue keeps the first message with this dedup id.
        self.send_outcome(&entry, TaskOutcome::Succeeded(value), &entry.hash).await?;
        if !self.store.consume_token(&entry.hash).await? {
            return Err(Error::TaskTimedOut("Task Timed Out: the task token was already used".into()));
        }
        Ok(())
    }

    /// SendTaskFailure.
    pub async fn send_task_failure(&self, token: &str, error: Option<&str>, cause: Option<&str>) -> Result<(), Error> {
        check_error_cause(error, cause)?;
        let entry = self.running_task(token).await?;
        let outcome = TaskOutcome::Failed { error: error.map(String::from), cause: cause.map(String::from) };
        self.send_outcome(&entry, outcome, &entry.hash).await?;
        if !self.store.consume_token(&entry.hash).await? {
            return Err(Error::TaskTimedOut("Task Timed Out: the task token was already used".into()));
        }
        Ok(())
    }

    /// The tasks of an execution waiting for a task token now (activities and
    /// `.waitForTaskToken` callbacks): `(state name, token)`, in frame order. For local
    /// tooling (the console answers them); the AWS API has no such call.
    pub async fn waiting_tasks(&self, arn: &str) -> Result<Vec<(String, String)>, Error> {
        let Some(stored) = self.store.load(arn).await? else { return Ok(Vec::new()) };
        if stored.execution.status != stepper::Status::Running {
            return Ok(Vec::new());
        }
        Ok(stored
            .execution
            .frames
            .iter()
            .filter_map(|f| match &f.phase {
                Phase::Running(rt) => rt.request.token.as_ref().map(|t| (rt.request.state_name.clone(), t.clone())),
                _ => None,
            })
            .collect())
    }

    /// SendTaskHeartbeat.
    pub async fn send_task_heartbeat(&self, token: &str) -> Result<(), Error> {
        let entry = self.running_task(token).await?;
        let dedup = format!("{}#heartbeat#{}", entry.hash, self.clock.now().timestamp_nanos_opt().unwrap_or_default());
        self.send_outcome(&entry, TaskOutcome::Heartbeat, &dedup).await
    }
}

/// Whether a frame is waiting on a timer (a Wait, a Retry backoff): then its timer messages
/// still matter.
fn timer_is_live(execution: &stepper::Execution, frame: usize) -> bool {
    matches!(execution.frames.get(frame).map(|f| &f.phase), Some(Phase::Waiting { .. } | Phase::Backoff { .. }))
}

/// One structured log line per state entered or exited and per execution end, carrying the
/// execution ARN and the state name (the Lambda functions print them as JSON).
fn log_transition(arn: &str, version: u64, history: &[stepwise_asl::history::HistoryEvent]) {
    use stepwise_asl::history::Details;
    for e in history {
        match &e.details {
            Details::Entered { name, .. } | Details::Exited { name, .. } => {
                tracing::info!(
                    execution_arn = arn,
                    state = name.as_str(),
                    event = e.event_type.as_ref(),
                    event_id = e.id,
                    version,
                    "state transition"
                );
            }
            _ if e.event_type.starts_with("Execution") => {
                tracing::info!(
                    execution_arn = arn,
                    event = e.event_type.as_ref(),
                    event_id = e.id,
                    version,
                    "execution"
                );
            }
            _ => {}
        }
    }
}

/// An execution's clock and when its timers fire: the wall clock, the execution's clock (ahead
/// of it by what the time scale skipped) and the scale. Timer messages carry the execution's
/// time (`not_before`); the queue delivers them after `scale ×` the wait, in wall-clock time.
#[derive(Debug, Clone, Copy)]
struct Timers {
    now: DateTime<Utc>,
    virtual_now: DateTime<Utc>,
    scale: f64,
}

impl Timers {
    /// The wall-clock wait before the execution's clock reaches `at`.
    fn delay_to(self, at: DateTime<Utc>) -> Duration {
        let left = delay_until(self.virtual_now, Some(at));
        if self.scale == 1.0 {
            left
        } else {
            left.mul_f64(self.scale.min(1e6))
        }
    }

    /// The wall-clock time of execution time `at`.
    fn scaled(self, at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        if self.scale == 1.0 && self.virtual_now == self.now {
            return at;
        }
        at.map(|t| {
            let wait = chrono::Duration::from_std(self.delay_to(t)).ok();
            wait.and_then(|w| self.now.checked_add_signed(w)).unwrap_or(t)
        })
    }
}

/// Under a time scale: the transition's execution keeps its pending timers' due times (see
/// `Execution::scaled_timers`).
fn keep_scaled_timers(t: &mut stepper::Transition) {
    let ex = &mut t.execution;
    let mut timers = std::mem::take(&mut ex.scaled_timers);
    timers.extend(t.effects.iter().filter_map(|e| match e {
        Effect::Schedule { timer: Some(id), at: Some(at), .. } => Some((*id, *at)),
        _ => None,
    }));
    timers.retain(|(id, _)| ex.timer_is_pending(*id));
    ex.scaled_timers = timers;
}

/// The outbox of commit `version`: the stepper's effects as actions with stable ids.
fn outbox_of(arn: &str, version: u64, effects: Vec<Effect>, timers: Timers) -> Vec<OutboxItem> {
    effects
        .into_iter()
        // Reads are done before the commit (`Runtime::read_items`).
        .filter(|e| !matches!(e, Effect::ReadItems { .. }))
        .enumerate()
        .map(|(i, e)| {
            let action = match e {
                Effect::Schedule { frame, timer, at } => Action::Step {
                    message: StepMessage {
                        execution_arn: arn.to_string(),
                        event: Event::Advance { frame, timer },
                        not_before: at,
                        origin: Some((version, i)),
                    },
                    at: timers.scaled(at),
                },
                Effect::Invoke(req) => Action::Invoke(req),
                Effect::Complete => Action::Complete,
                Effect::StopExecution { execution_arn } => Action::Stop { execution_arn },
                Effect::StartMapRun(start) => Action::StartMapRun(start),
                Effect::ReadItems { .. } => unreachable!("filtered above"),
            };
            OutboxItem { id: format!("{arn}#{version}#{i}"), action }
        })
        .collect()
}

/// The step an outbox holds when it is only the next step of execution `arn`, due now (no
/// timer, no delay): a successor the driver may run at once ([`Runtime::run_successors`]).
fn due_successor(arn: &str, outbox: &[OutboxItem]) -> Option<StepMessage> {
    match outbox {
        [OutboxItem { action: Action::Step { message, at: None }, .. }]
            if message.execution_arn == arn
                && message.not_before.is_none()
                && matches!(message.event, Event::Advance { timer: None, .. }) =>
        {
            Some(message.clone())
        }
        _ => None,
    }
}

/// The step message carrying a task's outcome, from the outbox item that made the call.
fn outcome_message(arn: &str, req: &stepper::TaskRequest, item_id: &str, outcome: TaskOutcome) -> StepMessage {
    StepMessage {
        execution_arn: arn.to_string(),
        event: Event::Task { frame: req.frame, task: req.task, outcome },
        not_before: None,
        origin: origin_of(item_id),
    }
}

/// `(version, index)` from an outbox item id `{arn}#{version}#{index}`.
fn origin_of(id: &str) -> Option<(u64, usize)> {
    let mut parts = id.rsplit('#');
    let index = parts.next()?.parse().ok()?;
    let version = parts.next()?.parse().ok()?;
    Some((version, index))
}

/// Whether the outbox needs no write of its own to be marked done: its last action sends a
/// step message that names it (which proves the whole outbox done), or it only completes the
/// execution (doing that again is nothing). An invocation always needs the write: one that
/// times out sends no outcome, and invoking again must not happen.
fn last_sends_a_message(outbox: &[OutboxItem]) -> bool {
    let no_invoke = !outbox.iter().any(|i| matches!(i.action, Action::Invoke(_)));
    no_invoke && matches!(outbox.last().map(|i| &i.action), Some(Action::Step { .. } | Action::Complete))
}

/// Task tokens are URL-safe base64 of at least 128 bits; anything else is malformed.
fn check_token(token: &str) -> Result<(), Error> {
    let ok = (22..=1024).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=');
    if ok {
        Ok(())
    } else {
        // AWS's words (recorded), whatever the token was.
        Err(Error::invalid(Invalid::Token, "Invalid Token: 'Invalid token'"))
    }
}

/// A child execution's input text as JSON (`InvalidExecutionInput` in AWS's words otherwise).
fn execution_input(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::invalid(Invalid::ExecutionInput, format!("Invalid State Machine Execution Input: '{e}'")))
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> SelfCalls for Runtime<S, Q, T, F, C> {
    fn start_child<'a>(
        &'a self,
        machine_arn: &'a str,
        name: &'a str,
        input: &'a str,
        parent: ParentTask,
    ) -> Pin<Box<dyn Future<Output = Result<Started, Error>> + Send + 'a>> {
        Box::pin(async move {
            let value = execution_input(input)?;
            match self
                .start(
                    machine_arn,
                    name,
                    value,
                    Some(input.to_string()),
                    Begin { parent: Some(parent.clone()), ..Begin::default() },
                )
                .await
            {
                Ok((execution_arn, start_date)) => Ok(Started { execution_arn, start_date }),
                Err(Error::AlreadyExists { arn }) => {
                    // The same task starting it again (a redone action): the child it started.
                    match self.store.load(&arn).await? {
                        Some(s) if s.execution.parent.as_ref() == Some(&parent) => {
                            Ok(Started { execution_arn: arn, start_date: s.execution.start_time })
                        }
                        _ => Err(Error::AlreadyExists { arn }),
                    }
                }
                Err(e) => Err(e),
            }
        })
    }

    fn schedule_activity<'a>(
        &'a self,
        activity_arn: &'a str,
        token: &'a str,
        input: &'a str,
        dedup: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(self.queue_activity_task(activity_arn, token, input, dedup))
    }

    fn sfn<'a>(
        &'a self,
        action: &'a str,
        input: &'a Value,
    ) -> Pin<Box<dyn Future<Output = Result<Value, Error>> + Send + 'a>> {
        Box::pin(async move {
            let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
            let required = |k: &str| {
                text(k).ok_or_else(|| Error::invalid(Invalid::Parameter, format!("aws-sdk:sfn:{action} needs '{k}'")))
            };
            let iso = |t: DateTime<Utc>| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            match action.to_ascii_lowercase().as_str() {
                "startexecution" => {
                    let machine = required("StateMachineArn")?;
                    let input_text = text("Input").unwrap_or_else(|| "{}".into());
                    let value = execution_input(&input_text)?;
                    let name = text("Name").unwrap_or_else(|| stepwise_asl::uuid::v4(rand::random(), rand::random()));
                    let (arn, date) = self.start(&machine, &name, value, Some(input_text), Begin::default()).await?;
                    Ok(serde_json::json!({"ExecutionArn": arn, "StartDate": iso(date)}))
                }
                "sendtasksuccess" => {
                    self.send_task_success(&required("TaskToken")?, &required("Output")?).await?;
                    Ok(serde_json::json!({}))
                }
                "sendtaskfailure" => {
                    let token = required("TaskToken")?;
                    self.send_task_failure(&token, text("Error").as_deref(), text("Cause").as_deref()).await?;
                    Ok(serde_json::json!({}))
                }
                "sendtaskheartbeat" => {
                    self.send_task_heartbeat(&required("TaskToken")?).await?;
                    Ok(serde_json::json!({}))
                }
                "stopexecution" => {
                    let arn = required("ExecutionArn")?;
                    self.stop_execution(&arn, text("Error"), text("Cause")).await?;
                    Ok(serde_json::json!({"StopDate": iso(self.clock.now())}))
                }
                "describeexecution" => {
                    let stored = self.describe(&required("ExecutionArn")?).await?;
                    let x = &stored.execution;
                    let mut v = serde_json::json!({
                        "ExecutionArn": x.info.execution_arn,
                        "StateMachineArn": stored.machine_arn,
                        "Name": x.info.name,
                        "Status": x.status.as_str(),
                        "StartDate": iso(x.start_time),
                        "Input": x.input_text(),
                    });
                    match &x.status {
                        stepwise_asl::stepper::Status::Succeeded { output } => v["Output"] = output.to_string().into(),
                        stepwise_asl::stepper::Status::Failed { error, cause }
                        | stepwise_asl::stepper::Status::TimedOut { error, cause }
                        | stepwise_asl::stepper::Status::Aborted { error, cause } => {
                            if let Some(e) = error {
                                v["Error"] = e.clone().into();
                            }
                            if let Some(c) = cause {
                                v["Cause"] = c.clone().into();
                            }
                        }
                        stepwise_asl::stepper::Status::Running => {}
                    }
                    Ok(v)
                }
                other => Err(Error::invalid(
                    Invalid::Parameter,
                    format!(
                        "stepwise answers aws-sdk:sfn:startExecution, sendTaskSuccess, sendTaskFailure, \
                         sendTaskHeartbeat, stopExecution and describeExecution; not '{other}'"
                    ),
                )),
            }
        })
    }
}
