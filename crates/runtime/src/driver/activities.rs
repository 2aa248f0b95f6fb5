//! Activities: CreateActivity/DescribeActivity/ListActivities/DeleteActivity, scheduling an
//! activity task when a Task state names an activity, and GetActivityTask, the long poll
//! workers take tasks with.
//!
//! An activity's waiting tasks are kept by the store (`push_activity_task`), each holding the
//! task token and the input: no queue per activity is needed, on SQLite or on DynamoDB. A
//! worker's GetActivityTask takes the oldest (each task goes to one worker only, and never
//! again: a worker that dies lets the task time out, as on AWS) and reports `ActivityStarted`
//! with the worker's name to the execution, waiting until the execution has recorded it, so
//! the worker's answer cannot overtake it. A task whose state is no longer running (timed
//! out, stopped) when a worker polls is skipped.

use super::{token_hash, Runtime};
use crate::aws::check_name;
use crate::ports::{Activity, Clock, Functions, PendingActivityTask, Queue, Store, TokenEntry, Topics};
use crate::Error;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use stepwise_asl::stepper::{Phase, TaskOutcome};

/// `arn:PARTITION:states:REGION:ACCOUNT:activity:NAME`.
pub fn activity_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:states:{region}:{account}:activity:{name}", stepwise_asl::arn::partition(region))
}

/// A task a worker took: its token and input (JSON text).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    /// The task token to answer with.
    pub token: String,
    /// The task's input.
    pub input: String,
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Runtime<S, Q, T, F, C> {
    /// CreateActivity in `region` (default: the runtime's): the activity of that name, created
    /// if it does not exist yet (creating it again answers the existing one, as AWS does).
    pub async fn create_activity(&self, name: &str, region: Option<&str>) -> Result<Activity, Error> {
        check_name(name)?;
        let arn = activity_arn(region.unwrap_or(&self.config.region), &self.config.account, name);
        if let Some(existing) = self.store.get_activity(&arn).await? {
            return Ok(existing);
        }
        let activity = Activity { arn, name: name.to_string(), created: self.clock.now(), tags: Vec::new() };
        self.store.put_activity(&activity).await?;
        Ok(activity)
    }

    /// DescribeActivity: `ActivityDoesNotExist` when there is none.
    pub async fn describe_activity(&self, arn: &str) -> Result<Activity, Error> {
        self.store.get_activity(arn).await?.ok_or_else(|| Error::no_activity(arn))
    }

    /// ListActivities: every activity, oldest first.
    pub async fn list_activities(&self) -> Result<Vec<Activity>, Error> {
        self.store.list_activities().await
    }

    /// DeleteActivity (an unknown activity is not an error). Tasks already scheduled stay for
    /// workers to take or to time out.
    pub async fn delete_activity(&self, arn: &str) -> Result<(), Error> {
        self.store.delete_activity(arn).await
    }

    /// Queues an activity task for workers; `ActivityDoesNotExist` when the activity is gone.
    /// `dedup` keeps a redone schedule single.
    pub(super) async fn queue_activity_task(
        &self,
        activity_arn: &str,
        token: &str,
        input: &str,
        dedup: &str,
    ) -> Result<(), Error> {
        if self.store.get_activity(activity_arn).await?.is_none() {
            return Err(Error::no_activity(activity_arn));
        }
        let task = PendingActivityTask {
            activity_arn: activity_arn.to_string(),
            id: dedup.to_string(),
            body: json!({"taskToken": token, "input": input}).to_string(),
            created: self.clock.now(),
        };
        self.store.push_activity_task(&task).await
    }

    /// GetActivityTask: waits up to `wait` (AWS: 60 s) for a task of `activity_arn`; `None` when
    /// none came. The execution records `ActivityStarted` with `worker_name`.
    pub async fn get_activity_task(
        &self,
        activity_arn: &str,
        worker_name: Option<&str>,
        wait: Duration,
    ) -> Result<Option<ActivityTask>, Error> {
        self.describe_activity(activity_arn).await?;
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(2);
        loop {
            while let Some(task) = self.store.take_activity_task(activity_arn).await? {
                let body: Value = serde_json::from_str(&task.body).unwrap_or_default();
                let (Some(token), Some(input)) = (body["taskToken"].as_str(), body["input"].as_str()) else {
                    continue;
                };
                // A task that ended while it waited (timed out, stopped) is nobody's now.
                let Ok(entry) = self.running_task(token).await else { continue };
                let started = TaskOutcome::Started { worker_name: worker_name.map(str::to_string) };
                self.send_outcome(&entry, started, &format!("{}#started", token_hash(token))).await?;
                self.await_started(&entry, deadline).await?;
                return Ok(Some(ActivityTask { token: token.to_string(), input: input.to_string() }));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Waits until the execution has recorded the start of a taken task, so that the worker's
    /// answer cannot reach the execution first (queues such as SQS do not keep order) and
    /// `ActivityStarted` keeps the worker's name. The poll's own deadline bounds the wait (a
    /// GetActivityTask never answers later than its wait; a caller that drives the execution
    /// itself passes none), as does [`Config::token_commit_wait`](crate::Config). A task that
    /// ended meanwhile ends the wait; a driver too slow to record the start is not an error:
    /// the stepper records it, without the name, when the answer comes first.
    async fn await_started(&self, entry: &TokenEntry, poll_deadline: Instant) -> Result<(), Error> {
        let deadline = poll_deadline.min(Instant::now() + self.config.token_commit_wait);
        let mut pause = Duration::from_millis(1);
        loop {
            let stored = self.store.load(&entry.execution_arn).await?;
            let waiting = stored.as_ref().is_some_and(|s| {
                matches!(s.execution.frames.get(entry.frame).map(|f| &f.phase),
                    Some(Phase::Running(rt)) if rt.task == entry.task && !rt.started)
            });
            if !waiting || Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}
