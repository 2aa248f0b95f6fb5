#!/usr/bin/env python3
"""`stepwise serve` with many finished executions stored: its memory, and whether reading them
stays as fast as with none.

Starts `target/release/stepwise serve` (--stepwise-bin) on a fresh data directory, creates a
chain of 5 Pass states, and:

  1. runs 100 executions (a full first page) and measures the read calls: ListExecutions (first
     page of 100, newest first), ListExecutions filtered by status SUCCEEDED, and
     DescribeExecution of one of them, each called --calls times (median and 90th percentile, in ms, as boto3 sees
     them: the HTTP round trip on loopback included);
  2. runs --executions executions (100,000) to SUCCEEDED through --processes boto3 client
     processes (StartExecution one call after the other in each), then waits until
     ListExecutions(statusFilter=RUNNING) is empty;
  3. measures the same read calls again (DescribeExecution of executions picked at random), and
     the server's peak resident memory (VmHWM from /proc/PID/status) and its data directory's
     size.

Prints a markdown table and one JSON line.

Usage (from the repository root, after `cargo build --release -p stepwise-cli`):

    python3 bench/scale.py [--executions 100000] [--processes 4] [--calls 200]

Uses bench/peers.py's server launcher and venv (boto3).
"""

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

ROLE = "arn:aws:iam::111111111111:role/x"


def timed(calls, fn):
    """Median and 90th percentile (ms) of `calls` calls of fn(i)."""
    times = []
    for i in range(calls):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 3), "p90_ms": round(times[int(0.9 * (len(times) - 1))], 3)}


def reads(sfn, machine, arns, calls):
    return {
        "list": timed(calls, lambda i: sfn.list_executions(stateMachineArn=machine, maxResults=100)),
        "list_succeeded": timed(
            calls, lambda i: sfn.list_executions(stateMachineArn=machine, statusFilter="SUCCEEDED", maxResults=100)
        ),
        "describe": timed(calls, lambda i: sfn.describe_execution(executionArn=random.choice(arns))),
    }


def starter(endpoint, machine, worker, count, out):
    sfn = peers.client(endpoint)
    for i in range(count):
        sfn.start_execution(stateMachineArn=machine, name=f"w{worker}-{i}", input="{}")
    out.put(count)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--executions", type=int, default=100_000)
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--stepwise-bin", default=str(peers.REPO / "target" / "release" / "stepwise"))
    args = ap.parse_args()
    peers.bootstrap(need_peers=False)
    if not os.path.exists(args.stepwise_bin):
        print(f"{args.stepwise_bin} is missing: run `cargo build --release -p stepwise-cli` first", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="stepwise-scale-")
    server = peers.Server("stepwise", workdir, args.stepwise_bin)
    try:
        endpoint = server.start(ready_timeout=30)
        sfn = peers.client(endpoint)
        machine = sfn.create_state_machine(name="scale", definition=peers.pass_chain(5), roleArn=ROLE)["stateMachineArn"]
        # A full first page: the listings compared return 100 executions either way.
        firsts = [sfn.start_execution(stateMachineArn=machine, name=f"first-{i}", input="{}")["executionArn"] for i in range(100)]
        while sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]:
            time.sleep(0.01)
        before = reads(sfn, machine, firsts, args.calls)
        print(f"empty: {json.dumps(before)}", file=sys.stderr)

        per = args.executions // args.processes
        out = multiprocessing.Queue()
        began = time.monotonic()
        workers = [
            multiprocessing.Process(target=starter, args=(endpoint, machine, w, per, out)) for w in range(args.processes)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        started = sum(out.get() for _ in workers)
        while sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]:
            time.sleep(0.1)
        run_secs = time.monotonic() - began
        print(f"{started} executions done in {run_secs:.1f} s", file=sys.stderr)
        sample = [f"{machine.replace(':stateMachine:', ':execution:')}:w{random.randrange(args.processes)}-{random.randrange(per)}" for _ in range(1000)]
        after = reads(sfn, machine, sample, args.calls)
        rss = server.peak_rss_kib()
        data = Path(server.proc.args[server.proc.args.index("--data-dir") + 1])
        size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "executions": started + 100,
        "run_seconds": round(run_secs, 1),
        "executions_per_second": round(started / run_secs),
        "empty": before,
        "full": after,
        "peak_rss_mib": round((rss or 0) / 1024, 1),
        "data_dir_mib": round(size / 2**20, 1),
    }
    print("| call | with 100 executions: median / p90 ms | with {:,}: median / p90 ms |".format(started + 100))
    print("|---|---|---|")
    for key, label in [("list", "ListExecutions (100)"), ("list_succeeded", "ListExecutions SUCCEEDED (100)"), ("describe", "DescribeExecution")]:
        b, a = before[key], after[key]
        print(f"| {label} | {b['median_ms']} / {b['p90_ms']} | {a['median_ms']} / {a['p90_ms']} |")
    print(f"\npeak resident memory of stepwise serve: {result['peak_rss_mib']} MiB; data directory {result['data_dir_mib']} MiB")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
