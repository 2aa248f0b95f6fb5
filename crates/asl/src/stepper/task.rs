//! Task states: resolving the request (Parameters/Arguments, timeouts, the task token),
//! recording the integration's history events, and consuming its outcome, heartbeat or
//! timeout. The runtime performs the request ([`super::Effect::Invoke`]) and reports back with
//! [`super::Event::Task`].
//!
//! [`TaskRequest`] is the contract with the integrations (`crate::integrations`), which
//! classify the Resource ([`Integration::of`]) and perform the request.

use super::{exceeds_size, Effect, Failure, Frame, Phase, RunningTask, Stepper, TaskOutcome, MAX_PAYLOAD_BYTES};
use crate::integrations::Integration;
use crate::model::{State, TaskSpec};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What the runtime must do for a Task state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRequest {
    /// The frame waiting for it.
    pub frame: usize,
    /// Task id to quote in the result.
    pub task: u64,
    /// The state's name.
    pub state_name: String,
    /// Resource ARN as written.
    pub resource: String,
    /// Which integration.
    pub integration: Integration,
    /// Whether the task ends only with a task token callback.
    pub wait_for_task_token: bool,
    /// Resolved parameters (the function input for bare Lambda ARNs).
    pub parameters: Value,
    /// The task token, for `.waitForTaskToken`.
    pub token: Option<String>,
    /// TimeoutSeconds, if any.
    pub timeout_seconds: Option<u64>,
    /// HeartbeatSeconds, if any.
    pub heartbeat_seconds: Option<u64>,
    /// `Credentials` resolved (`{"RoleArn": ARN}`): the call is made as that role.
    pub credentials: Option<Value>,
}

impl Stepper<'_> {
    pub(super) fn run_task(&mut self, frame: usize, st: &State, spec: &TaskSpec) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let (integration, wait) = Integration::of(&spec.resource);
        // `.sync` tasks have a token too: `$$.Task.Token` is there, and SendTaskSuccess with it
        // ends the task before the child does (as on AWS).
        let sync =
            matches!(integration, Integration::StatesStartExecutionSync | Integration::StatesStartExecutionSync2);
        // Activity tasks are answered with a token too (SendTaskSuccess from the worker).
        let token = if wait || sync || integration == Integration::Activity { Some(self.new_token()) } else { None };
        let extra = token.as_ref().map(|t| ("Task", json!({"Token": t})));
        let params = self.parameters(frame, st, effective.clone(), extra)?;
        let timeout = self.resolve_int(frame, st, &spec.timeout, &effective, "TimeoutSeconds")?;
        let heartbeat = self.resolve_int(frame, st, &spec.heartbeat, &effective, "HeartbeatSeconds")?;
        let credentials = self.credentials(frame, st, spec, &effective)?;
        let task = self.next_seq();
        let request = TaskRequest {
            frame,
            task,
            state_name: st.name.clone(),
            resource: spec.resource.clone(),
            integration,
            wait_for_task_token: wait,
            parameters: params.clone(),
            token,
            timeout_seconds: timeout.map(|t| t.max(0) as u64),
            heartbeat_seconds: heartbeat.map(|t| t.max(0) as u64),
            credentials: credentials.clone(),
        };
        if integration == Integration::LambdaArn {
            let mut d = json!({"input": params, "inputDetails": {"truncated": false}, "resource": spec.resource});
            if let (Some(t), Some(o)) = (timeout, d.as_object_mut()) {
                o.insert("timeoutInSeconds".into(), t.into());
            }
            self.emit(frame, "LambdaFunctionScheduled", Some(d));
            self.emit(frame, "LambdaFunctionStarted", None);
        } else if integration == Integration::Activity {
            // ActivityScheduled once the runtime queued it (a missing activity records none).
        } else {
            let (rty, res) = integration.names(&spec.resource);
            let region = spec.resource.split(':').nth(3).filter(|r| !r.is_empty()).map(String::from);
            let region =
                region.unwrap_or_else(|| self.x.info.state_machine_arn.split(':').nth(3).unwrap_or("").to_string());
            let mut d = Map::new();
            d.insert("parameters".into(), params);
            d.insert("region".into(), region.into());
            d.insert("resource".into(), res.clone().into());
            d.insert("resourceType".into(), rty.clone().into());
            if let Some(t) = timeout {
                d.insert("timeoutInSeconds".into(), t.into());
            }
            if let Some(h) = heartbeat {
                d.insert("heartbeatInSeconds".into(), h.into());
            }
            if let Some(role) = credentials.as_ref().and_then(|c| c.get("RoleArn")) {
                d.insert("taskCredentials".into(), json!({"roleArn": role}));
            }
            self.emit(frame, "TaskScheduled", Some(Value::Object(d)));
            self.emit(frame, "TaskStarted", Some(json!({"resource": res, "resourceType": rty})));
        }
        if let Some(mocked) = self.x.mocks.as_mut().and_then(|m| m.next_call(&st.name)) {
            self.mocked_task(frame, request, mocked);
            return Ok(());
        }
        let timeout_timer = timeout.map(|t| self.start_timer(frame, t));
        let heartbeat_timer = heartbeat.map(|h| self.start_timer(frame, h));
        self.effects.push(Effect::Invoke(Box::new(request.clone())));
        self.x.frames[frame].phase = Phase::Running(Box::new(RunningTask {
            task,
            request,
            timeout_timer,
            heartbeat_timer,
            submitted: false,
            started: false,
            child: None,
        }));
        Ok(())
    }

    /// A mocked Task (the execution's test case answers for it): the outcome is applied at
    /// once, with the history of a real call (an activity scheduled and started; a
    /// `.waitForTaskToken` or `.sync` task's mocked response is the task's result).
    fn mocked_task(&mut self, frame: usize, request: TaskRequest, mocked: crate::mock::MockOutcome) {
        let task = request.task;
        let activity = request.integration == Integration::Activity;
        self.x.frames[frame].phase = Phase::Running(Box::new(RunningTask {
            task,
            request,
            timeout_timer: None,
            heartbeat_timer: None,
            submitted: false,
            started: false,
            child: None,
        }));
        if activity {
            self.task_outcome(frame, task, TaskOutcome::Submitted(Value::Null));
            self.task_outcome(frame, task, TaskOutcome::Started { worker_name: None });
        }
        let outcome = match mocked {
            crate::mock::MockOutcome::Return(v) => TaskOutcome::Succeeded(v),
            crate::mock::MockOutcome::Throw { error, cause } => TaskOutcome::Failed { error: Some(error), cause },
        };
        self.task_outcome(frame, task, outcome);
    }

    /// The Task's `Credentials` with its `RoleArn` resolved: a literal, `RoleArn.$` (a path on
    /// the state's input or the context) or a JSONata expression.
    fn credentials(
        &mut self,
        frame: usize,
        st: &State,
        spec: &TaskSpec,
        effective: &Value,
    ) -> Result<Option<Value>, Failure> {
        let Some(given) = &spec.credentials else { return Ok(None) };
        let resolved = if super::context::is_jsonata(st) {
            let t = crate::jsonata::Template::compile(given).map_err(|e| self.runtime(frame, e))?;
            let states = self.states_var(frame, effective, None, &[]);
            self.jeval(frame, &t, "Credentials", &states)?
        } else {
            let t = crate::payload::Template::compile(given).map_err(|e| self.runtime(frame, e))?;
            self.template(frame, &t, effective, None)?
        };
        Ok(Some(resolved))
    }

    /// A task token: 192 random bits, URL-safe base64.
    fn new_token(&mut self) -> String {
        use base64::Engine;
        let mut bytes = Vec::with_capacity(24);
        for _ in 0..3 {
            bytes.extend_from_slice(&self.env.random().to_le_bytes());
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The task's TimeoutSeconds or HeartbeatSeconds timer fired. Either is `States.Timeout`:
    /// AWS reports an expired HeartbeatSeconds so too (recorded), not `States.HeartbeatTimeout`.
    pub(super) fn task_timed_out(&mut self, frame: usize) {
        let phase = std::mem::replace(&mut self.x.frames[frame].phase, Phase::Ready);
        self.stop_child(&phase);
        let Phase::Running(rt) = phase else { return };
        let error = "States.Timeout";
        let ty = match rt.request.integration {
            Integration::LambdaArn => "LambdaFunctionTimedOut",
            Integration::Activity => "ActivityTimedOut",
            _ => "TaskTimedOut",
        };
        let mut d = Map::new();
        if !matches!(rt.request.integration, Integration::LambdaArn | Integration::Activity) {
            let (rty, res) = rt.request.integration.names(&rt.request.resource);
            d.insert("resourceType".into(), rty.into());
            d.insert("resource".into(), res.into());
        }
        d.insert("error".into(), error.into());
        self.emit(frame, ty, Some(Value::Object(d)));
        self.handle_error(frame, Failure::from_parts(Some(error.into()), None));
    }

    /// A task's outcome arrived; ignored unless the frame still runs that task.
    pub(super) fn task_outcome(&mut self, frame: usize, task: u64, outcome: TaskOutcome) {
        if matches!(self.x.frames.get(frame), Some(Frame { phase: Phase::MapRun(_), .. })) {
            return self.map_run_ended(frame, task, outcome);
        }
        let Some(Frame { phase: Phase::Running(rt), .. }) = self.x.frames.get(frame) else {
            return;
        };
        if rt.task != task {
            return;
        }
        let lambda = rt.request.integration == Integration::LambdaArn;
        let activity = rt.request.integration == Integration::Activity;
        let (rty, res) = rt.request.integration.names(&rt.request.resource);
        if activity
            && rt.submitted
            && !rt.started
            && matches!(outcome, TaskOutcome::Succeeded(_) | TaskOutcome::Failed { .. })
        {
            // The worker's answer overtook the message of its GetActivityTask (queues such as
            // SQS do not keep order): a task is answered only once taken, so its start is
            // recorded first (the late message then finds the task over and is ignored).
            self.task_outcome(frame, task, TaskOutcome::Started { worker_name: None });
            return self.task_outcome(frame, task, outcome);
        }
        match outcome {
            TaskOutcome::Started { worker_name } => {
                if activity && !rt.started {
                    let d = match worker_name {
                        Some(w) => json!({"workerName": w}),
                        None => json!({}),
                    };
                    if let Phase::Running(rt) = &mut self.x.frames[frame].phase {
                        rt.started = true;
                    }
                    self.emit(frame, "ActivityStarted", Some(d));
                }
            }
            TaskOutcome::Submitted(_) if activity && !rt.submitted => {
                let req = &rt.request;
                let mut d = Map::new();
                if let Some(h) = req.heartbeat_seconds {
                    d.insert("heartbeatInSeconds".into(), h.into());
                }
                d.insert("input".into(), req.parameters.clone());
                d.insert("inputDetails".into(), json!({"truncated": false}));
                d.insert("resource".into(), req.resource.clone().into());
                if let Some(t) = req.timeout_seconds {
                    d.insert("timeoutInSeconds".into(), t.into());
                }
                if let Phase::Running(rt) = &mut self.x.frames[frame].phase {
                    rt.submitted = true;
                }
                self.emit(frame, "ActivityScheduled", Some(Value::Object(d)));
            }
            TaskOutcome::Failed { cause, .. } if activity && !rt.submitted => {
                // The activity could not be scheduled (it does not exist): States.Runtime.
                self.x.frames[frame].phase = Phase::Ready;
                let f = self.runtime(frame, cause.unwrap_or_default());
                self.handle_error(frame, f);
            }
            TaskOutcome::Heartbeat => {
                if let Some(h) = rt.request.heartbeat_seconds {
                    let id = self.start_timer(frame, h as i64);
                    if let Phase::Running(rt) = &mut self.x.frames[frame].phase {
                        rt.heartbeat_timer = Some(id);
                    }
                }
            }
            TaskOutcome::Submitted(_) if rt.submitted => {} // duplicate delivery
            TaskOutcome::Submitted(output) => {
                if let Phase::Running(rt) = &mut self.x.frames[frame].phase {
                    rt.submitted = true;
                    let sync = matches!(
                        rt.request.integration,
                        Integration::StatesStartExecutionSync | Integration::StatesStartExecutionSync2
                    );
                    if sync {
                        rt.child = output.get("ExecutionArn").and_then(Value::as_str).map(str::to_string);
                    }
                }
                self.emit(
                    frame,
                    "TaskSubmitted",
                    Some(json!({"output": output, "outputDetails": {"truncated": false}, "resource": res, "resourceType": rty})),
                );
            }
            TaskOutcome::Succeeded(output) if exceeds_size(&output, MAX_PAYLOAD_BYTES) => {
                let who = if lambda { rt.request.resource.clone() } else { rty.clone() };
                let cause = format!(
                    "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
                );
                self.task_outcome(
                    frame,
                    task,
                    TaskOutcome::Failed { error: Some("States.DataLimitExceeded".into()), cause: Some(cause) },
                );
            }
            TaskOutcome::Succeeded(output) => {
                self.x.frames[frame].phase = Phase::Ready;
                self.note("result", &output);
                if activity {
                    self.emit(
                        frame,
                        "ActivitySucceeded",
                        Some(json!({"output": output, "outputDetails": {"truncated": false}})),
                    );
                } else if lambda {
                    self.emit(
                        frame,
                        "LambdaFunctionSucceeded",
                        Some(json!({"output": output, "outputDetails": {"truncated": false}})),
                    );
                } else {
                    self.emit(
                        frame,
                        "TaskSucceeded",
                        Some(json!({"output": output, "outputDetails": {"truncated": false}, "resource": res, "resourceType": rty})),
                    );
                }
                let st = self.state(frame);
                match self.process_result(frame, st, output) {
                    Ok(out) => self.exit_state(frame, out),
                    Err(f) => self.state_failed(frame, f),
                }
            }
            TaskOutcome::Failed { error, cause } => {
                self.x.frames[frame].phase = Phase::Ready;
                let failure = Failure::from_parts(error, cause);
                let mut d = failure.details_cause_first();
                if activity {
                    self.emit(frame, "ActivityFailed", Some(Value::Object(d)));
                } else if lambda {
                    self.emit(frame, "LambdaFunctionFailed", Some(Value::Object(d)));
                } else {
                    d.insert("resource".into(), res.into());
                    d.insert("resourceType".into(), rty.into());
                    self.emit(frame, "TaskFailed", Some(Value::Object(d)));
                }
                self.handle_error(frame, failure);
            }
        }
    }
}
