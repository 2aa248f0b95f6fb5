//! The Map Run operations: ListMapRuns, DescribeMapRun, UpdateMapRun, and ListExecutions by
//! `mapRunArn` (a Distributed Map's child executions).

use crate::{epoch_seconds, page, with_next, Api, ApiError, ApiResult, Body};
use serde_json::{json, Value};
use stepwise_asl::map_run::{MapRun, RunStatus};
use stepwise_runtime::aws::check_arn;
use stepwise_runtime::driver::UpdateMapRun;
use stepwise_runtime::ports::{Clock, ExecutionStatus, Functions, Queue, Store, Topics};

/// The page token of a Map Run's children listing: the index to continue below.
const CHILD_TOKEN: &str = "stepwise-children-";

fn counts(run: &MapRun, items: bool) -> Value {
    let c = &run.counts;
    let (total, succeeded) = if items && run.items != run.total {
        // Batched: children carry several items; an ended run accounts for all of them.
        let all_done = run.status == RunStatus::Succeeded && c.succeeded == run.total;
        (run.items, if all_done { run.items } else { c.succeeded })
    } else {
        (run.total, c.succeeded)
    };
    let started = run.next;
    let ended = c.succeeded + c.failed + c.timed_out + c.aborted;
    let pending = run.total.saturating_sub(started.max(ended));
    json!({
        "pending": if items && run.items != run.total { total.saturating_sub(succeeded + c.failed + c.timed_out + c.aborted + c.running) } else { pending },
        "running": c.running,
        "succeeded": succeeded,
        "failed": c.failed,
        "timedOut": c.timed_out,
        "aborted": c.aborted,
        "total": total,
        "resultsWritten": run.results_written,
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    })
}

fn listed(run: &MapRun) -> Value {
    let mut v = json!({
        "executionArn": run.execution_arn,
        "mapRunArn": run.arn,
        "stateMachineArn": run.state_machine_arn,
        "startDate": epoch_seconds(run.start_date),
    });
    if let Some(t) = run.stop_date {
        v["stopDate"] = epoch_seconds(t);
    }
    v
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Api<'_, S, Q, T, F, C> {
    /// The Map Run operations; `None` for any other operation.
    pub(crate) async fn map_run_call(&self, op: &str, b: &Body) -> Option<ApiResult> {
        Some(match op {
            "ListMapRuns" => self.list_map_runs(b).await,
            "DescribeMapRun" => self.describe_map_run(b).await,
            "UpdateMapRun" => self.update_map_run(b).await,
            _ => return None,
        })
    }

    fn map_run_arn(b: &Body) -> Result<String, ApiError> {
        let arn = b.required("mapRunArn")?;
        check_arn(&arn, &["mapRun"])?;
        Ok(arn)
    }

    async fn list_map_runs(&self, b: &Body) -> ApiResult {
        let arn = b.required("executionArn")?;
        check_arn(&arn, &["execution", "express"])?;
        let (max, offset) = (b.max_results(100)?, b.offset()?);
        let runs = self.rt.list_map_runs(&arn).await?;
        let (items, next) = page(runs, offset, max);
        Ok(with_next(json!({"mapRuns": items.iter().map(listed).collect::<Vec<_>>()}), next))
    }

    async fn describe_map_run(&self, b: &Body) -> ApiResult {
        let run = self.rt.describe_map_run(&Self::map_run_arn(b)?).await?;
        let mut d = json!({
            "mapRunArn": run.arn,
            "executionArn": run.execution_arn,
            "status": run.status.as_str(),
            "startDate": epoch_seconds(run.start_date),
            "maxConcurrency": run.max_concurrency,
            "toleratedFailurePercentage": run.tolerated_pct.unwrap_or(0.0),
            "toleratedFailureCount": run.tolerated_count.unwrap_or(0),
            "itemCounts": counts(&run, true),
            "executionCounts": counts(&run, false),
            "redriveCount": 0,
        });
        if let Some(t) = run.stop_date {
            d["stopDate"] = epoch_seconds(t);
        }
        Ok(d)
    }

    async fn update_map_run(&self, b: &Body) -> ApiResult {
        let arn = Self::map_run_arn(b)?;
        let number = |name: &str| -> Result<Option<f64>, ApiError> {
            match b.0.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(_) => Err(ApiError::serialization(format!("'{name}' must be a number"))),
            }
        };
        let update = UpdateMapRun {
            max_concurrency: number("maxConcurrency")?.map(|v| v as i64),
            tolerated_failure_count: number("toleratedFailureCount")?.map(|v| v as i64),
            tolerated_failure_percentage: number("toleratedFailurePercentage")?,
        };
        self.rt.update_map_run(&arn, update).await?;
        Ok(json!({}))
    }

    /// ListExecutions with `mapRunArn`: the run's children, newest first.
    pub(crate) async fn list_map_run_executions(&self, b: &Body, status: Option<ExecutionStatus>) -> ApiResult {
        let arn = Self::map_run_arn(b)?;
        if b.present("stateMachineArn") {
            return Err(ApiError::validation("You can specify either a mapRunArn or a stateMachineArn, but not both."));
        }
        let before = match b.string("nextToken")? {
            None => None,
            Some(t) => Some(
                t.strip_prefix(CHILD_TOKEN)
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| ApiError::bad("InvalidToken", format!("Invalid Token: '{t}'")))?,
            ),
        };
        let run = self.rt.describe_map_run(&arn).await?;
        let page = self.rt.list_map_run_children(&arn, status, b.max_results(100)?, before).await?;
        let mut rows = Vec::with_capacity(page.executions.len());
        for s in &page.executions {
            let x = &s.execution;
            let mut row = json!({
                "executionArn": x.info.execution_arn,
                "stateMachineArn": run.state_machine_arn,
                "name": x.info.name,
                "status": x.status.as_str(),
                "startDate": epoch_seconds(x.start_time),
                "mapRunArn": arn,
            });
            if let Some(t) = s.stop_date {
                row["stopDate"] = epoch_seconds(t);
            }
            rows.push(row);
        }
        Ok(with_next(json!({"executions": rows}), page.next.map(|i| format!("{CHILD_TOKEN}{i}"))))
    }
}
