//! Throughput and latency of the durable embedded runtime (SQLite file in WAL mode, every
//! transition its own durable commit), beside the raw SQLite commit rate of the same machine.
//!
//! `cargo run --release -p stepwise-embedded --example bench_runtime [-- EXECUTIONS]`
//!
//! 1. Throughput: EXECUTIONS (default 200) executions of a 20-state Pass chain, then of the
//!    stock-trading sample, started by `BENCH_CLIENTS` callers (default 1; each a task starting
//!    its share one after the other, as that many client connections would) while the step
//!    driver (`Runtime::work_until`, as `stepwise serve` runs it) works the queue; measured from
//!    the first start to the last execution's end, with the process's CPU time (user + system,
//!    all threads) per execution: a figure that moves less than the rate on a shared VM.
//! 2. Latency: 200 executions of the Pass chain one at a time, each started and then awaited
//!    (`Runtime::wait_for_end`, what StartSyncExecution does): how long after the start
//!    returned the execution had SUCCEEDED, and start-to-end (StartSyncExecution's server time)
//!    for a STANDARD and an EXPRESS machine.
//!
//! Prints one line per measurement and the process's peak resident memory.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_embedded::functions::FunctionRouter;
use stepwise_embedded::{Embedded, SqliteQueue, SqliteStore, SqliteTopics};
use stepwise_runtime::ports::{Queue, Store, SystemClock};
use stepwise_runtime::{Config, Runtime};
use stepwise_sample::pass_chain;

/// The allocator `stepwise` runs with (see crates/cli/src/main.rs).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Rt = Runtime<SqliteStore, SqliteQueue, SqliteTopics, FunctionRouter, SystemClock>;

const ROLE: &str = "arn:aws:iam::123456789012:role/r";

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

/// Answers the sample's approval requests until `stop`: each message on a task of its own, up
/// to `APPROVERS` at once (as the sample's SQS-triggered function runs, one invocation per
/// message batch, many at once).
async fn approver(rt: Arc<Rt>, stop: Arc<AtomicBool>) {
    const APPROVERS: usize = 64;
    let slots = Arc::new(tokio::sync::Semaphore::new(APPROVERS));
    while !stop.load(Ordering::Relaxed) {
        let free = slots.available_permits().clamp(1, 10);
        let Ok(permits) = slots.clone().acquire_many_owned(free as u32).await else { break };
        let asks = rt.queue().receive("RequestHumanApprovalQueue", free, Duration::from_secs(30)).await.expect("asks");
        if asks.is_empty() {
            drop(permits);
            rt.queue().wait("RequestHumanApprovalQueue", Duration::from_millis(5)).await;
            continue;
        }
        let mut permits = permits;
        for m in asks {
            let (rt, permit) = (rt.clone(), permits.split(1).expect("a permit per message"));
            tokio::spawn(async move {
                let token = stepwise_sample::approval_token(&m.body).expect("token");
                match rt.send_task_success(&token, stepwise_sample::APPROVAL_OUTPUT).await {
                    Ok(()) => rt.queue().ack("RequestHumanApprovalQueue", &m.receipt).await.expect("ack"),
                    Err(e) => panic!("approve: {e}"),
                }
                drop(permit);
            });
        }
    }
}

/// The process's CPU time so far (user + system, every thread), in seconds.
fn cpu_seconds() -> f64 {
    // /proc/self/stat: fields 14 and 15 (utime, stime) in clock ticks (USER_HZ, 100 on Linux),
    // counted after the command name's closing parenthesis.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<f64> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0.0)).collect();
    (fields.get(11).copied().unwrap_or(0.0) + fields.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Starts `n` executions from `clients` callers and waits until all have ended; returns
/// (states entered, seconds, CPU seconds).
async fn throughput(rt: &Arc<Rt>, label: &str, definition: Value, n: usize, clients: usize) -> (usize, f64, f64) {
    let machine = rt.create_machine(label, definition, ROLE, false).await.expect("machine").arn;
    let started = Instant::now();
    let cpu = cpu_seconds();
    // CLIENTS callers start the executions, each on a task of its own and one start after the
    // other (as that many client connections would).
    let callers: Vec<_> = (0..clients)
        .map(|c| {
            let (rt, machine) = (rt.clone(), machine.clone());
            tokio::spawn(async move {
                let mut arns = Vec::new();
                for i in (c..n).step_by(clients) {
                    arns.push(rt.start_execution(&machine, &format!("e{i}"), json!({})).await.expect("start"));
                }
                arns
            })
        })
        .collect();
    let mut arns = Vec::with_capacity(n);
    for caller in callers {
        arns.extend(caller.await.expect("caller"));
    }
    for arn in &arns {
        let stored = rt.wait_for_end(arn, Duration::from_secs(120)).await.expect("wait");
        assert_eq!(stored.execution.status.as_str(), "SUCCEEDED", "{arn}");
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let mut entered = 0;
    for arn in &arns {
        entered += rt
            .store()
            .history(arn)
            .await
            .expect("history")
            .iter()
            .filter(|e| e.event_type.ends_with("StateEntered"))
            .count();
    }
    (entered, secs, cpu)
}

/// `n` executions one at a time: (start returned → SUCCEEDED, start called → SUCCEEDED), in
/// microseconds, sorted.
async fn latency(rt: &Arc<Rt>, label: &str, express: bool, n: usize) -> (Vec<u64>, Vec<u64>) {
    let machine = rt.create_machine(label, pass_chain(20), ROLE, express).await.expect("machine").arn;
    let (mut after_start, mut whole) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let t0 = Instant::now();
        let arn = rt.start_execution(&machine, &format!("l{i}"), json!({})).await.expect("start");
        let t1 = Instant::now();
        let stored = rt.wait_for_end(&arn, Duration::from_secs(10)).await.expect("wait");
        let t2 = Instant::now();
        assert_eq!(stored.execution.status.as_str(), "SUCCEEDED", "{arn}");
        after_start.push((t2 - t1).as_micros() as u64);
        whole.push((t2 - t0).as_micros() as u64);
    }
    after_start.sort_unstable();
    whole.sort_unstable();
    (after_start, whole)
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
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
    // As `stepwise serve` runs: two async worker threads (BENCH_THREADS), beside SQLite's.
    let clients = std::env::var("BENCH_CLIENTS").ok().and_then(|t| t.parse().ok()).unwrap_or(1_usize).max(1);
    let threads = std::env::var("BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let rt_tokio =
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().expect("tokio");
    let rt = Arc::new(runtime(&dir));
    rt_tokio.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let driver = {
            let (rt, stop) = (rt.clone(), stop.clone());
            tokio::spawn(async move { rt.work_until(|| stop.load(Ordering::Relaxed)).await })
        };
        let approvals = tokio::spawn(approver(rt.clone(), stop.clone()));
        // `BENCH_ONLY=latency`, `throughput`, `pass-chain-20` or `stock-trading` runs one part
        // (for profiling).
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let throughputs =
            [("pass-chain-20", pass_chain(20)), ("stock-trading", stepwise_testkit::stock_trading_definition(&[]))];
        for (label, def) in
            throughputs.into_iter().filter(|(label, _)| only.is_empty() || only == "throughput" || only == *label)
        {
            let (states, secs, cpu) = throughput(&rt, label, def, n, clients).await;
            println!(
                "{label}: {n} executions in {secs:.3} s ({clients} clients): {:.0} state transitions/s ({states} states entered), {:.0} executions/s; CPU {:.0} µs per execution ({:.2} cores busy)",
                states as f64 / secs,
                n as f64 / secs,
                cpu * 1e6 / n as f64,
                cpu / secs
            );
        }
        for (label, express) in
            [("latency-standard", false), ("latency-express", true)].into_iter().filter(|_| only.is_empty() || only == "latency")
        {
            let (after, whole) = latency(&rt, label, express, 200).await;
            println!(
                "{label} (20-state Pass chain, one at a time): done after the start returned: median {:.3} ms, p90 {:.3} ms, max {:.3} ms; start to done (StartSyncExecution's server time): median {:.3} ms, p90 {:.3} ms",
                pct(&after, 0.5),
                pct(&after, 0.9),
                pct(&after, 1.0),
                pct(&whole, 0.5),
                pct(&whole, 0.9)
            );
        }
        stop.store(true, Ordering::Relaxed);
        driver.await.expect("driver").expect("work");
        approvals.await.expect("approver");
    });
    let raw = raw_sqlite_commits(&dir, 20_000);
    println!("raw SQLite (WAL, synchronous=NORMAL) single-row commits: {raw:.0}/s");
    println!("peak resident memory: {} MiB", peak_rss_kib() / 1024);
    if std::env::var_os("BENCH_KEEP").is_some() {
        println!("database kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
