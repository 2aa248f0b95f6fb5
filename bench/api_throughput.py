#!/usr/bin/env python3
"""Step Functions API throughput: `stepwise serve` against moto server (issue 5).

Starts both servers itself on loopback (a fresh temporary data directory for stepwise; moto
with its executing Step Functions emulator turned on), and through one boto3 client per server:

  1. creates a state machine: a chain of 20 Pass states (generated here);
  2. starts N executions (input `{}`), one StartExecution call after the other;
  3. polls DescribeExecution until every execution has SUCCEEDED (bounded by --timeout;
     any other terminal status, or the timeout, fails the run).

The measured time runs from the first StartExecution call to the DescribeExecution that saw the
last execution succeed. Reported per server: executions/s, state transitions/s (20 per
execution), and for stepwise the peak resident memory of the server process (VmHWM from
/proc/PID/status, read just before stopping it). Prints a small table and one JSON line.

Usage (from the repository root, after `cargo build --release -p stepwise-cli`):

    .venv/bin/python bench/api_throughput.py [--executions 200] [--timeout 300]

Only the standard library and boto3.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import free_port, log_tail, pass_chain, port_open, stop, vm_hwm_kib  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
STATES = 20
ROLE_ARN = "arn:aws:iam::123456789012:role/stepwise-bench"


class BenchError(Exception):
    pass


# The chain, the port and process helpers are bench/peers.py's.
definition = pass_chain


def client(endpoint):
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60),
    )


class Stepwise:
    name = "stepwise"

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.proc = None
        self.log = os.path.join(workdir, "stepwise.log")

    def start(self, ready_timeout):
        if not os.access(self.binary, os.X_OK):
            raise BenchError(f"{self.binary} not found: run `cargo build --release -p stepwise-cli` first")
        data_dir = os.path.join(self.workdir, "stepwise-data")
        os.mkdir(data_dir)
        port = free_port()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--port", str(port), "--data-dir", data_dir],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + ready_timeout
        while not port_open(port):
            if self.proc.poll() is not None:
                raise BenchError(f"stepwise serve exited with {self.proc.returncode}:\n{log_tail(self.log)}")
            if time.monotonic() > deadline:
                raise BenchError(f"stepwise serve not listening on port {port} after {ready_timeout} s")
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    def peak_rss_kib(self):
        return vm_hwm_kib(self.proc.pid) if self.proc and self.proc.poll() is None else None

    def stop(self):
        stop(self.proc)


class Moto:
    name = "moto"

    def __init__(self, binary, workdir):
        self.binary = binary
        self.proc = None
        self.log = os.path.join(workdir, "moto.log")

    def start(self, ready_timeout):
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise BenchError("moto_server not found: install moto[server] (see scripts/test.sh) or pass --moto-server")
        port = free_port()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-H", "127.0.0.1", "-p", str(port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"moto_server exited with {self.proc.returncode}:\n{log_tail(self.log)}")
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/reset", data=b"", timeout=2).read()
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise BenchError(f"moto_server not ready on port {port} after {ready_timeout} s")
                time.sleep(0.2)
        # Turn on the emulator that executes definitions (otherwise executions stay RUNNING).
        req = urllib.request.Request(
            f"{endpoint}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(req, timeout=10).read()
        return endpoint

    def peak_rss_kib(self):
        return vm_hwm_kib(self.proc.pid) if self.proc and self.proc.poll() is None else None

    def stop(self):
        stop(self.proc)


def run(server, executions, timeout, ready_timeout, poll_interval):
    """Runs the workload against one server; returns its figures."""
    try:
        endpoint = server.start(ready_timeout)
        sfn = client(endpoint)
        arn = sfn.create_state_machine(name="bench-pass-chain-20", definition=definition(), roleArn=ROLE_ARN)[
            "stateMachineArn"
        ]

        # The client's ceiling: the rate of the cheapest call (DescribeStateMachine) on this
        # server, before the workload. The workload needs one StartExecution per 20
        # transitions, so no server can show more than 20 x this rate through this client.
        probes = 300
        t_probe = time.perf_counter()
        for _ in range(probes):
            sfn.describe_state_machine(stateMachineArn=arn)
        calls_per_s = probes / (time.perf_counter() - t_probe)

        t0 = time.perf_counter()
        pending = []
        for i in range(executions):
            pending.append(sfn.start_execution(stateMachineArn=arn, name=f"bench-{i:05d}", input="{}")["executionArn"])
        t_started = time.perf_counter()

        deadline = t0 + timeout
        describes = 0
        while pending:
            # Oldest first; a sweep stops at the first execution still running, so the polling
            # load stays small while the server works.
            still = []
            for k, exec_arn in enumerate(pending):
                status = sfn.describe_execution(executionArn=exec_arn)["status"]
                describes += 1
                if status == "SUCCEEDED":
                    continue
                if status != "RUNNING":
                    raise BenchError(f"{server.name}: execution {exec_arn} ended {status}, expected SUCCEEDED")
                still = pending[k:]
                break
            pending = still
            if not pending:
                break
            if time.perf_counter() > deadline:
                raise BenchError(
                    f"{server.name}: timed out after {timeout} s with {len(pending)} of {executions} "
                    f"executions not SUCCEEDED (raise --timeout or lower --executions)"
                )
            time.sleep(poll_interval)
        t_done = time.perf_counter()

        elapsed = t_done - t0
        return {
            "executions": executions,
            "seconds": round(elapsed, 3),
            "start_seconds": round(t_started - t0, 3),
            "executions_per_s": round(executions / elapsed, 2),
            "transitions_per_s": round(executions * STATES / elapsed, 1),
            "describe_calls": describes,
            "cheapest_calls_per_s": round(calls_per_s, 1),
            "peak_rss_kib": server.peak_rss_kib(),
        }
    finally:
        server.stop()


def default_moto_server():
    for candidate in (
        Path(sys.executable).parent / "moto_server",
        REPO / ".venv" / "bin" / "moto_server",
    ):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("moto_server")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--executions", type=int, default=200, help="executions per server (default 200)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds allowed per server for all executions to succeed (default 300)")
    ap.add_argument("--ready-timeout", type=float, default=60, help="seconds allowed for a server to start (default 60)")
    ap.add_argument("--poll-interval", type=float, default=0.02, help="pause between DescribeExecution sweeps in seconds (default 0.02)")
    ap.add_argument("--stepwise-bin", default=str(REPO / "target" / "release" / "stepwise"))
    ap.add_argument("--moto-server", default=default_moto_server())
    args = ap.parse_args()
    if args.executions < 1:
        ap.error("--executions must be at least 1")

    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="stepwise-bench-") as work:
            for server in (Stepwise(args.stepwise_bin, work), Moto(args.moto_server, work)):
                print(f"{server.name}: {args.executions} executions of a {STATES}-state Pass chain ...", file=sys.stderr, flush=True)
                results[server.name] = run(server, args.executions, args.timeout, args.ready_timeout, args.poll_interval)
    except BenchError as e:
        print(f"api_throughput: {e}", file=sys.stderr)
        return 1

    sw, mo = results["stepwise"], results["moto"]
    ratio = sw["transitions_per_s"] / mo["transitions_per_s"]

    print(f"{'server':<10} {'executions':>10} {'seconds':>9} {'executions/s':>13} {'transitions/s':>14} {'peak RSS':>10}")
    for name, r in results.items():
        rss = f"{r['peak_rss_kib'] / 1024:.1f} MiB" if r["peak_rss_kib"] else "-"
        print(f"{name:<10} {r['executions']:>10} {r['seconds']:>9.2f} {r['executions_per_s']:>13.1f} {r['transitions_per_s']:>14.1f} {rss:>10}")
    print(f"ratio stepwise/moto (transitions/s): {ratio:.1f}x (target >= 100x: {'met' if ratio >= 100 else 'not met'})")
    ceiling = sw["cheapest_calls_per_s"] * STATES
    print(
        f"client ceiling: {sw['cheapest_calls_per_s']:.0f} DescribeStateMachine calls/s through boto3 on stepwise "
        f"= at most {ceiling:.0f} transitions/s for any server = {ceiling / mo['transitions_per_s']:.1f}x moto"
    )
    print(json.dumps({
        "benchmark": "api_throughput",
        "states_per_execution": STATES,
        "executions": args.executions,
        "stepwise": sw,
        "moto": mo,
        "ratio_transitions_per_s": round(ratio, 2),
        "client_ceiling_ratio": round(sw["cheapest_calls_per_s"] * STATES / mo["transitions_per_s"], 2),
        "stepwise_peak_rss_kib": sw["peak_rss_kib"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
