//! Stepper throughput: a 100-state Pass/Choice/intrinsic chain, a 100-state plain Pass chain,
//! and a Map of 10,000 items, run in memory with `time_scale = 0`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Map, Value};
use stepwise_asl::local::{run_machine, NoFunctions, RunOptions};
use stepwise_sample::pass_chain;

/// `n` states; every third a Choice, every third an intrinsic Pass, the rest plain Pass.
fn mixed_chain(n: usize) -> Value {
    let mut states = Map::new();
    for i in 0..n {
        let name = format!("S{i}");
        let next = format!("S{}", i + 1);
        let mut s = match i % 3 {
            0 => json!({"Type": "Pass", "Result": {"n": i}, "ResultPath": "$.last"}),
            1 => {
                json!({"Type": "Choice", "Choices": [{"Variable": "$.last.n", "NumericGreaterThanEquals": 0, "Next": next}], "Default": next})
            }
            _ => json!({"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.last.n, 1)", "last.$": "$.last"}}),
        };
        if i % 3 != 1 {
            if i + 1 == n {
                s["End"] = json!(true);
            } else {
                s["Next"] = json!(next);
            }
        } else if i + 1 == n {
            s = json!({"Type": "Succeed"});
        }
        states.insert(name, s);
    }
    json!({"StartAt": "S0", "States": states})
}

fn map_of(items: usize) -> (Value, Value) {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}},
        "End": true}}});
    let input = json!({"items": (0..items).collect::<Vec<_>>()});
    (def, input)
}

/// The stepper alone: feed each Schedule effect straight back as the next event (no timers,
/// no tasks in these machines), dropping history.
fn step_only(m: &stepwise_asl::StateMachine, input: Value) -> usize {
    use stepwise_asl::local::SimEnv;
    use stepwise_asl::stepper::{new_execution, step, Effect, Event, ExecutionInfo};
    let start = chrono::Utc::now();
    let mut env = SimEnv::new(start, 1);
    let info = ExecutionInfo::new("1", "us-east-1", "m", "e", "arn:aws:iam::1:role/r", false);
    let mut x = new_execution(info, input, start);
    let mut queue = std::collections::VecDeque::from([Event::Start]);
    let mut steps = 0;
    while let Some(ev) = queue.pop_front() {
        let t = step(m, x, ev, &mut env);
        steps += 1;
        x = t.execution;
        for e in t.effects {
            if let Effect::Schedule { frame, timer, .. } = e {
                queue.push_back(Event::Advance { frame, timer });
            }
        }
    }
    steps
}

fn bench(c: &mut Criterion) {
    let opts = RunOptions { time_scale: 0.0, ..Default::default() };
    let mut g = c.benchmark_group("stepper");
    for (label, def) in [("pass_chain_100", pass_chain(100)), ("mixed_chain_100", mixed_chain(100))] {
        let m = stepwise_asl::load(&def, false).expect("valid");
        // transitions = states entered
        g.throughput(Throughput::Elements(100));
        g.bench_function(BenchmarkId::new("execution", label), |b| {
            b.iter(|| futures_executor::block_on(run_machine(&m, json!({"x": 1}), &opts, &mut NoFunctions)));
        });
    }
    let m = stepwise_asl::load(&pass_chain(100), false).expect("valid");
    g.throughput(Throughput::Elements(100));
    g.bench_function("step_only/pass_chain_100", |b| b.iter(|| step_only(&m, json!({"x": 1}))));
    let m = stepwise_asl::load(&mixed_chain(100), false).expect("valid");
    g.bench_function("step_only/mixed_chain_100", |b| b.iter(|| step_only(&m, json!({"x": 1}))));
    let (def, input) = map_of(10_000);
    let m = stepwise_asl::load(&def, false).expect("valid");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("map_10000_items", |b| {
        b.iter(|| futures_executor::block_on(run_machine(&m, input.clone(), &opts, &mut NoFunctions)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
