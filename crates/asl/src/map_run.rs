//! A Distributed Map's Map Run: the resource that starts one child workflow execution per item
//! (or batch) as concurrency frees, counts how they end, and decides when the run is over —
//! pure bookkeeping; the runtime starts and stops the children, stores the record and gathers
//! the results.
//!
//! The record stays small whatever the item count: the children's inputs are stored apart, in
//! chunks of [`CHUNK`] (the runtime's concern), and the children that ended are kept as a
//! watermark (every index below [`MapRun::ended_below`] ended) plus the indexes above it that
//! ended out of order, which are at most the run's concurrency.
//!
//! A child is identified by its index: its execution name is derived from the Map Run's ARN
//! and the index ([`child_name`]), so starting it again (a step redone after a crash or a lost
//! race) finds it instead of running the item twice, and the results are read back in item
//! order without any list of ARNs.

use crate::stepper::{ExecutionStatus, TaskOutcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Child inputs per stored chunk.
pub const CHUNK: u64 = 100;

/// AWS's most concurrent children of one Map Run (`MaxConcurrency` 0 means this).
pub const MAX_CONCURRENCY: u64 = 10_000;

/// A Map Run's status, as DescribeMapRun spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Children are running or about to.
    Running,
    /// Every child ended within the tolerated failures.
    Succeeded,
    /// Too many children failed, or reading or writing failed.
    Failed,
    /// The parent execution stopped it.
    Aborted,
}

impl RunStatus {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Succeeded => "SUCCEEDED",
            RunStatus::Failed => "FAILED",
            RunStatus::Aborted => "ABORTED",
        }
    }
}

/// Children per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Running now.
    pub running: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Timed out.
    pub timed_out: u64,
    /// Stopped.
    pub aborted: u64,
}

impl Counts {
    /// Children that count against the tolerated failures: failed and timed out (AWS's
    /// documented rule; a stopped child does not count).
    pub fn failures(&self) -> u64 {
        self.failed + self.timed_out
    }
}

/// `ResultWriter`: where the results go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Writer {
    /// Bucket.
    pub bucket: String,
    /// Key prefix (may be empty).
    pub prefix: String,
    /// `WriterConfig.OutputType` `JSONL` (else a JSON array per file).
    #[serde(default)]
    pub jsonl: bool,
    /// `WriterConfig.Transformation`: `NONE` (the default with a bucket), `COMPACT` or
    /// `FLATTEN`.
    #[serde(default)]
    pub transformation: Option<String>,
}

/// One Map Run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRun {
    /// `arn:…:mapRun:MACHINE/LABEL:ID`.
    pub arn: String,
    /// The execution whose Map state started it.
    pub execution_arn: String,
    /// That execution's state machine.
    pub parent_machine_arn: String,
    /// The Map state's frame in the parent.
    pub frame: usize,
    /// The id the parent's outcome event must quote.
    pub task: u64,
    /// The Map state's name.
    pub state_name: String,
    /// The children's state machine: `arn:…:stateMachine:MACHINE/LABEL`.
    pub state_machine_arn: String,
    /// The children are EXPRESS executions.
    pub express: bool,
    /// Status.
    pub status: RunStatus,
    /// Started.
    pub start_date: DateTime<Utc>,
    /// Ended.
    #[serde(default)]
    pub stop_date: Option<DateTime<Utc>>,
    /// MaxConcurrency (0: [`MAX_CONCURRENCY`]).
    pub max_concurrency: u64,
    /// ToleratedFailureCount.
    #[serde(default)]
    pub tolerated_count: Option<u64>,
    /// ToleratedFailurePercentage.
    #[serde(default)]
    pub tolerated_pct: Option<f64>,
    /// Children in all (items, or batches of them).
    pub total: u64,
    /// Items read (equal to `total` unless batched).
    pub items: u64,
    /// The next child to start.
    pub next: u64,
    /// Every child below this index ended.
    pub ended_below: u64,
    /// Children at or above `ended_below` that ended, ascending.
    #[serde(default)]
    pub ended: Vec<u64>,
    /// Children per outcome.
    pub counts: Counts,
    /// ResultWriter.
    #[serde(default)]
    pub writer: Option<Writer>,
    /// `ResultWriter.WriterConfig.Transformation` without a bucket: how the state's output
    /// shows the results (`NONE`, `COMPACT` (the default), `FLATTEN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_transformation: Option<String>,
    /// The outcome for the parent's Map state, once decided.
    #[serde(default)]
    pub outcome: Option<TaskOutcome>,
    /// Results written to S3.
    #[serde(default)]
    pub results_written: u64,
    /// The mock configuration's test case the parent runs: each child runs it too (counting
    /// its own calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mocks: Option<crate::mock::ExecutionMocks>,
}

/// What happens to a Map Run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RunEvent {
    /// Start the first children.
    Begin,
    /// A child execution ended.
    ChildEnded {
        /// Its index.
        index: u64,
        /// How.
        status: ExecutionStatus,
    },
    /// UpdateMapRun.
    Update {
        /// New MaxConcurrency.
        max_concurrency: Option<u64>,
        /// New ToleratedFailureCount.
        tolerated_count: Option<u64>,
        /// New ToleratedFailurePercentage.
        tolerated_pct: Option<f64>,
    },
    /// The parent stopped it (its execution ended, or its Map state was aborted).
    Stop,
}

/// What the runtime does for a step of a Map Run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunStep {
    /// The event changed the run (a duplicate changes nothing).
    pub changed: bool,
    /// Children to start: this range of indexes (those that already ended are skipped).
    pub start: Option<(u64, u64)>,
    /// The run just ended with every child accounted for: gather (and write) the results.
    pub gather: bool,
    /// The run just failed or stopped: stop the children still running.
    pub stop_children: bool,
}

/// The outcome error when too many children fail.
pub const THRESHOLD_ERROR: &str = "States.ExceedToleratedFailureThreshold";
/// Its cause.
pub const THRESHOLD_CAUSE: &str = "The specified tolerated failure threshold was exceeded";

impl MapRun {
    /// Whether child `index` ended.
    pub fn has_ended(&self, index: u64) -> bool {
        index < self.ended_below || self.ended.binary_search(&index).is_ok()
    }

    /// The children that may still be running: started, not ended.
    pub fn unfinished(&self) -> impl Iterator<Item = u64> + '_ {
        (self.ended_below..self.next).filter(|i| self.ended.binary_search(i).is_err())
    }

    fn limit(&self) -> u64 {
        if self.max_concurrency == 0 {
            MAX_CONCURRENCY
        } else {
            self.max_concurrency.min(MAX_CONCURRENCY)
        }
    }

    /// Whether `failures` failed children are more than tolerated (no threshold: any).
    fn exceeded(&self) -> bool {
        let f = self.counts.failures();
        if f == 0 {
            return false;
        }
        let by_count = self.tolerated_count.is_some_and(|c| f <= c);
        let by_pct = self.tolerated_pct.is_some_and(|p| (f as f64) * 100.0 / (self.total.max(1) as f64) <= p);
        !(by_count || by_pct)
    }

    /// Starts children while slots are free; records them as started.
    fn fill(&mut self, step: &mut RunStep) {
        let from = self.next;
        while self.next < self.total && self.counts.running < self.limit() {
            if !self.has_ended(self.next) {
                self.counts.running += 1;
            }
            self.next += 1;
        }
        if self.next > from {
            step.start = Some((from, self.next));
        }
    }

    fn end(&mut self, status: RunStatus, now: DateTime<Utc>, step: &mut RunStep) {
        self.status = status;
        self.stop_date = Some(now);
        match status {
            RunStatus::Succeeded => step.gather = true,
            RunStatus::Failed => {
                self.outcome = Some(TaskOutcome::Failed {
                    error: Some(THRESHOLD_ERROR.into()),
                    cause: Some(THRESHOLD_CAUSE.into()),
                });
                step.stop_children = true;
            }
            RunStatus::Aborted => step.stop_children = true,
            RunStatus::Running => {}
        }
    }

    /// Applies one event; says what the runtime must do.
    pub fn step(&mut self, event: RunEvent, now: DateTime<Utc>) -> RunStep {
        let mut step = RunStep::default();
        match event {
            RunEvent::Begin => {
                if self.status == RunStatus::Running && self.next == 0 {
                    step.changed = true;
                    if self.total == 0 {
                        self.end(RunStatus::Succeeded, now, &mut step);
                    } else {
                        self.fill(&mut step);
                    }
                }
            }
            RunEvent::ChildEnded { index, status } => {
                if index >= self.total || self.has_ended(index) {
                    return step;
                }
                step.changed = true;
                // A child above `next` was started by a step that lost a race and was redone:
                // it ran and ended, but was never counted as running.
                if index < self.next {
                    self.counts.running = self.counts.running.saturating_sub(1);
                }
                match status {
                    ExecutionStatus::Succeeded => self.counts.succeeded += 1,
                    ExecutionStatus::TimedOut => self.counts.timed_out += 1,
                    ExecutionStatus::Aborted => self.counts.aborted += 1,
                    _ => self.counts.failed += 1,
                }
                if let Err(at) = self.ended.binary_search(&index) {
                    self.ended.insert(at, index);
                }
                while self.ended.first() == Some(&self.ended_below) {
                    self.ended.remove(0);
                    self.ended_below += 1;
                }
                if self.status != RunStatus::Running {
                    return step;
                }
                if self.exceeded() {
                    self.end(RunStatus::Failed, now, &mut step);
                } else if self.ended_below >= self.total {
                    self.end(RunStatus::Succeeded, now, &mut step);
                } else {
                    self.fill(&mut step);
                }
            }
            RunEvent::Update { max_concurrency, tolerated_count, tolerated_pct } => {
                step.changed = true;
                if let Some(m) = max_concurrency {
                    self.max_concurrency = m;
                }
                if tolerated_count.is_some() {
                    self.tolerated_count = tolerated_count;
                }
                if tolerated_pct.is_some() {
                    self.tolerated_pct = tolerated_pct;
                }
                if self.status == RunStatus::Running && self.next > 0 {
                    self.fill(&mut step);
                }
            }
            RunEvent::Stop => {
                if self.status == RunStatus::Running {
                    step.changed = true;
                    self.end(RunStatus::Aborted, now, &mut step);
                }
            }
        }
        step
    }
}

/// The name of child `index` of a Map Run: a UUID derived from the run's ARN and the index
/// (FNV-1a, version-4 layout), so every start of that child names the same execution.
pub fn child_name(run_arn: &str, index: u64) -> String {
    let hash = |seed: u64| {
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
        for b in run_arn.bytes().chain(index.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    crate::uuid::v4(hash(1), hash(2))
}

/// Parses `ResultWriter` (resolved `Parameters`/`Arguments` and `WriterConfig`).
pub fn writer(parameters: &Value, config: Option<&Value>) -> Result<Writer, String> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let bucket = text(parameters.get("Bucket")).ok_or("ResultWriter needs a Bucket")?;
    let output_type = text(config.and_then(|c| c.get("OutputType")));
    Ok(Writer {
        bucket,
        prefix: text(parameters.get("Prefix")).unwrap_or_default(),
        jsonl: output_type.as_deref() == Some("JSONL"),
        transformation: text(config.and_then(|c| c.get("Transformation"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(total: u64, max: u64) -> MapRun {
        MapRun {
            arn: "arn:aws:states:us-east-1:1:mapRun:m/l:id".into(),
            execution_arn: "x".into(),
            parent_machine_arn: "m".into(),
            frame: 0,
            task: 1,
            state_name: "Map".into(),
            state_machine_arn: "m/l".into(),
            express: false,
            status: RunStatus::Running,
            start_date: Utc::now(),
            stop_date: None,
            max_concurrency: max,
            tolerated_count: None,
            tolerated_pct: None,
            total,
            items: total,
            next: 0,
            ended_below: 0,
            ended: Vec::new(),
            counts: Counts::default(),
            writer: None,
            output_transformation: None,
            outcome: None,
            results_written: 0,
            mocks: None,
        }
    }

    fn ended(index: u64, status: ExecutionStatus) -> RunEvent {
        RunEvent::ChildEnded { index, status }
    }

    #[test]
    fn children_start_as_slots_free_and_the_record_stays_small() {
        let mut r = run(10, 3);
        let now = Utc::now();
        assert_eq!(r.step(RunEvent::Begin, now).start, Some((0, 3)));
        assert_eq!(r.step(RunEvent::Begin, now), RunStep::default(), "a repeated Begin changes nothing");
        assert_eq!(r.step(ended(1, ExecutionStatus::Succeeded), now).start, Some((3, 4)));
        assert_eq!(r.ended, vec![1]);
        assert_eq!(r.step(ended(0, ExecutionStatus::Succeeded), now).start, Some((4, 5)));
        assert_eq!((r.ended_below, r.ended.len()), (2, 0), "the watermark absorbs what ended in order");
        assert!(!r.step(ended(0, ExecutionStatus::Succeeded), now).changed, "a duplicate end is ignored");
        for i in 2..10 {
            let s = r.step(ended(i, ExecutionStatus::Succeeded), now);
            assert_eq!(s.gather, i == 9);
        }
        assert_eq!(r.status, RunStatus::Succeeded);
        assert_eq!((r.counts.succeeded, r.counts.running), (10, 0));
    }

    #[test]
    fn failures_beyond_the_threshold_fail_the_run_and_stop_the_rest() {
        let mut r = run(10, 2);
        r.tolerated_count = Some(1);
        let now = Utc::now();
        r.step(RunEvent::Begin, now);
        assert_eq!(r.step(ended(0, ExecutionStatus::Failed), now).start, Some((2, 3)));
        let s = r.step(ended(1, ExecutionStatus::TimedOut), now);
        assert!(s.stop_children && !s.gather);
        assert_eq!(r.status, RunStatus::Failed);
        assert_eq!(r.unfinished().collect::<Vec<_>>(), vec![2]);
        assert!(matches!(&r.outcome, Some(TaskOutcome::Failed { error: Some(e), .. }) if e == THRESHOLD_ERROR));
        r.step(ended(2, ExecutionStatus::Aborted), now);
        assert_eq!(r.counts.aborted, 1, "children stopped after the end are still counted");
    }

    #[test]
    fn a_child_started_by_a_lost_race_counts_once() {
        let mut r = run(4, 1);
        let now = Utc::now();
        r.step(RunEvent::Begin, now);
        // Child 2 was started by a step that lost its commit, and ended.
        r.step(ended(2, ExecutionStatus::Succeeded), now);
        assert_eq!(r.counts.running, 1);
        assert_eq!(r.step(ended(0, ExecutionStatus::Succeeded), now).start, Some((1, 2)));
        // Starting past 2 skips it as already ended.
        assert_eq!(r.step(ended(1, ExecutionStatus::Succeeded), now).start, Some((2, 4)));
        assert_eq!(r.counts.running, 1);
        assert!(r.step(ended(3, ExecutionStatus::Succeeded), now).gather);
    }

    #[test]
    fn update_raises_concurrency_and_child_names_are_stable() {
        let mut r = run(5, 1);
        let now = Utc::now();
        r.step(RunEvent::Begin, now);
        let s = r.step(RunEvent::Update { max_concurrency: Some(3), tolerated_count: None, tolerated_pct: None }, now);
        assert_eq!(s.start, Some((1, 3)));
        assert_eq!(child_name("a", 1), child_name("a", 1));
        assert_ne!(child_name("a", 1), child_name("a", 2));
        assert_eq!(child_name("a", 1).len(), 36);
        let mut empty = run(0, 0);
        assert!(empty.step(RunEvent::Begin, now).gather);
    }
}
