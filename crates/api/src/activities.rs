//! The activity operations: CreateActivity, DescribeActivity, ListActivities, DeleteActivity
//! and GetActivityTask (a long poll of up to 60 seconds, as AWS's). Workers answer with
//! SendTaskSuccess/Failure/Heartbeat and the token GetActivityTask gave them.

use crate::{epoch_seconds, page, with_next, Api, ApiError, ApiResult, Body};
use serde_json::{json, Value};
use stepwise_runtime::aws::{self, check_arn};
use stepwise_runtime::ports::{Activity, Clock, Functions, Queue, Store, Topics};

/// AWS's limit on `workerName`.
const WORKER_NAME_MAX: usize = 80;

fn listed(a: &Activity) -> Value {
    json!({"activityArn": a.arn, "name": a.name, "creationDate": epoch_seconds(a.created)})
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Api<'_, S, Q, T, F, C> {
    /// The activity operations; `None` for any other operation.
    pub(crate) async fn activity_call(&self, op: &str, b: &Body) -> Option<ApiResult> {
        Some(match op {
            "CreateActivity" => self.create_activity(b).await,
            "DescribeActivity" => self.describe_activity(b).await,
            "ListActivities" => self.list_activities(b).await,
            "DeleteActivity" => self.delete_activity(b).await,
            "GetActivityTask" => self.get_activity_task(b).await,
            _ => return None,
        })
    }

    async fn create_activity(&self, b: &Body) -> ApiResult {
        let name = b.required("name")?;
        let a = self.rt.create_activity(&name, Some(&self.region)).await?;
        // AWS: tags of a repeated create are not applied (idempotency ignores them).
        if a.tags.is_empty() {
            self.tag_on_create(&a.arn, b).await?;
        }
        Ok(json!({"activityArn": a.arn, "creationDate": epoch_seconds(a.created)}))
    }

    fn activity_arn(b: &Body) -> Result<String, ApiError> {
        let arn = b.required("activityArn")?;
        check_arn(&arn, &["activity"])?;
        Ok(arn)
    }

    async fn describe_activity(&self, b: &Body) -> ApiResult {
        Ok(listed(&self.rt.describe_activity(&Self::activity_arn(b)?).await?))
    }

    async fn list_activities(&self, b: &Body) -> ApiResult {
        let (max, offset) = (b.max_results(100)?, b.offset()?);
        let mut activities = self.rt.list_activities().await?;
        activities.retain(|a| stepwise_asl::arn::region_of(&a.arn) == Some(self.region.as_str()));
        let (items, next) = page(activities, offset, max);
        Ok(with_next(json!({"activities": items.iter().map(listed).collect::<Vec<_>>()}), next))
    }

    async fn delete_activity(&self, b: &Body) -> ApiResult {
        self.rt.delete_activity(&Self::activity_arn(b)?).await?;
        Ok(json!({}))
    }

    async fn get_activity_task(&self, b: &Body) -> ApiResult {
        let arn = Self::activity_arn(b)?;
        let worker = b.string("workerName")?;
        if let Some(w) = &worker {
            if w.chars().count() > WORKER_NAME_MAX {
                return Err(ApiError::validation(aws::too_long_value("workerName", w, WORKER_NAME_MAX)));
            }
        }
        let wait = self.rt.config().activity_poll;
        Ok(match self.rt.get_activity_task(&arn, worker.as_deref(), wait).await? {
            Some(task) => json!({"taskToken": task.token, "input": task.input}),
            // AWS: no task within the poll's time answers without a token.
            None => json!({}),
        })
    }
}
