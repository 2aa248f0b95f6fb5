//! The SQS-triggered handlers: the step driver, the approval callback, and StartExecution from a
//! queue. Each handles a batch's records concurrently — a record waiting on a long Lambda Task
//! holds back none of the others — and reports the records to deliver again as partial batch
//! failures (`FunctionResponseTypes: [ReportBatchItemFailures]`): a record not listed is deleted.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use std::future::Future;
use stepwise_api::{start, Started};
use stepwise_asl::stepper::Event;
use stepwise_runtime::ports::{Clock, Functions, Queue, StepMessage, Store, Topics, STEP_QUEUE};
use stepwise_runtime::{Error, Missing, Runtime};
use tracing::field::Empty;
use tracing::{error, info, info_span, warn, Instrument};

pub use stepwise_api::StartExecutionInput;

/// Handles the records of a batch concurrently with `handle`, which says whether the record
/// failed (each handler logs inside its own span); the failed ones are reported in
/// `batch_item_failures` (in batch order), so SQS delivers them again, and the others are
/// deleted. Records of one execution may race: its commits are conditional (a loser reloads and
/// retries), so the outcome is the same as one after the other.
async fn each_record<'a, Fut>(event: &'a SqsEvent, handle: impl FnMut(&'a SqsMessage) -> Fut) -> SqsBatchResponse
where
    Fut: Future<Output = bool>,
{
    let failed = futures_util::future::join_all(event.records.iter().map(handle)).await;
    let mut failures = Vec::new();
    for (record, failed) in event.records.iter().zip(failed) {
        if !failed {
            continue;
        }
        match &record.message_id {
            Some(id) => failures.push(BatchItemFailure { item_identifier: id.clone() }),
            // Without an id the record cannot be named; failing the whole batch would redo the
            // others, so it is only logged.
            None => error!("a failed SQS record has no messageId: it cannot be reported for redelivery"),
        }
    }
    SqsBatchResponse { batch_item_failures: failures }
}

fn event_kind(event: &Event) -> (&'static str, Option<usize>) {
    match event {
        Event::Start => ("Start", Some(0)),
        Event::Advance { frame, .. } => ("Advance", Some(*frame)),
        Event::Task { frame, .. } => ("Task", Some(*frame)),
        Event::Stop { .. } => ("Stop", None),
        Event::Terminate { .. } => ("Terminate", None),
        Event::Redrive { .. } => ("Redrive", None),
        Event::Items { frame, .. } => ("Items", Some(*frame)),
        Event::Run(_) => ("Run", None),
    }
}

/// The step driver: each record's body is a [`StepMessage`], handled with
/// [`Runtime::handle`] (one transition). A record whose handling fails, or whose body is not a
/// step message, is reported in `batch_item_failures`, so SQS delivers it again (and moves it to
/// the dead-letter queue after the queue's `maxReceiveCount`); the others are deleted. A failed
/// record is made visible again after a backoff ([`retry_after`]) rather than the queue's whole
/// visibility timeout, which is long enough to wait for a 15-minute Lambda Task. Records are
/// handled concurrently — except a Map Run's events, which are applied together first, in one
/// step of the run each ([`Runtime::handle_messages`]).
pub async fn step_driver<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock>(
    rt: &Runtime<S, Q, T, F, C>,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut run_ids = Vec::new();
    let mut run_msgs = Vec::new();
    for record in &event.records {
        let body = record.body.as_deref().unwrap_or_default();
        if let Ok(msg) = serde_json::from_str::<StepMessage>(body) {
            if matches!(msg.event, Event::Run(_)) {
                run_ids.push(record.message_id.clone().unwrap_or_default());
                run_msgs.push(msg);
            }
        }
    }
    let mut run_failed = std::collections::HashSet::new();
    for ((id, msg), r) in run_ids.iter().zip(&run_msgs).zip(rt.handle_messages(&run_msgs).await) {
        let span =
            info_span!("step", execution_arn = %msg.execution_arn, state = Empty, message_id = %id, event = "Run");
        span.in_scope(|| match r {
            Ok(outcome) => info!(outcome = ?outcome, "Map Run event handled"),
            Err(e) => {
                error!(error = %e, code = e.code(), "Map Run event not handled (it will be delivered again)");
                run_failed.insert(id.clone());
            }
        });
    }
    let (run_ids, run_failed) = (&run_ids, &run_failed);
    each_record(&event, |record| async move {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        if run_ids.iter().any(|id| id == message_id) {
            return run_failed.contains(message_id);
        }
        let body = record.body.as_deref().unwrap_or_default();
        let msg: StepMessage = match rt.step_message(body).await {
            Ok(m) => m,
            Err(e) => {
                let span = info_span!("step", execution_arn = Empty, state = Empty, message_id);
                span.in_scope(|| error!(error = %e, "the record's body is not a step message"));
                return true;
            }
        };
        let (kind, frame) = event_kind(&msg.event);
        let span =
            info_span!("step", execution_arn = %msg.execution_arn, state = Empty, message_id, event = kind, frame);
        let handled = rt.handle(&msg).instrument(span.clone()).await;
        let failed = span.in_scope(|| match handled {
            Ok(outcome) => {
                info!(outcome = ?outcome, "step message handled");
                false
            }
            Err(e) => {
                error!(error = %e, code = e.code(), "step message not handled (it will be delivered again)");
                true
            }
        });
        if failed {
            if let Some(receipt) = &record.receipt_handle {
                let after = retry_after(record);
                if let Err(e) = rt.queue().release(STEP_QUEUE, receipt, after).await {
                    span.in_scope(|| warn!(error = %e, "the failed record keeps the queue's visibility timeout"));
                }
            }
        }
        failed
    })
    .await
}

/// How long a failed step record waits before it is delivered again: 1, 2, 4, ... seconds by
/// its receive count (SQS's `ApproximateReceiveCount`), at most a minute.
pub fn retry_after(record: &SqsMessage) -> std::time::Duration {
    let count = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse::<u32>().ok()).unwrap_or(1);
    std::time::Duration::from_secs(1u64 << count.saturating_sub(1).min(6)).min(std::time::Duration::from_secs(60))
}

/// The sample's approval callback (ApproveSqsLambda): reads the task token from each record's
/// body (`{"Input": ..., "TaskToken": "..."}`, [`stepwise_sample::approval_token`]) and sends
/// it back with `SendTaskSuccess` and [`stepwise_sample::APPROVAL_OUTPUT`]. A token whose task
/// is over (`TaskTimedOut`) or unknown (`TaskDoesNotExist`) can never succeed: it is logged and
/// the record deleted. Any other error (a body without a token, a store or queue failure) makes
/// the record a batch item failure.
pub async fn approval_callback<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock>(
    rt: &Runtime<S, Q, T, F, C>,
    event: SqsEvent,
) -> SqsBatchResponse {
    each_record(&event, |record| {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let span = info_span!("approval", execution_arn = Empty, state = Empty, message_id);
        async move {
            let body = record.body.as_deref().unwrap_or_default();
            let token = match stepwise_sample::approval_token(body) {
                Ok(t) => t,
                Err(e) => {
                    error!(error_type = %e.error_type, error = %e.error_message, "the approval request has no usable task token");
                    return true;
                }
            };
            rt.trace_token(&token).await;
            match rt.send_task_success(&token, stepwise_sample::APPROVAL_OUTPUT).await {
                Ok(()) => {
                    info!(output = stepwise_sample::APPROVAL_OUTPUT, "task approved");
                    false
                }
                Err(e @ (Error::TaskTimedOut(_) | Error::NotFound { what: Missing::Task, .. })) => {
                    warn!(error = %e, code = e.code(), "the approval came too late or for an unknown task: dropped");
                    false
                }
                Err(e) => {
                    error!(error = %e, code = e.code(), "the approval was not sent (it will be delivered again)");
                    true
                }
            }
        }
        .instrument(span)
    })
    .await
}

/// StartExecution from a queue: each record's body is a [`StartExecutionInput`]
/// (`{"stateMachineArn", "name"?, "input"?}`). The default name is the SQS message id, so a
/// redelivered message does not start a second execution (a start repeated with the same name
/// and input succeeds, as AWS's idempotent StartExecution). A record that cannot be started is
/// a batch item failure (it ends in the dead-letter queue, where its sender can find it).
pub async fn start_execution_sqs<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock>(
    rt: &Runtime<S, Q, T, F, C>,
    event: SqsEvent,
) -> SqsBatchResponse {
    each_record(&event, |record| async move {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = info_span!("start_execution", execution_arn = Empty, state = Empty, message_id = %message_id);
        let result: Result<Started, Error> = async {
            let body = record.body.as_deref().unwrap_or_default();
            let req: StartExecutionInput = serde_json::from_str(body)
                .map_err(|e| Error::validation(format!("the message body is not a StartExecution request: {e}")))?;
            let default_name = if message_id.is_empty() { stepwise_api::uuid_v4() } else { message_id.clone() };
            start(rt, &req, || default_name, true).await
        }
        .instrument(span.clone())
        .await;
        match result {
            Ok(_) => false,
            Err(e) => {
                span.in_scope(|| error!(error = %e, code = e.code(), "the execution was not started"));
                true
            }
        }
    })
    .await
}
