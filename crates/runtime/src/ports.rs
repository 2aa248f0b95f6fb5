//! Ports: what the runtime needs from the world, as traits. Each has an embedded adapter
//! (`stepwise-embedded`: SQLite, in-process queues and topics) and an AWS adapter (DynamoDB,
//! SQS, SNS, Lambda), and both pass the same contract tests ([`crate::contract`]).
//!
//! Methods return `impl Future + Send` so drivers can run on multi-threaded executors; adapters
//! implement them with plain `async fn`.

use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use stepwise_asl::history::HistoryEvent;
use stepwise_asl::integrations::aws::Identity;
use stepwise_asl::integrations::FunctionOutcome;
pub use stepwise_asl::map_run::MapRun;
use stepwise_asl::stepper::{Event, Execution, TaskRequest};

/// The queue step messages travel on.
pub const STEP_QUEUE: &str = "stepwise-steps";

/// An activity (CreateActivity): a name workers poll for tasks with GetActivityTask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// `arn:PARTITION:states:REGION:ACCOUNT:activity:NAME`.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Tags, in the order they were first set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

/// An activity task waiting for a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingActivityTask {
    /// The activity.
    pub activity_arn: String,
    /// A unique id: putting the same id again changes nothing (a redone schedule).
    pub id: String,
    /// What the worker gets (the runtime's encoding of token and input).
    pub body: String,
    /// When it was scheduled: workers take the oldest first.
    pub created: DateTime<Utc>,
}

/// A state machine as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`.
    pub arn: String,
    /// Name.
    pub name: String,
    /// The ASL definition.
    pub definition: Value,
    /// The definition exactly as the client sent it (DescribeStateMachine shows this text, as
    /// AWS does); `None`: the compact serialization of `definition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition_text: Option<String>,
    /// The role executions run as.
    pub role_arn: String,
    /// EXPRESS (true) or STANDARD.
    pub express: bool,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// The revision: a digest of definition, role and type ([`Machine::revision_of`]), AWS's
    /// `revisionId`. An execution runs the revision it started with, whatever updates follow.
    #[serde(default)]
    pub revision_id: String,
    /// When UpdateStateMachine last changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// Versions, aliases, tags and the logging, tracing and encryption configurations.
    #[serde(default, skip_serializing_if = "MachineSettings::is_empty")]
    pub settings: MachineSettings,
}

/// What a state machine carries besides its definition: its published versions and aliases,
/// its tags, and the configurations AWS stores and describes (logging, tracing, encryption).
/// Kept in the machine's record, so every store keeps them as it keeps the machine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineSettings {
    /// Published versions, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<MachineVersion>,
    /// The last version number issued (numbers are never reused, deleted or not).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_version: u64,
    /// Aliases, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<MachineAlias>,
    /// Tags, in the order they were first set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// `loggingConfiguration` as given (validated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Value>,
    /// `tracingConfiguration` as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Value>,
    /// `encryptionConfiguration` as given (validated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Value>,
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

impl MachineSettings {
    /// Nothing set.
    pub fn is_empty(&self) -> bool {
        *self == MachineSettings::default()
    }
}

/// A published version: a revision of the machine, numbered, never changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineVersion {
    /// Its number (`stateMachine:NAME:N`).
    pub number: u64,
    /// The revision it runs.
    pub revision_id: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was published.
    pub created: DateTime<Utc>,
}

/// An alias: a name routing executions to one or two versions by weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineAlias {
    /// Its name (`stateMachine:NAME:ALIAS`).
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `(version number, weight)`; the weights add up to 100.
    pub routing: Vec<(u64, u32)>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it was last updated.
    pub updated: DateTime<Utc>,
}

impl Machine {
    /// The definition as AWS shows it: the client's text when kept, else compact JSON.
    pub fn definition_text(&self) -> String {
        match &self.definition_text {
            Some(t) => t.clone(),
            None => self.definition.to_string(),
        }
    }

    /// The revision id of a configuration: the first 128 bits of the SHA-256 of the definition's
    /// text, role and type, written as a UUID. Equal configurations share a revision, so
    /// registering the same machine again (every cold start of a Lambda does) adds no revision.
    /// This machine's revision id: [`Machine::revision_of`] its definition, role and type, and
    /// of its logging configuration when it has one (AWS: a logging change is a new revision;
    /// an execution logs as its revision says).
    pub fn revision(&self) -> String {
        let text = self.definition_text();
        match &self.settings.logging {
            None => Machine::revision_of(&text, &self.role_arn, self.express),
            Some(l) => Machine::revision_of(&format!("{text}\u{0}{l}"), &self.role_arn, self.express),
        }
    }

    /// The revision id of a configuration (see [`Machine::revision`]).
    pub fn revision_of(definition_text: &str, role_arn: &str, express: bool) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(definition_text.as_bytes());
        h.update([0]);
        h.update(role_arn.as_bytes());
        h.update([0, u8::from(express)]);
        let d: String = h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &d[0..8], &d[8..12], &d[12..16], &d[16..20], &d[20..32])
    }
}

/// A message for the step driver: one event for one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMessage {
    /// The execution.
    pub execution_arn: String,
    /// What happened.
    pub event: Event,
    /// Not to be processed before this time (queues whose delays are bounded, like SQS's
    /// 15 minutes, deliver early and the driver sends the message on again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// The outbox action that sent it: `(commit version, action index)`. A message from the last
    /// action of the current version's outbox proves that whole outbox was done (actions are done
    /// in order), which saves stores a write per transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<(u64, usize)>,
}

/// Work a commit promises to do, kept with the commit until done (an outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Send a step message, not before `at`.
    Step {
        /// The message.
        message: StepMessage,
        /// Earliest delivery.
        at: Option<DateTime<Utc>>,
    },
    /// Perform a task integration and send its outcomes as step messages.
    Invoke(Box<TaskRequest>),
    /// The execution finished.
    Complete,
    /// Stop another execution (a `.sync` task's child) or a Map Run.
    Stop {
        /// The execution to stop.
        execution_arn: String,
    },
    /// Create a Map Run (its children's inputs are stored already) and begin it.
    StartMapRun(Box<stepwise_asl::stepper::MapRunStart>),
}

/// An outbox entry: an action with a stable id, so that doing it again after a crash is
/// recognised (queues drop a second message with the same deduplication id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// `{execution arn}#{version}#{index}`.
    pub id: String,
    /// What to do.
    pub action: Action,
}

/// An execution as stored: the stepper's state and the runtime's bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// The execution state.
    pub execution: Execution,
    /// The machine it runs.
    pub machine_arn: String,
    /// Incremented by every commit; commits are conditional on it.
    pub version: u64,
    /// Actions of the last commit not yet done.
    pub outbox: Vec<OutboxItem>,
    /// When it ended (the time of its last event), once finished.
    pub stop_date: Option<DateTime<Utc>>,
}

/// A task token's index entry. Only the token's SHA-256 is stored, so reading the store does
/// not let anyone complete tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// Hex SHA-256 of the token.
    pub hash: String,
    /// The execution waiting for it.
    pub execution_arn: String,
    /// The frame waiting for it.
    pub frame: usize,
    /// The task it completes.
    pub task: u64,
    /// The Task state's name.
    pub state_name: String,
    /// When it was issued.
    pub created: DateTime<Utc>,
    /// The version of the commit that starts its task. A token indexed ahead of that commit
    /// (its callback was sent inline, before the commit) is *pending* while the stored version
    /// is lower: a completion then waits for the commit instead of being refused. 0 in entries
    /// written before the field existed.
    #[serde(default)]
    pub version: u64,
}

pub use stepwise_asl::stepper::ExecutionStatus;

/// A row of an execution listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionSummary {
    /// Execution ARN.
    pub execution_arn: String,
    /// State machine ARN.
    pub machine_arn: String,
    /// Execution name.
    pub name: String,
    /// Its status.
    pub status: ExecutionStatus,
    /// Start time.
    pub start: DateTime<Utc>,
    /// When it ended (its last history event), once it ended.
    pub stop: Option<DateTime<Utc>>,
}

/// Which executions to list: one state machine's, maybe of one status, a page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionQuery {
    /// The state machine.
    pub machine_arn: String,
    /// Only executions with this status.
    pub status: Option<ExecutionStatus>,
    /// At most this many (at least 1).
    pub limit: usize,
    /// Where to go on: the `next` of the previous page.
    pub page: Option<PageToken>,
}

/// A page of an execution listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionPage {
    /// Newest first (ties by ARN, descending).
    pub executions: Vec<ExecutionSummary>,
    /// Where the next page starts, if there is one.
    pub next: Option<PageToken>,
}

/// A position in an execution listing: the start time and ARN of the last execution listed.
/// Listings are newest first and a page goes on *after* its position, so a token stays valid
/// (and lists no execution twice) while executions are added. On the wire it is opaque:
/// URL-safe base64 of `{start}|{arn}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken {
    /// Start time of the last execution listed.
    pub start: DateTime<Utc>,
    /// Its ARN.
    pub arn: String,
}

impl PageToken {
    /// The position after this execution.
    pub fn after(e: &ExecutionSummary) -> PageToken {
        PageToken { start: e.start, arn: e.execution_arn.clone() }
    }

    /// The opaque text.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let text = format!("{}|{}", self.start.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true), self.arn);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    /// A token from its text; `None` when it is not one [`PageToken::encode`] wrote.
    pub fn decode(token: &str) -> Option<PageToken> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (start, arn) = text.split_once('|')?;
        let start = DateTime::parse_from_rfc3339(start).ok()?.with_timezone(&Utc);
        (!arn.is_empty()).then(|| PageToken { start, arn: arn.to_string() })
    }
}

/// One transition's worth of writes, applied together or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The new execution state.
    pub execution: Execution,
    /// The version the transition was computed from (0 when creating).
    pub expected_version: u64,
    /// New history events.
    pub history: Vec<HistoryEvent>,
    /// Actions to do after the commit.
    pub outbox: Vec<OutboxItem>,
    /// Task tokens issued by this transition.
    pub tokens: Vec<TokenEntry>,
}

impl Commit {
    /// The execution's status after this commit.
    pub fn status(&self) -> ExecutionStatus {
        ExecutionStatus::of(&self.execution.status)
    }

    /// When the execution ended, if this commit ends it: the time of its last event (the
    /// `Execution*` event that ends it), what DescribeExecution and listings show as `stopDate`.
    pub fn stop_date(&self) -> Option<DateTime<Utc>> {
        if self.status().is_finished() {
            self.history.last().map(|e| e.timestamp)
        } else {
            None
        }
    }
}

/// A queue message to send together with a write ([`Store::create_sending`]), as
/// [`Queue::send`] would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedSend {
    /// The queue's name or URL.
    pub queue: String,
    /// The body.
    pub body: String,
    /// How long it stays invisible.
    pub delay: Duration,
    /// Its deduplication id.
    pub dedup_id: Option<String>,
}

/// The execution store.
pub trait Store: Send + Sync {
    /// Creates or replaces a state machine, and keeps its revision (`machine.revision_id`)
    /// readable by [`Store::get_machine_revision`] for good, also after later puts and after
    /// [`Store::delete_machine`]: executions run the revision they started with.
    fn put_machine(&self, machine: &Machine) -> impl Future<Output = Result<(), Error>> + Send;
    /// [`Store::put_machine`] only if the stored machine is still `previous` (as it was read):
    /// `Error::Conflict` when another writer changed or deleted it since. What the control
    /// plane's read-modify-writes (versions, aliases, tags, updates) go through.
    fn replace_machine(&self, machine: &Machine, previous: &Machine) -> impl Future<Output = Result<(), Error>> + Send;
    /// A state machine by ARN (its current revision).
    fn get_machine(&self, arn: &str) -> impl Future<Output = Result<Option<Machine>, Error>> + Send;
    /// A revision of a state machine, as it was put.
    fn get_machine_revision(
        &self,
        arn: &str,
        revision_id: &str,
    ) -> impl Future<Output = Result<Option<Machine>, Error>> + Send;
    /// Deletes a state machine: [`Store::get_machine`] and [`Store::list_machines`] no longer
    /// see it; its revisions stay (running executions need them). Deleting an unknown ARN is
    /// not an error.
    fn delete_machine(&self, arn: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// Every state machine, oldest first (ties by ARN).
    fn list_machines(&self) -> impl Future<Output = Result<Vec<Machine>, Error>> + Send;
    /// Creates or replaces an activity.
    fn put_activity(&self, activity: &Activity) -> impl Future<Output = Result<(), Error>> + Send;
    /// An activity by ARN.
    fn get_activity(&self, arn: &str) -> impl Future<Output = Result<Option<Activity>, Error>> + Send;
    /// Deletes an activity (an unknown ARN is not an error).
    fn delete_activity(&self, arn: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// Every activity, oldest first (ties by ARN).
    fn list_activities(&self) -> impl Future<Output = Result<Vec<Activity>, Error>> + Send;
    /// Adds a task to its activity's waiting tasks (a task with the same id again: nothing).
    fn push_activity_task(&self, task: &PendingActivityTask) -> impl Future<Output = Result<(), Error>> + Send;
    /// Removes and returns the oldest waiting task of an activity; each task is returned to
    /// one caller only, however many take at once.
    fn take_activity_task(
        &self,
        activity_arn: &str,
    ) -> impl Future<Output = Result<Option<PendingActivityTask>, Error>> + Send;
    /// Creates an execution (version 1); `ExecutionAlreadyExists` when the ARN is taken.
    fn create(&self, machine_arn: &str, commit: Commit) -> impl Future<Output = Result<(), Error>> + Send;
    /// [`Store::create`], and `first` sent in the same atomic write where this store can write
    /// the queue's messages (a store sharing one database with its queue): `true` when it was
    /// sent (the execution and its first message exist together, or neither does), `false`
    /// when the caller sends it after the creation, as it would without this call (the
    /// default).
    fn create_sending(
        &self,
        machine_arn: &str,
        commit: Commit,
        first: &QueuedSend,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let _ = first;
        let created = self.create(machine_arn, commit);
        async move { created.await.map(|()| false) }
    }
    /// An execution by ARN.
    fn load(&self, arn: &str) -> impl Future<Output = Result<Option<Stored>, Error>> + Send;
    /// Applies a commit if the stored version is still `expected_version` (then it becomes
    /// `expected_version + 1`); `Conflict` otherwise, with nothing written.
    fn commit(&self, commit: &Commit) -> impl Future<Output = Result<(), Error>> + Send;
    /// Empties the outbox if the stored version is still `version` (a later commit's outbox
    /// is left alone).
    fn clear_outbox(&self, arn: &str, version: u64) -> impl Future<Output = Result<(), Error>> + Send;
    /// The history of an execution, in id order.
    fn history(&self, arn: &str) -> impl Future<Output = Result<Vec<HistoryEvent>, Error>> + Send;
    /// Indexes token entries ahead of the commit that issues them (a callback sent before its
    /// commit must be completable the moment its message arrives). Putting an entry again is
    /// harmless.
    fn put_tokens(&self, tokens: &[TokenEntry]) -> impl Future<Output = Result<(), Error>> + Send;
    /// A token's entry by hash.
    fn find_token(&self, hash: &str) -> impl Future<Output = Result<Option<TokenEntry>, Error>> + Send;
    /// Marks a token used; `false` if it was already used (or never existed).
    fn consume_token(&self, hash: &str) -> impl Future<Output = Result<bool, Error>> + Send;
    /// A page of one state machine's executions, newest first (ties by ARN, descending), of
    /// `query.status` only if given, after `query.page` if given. Reads only what the page
    /// needs (an index by machine and start time), whatever else is stored.
    fn list_executions(&self, query: &ExecutionQuery) -> impl Future<Output = Result<ExecutionPage, Error>> + Send;
    /// Creates a Map Run at version 1; `false` (nothing written) when it exists already.
    fn create_map_run(&self, run: &MapRun) -> impl Future<Output = Result<bool, Error>> + Send;
    /// A Map Run and its version.
    fn load_map_run(&self, arn: &str) -> impl Future<Output = Result<Option<(MapRun, u64)>, Error>> + Send;
    /// Replaces a Map Run if its version is still `expected_version` (then it becomes
    /// `expected_version + 1`); `Conflict` otherwise, with nothing written.
    fn commit_map_run(&self, run: &MapRun, expected_version: u64) -> impl Future<Output = Result<(), Error>> + Send;
    /// The Map Runs an execution started, oldest first (ties by ARN).
    fn list_map_runs(&self, execution_arn: &str) -> impl Future<Output = Result<Vec<MapRun>, Error>> + Send;
    /// Stores chunk `chunk` of a Map Run's child inputs (the text of a JSON array of at most
    /// [`stepwise_asl::map_run::CHUNK`] inputs); storing it again replaces it.
    fn put_map_items(&self, run_arn: &str, chunk: u64, items: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// Chunk `chunk` of a Map Run's child inputs.
    fn get_map_items(&self, run_arn: &str, chunk: u64) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// Keeps `data` under `key` at least as long as a queued message lives: the body of a step
    /// message too big for its queue (SQS takes 256 KiB), which travels as a reference to it.
    /// Putting the same key again writes the same data.
    fn put_blob(&self, key: &str, data: &[u8]) -> impl Future<Output = Result<(), Error>> + Send;
    /// What [`Store::put_blob`] kept under `key`.
    fn get_blob(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send;
}

/// A message received from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The queue's id for the message.
    pub id: String,
    /// The body.
    pub body: String,
    /// Handle to acknowledge this delivery.
    pub receipt: String,
    /// How many times it was delivered (1 the first time).
    pub receive_count: u32,
}

/// Queues: the step queue and the queues Task states send to. A queue is named by its name or
/// by its URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, as Task states give it); adapters
/// accept both.
pub trait Queue: Send + Sync {
    /// Sends a message, visible after `delay`. A second send with the same `dedup_id` is
    /// dropped (returns the first message's id).
    fn send(
        &self,
        queue: &str,
        body: &str,
        delay: Duration,
        dedup_id: Option<&str>,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// Up to `max` visible messages, hidden for `visibility` unless acknowledged.
    fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> impl Future<Output = Result<Vec<Message>, Error>> + Send;
    /// Deletes a received message.
    fn ack(&self, queue: &str, receipt: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// The largest message body the queue takes, in bytes (`None`: no limit). Bigger step
    /// messages are kept in the store and sent as a reference ([`Store::put_blob`]).
    fn max_body(&self) -> Option<usize> {
        None
    }
    /// Makes a received message visible again `after` from now (SQS's ChangeMessageVisibility):
    /// a delivery that failed comes back after a short backoff instead of the rest of its
    /// visibility timeout. A receipt that is no longer current does nothing.
    fn release(&self, queue: &str, receipt: &str, after: Duration) -> impl Future<Output = Result<(), Error>> + Send;
    /// Waits until a message of `queue` may be ready to receive, or at most `max`: queues that
    /// see their own sends (the embedded one) return when a message is sent or a delayed one
    /// becomes visible, so an idle worker takes a new message at once instead of at its next
    /// poll. Others just wait `max`.
    fn wait(&self, queue: &str, max: Duration) -> impl Future<Output = ()> + Send {
        let _ = queue;
        tokio::time::sleep(max)
    }
}

/// Topics Task states publish to.
pub trait Topics: Send + Sync {
    /// Publishes a message; returns its id.
    fn publish(&self, topic_arn: &str, message: &str) -> impl Future<Output = Result<String, Error>> + Send;
}

/// Lambda functions.
pub trait Functions: Send + Sync {
    /// Invokes a function (name, partial or full ARN, maybe qualified).
    fn invoke(
        &self,
        function: &str,
        payload: &Value,
        timeout: Option<Duration>,
    ) -> impl Future<Output = FunctionOutcome> + Send;

    /// Invokes a function without waiting for its result (`InvocationType: Event`); the outcome
    /// only tells whether the invocation was accepted. The default waits for the function, for
    /// adapters with no asynchronous mode.
    fn invoke_event(&self, function: &str, payload: &Value) -> impl Future<Output = FunctionOutcome> + Send {
        self.invoke(function, payload, None)
    }

    /// [`Functions::invoke`] (or, `asynchronous`, [`Functions::invoke_event`]) made as
    /// `identity`, the execution's role. The default ignores the identity: functions served by
    /// the runtime itself check none; the Lambda adapter calls Lambda with the role's
    /// credentials.
    fn invoke_as(
        &self,
        function: &str,
        payload: &Value,
        timeout: Option<Duration>,
        asynchronous: bool,
        identity: Option<&Identity>,
    ) -> impl Future<Output = FunctionOutcome> + Send {
        let _ = identity;
        async move {
            if asynchronous {
                self.invoke_event(function, payload).await
            } else {
                self.invoke(function, payload, timeout).await
            }
        }
    }
}

/// The clock.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
