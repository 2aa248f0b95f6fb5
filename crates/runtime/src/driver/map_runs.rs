//! Distributed Maps: reading their items, Map Runs and their child executions.
//!
//! A Distributed Map's step reads its ItemReader's object before its commit (the answer may be
//! megabytes: it never travels as a message) and hands over the children's inputs, which are
//! stored in chunks apart from the execution; the commit's outbox then creates the Map Run and
//! begins it. The run is a record of its own ([`stepwise_asl::map_run::MapRun`]), moved by
//! step messages like an execution: `Begin`, each child's end, UpdateMapRun, the parent's stop.
//! Each step of a run starts the children it frees before committing: a child's name is
//! derived from the run and its index, so a step redone after a crash or a lost race finds the
//! children it started instead of starting them twice.
//!
//! When the last child ends the run gathers the results by reading the children in index
//! order (a bounded number at a time), writes them to S3 when the state has a ResultWriter,
//! and reports the Map state's outcome to the parent execution.

use super::{Begin, Runtime, RuntimeEnv};
use crate::ports::{Clock, ExecutionStatus, Functions, Machine, Queue, StepMessage, Store, Stored, Topics};
use crate::{Error, Invalid};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Duration;
use stepwise_asl::integrations::aws::{AwsCall, AwsReply, Flavour, Identity};
use stepwise_asl::map_run::{self, MapRun, RunEvent, RunStatus, CHUNK};
use stepwise_asl::stepper::{self, Effect, Event, ExecutionInfo, MapRunChild, Status, TaskOutcome};
use stepwise_asl::StateMachine;

/// How many children a run starts, stops or reads at once.
const PARALLEL: usize = 64;

/// Whether an ARN names a Map Run.
pub(super) fn is_map_run(arn: &str) -> bool {
    arn.split(':').nth(5) == Some("mapRun")
}

/// UpdateMapRun's fields.
#[derive(Debug, Clone, Default)]
pub struct UpdateMapRun {
    /// maxConcurrency.
    pub max_concurrency: Option<i64>,
    /// toleratedFailureCount.
    pub tolerated_failure_count: Option<i64>,
    /// toleratedFailurePercentage.
    pub tolerated_failure_percentage: Option<f64>,
}

/// A page of a Map Run's children, newest first.
#[derive(Debug, Clone)]
pub struct ChildPage {
    /// The children.
    pub executions: Vec<Stored>,
    /// The index to continue below, if more remain.
    pub next: Option<u64>,
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Runtime<S, Q, T, F, C> {
    /// Performs the ItemReader reads a transition asks for and applies their answers.
    pub(super) async fn read_items(
        &self,
        machine: &StateMachine,
        mut t: stepper::Transition,
        env: &mut RuntimeEnv,
    ) -> Result<stepper::Transition, Error> {
        while let Some(pos) = t.effects.iter().position(|e| matches!(e, Effect::ReadItems { .. })) {
            let Effect::ReadItems { frame, task, mut call, manifest } = t.effects.remove(pos) else { unreachable!() };
            // Read as the execution's role, as its Task calls are made.
            let info = &t.execution.info;
            call.identity = Identity::of(info);
            let reply = if manifest { self.read_inventory(&call).await } else { self.read_all(&call).await };
            let next = stepper::step(machine, t.execution, Event::Items { frame, task, reply: Box::new(reply) }, env);
            t.execution = next.execution;
            t.history.extend(next.history);
            t.effects.extend(next.effects);
            t.changed_silently |= next.changed_silently;
        }
        Ok(t)
    }

    /// An S3 inventory (`InputType: MANIFEST`): the manifest the call reads names CSV files
    /// (gzipped, in the inventory's destination bucket) and their columns (`fileSchema`); the
    /// answer is their rows as one CSV, the schema as its first row.
    async fn read_inventory(&self, call: &AwsCall) -> AwsReply {
        let failed = |cause: String| AwsReply::NotSent { error: "States.ItemReaderFailed".into(), cause };
        let reply = self.aws.call(call).await;
        let AwsReply::Answer(mut answer) = reply else { return reply };
        let text = answer.output.get("Body").and_then(Value::as_str).unwrap_or_default();
        let manifest: Value = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return failed(format!("The manifest is not valid JSON: {e}")),
        };
        match manifest.get("fileFormat").and_then(Value::as_str) {
            Some("CSV") => {}
            other => {
                return failed(format!(
                    "The inventory's fileFormat is {}: only CSV inventories can be read",
                    other.unwrap_or("missing")
                ))
            }
        }
        let schema: Vec<&str> =
            manifest.get("fileSchema").and_then(Value::as_str).unwrap_or_default().split(',').map(str::trim).collect();
        let bucket = match manifest.get("destinationBucket").and_then(Value::as_str) {
            Some(b) => b.rsplit(":::").next().unwrap_or(b).to_string(),
            None => return failed("The manifest has no destinationBucket".into()),
        };
        let mut csv = schema.join(",");
        for file in manifest.get("files").and_then(Value::as_array).into_iter().flatten() {
            let Some(key) = file.get("key").and_then(Value::as_str) else { continue };
            let bytes = match self.aws.get_object(&bucket, key, call.identity.as_ref()).await {
                Ok(b) => b,
                Err((error, cause)) => return AwsReply::NotSent { error, cause },
            };
            let mut data = String::new();
            let read = if key.ends_with(".gz") {
                std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut data)
                    .map(|_| ())
            } else {
                String::from_utf8(bytes).map(|t| data = t).map_err(std::io::Error::other)
            };
            if let Err(e) = read {
                return failed(format!("s3://{bucket}/{key} could not be read: {e}"));
            }
            csv.push('\n');
            csv.push_str(data.trim_end_matches('\n'));
        }
        answer.output = json!({"Body": csv});
        AwsReply::Answer(answer)
    }

    /// The ItemReader's call; a listing (`listObjectsV2`) is followed page after page
    /// (`NextContinuationToken`) and answered as one, all its objects in `Contents`.
    async fn read_all(&self, call: &AwsCall) -> AwsReply {
        let mut reply = self.aws.call(call).await;
        if call.action != "listObjectsV2" {
            return reply;
        }
        loop {
            let AwsReply::Answer(answer) = &mut reply else { return reply };
            let token = match answer.output.get("NextContinuationToken").and_then(Value::as_str) {
                Some(t) if answer.output.get("IsTruncated") == Some(&Value::Bool(true)) => t.to_string(),
                _ => return reply,
            };
            let mut next = call.clone();
            next.input["ContinuationToken"] = token.into();
            match self.aws.call(&next).await {
                AwsReply::Answer(more) => {
                    let contents = more.output.get("Contents").and_then(Value::as_array).cloned().unwrap_or_default();
                    match answer.output.get_mut("Contents").and_then(Value::as_array_mut) {
                        Some(all) => all.extend(contents),
                        None => answer.output["Contents"] = Value::Array(contents),
                    }
                    answer.output["IsTruncated"] =
                        more.output.get("IsTruncated").cloned().unwrap_or(Value::Bool(false));
                    match more.output.get("NextContinuationToken") {
                        Some(t) => answer.output["NextContinuationToken"] = t.clone(),
                        None => {
                            if let Some(o) = answer.output.as_object_mut() {
                                o.remove("NextContinuationToken");
                            }
                        }
                    }
                }
                other => return other,
            }
        }
    }

    /// Stores the children's inputs of the Map Runs a transition starts, in chunks, and takes
    /// them out of the effect (the outbox keeps only the run).
    pub(super) async fn store_map_inputs(&self, mut t: stepper::Transition) -> Result<stepper::Transition, Error> {
        for effect in &mut t.effects {
            let Effect::StartMapRun(start) = effect else { continue };
            let inputs = std::mem::take(&mut start.inputs);
            let arn = start.run.arn.clone();
            let chunks: Vec<(u64, String)> = inputs
                .chunks(CHUNK as usize)
                .enumerate()
                .map(|(i, c)| (i as u64, Value::Array(c.to_vec()).to_string()))
                .collect();
            let writes = chunks.into_iter().map(|(i, text)| {
                let arn = arn.clone();
                async move { self.store.put_map_items(&arn, i, &text).await }
            });
            let results: Vec<Result<(), Error>> =
                futures_util::stream::iter(writes).buffer_unordered(PARALLEL).collect().await;
            results.into_iter().collect::<Result<(), Error>>()?;
        }
        Ok(t)
    }

    /// The outbox action of a started Map Run: the children's state machine, the run's record,
    /// and its `Begin` message. Each part may be done again.
    pub(super) async fn begin_map_run(&self, start: &stepper::MapRunStart) -> Result<(), Error> {
        let run = &start.run;
        let name = run.state_machine_arn.rsplit_once(":stateMachine:").map(|(_, n)| n).unwrap_or_default();
        let parent = self.store.get_machine(&run.parent_machine_arn).await?;
        let role_arn = parent.map(|m| m.role_arn).unwrap_or_default();
        let text = start.definition.to_string();
        let revision_id = Machine::revision_of(&text, &role_arn, run.express);
        let current = self.store.get_machine(&run.state_machine_arn).await?;
        if current.as_ref().map(|m| &m.revision_id) != Some(&revision_id) {
            let machine = Machine {
                arn: run.state_machine_arn.clone(),
                name: name.to_string(),
                definition: start.definition.clone(),
                definition_text: None,
                role_arn,
                express: run.express,
                created: run.start_date,
                revision_id,
                updated: None,
                settings: Default::default(),
            };
            self.store.put_machine(&machine).await?;
            self.forget_machine(&run.state_machine_arn)?;
        }
        self.store.create_map_run(run).await?;
        self.send_run_event(&run.arn, RunEvent::Begin, &format!("{}#begin", run.arn)).await
    }

    async fn send_run_event(&self, run_arn: &str, event: RunEvent, dedup: &str) -> Result<(), Error> {
        let msg =
            StepMessage { execution_arn: run_arn.into(), event: Event::Run(event), not_before: None, origin: None };
        self.send_step(&msg, Duration::ZERO, Some(dedup)).await
    }

    /// A child ended: its run hears of it (once per child).
    pub(super) async fn report_to_map_run(
        &self,
        arn: &str,
        child: &MapRunChild,
        status: ExecutionStatus,
    ) -> Result<(), Error> {
        let event = RunEvent::ChildEnded { index: child.index, status };
        self.send_run_event(&child.run, event, &format!("{arn}#parent")).await
    }

    /// One event of a Map Run: the run's step, the children it starts, and — once it ended —
    /// the results and the parent's outcome.
    pub(super) async fn handle_run(&self, arn: &str, event: RunEvent) -> Result<super::Handled, Error> {
        self.handle_run_events(arn, std::slice::from_ref(&event)).await
    }

    /// Several events of one Map Run in one step: one load, one commit (the children of a
    /// batch of messages mostly end together; applied one by one they would race for the
    /// run's record).
    pub(crate) async fn handle_run_events(&self, arn: &str, events: &[RunEvent]) -> Result<super::Handled, Error> {
        for attempt in 0..64u32 {
            let Some((mut run, version)) = self.store.load_map_run(arn).await? else {
                return Ok(super::Handled::NoOp);
            };
            let now = self.clock.now();
            let (mut changed, mut repeated, mut gather, mut stop) = (false, false, false, false);
            let mut starts = Vec::new();
            for event in events {
                let step = run.step(event.clone(), now);
                changed |= step.changed;
                repeated |= !step.changed;
                gather |= step.gather;
                stop |= step.stop_children;
                starts.extend(step.start);
            }
            if !changed {
                // A repeated event: what the first delivery did after its commit may be undone.
                self.after_run(&run).await?;
                return Ok(super::Handled::NoOp);
            }
            // Ranges of one batch follow each other: start them as one.
            if let (Some(first), Some(last)) = (starts.first(), starts.last()) {
                self.start_children(&run, first.0, last.1).await?;
            }
            if gather {
                self.gather(&mut run).await?;
            }
            match self.store.commit_map_run(&run, version).await {
                Err(Error::Conflict { .. }) => {
                    let pause = rand::random::<u64>() % (1 + 2 * u64::from(attempt.min(16)));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    continue;
                }
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            if gather || stop || repeated {
                self.after_run(&run).await?;
            }
            return Ok(super::Handled::Applied);
        }
        Err(Error::storage(format!("committing a step of {arn}"), "too many concurrent updates"))
    }

    /// What an ended run does after its commit: stop the children still running and report the
    /// outcome to the parent (both harmless to repeat).
    async fn after_run(&self, run: &MapRun) -> Result<(), Error> {
        if run.status == RunStatus::Running {
            return Ok(());
        }
        if matches!(run.status, RunStatus::Failed | RunStatus::Aborted) {
            let stops = run.unfinished().map(|i| async move {
                let child = self.child_arn(run, i);
                match self.stop_execution(&child, None, None).await {
                    Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            });
            let results: Vec<Result<(), Error>> =
                futures_util::stream::iter(stops).buffer_unordered(PARALLEL).collect().await;
            results.into_iter().collect::<Result<(), Error>>()?;
        }
        if let Some(outcome) = &run.outcome {
            let msg = StepMessage {
                execution_arn: run.execution_arn.clone(),
                event: Event::Task { frame: run.frame, task: run.task, outcome: outcome.clone() },
                not_before: None,
                origin: None,
            };
            self.send_step(&msg, Duration::ZERO, Some(&format!("{}#outcome", run.arn))).await?;
        }
        Ok(())
    }

    /// The ARN child `index` of a run has (or will have).
    pub fn child_arn(&self, run: &MapRun, index: u64) -> String {
        let name = map_run::child_name(&run.arn, index);
        let mut fields = run.state_machine_arn.split(':');
        let (region, account) = (fields.nth(3).unwrap_or_default(), fields.next().unwrap_or_default());
        let machine = run.state_machine_arn.rsplit_once(":stateMachine:").map(|(_, n)| n).unwrap_or_default();
        let info = ExecutionInfo::new(account, region, machine, &name, "", run.express);
        if run.express {
            format!("{}:{}", info.execution_arn, map_run::child_name(&name, 1))
        } else {
            info.execution_arn
        }
    }

    /// Starts children `from..to` (those that ended already are skipped); a child started
    /// before is found, not started again.
    async fn start_children(&self, run: &MapRun, from: u64, to: u64) -> Result<(), Error> {
        let mut chunks: HashMap<u64, Vec<Value>> = HashMap::new();
        for c in from / CHUNK..=(to.saturating_sub(1)) / CHUNK {
            let text = self.store.get_map_items(&run.arn, c).await?.ok_or_else(|| {
                Error::storage(format!("starting the children of {}", run.arn), format!("input chunk {c} is missing"))
            })?;
            let items: Vec<Value> =
                serde_json::from_str(&text).map_err(|e| Error::storage(format!("reading input chunk {c}"), e))?;
            chunks.insert(c, items);
        }
        let starts = (from..to).filter(|i| !run.has_ended(*i)).map(|i| {
            let input = chunks.get(&(i / CHUNK)).and_then(|c| c.get((i % CHUNK) as usize)).cloned();
            async move {
                let input = input.unwrap_or(Value::Null);
                let name = map_run::child_name(&run.arn, i);
                let child = MapRunChild { run: run.arn.clone(), index: i };
                match self
                    .start(
                        &run.state_machine_arn,
                        &name,
                        input,
                        None,
                        Begin {
                            map_run: Some(child),
                            mocks: run.mocks.as_ref().map(|m| Box::new(m.fresh())),
                            ..Begin::default()
                        },
                    )
                    .await
                {
                    Ok(_) | Err(Error::AlreadyExists { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        });
        let results: Vec<Result<(), Error>> =
            futures_util::stream::iter(starts).buffer_unordered(PARALLEL).collect().await;
        results.into_iter().collect()
    }

    /// The run's results, in item order: the Map state's output, or files in S3 (the output
    /// then says where). Sets the run's outcome.
    async fn gather(&self, run: &mut MapRun) -> Result<(), Error> {
        let view = run.clone();
        let loads = (0..run.total).map(|i| {
            let arn = self.child_arn(&view, i);
            async move {
                let stored = self.store.load(&arn).await?;
                Ok::<_, Error>(stored.map(|s| {
                    let stop = s.stop_date;
                    (s, stop)
                }))
            }
        });
        let mut children = futures_util::stream::iter(loads).buffered(PARALLEL);
        let outcome = match run.writer.clone() {
            None => {
                let mut results = Vec::with_capacity(run.total as usize);
                let mut size = 2usize;
                let mut over = false;
                let transformation = run.output_transformation.clone();
                while let Some(child) = children.next().await {
                    let values = match child? {
                        // WriterConfig's Transformation without a bucket: NONE describes each
                        // child, FLATTEN spreads array outputs.
                        Some((s, stop)) if transformation.as_deref().is_some_and(|t| t != "COMPACT") => {
                            result_entry(&s, stop, &run.state_machine_arn, transformation.as_deref())
                        }
                        Some((s, _)) => vec![match s.execution.status {
                            Status::Succeeded { output } => output,
                            Status::Failed { error, cause }
                            | Status::TimedOut { error, cause }
                            | Status::Aborted { error, cause } => {
                                stepper::Failure::from_parts(error, cause).result_object()
                            }
                            Status::Running => Value::Null,
                        }],
                        None => vec![Value::Null],
                    };
                    for v in values {
                        size += v.to_string().len() + 1;
                        results.push(v);
                    }
                    if size > stepper::MAX_PAYLOAD_BYTES {
                        over = true;
                        break;
                    }
                }
                if over {
                    TaskOutcome::Failed {
                        error: Some("States.DataLimitExceeded".into()),
                        cause: Some(format!(
                            "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                            run.state_name
                        )),
                    }
                } else {
                    TaskOutcome::Succeeded(Value::Array(results))
                }
            }
            Some(writer) => {
                let mut succeeded = Vec::new();
                let mut failed = Vec::new();
                while let Some(child) = children.next().await {
                    let Some((s, stop)) = child? else { continue };
                    let ok = matches!(s.execution.status, Status::Succeeded { .. });
                    let entry = result_entry(&s, stop, &run.state_machine_arn, writer.transformation.as_deref());
                    if ok {
                        succeeded.extend(entry);
                    } else {
                        failed.extend(entry);
                    }
                }
                run.results_written = (succeeded.len() + failed.len()) as u64;
                match self.write_results(run, &writer, succeeded, failed).await {
                    Ok(key) => TaskOutcome::Succeeded(json!({
                        "MapRunArn": run.arn,
                        "ResultWriterDetails": {"Bucket": writer.bucket, "Key": key},
                    })),
                    Err((error, cause)) => TaskOutcome::Failed { error: Some(error), cause: Some(cause) },
                }
            }
        };
        run.outcome = Some(outcome);
        Ok(())
    }

    /// Writes `SUCCEEDED_0.json`, `FAILED_0.json` (when any failed) and `manifest.json` under
    /// `PREFIX/RUN-ID/`; returns the manifest's key.
    async fn write_results(
        &self,
        run: &MapRun,
        writer: &map_run::Writer,
        succeeded: Vec<Value>,
        failed: Vec<Value>,
    ) -> Result<String, (String, String)> {
        let id = run.arn.rsplit(':').next().unwrap_or_default();
        let dir = if writer.prefix.is_empty() { id.to_string() } else { format!("{}/{id}", writer.prefix) };
        let mut files = Map::new();
        for (status, entries) in [("FAILED", failed), ("PENDING", Vec::new()), ("SUCCEEDED", succeeded)] {
            let mut list = Vec::new();
            if !entries.is_empty() {
                let body = if writer.jsonl {
                    entries.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
                } else {
                    Value::Array(entries).to_string()
                };
                let key = format!("{dir}/{status}_0.json");
                self.put_object(&writer.bucket, &key, &body).await?;
                list.push(json!({"Key": key, "Size": body.len()}));
            }
            files.insert(status.into(), Value::Array(list));
        }
        let manifest = json!({"DestinationBucket": writer.bucket, "MapRunArn": run.arn, "ResultFiles": files});
        let key = format!("{dir}/manifest.json");
        self.put_object(&writer.bucket, &key, &manifest.to_string()).await?;
        Ok(key)
    }

    async fn put_object(&self, bucket: &str, key: &str, body: &str) -> Result<(), (String, String)> {
        let call = AwsCall {
            service: "s3".into(),
            action: "putObject".into(),
            input: json!({"Bucket": bucket, "Key": key, "Body": body}),
            role: None,
            identity: None,
            flavour: Flavour::Sdk,
        };
        match self.aws.call(&call).await {
            AwsReply::Answer(_) => Ok(()),
            AwsReply::Fault(f) => Err((
                "States.ResultWriterFailed".into(),
                format!("Writing s3://{bucket}/{key} failed: {} ({})", f.message, f.code),
            )),
            AwsReply::NotSent { cause, .. } => {
                Err(("States.ResultWriterFailed".into(), format!("Writing s3://{bucket}/{key} failed: {cause}")))
            }
        }
    }

    // ---------- the API's Map Run operations ----------

    /// DescribeMapRun.
    pub async fn describe_map_run(&self, arn: &str) -> Result<MapRun, Error> {
        self.store.load_map_run(arn).await?.map(|(r, _)| r).ok_or_else(|| Error::no_map_run(arn))
    }

    /// ListMapRuns: the runs an execution started, oldest first.
    pub async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRun>, Error> {
        self.describe(execution_arn).await?;
        self.store.list_map_runs(execution_arn).await
    }

    /// UpdateMapRun.
    pub async fn update_map_run(&self, arn: &str, update: UpdateMapRun) -> Result<(), Error> {
        let invalid = |m: String| Error::invalid(Invalid::Parameter, m);
        if update.max_concurrency.is_none()
            && update.tolerated_failure_count.is_none()
            && update.tolerated_failure_percentage.is_none()
        {
            return Err(invalid(
                "at least one of maxConcurrency, toleratedFailureCount, toleratedFailurePercentage is required".into(),
            ));
        }
        if let Some(m) = update.max_concurrency.filter(|m| *m < 0) {
            return Err(invalid(format!(
                "1 validation error detected: Value '{m}' at 'maxConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
        if let Some(c) = update.tolerated_failure_count.filter(|c| *c < 0) {
            return Err(invalid(format!(
                "1 validation error detected: Value '{c}' at 'toleratedFailureCount' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
        if let Some(p) = update.tolerated_failure_percentage.filter(|p| !(0.0..=100.0).contains(p)) {
            return Err(invalid(format!(
                "1 validation error detected: Value '{p}' at 'toleratedFailurePercentage' failed to satisfy constraint: Member must have value between 0 and 100"
            )));
        }
        let run = self.describe_map_run(arn).await?;
        if run.status != RunStatus::Running {
            return Err(invalid(format!("Map Run {arn} has ended and cannot be updated")));
        }
        let event = RunEvent::Update {
            max_concurrency: update.max_concurrency.map(|m| m as u64),
            tolerated_count: update.tolerated_failure_count.map(|c| c as u64),
            tolerated_pct: update.tolerated_failure_percentage,
        };
        self.handle_run(arn, event).await.map(|_| ())
    }

    /// ListExecutions by Map Run: its children, newest (highest index) first, of `status`
    /// only if given, `limit` at most, below index `before` if given.
    pub async fn list_map_run_children(
        &self,
        arn: &str,
        status: Option<ExecutionStatus>,
        limit: usize,
        before: Option<u64>,
    ) -> Result<ChildPage, Error> {
        let run = self.describe_map_run(arn).await?;
        let mut i = before.unwrap_or(run.next).min(run.next);
        let mut executions = Vec::new();
        while i > 0 && executions.len() < limit {
            i -= 1;
            let Some(s) = self.store.load(&self.child_arn(&run, i)).await? else { continue };
            if status.is_none_or(|st| s.execution.status.kind() == st) {
                executions.push(s);
            }
        }
        Ok(ChildPage { executions, next: (i > 0).then_some(i) })
    }
}

/// A child's entry in a result file: the execution's description (Transformation `NONE`), or
/// its output only (`COMPACT`; `FLATTEN` spreads an array output). Failed children are always
/// described in full.
fn result_entry(
    s: &Stored,
    stop: Option<chrono::DateTime<chrono::Utc>>,
    state_machine_arn: &str,
    transformation: Option<&str>,
) -> Vec<Value> {
    let x = &s.execution;
    let iso = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut e = Map::new();
    e.insert("ExecutionArn".into(), x.info.execution_arn.clone().into());
    e.insert("Input".into(), x.input_text().into());
    e.insert("InputDetails".into(), json!({"Included": true}));
    e.insert("Name".into(), x.info.name.clone().into());
    match &x.status {
        Status::Succeeded { output } => {
            match transformation {
                Some("COMPACT") => return vec![output.clone()],
                Some("FLATTEN") => {
                    return match output {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    }
                }
                _ => {}
            }
            e.insert("Output".into(), output.to_string().into());
            e.insert("OutputDetails".into(), json!({"Included": true}));
            e.insert("RedriveCount".into(), 0.into());
            e.insert("RedriveStatus".into(), "NOT_REDRIVABLE".into());
            e.insert("RedriveStatusReason".into(), "Execution is SUCCEEDED and cannot be redriven".into());
        }
        Status::Failed { error, cause } | Status::TimedOut { error, cause } | Status::Aborted { error, cause } => {
            if let Some(c) = cause {
                e.insert("Cause".into(), c.clone().into());
            }
            if let Some(err) = error {
                e.insert("Error".into(), err.clone().into());
            }
            e.insert("OutputDetails".into(), json!({"Included": true}));
            e.insert("RedriveCount".into(), 0.into());
            e.insert("RedriveStatus".into(), "REDRIVABLE_BY_MAP_RUN".into());
        }
        Status::Running => {}
    }
    e.insert("StartDate".into(), iso(x.start_time).into());
    e.insert("StateMachineArn".into(), state_machine_arn.into());
    e.insert("Status".into(), x.status.as_str().into());
    if let Some(stop) = stop {
        e.insert("StopDate".into(), iso(stop).into());
    }
    // AWS writes the keys in alphabetical order.
    let sorted: std::collections::BTreeMap<String, Value> = e.into_iter().collect();
    vec![json!(sorted)]
}
