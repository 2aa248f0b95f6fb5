//! The step driver on the embedded adapters, under faults.
//!
//! - A crash injected at every point of the driver (after load, after commit, after each outbox
//!   action, before acknowledge), at every step of the stock-trading sample and of corpus cases
//!   with Wait / Retry / Parallel / Map, leaves a final history identical to the fault-free run.
//! - Every step message delivered twice gives the same history.
//! - Two drivers (two connections to one database file) working one queue never lose an update.
//! - Forged, reused and expired task tokens get AWS's errors and change nothing.
//!
//! Time is a test clock shared by the driver and the queue, advanced to the next timer when
//! nothing else is ready, so waits cost nothing.

use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepwise_embedded::functions::FunctionRouter;
use stepwise_embedded::{Embedded, SqliteQueue, SqliteStore, SqliteTopics};
use stepwise_runtime::driver::{FaultHook, FaultPoint};
use stepwise_runtime::ports::{Clock, Queue, Store, STEP_QUEUE};
use stepwise_runtime::{Config, Error, Runtime};
use stepwise_testkit::masked_history;

#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn new() -> Self {
        TestClock(Arc::new(Mutex::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("time"))))
    }
    fn set(&self, t: DateTime<Utc>) {
        let mut now = self.0.lock().expect("clock");
        if t > *now {
            *now = t;
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

type Rt = Runtime<SqliteStore, SqliteQueue, SqliteTopics, FunctionRouter, TestClock>;

/// Deterministic stand-ins for the sample's functions (the real ones draw random prices).
fn sample_functions() -> FunctionRouter {
    let mut r = FunctionRouter::new();
    r.rust("CheckStockPrice", Arc::new(|_| Ok(json!({"stock_price": 42}))));
    r.rust(
        "GenerateBuySellRecommendation",
        Arc::new(|e: Value| {
            let p = e["stock_price"].as_i64().ok_or(("InvalidEvent".to_string(), "no stock_price".to_string()))?;
            Ok(json!(if p <= 50 { "buy" } else { "sell" }))
        }),
    );
    r.rust(
        "BuyStock",
        Arc::new(|e: Value| Ok(json!({"id": "t-1", "price": e["stock_price"], "type": "buy", "qty": 7}))),
    );
    r.rust(
        "SellStock",
        Arc::new(|e: Value| Ok(json!({"id": "t-1", "price": e["stock_price"], "type": "sell", "qty": 7}))),
    );
    r
}

fn runtime(emb: &Embedded, clock: &TestClock, faults: Option<FaultHook>) -> Rt {
    let emb = emb.clone().with_clock(Arc::new(clock.clone()));
    let rt = Runtime::new(
        emb.store,
        emb.queue,
        emb.topics,
        sample_functions(),
        clock.clone(),
        Config { visibility: Duration::ZERO, ..Config::default() },
    );
    match faults {
        Some(h) => rt.with_faults(h),
        None => rt,
    }
}

/// Crashes once, at the `nth` message handled (1-based), at `point`.
fn crash_at(nth: usize, point: FaultPoint) -> (FaultHook, Arc<AtomicUsize>) {
    let loads = Arc::new(AtomicUsize::new(0));
    let fired = Arc::new(AtomicUsize::new(0));
    let l = loads.clone();
    let hook: FaultHook = Arc::new(move |_arn: &str, p: FaultPoint| {
        if p == FaultPoint::AfterLoad {
            l.fetch_add(1, Ordering::SeqCst);
        }
        let hit = l.load(Ordering::SeqCst) == nth && p == point && fired.load(Ordering::SeqCst) == 0;
        if hit {
            fired.fetch_add(1, Ordering::SeqCst);
        }
        hit
    });
    (hook, loads)
}

/// Runs the queue dry: handles step messages one at a time; approves callback-queue messages;
/// advances the clock to the next timer when nothing is ready. A crash "restarts" the process:
/// a fresh runtime on the same database, without the fault. `duplicate` sends every handled
/// message again.
async fn drive(emb: &Embedded, clock: &TestClock, mut rt: Rt, arn: &str, duplicate: bool) -> Result<usize, Error> {
    let mut crashes = 0;
    let mut copies = std::collections::HashSet::new();
    for _ in 0..10_000 {
        let msgs = rt.queue().receive(STEP_QUEUE, 1, Duration::ZERO).await?;
        if let Some(m) = msgs.into_iter().next() {
            if std::env::var_os("DEBUG_DRIVE").is_some() {
                eprintln!("msg {} rc={} {}", m.id, m.receive_count, &m.body[..m.body.len().min(200)]);
            }
            match rt.process(&m).await {
                Ok(_) => {
                    if duplicate && !copies.contains(&m.id) {
                        let copy = rt.queue().send(STEP_QUEUE, &m.body, Duration::ZERO, None).await?;
                        copies.insert(copy);
                    }
                }
                Err(Error::InjectedCrash(_)) => {
                    crashes += 1;
                    rt = runtime(emb, clock, None);
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        // the approval callback
        let approvals = rt.queue().receive("RequestHumanApprovalQueue", 10, Duration::from_secs(3600)).await?;
        if !approvals.is_empty() {
            for m in approvals {
                let token = stepwise_sample::approval_token(&m.body).map_err(|e| Error::validation(e.to_string()))?;
                match rt.send_task_success(&token, stepwise_sample::APPROVAL_OUTPUT).await {
                    // A request whose step was redone after a crash before its commit carries a
                    // token never committed: refused, and dropped (the redone step sent its own).
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
                rt.queue().ack("RequestHumanApprovalQueue", &m.receipt).await?;
            }
            continue;
        }
        if rt.describe(arn).await?.execution.status.as_str() != "RUNNING" {
            // drain: messages left (late timers) must be no-ops
            continue_drain(&rt).await?;
            return Ok(crashes);
        }
        let next = rt.queue().next_visible_at(STEP_QUEUE)?;
        if std::env::var_os("DEBUG_DRIVE").is_some() {
            eprintln!(
                "idle: now {} next {next:?} list {:?}",
                clock.now(),
                rt.queue()
                    .list(STEP_QUEUE)?
                    .iter()
                    .filter(|x| !x.2)
                    .map(|x| (&x.0.id, x.0.receive_count))
                    .collect::<Vec<_>>()
            );
        }
        match next {
            Some(t) => clock.set(t + CDuration::milliseconds(1)),
            None => return Ok(crashes),
        }
    }
    panic!("{arn}: the execution did not finish in 10,000 rounds");
}

async fn continue_drain(rt: &Rt) -> Result<(), Error> {
    loop {
        let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await?;
        if msgs.is_empty() {
            return Ok(());
        }
        for m in msgs {
            rt.process(&m).await?;
        }
    }
}

async fn sample_machine(rt: &Rt) -> String {
    let def = stepwise_testkit::stock_trading_definition(&[]);
    rt.create_machine("stock-trading", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine").arn
}

/// One run of a machine: returns (status, masked history, crashes).
async fn run_once(
    definition: Option<&Value>,
    input: Value,
    faults: Option<FaultHook>,
    duplicate: bool,
) -> (String, Vec<Value>, usize) {
    let emb = Embedded::in_memory().expect("db");
    let clock = TestClock::new();
    let rt = runtime(&emb, &clock, faults);
    // Children for nested executions (`states:startExecution`).
    for (name, def) in [
        (
            "child-ok",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": true}}}),
        ),
        ("child-fail", json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "bad"}}})),
        ("child-wait", json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}})),
    ] {
        rt.create_machine(name, def, "arn:aws:iam::123456789012:role/r", false).await.expect("child machine");
    }
    let machine = match definition {
        Some(d) => {
            rt.create_machine("m", d.clone(), "arn:aws:iam::123456789012:role/r", false).await.expect("machine").arn
        }
        None => sample_machine(&rt).await,
    };
    let arn = rt.start_execution(&machine, "e", input).await.expect("start");
    let crashes = drive(&emb, &clock, rt, &arn, duplicate).await.expect("drive");
    let check = runtime(&emb, &clock, None);
    let status = check.describe(&arn).await.expect("describe").execution.status.as_str().to_string();
    (status, masked_history(&check, &arn).await, crashes)
}

const POINTS: [FaultPoint; 6] = [
    FaultPoint::AfterLoad,
    FaultPoint::BeforeCommit,
    FaultPoint::AfterCommit,
    FaultPoint::AfterAction(0),
    FaultPoint::AfterAction(1),
    FaultPoint::BeforeAck,
];

/// Every crash point at every step gives the fault-free history.
async fn check_faults(definition: Option<&Value>, input: Value, label: &str) -> usize {
    let (status, reference, _) = run_once(definition, input.clone(), None, false).await;
    // how many messages does a fault-free run handle?
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let counting: FaultHook = Arc::new(move |_: &str, p: FaultPoint| {
        if p == FaultPoint::AfterLoad {
            c.fetch_add(1, Ordering::SeqCst);
        }
        false
    });
    run_once(definition, input.clone(), Some(counting), false).await;
    let steps = counter.load(Ordering::SeqCst);
    let mut runs = 0;
    for nth in 1..=steps {
        for point in POINTS {
            let (hook, _) = crash_at(nth, point);
            let (st, h, _) = run_once(definition, input.clone(), Some(hook), false).await;
            assert_eq!(st, status, "{label}: crash at message {nth} {point:?} changed the status");
            assert_eq!(h, reference, "{label}: crash at message {nth} {point:?} changed the history");
            runs += 1;
        }
    }
    let (st, h, _) = run_once(definition, input, None, true).await;
    assert_eq!(st, status, "{label}: duplicate delivery changed the status");
    assert_eq!(h, reference, "{label}: duplicate delivery changed the history");
    runs
}

#[tokio::test]
async fn the_sample_survives_a_crash_at_every_point_of_every_step() {
    let (status, history, _) = run_once(None, json!({}), None, false).await;
    assert_eq!(status, "SUCCEEDED");
    let types: Vec<&str> = history.iter().filter_map(|e| e["type"].as_str()).collect();
    for state in [
        "Check Stock Price",
        "Generate Buy/Sell recommendation",
        "Request Human Approval",
        "Buy or Sell?",
        "Buy Stock",
        "Report Result",
    ] {
        assert!(
            history.iter().any(|e| e["stateEnteredEventDetails"]["name"] == state),
            "{state} not entered: {types:?}"
        );
    }
    let runs = check_faults(None, json!({}), "stock-trading").await;
    eprintln!("stock-trading: {runs} crash runs, each with the fault-free history");
    assert!(runs >= 35, "only {runs} fault runs");
}

/// Self-contained corpus cases with Wait, Retry, Parallel or Map and no Lambda functions.
fn corpus_cases() -> Vec<(String, Value, Value)> {
    let path = std::env::var_os("STEPWISE_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"))
        .join("cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} is required: {e}", path.display()));
    let mut picked = Vec::new();
    let mut per_feature = std::collections::HashMap::<&str, usize>::new();
    for line in text.lines() {
        let Ok(c) = serde_json::from_str::<Value>(line) else { continue };
        if c["self_contained"] != true
            || c["exact_comparable"] != true
            || !c["lambda_functions"].as_object().is_none_or(serde_json::Map::is_empty)
        {
            continue;
        }
        let d = c["definition"].to_string();
        if d.contains("JSONata") {
            continue;
        }
        for feature in ["\"Wait\"", "\"Retry\"", "\"Parallel\"", "\"Map\""] {
            if d.contains(feature) && per_feature.get(feature).copied().unwrap_or(0) < 3 {
                *per_feature.entry(feature).or_default() += 1;
                picked.push((c["id"].as_str().unwrap_or("?").to_string(), c["definition"].clone(), c["input"].clone()));
                break;
            }
        }
    }
    picked
}

#[tokio::test]
async fn corpus_cases_survive_a_crash_at_every_point_of_every_step() {
    let cases = corpus_cases();
    assert!(cases.len() >= 8, "only {} corpus cases picked", cases.len());
    let mut runs = 0;
    for (id, def, input) in &cases {
        runs += check_faults(Some(def), input.clone(), id).await;
    }
    eprintln!("{} corpus cases: {runs} crash runs, each with the fault-free history", cases.len());
    assert!(runs >= 100, "only {runs} fault runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_drivers_on_one_database_never_lose_an_update() {
    let dir = std::env::temp_dir().join(format!("stepwise-two-drivers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": true}}}, "End": true}}},
            {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}, "Y": {"Type": "Pass", "End": true}}}
        ], "End": true}}});
    let input = json!({"items": (0..20).collect::<Vec<_>>()});
    let clock = TestClock::new();
    let a = Embedded::open(&dir).expect("db a");
    let b = Embedded::open(&dir).expect("db b");
    let rt_a = Arc::new(runtime(&a, &clock, None));
    let rt_b = Arc::new(runtime(&b, &clock, None));
    let machine = rt_a.create_machine("m", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine").arn;
    let arn = rt_a.start_execution(&machine, "e", input).await.expect("start");
    let worker = |rt: Arc<Rt>, arn: String| async move {
        for _ in 0..100_000 {
            let msgs = rt.queue().receive(STEP_QUEUE, 2, Duration::from_secs(1)).await.expect("receive");
            if msgs.is_empty() {
                if rt.describe(&arn).await.expect("describe").execution.status.as_str() != "RUNNING" {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            for m in msgs {
                // Under heavy contention a message may give up; it comes back after the
                // visibility timeout, as on a real queue.
                let _ = rt.process(&m).await;
            }
        }
    };
    let ta = tokio::spawn(worker(rt_a.clone(), arn.clone()));
    let tb = tokio::spawn(worker(rt_b.clone(), arn.clone()));
    ta.await.expect("driver a");
    tb.await.expect("driver b");
    let stored = rt_a.describe(&arn).await.expect("describe");
    assert_eq!(stored.execution.status.as_str(), "SUCCEEDED");
    let out = match &stored.execution.status {
        stepwise_asl::stepper::Status::Succeeded { output } => output.clone(),
        _ => Value::Null,
    };
    assert_eq!(out[0], json!((0..20).collect::<Vec<_>>()), "Map results in item order");
    let h = rt_a.store().history(&arn).await.expect("history");
    let ids: Vec<u64> = h.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=h.len() as u64).collect::<Vec<_>>(), "history ids contiguous, none lost");
    // every state of every iteration and branch entered and exited once
    let count = |t: &str| h.iter().filter(|e| e.event_type == t).count();
    assert_eq!(count("PassStateEntered"), 20 * 2 + 2);
    assert_eq!(count("PassStateExited"), 20 * 2 + 2);
    assert_eq!(count("MapIterationSucceeded"), 20);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn forged_reused_and_expired_tokens_get_aws_errors_and_change_nothing() {
    let emb = Embedded::in_memory().expect("db");
    let clock = TestClock::new();
    let rt = runtime(&emb, &clock, None);
    let def = json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/Ask", "MessageBody": {"TaskToken.$": "$$.Task.Token"}},
        "TimeoutSeconds": 60, "End": true}}});
    let machine = rt.create_machine("m", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine").arn;
    let arn = rt.start_execution(&machine, "e", json!({})).await.expect("start");
    // run until the message is on the Ask queue
    for _ in 0..20 {
        for m in rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.expect("receive") {
            rt.process(&m).await.expect("process");
        }
    }
    let asks = rt.queue().receive("Ask", 1, Duration::from_secs(60)).await.expect("ask");
    let token = stepwise_sample::approval_token(&asks[0].body).expect("token");
    let before = rt.describe(&arn).await.expect("describe");

    // malformed
    assert!(matches!(rt.send_task_success("not a token!", "{}").await, Err(e) if e.code() == "InvalidToken"));
    // well-formed but forged
    let forged = "A".repeat(32);
    assert!(matches!(rt.send_task_success(&forged, "{}").await, Err(e) if e.code() == "TaskDoesNotExist"));
    // bad output
    assert!(matches!(rt.send_task_success(&token, "{not json").await, Err(e) if e.code() == "InvalidOutput"));
    assert!(matches!(
        rt.send_task_failure(&token, Some(&"e".repeat(300)), None).await,
        Err(e) if e.code() == "ValidationException"
    ));
    let after = rt.describe(&arn).await.expect("describe");
    assert_eq!(before, after, "rejected calls change nothing");
    assert!(
        rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.expect("receive").is_empty(),
        "no step message sent"
    );

    // the real one works once; a reuse is TaskTimedOut
    rt.send_task_success(&token, "\"ok\"").await.expect("success");
    assert!(matches!(rt.send_task_success(&token, "\"again\"").await, Err(Error::TaskTimedOut(_))));
    for m in rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.expect("receive") {
        rt.process(&m).await.expect("process");
    }
    let done = rt.describe(&arn).await.expect("describe");
    assert_eq!(done.execution.status, stepwise_asl::stepper::Status::Succeeded { output: json!("ok") });

    // expired: a second execution whose task times out before the token comes back
    let arn2 = rt.start_execution(&machine, "e2", json!({})).await.expect("start");
    for _ in 0..20 {
        for m in rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.expect("receive") {
            rt.process(&m).await.expect("process");
        }
    }
    let asks = rt.queue().receive("Ask", 1, Duration::from_secs(60)).await.expect("ask");
    let token2 = stepwise_sample::approval_token(&asks[0].body).expect("token");
    clock.set(clock.now() + CDuration::seconds(61));
    for m in rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.expect("receive") {
        rt.process(&m).await.expect("process");
    }
    let timed_out = rt.describe(&arn2).await.expect("describe");
    assert_eq!(timed_out.execution.status.as_str(), "FAILED");
    assert!(matches!(rt.send_task_success(&token2, "{}").await, Err(Error::TaskTimedOut(_))));
    assert!(matches!(rt.send_task_heartbeat(&token2).await, Err(Error::TaskTimedOut(_))));
    assert_eq!(rt.describe(&arn2).await.expect("describe"), timed_out, "nothing changes after expiry");
}

/// The AWS step driver sends a callback's message before the commit that records its task (one
/// commit fewer). Its consumer may answer first: the answer must wait for that commit, not be
/// refused as an unknown token (AWS never refuses a token it sent), and an answer whose commit
/// never lands gets a retryable error, not a refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_answered_before_its_commit_lands_waits_for_it() {
    let emb = Embedded::in_memory().expect("db");
    let clock = TestClock::new();
    // AWS step drivers on one database: callbacks inline, one state per message.
    let aws_like = |wait_ms: u64, faults: Option<FaultHook>| {
        let config = Config {
            visibility: Duration::ZERO,
            token_commit_wait: Duration::from_millis(wait_ms),
            ..Config::default()
        }
        .aws_step_driver();
        let emb = emb.clone().with_clock(Arc::new(clock.clone()));
        let rt = Runtime::new(emb.store, emb.queue, emb.topics, sample_functions(), clock.clone(), config);
        match faults {
            Some(h) => rt.with_faults(h),
            None => rt,
        }
    };
    let rt = Arc::new(aws_like(5_000, None));
    let def = json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/Ask", "MessageBody": {"TaskToken.$": "$$.Task.Token"}},
        "End": true}}});
    let machine = rt.create_machine("m", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine").arn;

    // The driver dies after the call, before its commit: the token was sent, the task is not
    // recorded as running.
    let arn = rt.start_execution(&machine, "early", json!({})).await.expect("start");
    let dying = aws_like(5_000, Some(crash_at(1, FaultPoint::BeforeCommit).0));
    let step = dying.queue().receive(STEP_QUEUE, 1, Duration::ZERO).await.expect("receive").remove(0);
    assert!(matches!(dying.process(&step).await, Err(Error::InjectedCrash(_))), "the driver crashed");
    let ask = rt.queue().receive("Ask", 1, Duration::from_secs(60)).await.expect("ask").remove(0);
    let early = stepwise_sample::approval_token(&ask.body).expect("token");
    let before = rt.describe(&arn).await.expect("describe");
    assert_eq!(before.execution.status.as_str(), "RUNNING");

    // The answer comes first and waits ...
    let answer = {
        let (rt, token) = (rt.clone(), early.clone());
        tokio::spawn(async move { rt.send_task_success(&token, "\"approved\"").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!answer.is_finished(), "the answer waits for the commit instead of being refused");
    // ... until the step's redelivery commits the running task.
    let again = rt.queue().receive(STEP_QUEUE, 1, Duration::ZERO).await.expect("receive").remove(0);
    rt.process(&again).await.expect("redelivered step");
    answer.await.expect("join").expect("the early answer is accepted once its task runs");
    for _ in 0..5 {
        for m in rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.expect("receive") {
            rt.process(&m).await.expect("process");
        }
    }
    let done = rt.describe(&arn).await.expect("describe");
    assert_eq!(done.execution.status, stepwise_asl::stepper::Status::Succeeded { output: json!("approved") });
    // The redone step sent its own message (a new token): too late now, as AWS says of a
    // token whose task is over.
    let second = rt.queue().receive("Ask", 10, Duration::from_secs(60)).await.expect("ask");
    assert_eq!(second.len(), 1, "the redone step's message");
    let late = stepwise_sample::approval_token(&second[0].body).expect("token");
    assert!(matches!(rt.send_task_success(&late, "{}").await, Err(Error::TaskTimedOut(_))));

    // A commit that never lands: the answer fails with a retryable error after the wait, and
    // changes nothing.
    let rt = aws_like(200, None);
    let arn = rt.start_execution(&machine, "never", json!({})).await.expect("start");
    let dying = aws_like(200, Some(crash_at(1, FaultPoint::BeforeCommit).0));
    let step = dying.queue().receive(STEP_QUEUE, 1, Duration::ZERO).await.expect("receive").remove(0);
    assert!(matches!(dying.process(&step).await, Err(Error::InjectedCrash(_))), "the driver crashed");
    let ask = rt.queue().receive("Ask", 1, Duration::from_secs(60)).await.expect("ask").remove(0);
    let orphan = stepwise_sample::approval_token(&ask.body).expect("token");
    let before = rt.describe(&arn).await.expect("describe");
    match rt.send_task_success(&orphan, "{}").await {
        Err(e @ Error::Storage { .. }) => assert!(e.to_string().contains("not landed"), "{e}"),
        other => panic!("an answer whose commit never landed must be retryable, got {other:?}"),
    }
    assert_eq!(rt.describe(&arn).await.expect("describe"), before, "the refused answer changes nothing");
    // An unknown token is still refused at once.
    assert!(matches!(rt.send_task_success(&"B".repeat(32), "{}").await, Err(e) if e.code() == "TaskDoesNotExist"));
}

/// A distributed Map whose children run at once: their steps record no history (the children
/// are silent) yet change the execution, and must be committed. (It used to stay RUNNING after
/// `MapRunStarted`: such steps were taken for no-ops.) Also under a crash at every point.
#[tokio::test]
async fn a_distributed_map_with_concurrent_children_finishes() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let (status, history, _) = run_once(Some(&def), json!(["a", "b", "c"]), None, false).await;
    let types: Vec<&str> = history.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(status, "SUCCEEDED", "{types:?}");
    assert_eq!(history.last().expect("events")["executionSucceededEventDetails"]["output"], json!(["a", "b", "c"]));
    assert!(types.contains(&"MapRunSucceeded"), "{types:?}");
    let runs = check_faults(Some(&def), json!(["a", "b"]), "distributed map").await;
    assert!(runs >= 20, "only {runs} fault runs");
}

fn start_task(resource: &str, machine: &str, name: Option<&str>) -> Value {
    let mut params = json!({"StateMachineArn": format!("arn:aws:states:us-east-1:123456789012:stateMachine:{machine}"), "Input": {"k": 1}});
    if let Some(n) = name {
        params["Name"] = json!(n);
    }
    json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": params, "End": true}}})
}

fn last_details(history: &[Value]) -> Value {
    let last = history.last().expect("events");
    last.as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.ends_with("EventDetails")))
        .map(|(_, d)| d.clone())
        .unwrap_or_default()
}

/// `states:startExecution.sync`: the parent waits for the child (woken by its end, no polling)
/// and gets DescribeExecution's shape, `Output` as text; `.sync:2` parsed. A crash at every
/// point of every step (parent's and child's) gives the same history.
#[tokio::test]
async fn a_sync_task_waits_for_its_child_execution() {
    let def = start_task("arn:aws:states:::states:startExecution.sync", "child-ok", Some("kid"));
    let (status, history, _) = run_once(Some(&def), json!({}), None, false).await;
    let types: Vec<&str> = history.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(status, "SUCCEEDED", "{types:?}");
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let out = &last_details(&history)["output"];
    assert_eq!(out["Output"], "{\"Arg1\":\"argument1\"}", "{out}");
    assert_eq!(out["Status"], "SUCCEEDED");
    assert_eq!(out["Input"], "{\"k\":1}");
    assert_eq!(out["ExecutionArn"], "arn:aws:states:us-east-1:123456789012:execution:child-ok:kid");
    assert_eq!(out["RedriveStatus"], "NOT_REDRIVABLE");
    assert!(out["StartDate"].is_i64() && out["StopDate"].is_i64(), "{out}");

    let def2 = start_task("arn:aws:states:::states:startExecution.sync:2", "child-ok", Some("kid"));
    let (status, history, _) = run_once(Some(&def2), json!({}), None, false).await;
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(last_details(&history)["output"]["Output"], json!({"Arg1": "argument1"}));

    let runs = check_faults(Some(&def), json!({}), "startExecution.sync").await;
    assert!(runs >= 15, "only {runs} fault runs");
}

/// A failed child fails the `.sync` task with `States.TaskFailed` and DescribeExecution's shape
/// (with the child's error and cause) as the cause, as AWS records it; a missing machine is
/// `StepFunctions.StateMachineDoesNotExistException` with the Java SDK's message.
#[tokio::test]
async fn a_failed_or_missing_child_fails_the_task_as_aws_does() {
    let def = start_task("arn:aws:states:::states:startExecution.sync", "child-fail", Some("kid"));
    let (status, history, _) = run_once(Some(&def), json!({}), None, false).await;
    assert_eq!(status, "FAILED");
    let d = last_details(&history);
    assert_eq!(d["error"], "States.TaskFailed");
    let cause: Value = serde_json::from_str(d["cause"].as_str().expect("cause")).expect("cause is JSON");
    assert_eq!(
        (cause["Error"].as_str(), cause["Cause"].as_str(), cause["Status"].as_str()),
        (Some("Boom"), Some("bad"), Some("FAILED"))
    );
    assert_eq!(cause["Name"], "kid");
    assert!(cause.get("Output").is_none(), "{cause}");

    let def = start_task("arn:aws:states:::states:startExecution", "nope", None);
    let (status, history, _) = run_once(Some(&def), json!({}), None, false).await;
    assert_eq!(status, "FAILED");
    let d = last_details(&history);
    assert_eq!(d["error"], "StepFunctions.StateMachineDoesNotExistException");
    let cause = d["cause"].as_str().expect("cause");
    assert!(
        cause.starts_with("State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:nope' (Service: AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist; Request ID: "),
        "{cause}"
    );
}

/// Request-response: the task ends with StartExecution's response while the child runs on.
#[tokio::test]
async fn a_request_response_start_returns_at_once() {
    let def = start_task("arn:aws:states:::states:startExecution", "child-wait", None);
    let (status, history, _) = run_once(Some(&def), json!({}), None, false).await;
    assert_eq!(status, "SUCCEEDED");
    let out = &last_details(&history)["output"];
    let arn = out["ExecutionArn"].as_str().expect("ExecutionArn");
    assert!(arn.starts_with("arn:aws:states:us-east-1:123456789012:execution:child-wait:"), "{out}");
    assert!(out["StartDate"].is_i64() && out["SdkHttpMetadata"]["HttpStatusCode"] == 200, "{out}");
    assert!(!history.iter().any(|e| e["type"] == "TaskSubmitted"));
}

/// Stopping a parent stops the child its `.sync` task waits for; a `.sync` task that times
/// out does too.
#[tokio::test]
async fn a_stopped_or_timed_out_parent_stops_its_child() {
    for (timeout, stop) in [(None, true), (Some(5), false)] {
        let emb = Embedded::in_memory().expect("db");
        let clock = TestClock::new();
        let rt = runtime(&emb, &clock, None);
        rt.create_machine(
            "child-wait",
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}}),
            "arn:aws:iam::123456789012:role/r",
            false,
        )
        .await
        .expect("child");
        let mut def = start_task("arn:aws:states:::states:startExecution.sync", "child-wait", Some("kid"));
        if let Some(t) = timeout {
            def["States"]["T"]["TimeoutSeconds"] = json!(t);
        }
        let parent = rt.create_machine("m", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine").arn;
        let arn = rt.start_execution(&parent, "e", json!({})).await.expect("start");
        // Run what is due now: the parent starts the child, the child enters its Wait.
        continue_drain(&rt).await.expect("drain");
        let child = "arn:aws:states:us-east-1:123456789012:execution:child-wait:kid";
        assert_eq!(rt.describe(child).await.expect("child").execution.status.as_str(), "RUNNING");
        if stop {
            rt.stop_execution(&arn, None, None).await.expect("stop");
        }
        drive(&emb, &clock, rt, &arn, false).await.expect("drive");
        let check = runtime(&emb, &clock, None);
        continue_drain(&check).await.expect("drain");
        let parent_status = check.describe(&arn).await.expect("parent").execution.status.as_str().to_string();
        assert_eq!(parent_status, if stop { "ABORTED" } else { "FAILED" });
        assert_eq!(
            check.describe(child).await.expect("child").execution.status.as_str(),
            "ABORTED",
            "timeout {timeout:?}"
        );
    }
}

/// Activities: a worker takes the task with GetActivityTask (ActivityStarted with its name)
/// and answers through the token; a missing activity fails the state with `States.Runtime` and
/// no ActivityScheduled; a worker that never answers lets TimeoutSeconds end the task
/// (ActivityTimedOut). The events are the ones AWS records.
#[tokio::test]
async fn activity_tasks_are_taken_by_workers_and_answered_through_their_tokens() {
    let emb = Embedded::in_memory().expect("db");
    let clock = TestClock::new();
    let rt = runtime(&emb, &clock, None);
    let activity = rt.create_activity("work", None).await.expect("activity");
    assert_eq!(activity.arn, "arn:aws:states:us-east-1:123456789012:activity:work");
    assert_eq!(rt.create_activity("work", None).await.expect("again"), activity, "creating again is idempotent");
    let task = |arn: &str, timeout: Option<u64>| {
        let mut t = json!({"Type": "Task", "Resource": arn, "End": true});
        if let Some(s) = timeout {
            t["TimeoutSeconds"] = json!(s);
        }
        json!({"StartAt": "T", "States": {"T": t}})
    };
    let role = "arn:aws:iam::123456789012:role/r";
    let types = |h: &[Value]| h.iter().filter_map(|e| e["type"].as_str().map(str::to_string)).collect::<Vec<_>>();

    // Answered.
    let m = rt.create_machine("act", task(&activity.arn, None), role, false).await.expect("machine").arn;
    let arn = rt.start_execution(&m, "ok", json!({"v": 1})).await.expect("start");
    continue_drain(&rt).await.expect("drain");
    // No wait: the task is there, and nothing but this test drives the execution.
    let got = rt.get_activity_task(&activity.arn, Some("w1"), Duration::ZERO).await.expect("poll");
    let got = got.expect("a task");
    assert_eq!(got.input, "{\"v\":1}");
    continue_drain(&rt).await.expect("drain");
    rt.send_task_success(&got.token, "{\"done\": true}").await.expect("success");
    continue_drain(&rt).await.expect("drain");
    let h = masked_history(&rt, &arn).await;
    assert_eq!(
        types(&h),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(h[2]["activityScheduledEventDetails"]["resource"], activity.arn.as_str());
    assert_eq!(h[3]["activityStartedEventDetails"], json!({"workerName": "w1"}));
    assert_eq!(rt.describe(&arn).await.expect("describe").execution.status.as_str(), "SUCCEEDED");
    // Nothing left for another worker.
    assert!(rt.get_activity_task(&activity.arn, None, Duration::from_millis(50)).await.expect("poll").is_none());

    // Missing activity.
    let gone = "arn:aws:states:us-east-1:123456789012:activity:gone";
    let m = rt.create_machine("act-gone", task(gone, None), role, false).await.expect("machine").arn;
    let arn = rt.start_execution(&m, "gone", json!({})).await.expect("start");
    continue_drain(&rt).await.expect("drain");
    let h = masked_history(&rt, &arn).await;
    assert_eq!(types(&h), ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]);
    assert_eq!(
        h[2]["executionFailedEventDetails"],
        json!({"error": "States.Runtime", "cause": format!("An error occurred while executing the state 'T' (entered at the event id #2). The activity {gone} does not exist.")})
    );

    // Taken, never answered: TimeoutSeconds.
    let m = rt.create_machine("act-timeout", task(&activity.arn, Some(5)), role, false).await.expect("machine").arn;
    let arn = rt.start_execution(&m, "late", json!({})).await.expect("start");
    continue_drain(&rt).await.expect("drain");
    assert!(rt.get_activity_task(&activity.arn, None, Duration::ZERO).await.expect("poll").is_some());
    drive(&emb, &clock, rt, &arn, false).await.expect("drive");
    let check = runtime(&emb, &clock, None);
    let h = masked_history(&check, &arn).await;
    assert_eq!(
        types(&h),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivityTimedOut",
            "ExecutionFailed"
        ]
    );
    assert_eq!(h[3]["activityStartedEventDetails"], json!({}));
    assert_eq!(h[4]["activityTimedOutEventDetails"], json!({"error": "States.Timeout"}));
}

/// The AWS port as a test double: records each call and answers DynamoDB, EventBridge and S3
/// as those services would.
#[derive(Default)]
struct FakeAws(Mutex<Vec<stepwise_asl::integrations::aws::AwsCall>>);

impl stepwise_runtime::AwsCalls for FakeAws {
    fn call<'a>(
        &'a self,
        call: &'a stepwise_asl::integrations::aws::AwsCall,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = stepwise_asl::integrations::aws::AwsReply> + Send + 'a>>
    {
        use stepwise_asl::integrations::aws::{AwsAnswer, AwsFault, AwsReply};
        self.0.lock().expect("calls").push(call.clone());
        let answer = |output: Value| {
            AwsReply::Answer(AwsAnswer { status: 200, request_id: "R".into(), body: output.to_string(), output })
        };
        let reply = match (call.service.as_str(), call.action.as_str()) {
            ("dynamodb", "putItem") => answer(json!({})),
            ("eventbridge", "putEvents") => answer(json!({"Entries": [{"EventId": "e-1"}], "FailedEntryCount": 0})),
            _ => AwsReply::Fault(AwsFault {
                status: 404,
                code: "NoSuchKey".into(),
                message: "The specified key does not exist.".into(),
                request_id: "R".into(),
                extended_request_id: Some("X".into()),
                exception: Some("NoSuchKey".into()),
                sdk_name: "S3".into(),
            }),
        };
        Box::pin(async move { reply })
    }
}

/// DynamoDB, EventBridge (`.waitForTaskToken`) and `aws-sdk:*` tasks go through the runtime's
/// AWS port with the state's parameters (a JSON `Detail` serialised, the role resolved), and
/// their answers are shaped as Step Functions shapes them.
#[tokio::test]
async fn aws_service_tasks_go_through_the_aws_port() {
    let clock = TestClock::new();
    let emb = Embedded::in_memory().expect("db");
    let aws = Arc::new(FakeAws::default());
    let rt = runtime(&emb, &clock, None).with_aws(aws.clone());
    let def = json!({"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "orders", "Item": {"id": {"S.$": "$.id"}}}, "ResultPath": "$.put", "Next": "Event"},
        "Event": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
            "Parameters": {"Entries": [{"Source": "shop", "DetailType": "order", "Detail": {"token.$": "$$.Task.Token"}}]},
            "Credentials": {"RoleArn.$": "$.role"}, "ResultPath": "$.event", "Next": "Read"},
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "b", "Key": "k"},
            "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.missing", "Next": "Done"}], "End": true},
        "Done": {"Type": "Pass", "End": true}}});
    let m = rt.create_machine("aws-tasks", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine");
    let input = json!({"id": "o-1", "role": "arn:aws:iam::123456789012:role/events"});
    let arn = rt.start_execution(&m.arn, "e1", input).await.expect("start");
    let mut answered = false;
    for _ in 0..1000 {
        let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.expect("receive");
        if !msgs.is_empty() {
            for msg in msgs {
                rt.process(&msg).await.expect("step");
            }
            continue;
        }
        if rt.describe(&arn).await.expect("describe").execution.status.as_str() != "RUNNING" {
            break;
        }
        // The event's consumer answers with the token the Detail carried.
        let detail = aws.0.lock().expect("calls").iter().find(|c| c.service == "eventbridge").map(|c| c.input.clone());
        let detail = detail.expect("the event was put");
        assert!(!answered, "no progress after the answer");
        let text = detail["Entries"][0]["Detail"].as_str().expect("Detail serialised to text").to_string();
        let token: Value = serde_json::from_str(&text).expect("Detail is JSON");
        rt.send_task_success(token["token"].as_str().expect("token"), "{\"ok\":true}").await.expect("success");
        answered = true;
    }
    let d = rt.describe(&arn).await.expect("describe");
    let stepwise_asl::stepper::Status::Succeeded { output } = d.execution.status else {
        panic!("not succeeded: {:?}", d.execution.status)
    };
    assert_eq!(output["put"]["SdkHttpMetadata"]["HttpStatusCode"], 200, "{output}");
    assert_eq!(output["put"]["SdkHttpMetadata"]["HttpHeaders"]["x-amz-crc32"], "2745614147");
    assert_eq!(output["event"], json!({"ok": true}));
    assert_eq!(output["missing"]["Error"], "S3.NoSuchKeyException");
    assert_eq!(
        output["missing"]["Cause"],
        "The specified key does not exist. (Service: S3, Status Code: 404, Request ID: R, Extended Request ID: X) \
         (SDK Attempt Count: 1)"
    );
    let calls = aws.0.lock().expect("calls").clone();
    assert_eq!(calls[0].input, json!({"TableName": "orders", "Item": {"id": {"S": "o-1"}}}));
    assert_eq!(calls[1].role.as_deref(), Some("arn:aws:iam::123456789012:role/events"));
    assert_eq!((calls[2].service.as_str(), calls[2].action.as_str()), ("s3", "getObject"));
    let history = rt.history(&arn).await.expect("history");
    let scheduled: Vec<Value> = history
        .iter()
        .map(|e| e.to_api_json(true))
        .filter(|e| e["type"] == "TaskScheduled")
        .map(|e| e["taskScheduledEventDetails"].clone())
        .collect();
    assert_eq!(scheduled[1]["taskCredentials"], json!({"roleArn": "arn:aws:iam::123456789012:role/events"}));
    assert_eq!(
        (scheduled[2]["resourceType"].as_str(), scheduled[2]["resource"].as_str()),
        (Some("aws-sdk:s3"), Some("getObject"))
    );
}

/// A fake S3 for Distributed Maps: a listing of `keys` in pages of two, and every `putObject`
/// kept.
#[derive(Default)]
struct FakeS3 {
    keys: Vec<String>,
    /// Objects `getObject` and `get_object` answer with.
    objects: std::collections::BTreeMap<String, Vec<u8>>,
    calls: Mutex<Vec<stepwise_asl::integrations::aws::AwsCall>>,
    puts: Mutex<std::collections::BTreeMap<String, String>>,
}

impl stepwise_runtime::AwsCalls for FakeS3 {
    fn call<'a>(
        &'a self,
        call: &'a stepwise_asl::integrations::aws::AwsCall,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = stepwise_asl::integrations::aws::AwsReply> + Send + 'a>>
    {
        use stepwise_asl::integrations::aws::{AwsAnswer, AwsReply};
        self.calls.lock().expect("calls").push(call.clone());
        let output = match call.action.as_str() {
            "listObjectsV2" => {
                let from: usize = call.input["ContinuationToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
                let page: Vec<Value> =
                    self.keys.iter().skip(from).take(2).map(|k| json!({"Key": k, "Size": 1})).collect();
                let more = from + 2 < self.keys.len();
                let mut out = json!({"Contents": page, "IsTruncated": more, "Name": call.input["Bucket"]});
                if more {
                    out["NextContinuationToken"] = (from + 2).to_string().into();
                }
                out
            }
            "getObject" => {
                let key = call.input["Key"].as_str().unwrap_or_default();
                json!({"Body": String::from_utf8_lossy(&self.objects[key])})
            }
            "putObject" => {
                let key = call.input["Key"].as_str().unwrap_or_default().to_string();
                let body = call.input["Body"].as_str().unwrap_or_default().to_string();
                self.puts.lock().expect("puts").insert(key, body);
                json!({"ETag": "\"e\""})
            }
            other => panic!("unexpected S3 call {other}"),
        };
        let reply =
            AwsReply::Answer(AwsAnswer { status: 200, request_id: "R".into(), body: output.to_string(), output });
        Box::pin(async move { reply })
    }

    fn get_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        _identity: Option<&'a stepwise_asl::integrations::aws::Identity>,
    ) -> stepwise_runtime::services::ObjectBytes<'a> {
        let got = self.objects.get(key).cloned().ok_or(("S3.NoSuchKey".to_string(), format!("{bucket}/{key}")));
        Box::pin(async move { got })
    }
}

/// Runs the step queue until `arn` ends; returns its status.
async fn run_to_end(rt: &Rt, arn: &str) -> stepwise_asl::stepper::Status {
    for _ in 0..10_000 {
        let msgs = rt.queue().receive(STEP_QUEUE, 16, Duration::ZERO).await.expect("receive");
        for r in rt.process_batch(&msgs).await {
            r.expect("step");
        }
        let status = rt.describe(arn).await.expect("describe").execution.status;
        if status != stepwise_asl::stepper::Status::Running {
            return status;
        }
        assert!(!msgs.is_empty(), "no step message while {arn} runs");
    }
    panic!("{arn} did not end")
}

/// A Distributed Map over a paged S3 listing: its children run as executions two at a time, a
/// failing one is tolerated, the results go to S3 as the manifest, SUCCEEDED_0.json and
/// FAILED_0.json, and the Map Run's record counts them.
#[tokio::test]
async fn a_distributed_map_reads_a_paged_listing_and_writes_its_results() {
    let clock = TestClock::new();
    let emb = Embedded::in_memory().expect("db");
    let keys: Vec<String> = ["a", "b", "bad", "c", "d"].iter().map(|k| format!("in/{k}")).collect();
    let s3 = Arc::new(FakeS3 { keys, ..FakeS3::default() });
    let rt = runtime(&emb, &clock, None).with_aws(s3.clone());
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "MaxConcurrency": 2,
        "ToleratedFailureCount": 1, "Label": "Fan",
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b", "Prefix": "in/"}},
        "ItemSelector": {"key.$": "$$.Map.Item.Value.Key", "index.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Check",
            "States": {"Check": {"Type": "Choice", "Choices": [{"Variable": "$.key", "StringEquals": "in/bad", "Next": "Bad"}],
                                 "Default": "Ok"},
                       "Bad": {"Type": "Fail", "Error": "Item.Bad", "Cause": "bad item"},
                       "Ok": {"Type": "Pass", "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "runs"}},
        "End": true}}});
    let m = rt.create_machine("fan", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine");
    let arn = rt.start_execution(&m.arn, "e1", json!({})).await.expect("start");
    let status = run_to_end(&rt, &arn).await;
    let stepwise_asl::stepper::Status::Succeeded { output } = status else { panic!("{status:?}") };

    // Three listing pages, followed.
    let calls = s3.calls.lock().expect("calls").clone();
    let lists: Vec<&Value> = calls.iter().filter(|c| c.action == "listObjectsV2").map(|c| &c.input).collect();
    assert_eq!(lists.len(), 3, "{lists:?}");
    assert_eq!(lists[2]["ContinuationToken"], "4");

    // The Map Run.
    let [run] = rt.list_map_runs(&arn).await.expect("runs").try_into().expect("one run");
    assert_eq!(run.status, stepwise_asl::map_run::RunStatus::Succeeded);
    assert_eq!((run.total, run.counts.succeeded, run.counts.failed, run.counts.running), (5, 4, 1, 0));
    assert_eq!(run.results_written, 5);
    assert_eq!(run.state_machine_arn, format!("{}/Fan", m.arn));
    assert_eq!(output["MapRunArn"], json!(run.arn));
    let id = run.arn.rsplit(':').next().expect("id");
    assert_eq!(output["ResultWriterDetails"], json!({"Bucket": "out", "Key": format!("runs/{id}/manifest.json")}));

    // The files.
    let puts = s3.puts.lock().expect("puts").clone();
    let manifest: Value = serde_json::from_str(&puts[&format!("runs/{id}/manifest.json")]).expect("manifest");
    assert_eq!(manifest["DestinationBucket"], "out");
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    let succeeded: Vec<Value> = serde_json::from_str(&puts[&format!("runs/{id}/SUCCEEDED_0.json")]).expect("succeeded");
    let failed: Vec<Value> = serde_json::from_str(&puts[&format!("runs/{id}/FAILED_0.json")]).expect("failed");
    assert_eq!(
        manifest["ResultFiles"]["SUCCEEDED"][0]["Size"],
        json!(puts[&format!("runs/{id}/SUCCEEDED_0.json")].len())
    );
    assert_eq!((succeeded.len(), failed.len()), (4, 1));
    assert_eq!(failed[0]["Error"], "Item.Bad");
    assert_eq!(failed[0]["RedriveStatus"], "REDRIVABLE_BY_MAP_RUN");
    assert!(failed[0].get("Output").is_none(), "{}", failed[0]);
    let first: Value = serde_json::from_str(succeeded[0]["Input"].as_str().expect("Input")).expect("input");
    assert_eq!(first, json!({"key": "in/a", "index": 0}));
    assert_eq!(succeeded[0]["Status"], "SUCCEEDED");
    assert!(succeeded[0]["StopDate"].as_str().is_some_and(|d| d.ends_with('Z')), "{}", succeeded[0]);

    // The children: executions of `fan/Fan`, each knowing its run.
    let page = rt.list_map_run_children(&run.arn, None, 10, None).await.expect("children");
    assert_eq!(page.executions.len(), 5);
    assert!(page.executions.iter().all(|c| c.execution.map_run.as_ref().is_some_and(|r| r.run == run.arn)));
    let failed_children = rt
        .list_map_run_children(&run.arn, Some(stepwise_runtime::ports::ExecutionStatus::Failed), 10, None)
        .await
        .expect("failed children");
    assert_eq!(failed_children.executions.len(), 1);
    let history: Vec<String> =
        rt.history(&arn).await.expect("history").iter().map(|e| e.event_type.to_string()).collect();
    assert_eq!(
        history,
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
}

/// Stopping the parent stops its Map Run and the children still running.
#[tokio::test]
async fn stopping_the_parent_aborts_the_map_run_and_its_children() {
    let clock = TestClock::new();
    let emb = Embedded::in_memory().expect("db");
    let rt = runtime(&emb, &clock, None);
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "MaxConcurrency": 2,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Wait",
            "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": true}}},
        "End": true}}});
    let m = rt.create_machine("slow", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine");
    let arn = rt.start_execution(&m.arn, "e1", json!([1, 2, 3, 4])).await.expect("start");
    // Until both first children wait.
    for _ in 0..20 {
        let msgs = rt.queue().receive(STEP_QUEUE, 16, Duration::ZERO).await.expect("receive");
        for r in rt.process_batch(&msgs).await {
            r.expect("step");
        }
    }
    let [run] = rt.list_map_runs(&arn).await.expect("runs").try_into().expect("one run");
    assert_eq!((run.next, run.counts.running), (2, 2));
    rt.stop_execution(&arn, Some("Stop".into()), None).await.expect("stop");
    let status = run_to_end(&rt, &arn).await;
    assert!(matches!(status, stepwise_asl::stepper::Status::Aborted { .. }), "{status:?}");
    for _ in 0..20 {
        let msgs = rt.queue().receive(STEP_QUEUE, 16, Duration::ZERO).await.expect("receive");
        for r in rt.process_batch(&msgs).await {
            r.expect("step");
        }
    }
    let run = rt.describe_map_run(&run.arn).await.expect("run");
    assert_eq!(run.status, stepwise_asl::map_run::RunStatus::Aborted);
    assert_eq!((run.counts.aborted, run.counts.running, run.next), (2, 0, 2), "{:?}", run.counts);
    let children = rt.list_map_run_children(&run.arn, None, 10, None).await.expect("children");
    assert!(children.executions.iter().all(|c| c.execution.status.as_str() == "ABORTED"));
}

/// `ResultWriter.WriterConfig` alone shapes the Map's output: FLATTEN spreads the children's
/// array outputs; NONE describes each child.
#[tokio::test]
async fn writer_config_without_a_bucket_shapes_the_output() {
    let clock = TestClock::new();
    let emb = Embedded::in_memory().expect("db");
    let rt = runtime(&emb, &clock, None);
    for (transformation, want) in [("FLATTEN", json!([1, 2, 3])), ("COMPACT", json!([[1, 2], [3]]))] {
        let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": true}}},
            "ResultWriter": {"WriterConfig": {"Transformation": transformation, "OutputType": "JSON"}},
            "End": true}}});
        let m = rt
            .create_machine(&format!("shape-{transformation}"), def, "arn:aws:iam::123456789012:role/r", false)
            .await
            .expect("machine");
        let arn = rt.start_execution(&m.arn, "e1", json!([[1, 2], [3]])).await.expect("start");
        let status = run_to_end(&rt, &arn).await;
        assert_eq!(status, stepwise_asl::stepper::Status::Succeeded { output: want }, "{transformation}");
    }
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}},
        "ResultWriter": {"WriterConfig": {"Transformation": "NONE", "OutputType": "JSON"}},
        "End": true}}});
    let m = rt.create_machine("shape-none", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine");
    let arn = rt.start_execution(&m.arn, "e1", json!([{"n": 1}])).await.expect("start");
    let stepwise_asl::stepper::Status::Succeeded { output } = run_to_end(&rt, &arn).await else { panic!("failed") };
    assert_eq!(output[0]["Status"], "SUCCEEDED", "{output}");
    assert_eq!(output[0]["Output"], "{\"n\":1}", "{output}");
}

/// `InputType: MANIFEST`: the items are the rows of the gzipped CSV files an S3 inventory's
/// manifest lists, with its `fileSchema` as their fields.
#[tokio::test]
async fn a_distributed_map_reads_an_s3_inventory() {
    use std::io::Write;
    let gz = |text: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).expect("gzip");
        e.finish().expect("gzip")
    };
    let manifest = json!({"sourceBucket": "src", "destinationBucket": "arn:aws:s3:::inv", "version": "2016-11-30",
        "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/1.csv.gz", "size": 1}, {"key": "inv/data/2.csv.gz", "size": 1}]});
    let mut objects = std::collections::BTreeMap::new();
    objects.insert("inv/manifest.json".to_string(), manifest.to_string().into_bytes());
    objects.insert("inv/data/1.csv.gz".to_string(), gz("\"src\",\"a.txt\",\"10\"\n\"src\",\"b, c.txt\",\"20\"\n"));
    objects.insert("inv/data/2.csv.gz".to_string(), gz("\"src\",\"d.txt\",\"30\"\n"));
    let s3 = Arc::new(FakeS3 { objects, ..FakeS3::default() });
    let clock = TestClock::new();
    let emb = Embedded::in_memory().expect("db");
    let rt = runtime(&emb, &clock, None).with_aws(s3);
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"},
            "Parameters": {"Bucket": "inv", "Key": "inv/manifest.json"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let m = rt.create_machine("inventory", def, "arn:aws:iam::123456789012:role/r", false).await.expect("machine");
    let arn = rt.start_execution(&m.arn, "e1", json!({})).await.expect("start");
    let status = run_to_end(&rt, &arn).await;
    let want = json!([{"Bucket": "src", "Key": "a.txt", "Size": "10"}, {"Bucket": "src", "Key": "b, c.txt", "Size": "20"},
        {"Bucket": "src", "Key": "d.txt", "Size": "30"}]);
    assert_eq!(status, stepwise_asl::stepper::Status::Succeeded { output: want });
}

/// Step Functions' metrics of an execution of the sample, as EMF records emitted once per
/// committed transition: started and succeeded once, the execution time, each function's
/// scheduled/started/succeeded, the SQS and SNS integrations'.
#[tokio::test]
async fn the_sample_emits_step_functions_metrics() {
    #[derive(Default)]
    struct Capture(Mutex<Vec<Value>>);
    impl stepwise_runtime::metrics::MetricsSink for Capture {
        fn emit(&self, records: Vec<Value>) {
            self.0.lock().expect("lock").extend(records);
        }
    }
    let emb = Embedded::in_memory().expect("db");
    let clock = TestClock::new();
    let capture = Arc::new(Capture::default());
    let rt = runtime(&emb, &clock, None).with_metrics(capture.clone());
    let machine = sample_machine(&rt).await;
    let arn = rt.start_execution(&machine, "metrics", json!({})).await.expect("start");
    drive(&emb, &clock, rt, &arn, false).await.expect("drive");
    let records = capture.0.lock().expect("lock").clone();
    let total = |name: &str, dim: &str| -> f64 {
        records.iter().filter(|r| r.get(dim).is_some()).filter_map(|r| r[name].as_f64()).sum()
    };
    assert_eq!(total("ExecutionsStarted", "StateMachineArn"), 1.0, "{records:?}");
    assert_eq!(total("ExecutionsSucceeded", "StateMachineArn"), 1.0);
    assert!(total("ExecutionTime", "StateMachineArn") >= 0.0);
    assert_eq!(total("LambdaFunctionsScheduled", "LambdaFunctionArn"), 3.0, "{records:?}");
    assert_eq!(total("LambdaFunctionsSucceeded", "LambdaFunctionArn"), 3.0);
    assert_eq!(total("ServiceIntegrationsScheduled", "ServiceIntegrationResourceArn"), 2.0, "{records:?}");
    assert_eq!(total("ServiceIntegrationsSucceeded", "ServiceIntegrationResourceArn"), 2.0);
    let sqs = records
        .iter()
        .find(|r| r["ServiceIntegrationResourceArn"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken")
        .expect("the approval's record");
    assert_eq!(sqs["_aws"]["CloudWatchMetrics"][0]["Namespace"], stepwise_runtime::metrics::NAMESPACE);
}
