//! Throughput of the durable embedded runtime (SQLite file in WAL mode, one step message per
//! transition, every commit durable), beside the raw SQLite commit rate of the same machine.
//!
//! `cargo run --release -p stepwise-embedded --example bench_runtime [-- EXECUTIONS]`
//!
//! Prints one line per measurement and the process's peak resident memory.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use stepwise_embedded::functions::FunctionRouter;
use stepwise_embedded::{Embedded, SqliteQueue, SqliteStore, SqliteTopics};
use stepwise_runtime::ports::{Queue, SystemClock, STEP_QUEUE};
use stepwise_runtime::{Config, Handled, Runtime};
use stepwise_sample::pass_chain;

type Rt = Runtime<SqliteStore, SqliteQueue, SqliteTopics, FunctionRouter, SystemClock>;

fn runtime(dir: &std::path::Path) -> Rt {
    let emb = Embedded::open(dir).expect("open");
    let mut router = FunctionRouter::new();
    for name in ["CheckStockPrice", "GenerateBuySellRecommendation", "BuyStock", "SellStock"] {
        if let Some(h) = stepwise_sample::dyn_handler(name) {
            router.rust(name, h);
        }
    }
    Runtime::new(emb.store, emb.queue, emb.topics, router, SystemClock, Config::default())
}

/// Starts `n` executions and works the queues until all are done; returns (driver steps
/// applied, states entered, seconds).
async fn run(rt: &Rt, label: &str, definition: Value, n: usize, approve: bool) -> (usize, usize, f64) {
    use stepwise_runtime::ports::Store;
    let machine =
        rt.create_machine(label, definition, "arn:aws:iam::123456789012:role/r", false).await.expect("machine").arn;
    let started = Instant::now();
    let mut arns = Vec::with_capacity(n);
    for i in 0..n {
        arns.push(rt.start_execution(&machine, &format!("e{i}"), json!({})).await.expect("start"));
    }
    let mut applied = 0usize;
    loop {
        let msgs = rt.queue().receive(STEP_QUEUE, 100, Duration::from_secs(30)).await.expect("receive");
        if msgs.is_empty() {
            let mut asked = false;
            if approve {
                let asks =
                    rt.queue().receive("RequestHumanApprovalQueue", 10, Duration::from_secs(30)).await.expect("asks");
                for m in asks {
                    asked = true;
                    let token = stepwise_sample::approval_token(&m.body).expect("token");
                    rt.send_task_success(&token, stepwise_sample::APPROVAL_OUTPUT).await.expect("approve");
                    rt.queue().ack("RequestHumanApprovalQueue", &m.receipt).await.expect("ack");
                }
            }
            if !asked {
                break;
            }
            continue;
        }
        // As `Runtime::work_until` does: the batch's messages concurrently.
        for outcome in futures_util::future::join_all(msgs.iter().map(|m| rt.process(m))).await {
            if outcome.expect("process") == Handled::Applied {
                applied += 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut entered = 0;
    for arn in &arns {
        let stored = rt.describe(arn).await.expect("describe");
        assert_eq!(stored.execution.status.as_str(), "SUCCEEDED", "{arn}");
        entered += rt
            .store()
            .history(arn)
            .await
            .expect("history")
            .iter()
            .filter(|e| e.event_type.ends_with("StateEntered"))
            .count();
    }
    (applied, entered, secs)
}

/// Single-row write transactions on a fresh database with the store's settings.
fn raw_sqlite_commits(dir: &std::path::Path, n: usize) -> f64 {
    let conn = rusqlite::Connection::open(dir.join("raw.db")).expect("open");
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).expect("wal");
    conn.execute_batch("PRAGMA synchronous = NORMAL; CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
        .expect("schema");
    let started = Instant::now();
    for i in 0..n {
        conn.execute("INSERT INTO t (v) VALUES (?1)", [format!("row {i}")]).expect("insert");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("stepwise-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt_tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    let rt = runtime(&dir);
    rt_tokio.block_on(async {
        for (label, def, approve) in [("pass-chain-20", pass_chain(20), false), ("stock-trading", stepwise_testkit::stock_trading_definition(&[]), true)] {
            let (steps, states, secs) = run(&rt, label, def, n, approve).await;
            println!(
                "{label}: {n} executions in {secs:.2} s: {:.0} state transitions/s ({states} states entered), {:.0} driver steps/s ({steps} steps, each one durable commit), {:.1} executions/s",
                states as f64 / secs,
                steps as f64 / secs,
                n as f64 / secs
            );
        }
    });
    let raw = raw_sqlite_commits(&dir, 20_000);
    println!("raw SQLite (WAL, synchronous=NORMAL) single-row commits: {raw:.0}/s");
    println!("peak resident memory: {} MiB", peak_rss_kib() / 1024);
    let _ = std::fs::remove_dir_all(&dir);
}
