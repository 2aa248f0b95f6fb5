#!/usr/bin/env python3
"""stepwise serve beside two peer emulators, MiniStack and moto, in one run.

Servers, each started here on a free loopback port and stopped after each measurement (a fresh
instance per measurement, so the suite's leftovers do not weigh on the throughput run):

  stepwise           `target/release/stepwise serve --port P --data-dir TMP` (--stepwise-bin);
  ministack          MiniStack 1.5.33 as shipped: its console script `ministack` (entry point
                     `ministack.app:main`), port from the GATEWAY_PORT environment variable,
                     BIND_HOST=127.0.0.1, TMPDIR set to a scratch directory (its PID file);
  ministack-nosleep  the same with the fixed `time.sleep(0.15)` that MiniStack's Step Functions
                     emulator makes at the start of every execution (`_run_execution` in
                     `ministack/services/stepfunctions.py`, the thread body of StartExecution and
                     the body of StartSyncExecution) removed, by a `python -c` launcher that
                     patches it at start and then runs `ministack.app.main` (site-packages is
                     left untouched): the module's `time` becomes a proxy of the `time` module
                     whose `sleep(0.15)`, called from `_run_execution` only, returns at once;
  moto               moto 5.2.5, `moto_server -H 127.0.0.1 -p P`, with its executing Step
                     Functions emulator turned on (POST /moto-api/config
                     {"stepfunctions": {"execute_state_machine": true}}).

The peers run from a venv at target/bench-venv, created (python3 -m venv; pip install
"ministack==1.5.33" "moto[server]==5.2.5" boto3) when missing or when the versions differ; this
script re-executes itself under that venv's python when boto3 is not importable.

Measurements (boto3, region us-east-1, role arn:aws:iam::111111111111:role/x):

  1. suite: the AWS-recorded corpus (../shared/conformance/cases.jsonl) run as a test suite:
     for each case, one after the other through one client, CreateStateMachine (STANDARD),
     StartExecution with the case's input, DescribeExecution at once and then every 10 ms
     (--poll-interval) until the status is not RUNNING (at most --case-timeout s, 10 s), then
     DeleteStateMachine. Reported: the wall time of the whole suite, how many cases ended with
     the status AWS recorded (status only: a sanity check, not a fidelity comparison), and the
     errors (calls that failed, by API) and timeouts, per server.
     The cases: those a suite runs with no AWS service, no Lambda and no clock, i.e. every case
       - whose `needs` is empty and that has no `lambda_functions`;
       - whose `expected` is exact (`exact_comparable`: no placeholder such as a start time, a
         random number or an ARN part, so a suite could assert it);
       - recorded with StartExecution (`context.start_api`; leaves out the 4 cases recorded on
         an EXPRESS machine with StartSyncExecution, as this suite creates STANDARD machines);
       - whose definition has, at any depth (Parallel branches, Map processors), no Wait state,
         no TimeoutSeconds, TimeoutSecondsPath, HeartbeatSeconds or HeartbeatSecondsPath, and
         no Retry with a retrier that can retry (MaxAttempts, default 3, not 0) after a pause
         (IntervalSeconds, default 1, not 0): all of these wait in real time or need a
         controllable clock (the 4 retrying cases alone add 3-7 s each on every server).
     That is 858 of the corpus' 1,151 cases (printed at the start; --cases N takes the first N).
  2. throughput: a chain of 20 Pass states, created once; --processes worker processes (4),
     each with its own boto3 client, released together, start --executions executions (200)
     one call after the other, then poll DescribeExecution (oldest first, a sweep stopping at
     the first still RUNNING, 10 ms between sweeps) until all of theirs have SUCCEEDED.
     transitions/s = processes x executions x 20 / (last success seen - first start call).
     The client processes share the machine with the server, so the figure moves by 10-20%
     from run to run: --repeat N runs it N times (a fresh instance each) and reports min-max
     and the median.
  3. the server's peak resident memory (VmHWM from /proc/PID/status, plus that of any child
     process), read just before each instance is stopped.

Output: progress on stderr, then a markdown table (columns: servers) and one JSON line with
every figure on stdout. --verbose lists the suite cases that did not end with the recorded
status. Seen with the peers: moto 5.2.5 ships its JSONata evaluator stubbed out
(`_eval_jsonata = None` in moto/stepfunctions/parser/asl/jsonata/jsonata.py), so its JSONata and
variable (Assign) cases fail with States.Runtime "'NoneType' object is not callable"; MiniStack
lets succeed executions that AWS failed (bad MaxConcurrencyPath / ToleratedFailure*Path values,
Map items that are not an array, an InputPath/OutputPath matching nothing, an oversized input).

Usage (from the repository root; stepwise needs `cargo build --release -p stepwise-cli` first):

    python3 bench/peers.py [--only suite|throughput] [--servers stepwise,ministack,ministack-nosleep,moto]
                           [--cases N] [--executions 200] [--processes 4] [--repeat 3] [--verbose]
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "target" / "bench-venv"
MINISTACK_VERSION = "1.5.33"
MOTO_VERSION = "5.2.5"
REQUIREMENTS = [f"ministack=={MINISTACK_VERSION}", f"moto[server]=={MOTO_VERSION}", "boto3"]
CORPUS = REPO.parent / "shared" / "conformance" / "cases.jsonl"
ROLE_ARN = "arn:aws:iam::111111111111:role/x"
STATES = 20
ALL_SERVERS = ("stepwise", "ministack", "ministack-nosleep", "moto")
TITLES = {
    "stepwise": "stepwise serve",
    "ministack": f"MiniStack {MINISTACK_VERSION}",
    "ministack-nosleep": f"MiniStack {MINISTACK_VERSION} without its 150 ms sleep",
    "moto": f"moto {MOTO_VERSION}",
}
REEXEC_MARK = "STEPWISE_PEERS_REEXEC"

# MiniStack without the fixed 150 ms pause at the start of every execution: patched in memory,
# then MiniStack's own main(). Refuses to start if the pause is not where it is in 1.5.33.
NOSLEEP_LAUNCHER = r"""
import inspect, sys, time
import ministack.services.stepfunctions as sfn

if "time.sleep(0.15)" not in inspect.getsource(sfn._run_execution):
    sys.exit("ministack-nosleep: no time.sleep(0.15) in stepfunctions._run_execution: another MiniStack version?")
_run_execution_code = sfn._run_execution.__code__

class _TimeWithoutStartPause:
    # `time` as stepfunctions.py sees it: sleep(0.15) from _run_execution returns at once.
    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds):
        if seconds == 0.15 and sys._getframe(1).f_code is _run_execution_code:
            return
        time.sleep(seconds)

sfn.time = _TimeWithoutStartPause()
sys.argv = ["ministack"]
from ministack.app import main
sys.exit(main())
"""


class BenchError(Exception):
    pass


# --- environment -----------------------------------------------------------------------------

def venv_python():
    return VENV / "bin" / "python"


def venv_versions():
    """(ministack, moto, boto3) versions installed in the venv, or None."""
    py = venv_python()
    if not os.access(py, os.X_OK):
        return None
    code = (
        "import importlib.metadata as m\n"
        "out = []\n"
        "for p in ('ministack', 'moto', 'boto3', 'flask'):\n"
        "    try: out.append(m.version(p))\n"
        "    except m.PackageNotFoundError: out.append(None)\n"
        "print(' '.join(str(v) for v in out))"
    )
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return r.stdout.split()


def ensure_venv():
    """Creates target/bench-venv with the pinned peers when missing or out of date."""
    versions = venv_versions()
    ok = versions and versions[0] == MINISTACK_VERSION and versions[1] == MOTO_VERSION and "None" not in versions
    if ok:
        return
    if not os.access(venv_python(), os.X_OK):
        print(f"peers: creating the venv {VENV.relative_to(REPO)} ...", file=sys.stderr, flush=True)
        base = shutil.which("python3") or sys.executable
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    print(f"peers: installing {' '.join(REQUIREMENTS)} into {VENV.relative_to(REPO)} ...", file=sys.stderr, flush=True)
    subprocess.run(
        [str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
        check=True,
    )


def bootstrap(need_peers):
    """Makes sure boto3 is importable (re-executing under the venv if needed) and the venv exists."""
    try:
        import boto3  # noqa: F401
        have_boto3 = True
    except ImportError:
        have_boto3 = False
    if need_peers or not have_boto3:
        ensure_venv()
    if not have_boto3:
        if os.environ.get(REEXEC_MARK):
            raise SystemExit("peers: boto3 is not importable even under the bench venv")
        py = str(venv_python())
        # The script that was run (this one, or one importing it: bench/scale.py).
        os.execve(py, [py, str(Path(sys.argv[0]).resolve()), *sys.argv[1:]], dict(os.environ, **{REEXEC_MARK: "1"}))


# --- helpers (as in api_throughput.py) ---------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def vm_hwm_kib(pid):
    """Peak resident set size (VmHWM) of a live process, in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def descendants(pid):
    """PIDs of the live descendants of `pid` (from /proc/*/stat)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def log_tail(path, lines=20):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def client(endpoint, attempts=3, read_timeout=60):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=5, read_timeout=read_timeout),
    )


def error_text(e):
    """A short description of a boto3/botocore exception."""
    response = getattr(e, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        return f"{err.get('Code', '?')}: {str(err.get('Message', ''))[:200]}"
    return f"{type(e).__name__}: {str(e)[:200]}"


def pass_chain(states=STATES):
    """A chain of `states` Pass states, S01 -> S02 -> ... -> S20 (End)."""
    names = [f"S{i:02d}" for i in range(1, states + 1)]
    body = {}
    for i, name in enumerate(names):
        state = {"Type": "Pass"}
        if i + 1 < len(names):
            state["Next"] = names[i + 1]
        else:
            state["End"] = True
        body[name] = state
    return json.dumps({"Comment": f"{states}-state Pass chain", "StartAt": names[0], "States": body})


# --- servers -----------------------------------------------------------------------------------

class Server:
    """One emulator process on a free loopback port."""

    def __init__(self, name, workdir, stepwise_bin=None):
        self.name = name
        self.workdir = workdir
        self.stepwise_bin = stepwise_bin
        self.proc = None
        self.log = None
        self.runs = 0

    def command(self, port, scratch):
        bindir = VENV / "bin"
        env = dict(os.environ)
        for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(var, None)
        if self.name == "stepwise":
            data_dir = os.path.join(scratch, "data")
            os.mkdir(data_dir)
            return [self.stepwise_bin, "serve", "--port", str(port), "--data-dir", data_dir], env
        if self.name in ("ministack", "ministack-nosleep"):
            env.update(GATEWAY_PORT=str(port), BIND_HOST="127.0.0.1", TMPDIR=scratch)
            if self.name == "ministack":
                return [str(bindir / "ministack")], env
            return [str(bindir / "python"), "-c", NOSLEEP_LAUNCHER], env
        if self.name == "moto":
            return [str(bindir / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], env
        raise BenchError(f"unknown server {self.name}")

    def start(self, ready_timeout):
        self.runs += 1
        scratch = tempfile.mkdtemp(prefix=f"{self.name}-{self.runs}-", dir=self.workdir)
        port = free_port()
        argv, env = self.command(port, scratch)
        self.log = os.path.join(scratch, "server.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=scratch)
        endpoint = f"http://127.0.0.1:{port}"
        probe = client(endpoint, attempts=1, read_timeout=5)
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode} at start:\n{log_tail(self.log)}")
            if port_open(port):
                try:
                    probe.list_state_machines()
                    break
                except Exception:  # not ready yet
                    pass
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} not answering ListStateMachines on port {port} after {ready_timeout} s:\n{log_tail(self.log)}")
            time.sleep(0.1)
        if self.name == "moto":
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
        """VmHWM of the server process plus that of its live child processes."""
        if not self.proc or self.proc.poll() is not None:
            return None
        total = vm_hwm_kib(self.proc.pid)
        if total is None:
            return None
        for child in descendants(self.proc.pid):
            total += vm_hwm_kib(child) or 0
        return total

    def stop(self):
        stop(self.proc)
        self.proc = None


# --- the corpus ----------------------------------------------------------------------------------

TIMING_FIELDS = ("TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath")


def _objects(value):
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from _objects(v)


def suite_case(case):
    """Whether a corpus case belongs to the suite (see the module docstring)."""
    if case.get("needs") or case.get("lambda_functions"):
        return False
    if not case.get("exact_comparable"):
        return False
    if (case.get("context") or {}).get("start_api", "start_execution") != "start_execution":
        return False
    for obj in _objects(case["definition"]):
        if obj.get("Type") == "Wait" or any(field in obj for field in TIMING_FIELDS):
            return False
        for retrier in obj.get("Retry") or []:
            # A retrier that retries waits IntervalSeconds (default 1) in real time.
            if isinstance(retrier, dict) and retrier.get("MaxAttempts", 3) != 0 and retrier.get("IntervalSeconds", 1) != 0:
                return False
    return True


def load_cases(path, limit):
    with open(path) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    chosen = [c for c in cases if suite_case(c)]
    return len(cases), chosen[:limit] if limit else chosen


# --- measurements --------------------------------------------------------------------------------

def run_suite(endpoint, cases, poll_interval, case_timeout, name):
    from botocore.exceptions import BotoCoreError, ClientError

    sfn = client(endpoint)
    errors = Counter()
    samples = []
    statuses = Counter()
    unexpected = Counter()  # "STATUS error" of the cases that did not end as recorded
    unexpected_cases = []
    matched = timeouts = 0

    def failed(phase, case, e):
        errors[phase] += 1
        if len(samples) < 8:
            samples.append(f"{phase} {case['id']}: {error_text(e)}")

    t0 = time.monotonic()
    for i, case in enumerate(cases):
        if i and i % 100 == 0:
            print(f"  {name}: {i}/{len(cases)} cases, {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
        try:
            arn = sfn.create_state_machine(
                name=f"suite-{i:04d}", definition=json.dumps(case["definition"]), roleArn=ROLE_ARN, type="STANDARD"
            )["stateMachineArn"]
        except (ClientError, BotoCoreError) as e:
            failed("CreateStateMachine", case, e)
            continue
        try:
            exec_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps(case["input"]))["executionArn"]
            deadline = time.monotonic() + case_timeout
            while True:
                described = sfn.describe_execution(executionArn=exec_arn)
                status = described["status"]
                if status != "RUNNING":
                    break
                if time.monotonic() > deadline:
                    timeouts += 1
                    if len(samples) < 8:
                        samples.append(f"timeout {case['id']}: still RUNNING after {case_timeout} s")
                    break
                time.sleep(poll_interval)
            statuses[status] += 1
            if status == case["expected"]["status"]:
                matched += 1
            else:
                unexpected[f"{status} {described.get('error') or ''}".strip()] += 1
                unexpected_cases.append(
                    f"{case['id']}: {status} {described.get('error') or ''} {str(described.get('cause') or '')[:160]}"
                    f" (recorded {case['expected']['status']} {case['expected'].get('error') or ''})"
                )
        except (ClientError, BotoCoreError) as e:
            failed("StartExecution/DescribeExecution", case, e)
        try:
            sfn.delete_state_machine(stateMachineArn=arn)
        except (ClientError, BotoCoreError) as e:
            failed("DeleteStateMachine", case, e)
    elapsed = time.monotonic() - t0
    return {
        "cases": len(cases),
        "seconds": round(elapsed, 2),
        "ms_per_case": round(1000 * elapsed / max(len(cases), 1), 1),
        "expected_status": matched,
        "statuses": dict(statuses),
        "unexpected": dict(unexpected.most_common()),
        "timeouts": timeouts,
        "errors": dict(errors),
        "error_samples": samples,
        "unexpected_cases": unexpected_cases,  # printed with --verbose, left out of the JSON
    }


def throughput_worker(endpoint, arn, worker, executions, poll_interval, timeout, barrier, results):
    """One worker process: starts its executions, then polls until all have SUCCEEDED."""
    try:
        sfn = client(endpoint)
        sfn.describe_state_machine(stateMachineArn=arn)  # connection open before the clock runs
        barrier.wait(timeout=120)
        t_start = time.monotonic()
        pending = [
            sfn.start_execution(stateMachineArn=arn, name=f"w{worker}-{i:05d}", input="{}")["executionArn"]
            for i in range(executions)
        ]
        t_started = time.monotonic()
        deadline = t_start + timeout
        describes = 0
        while pending:
            still = []
            for k, exec_arn in enumerate(pending):
                status = sfn.describe_execution(executionArn=exec_arn)["status"]
                describes += 1
                if status == "SUCCEEDED":
                    continue
                if status != "RUNNING":
                    raise BenchError(f"execution {exec_arn} ended {status}, expected SUCCEEDED")
                still = pending[k:]
                break
            pending = still
            if not pending:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"timed out after {timeout} s with {len(pending)} of {executions} executions not SUCCEEDED")
            time.sleep(poll_interval)
        results.put({"worker": worker, "t_start": t_start, "t_started": t_started, "t_done": time.monotonic(), "describes": describes})
    except Exception as e:  # reported by the parent
        results.put({"worker": worker, "error": error_text(e) if not isinstance(e, BenchError) else str(e)})


def run_throughput(endpoint, processes, executions, poll_interval, timeout):
    import multiprocessing

    sfn = client(endpoint)
    arn = sfn.create_state_machine(name="peers-pass-chain-20", definition=pass_chain(), roleArn=ROLE_ARN, type="STANDARD")[
        "stateMachineArn"
    ]
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=throughput_worker, args=(endpoint, arn, w, executions, poll_interval, timeout, barrier, results))
        for w in range(processes)
    ]
    for p in workers:
        p.start()
    reports = []
    try:
        for _ in workers:
            reports.append(results.get(timeout=timeout + 180))
    finally:
        for p in workers:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join()
    failures = [r["error"] for r in reports if "error" in r]
    if failures:
        raise BenchError(f"{len(failures)} of {processes} workers failed: {failures[0]}")
    t_first = min(r["t_start"] for r in reports)
    t_last = max(r["t_done"] for r in reports)
    elapsed = t_last - t_first
    total = processes * executions
    return {
        "processes": processes,
        "executions": total,
        "states_per_execution": STATES,
        "seconds": round(elapsed, 3),
        "start_seconds": round(max(r["t_started"] for r in reports) - t_first, 3),
        "executions_per_s": round(total / elapsed, 1),
        "transitions_per_s": round(total * STATES / elapsed, 1),
        "describe_calls": sum(r["describes"] for r in reports),
    }


def measure(server, what, args, cases):
    """Runs one measurement on a fresh instance of `server`; returns its figures or an error."""
    try:
        endpoint = server.start(args.ready_timeout)
        try:
            if what == "suite":
                out = run_suite(endpoint, cases, args.poll_interval, args.case_timeout, server.name)
            else:
                out = run_throughput(endpoint, args.processes, args.executions, args.poll_interval, args.timeout)
            out["peak_rss_kib"] = server.peak_rss_kib()
            if server.proc.poll() is not None:
                out["server_exit"] = server.proc.returncode
            return out
        finally:
            server.stop()
    except Exception as e:  # one server's failure must not stop the others
        text = str(e) if isinstance(e, BenchError) else error_text(e)
        return {"error": text}


def combine_throughput(runs):
    """The throughput runs of one server (one fresh instance each) summed up: median, min, max."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0]["error"], "runs": runs}
    rates = [r["transitions_per_s"] for r in ok]
    return {
        "transitions_per_s": round(statistics.median(rates), 1),
        "transitions_per_s_min": min(rates),
        "transitions_per_s_max": max(rates),
        "failed_runs": len(runs) - len(ok),
        "peak_rss_kib": max((r["peak_rss_kib"] or 0 for r in ok), default=0) or None,
        "runs": runs,
    }


# --- output ----------------------------------------------------------------------------------------

def fmt_mib(kib):
    return f"{kib / 1024:,.0f} MiB" if kib else "–"


def table(servers, results, args, n_cases):
    cols = [TITLES[s] for s in servers]
    lines = ["| | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]

    def row(label, cell):
        lines.append(f"| {label} | " + " | ".join(cell(results[s]) for s in servers) + " |")

    def part(r, key):
        return r.get(key) or {}

    if "suite" in args.only:
        def suite_time(r):
            s = part(r, "suite")
            if "error" in s:
                return "error"
            if not s:
                return "–"
            extra = []
            n_err = sum(s["errors"].values())
            if n_err:
                extra.append(f"{n_err} errors")
            if s["timeouts"]:
                extra.append(f"{s['timeouts']} timeouts")
            return f"{s['seconds']:,.1f} s" + (f" ({', '.join(extra)})" if extra else "")

        def suite_status(r):
            s = part(r, "suite")
            return f"{s['expected_status']} / {s['cases']}" if "cases" in s else "–"

        row(f"{n_cases} corpus cases as a test suite (create, start, poll every {args.poll_interval * 1000:g} ms, delete)", suite_time)
        row("… cases ending with the recorded status", suite_status)
        row("… peak RSS of the server", lambda r: fmt_mib(part(r, "suite").get("peak_rss_kib")))
    if "throughput" in args.only:
        def tput(r):
            t = part(r, "throughput")
            if "error" in t:
                return "error"
            if not t:
                return "–"
            if len(t["runs"]) == 1:
                text = f"{t['transitions_per_s']:,.0f} transitions/s"
            else:
                text = (
                    f"{t['transitions_per_s_min']:,.0f}–{t['transitions_per_s_max']:,.0f} transitions/s "
                    f"(median {t['transitions_per_s']:,.0f})"
                )
            return text + (f" ({t['failed_runs']} failed runs)" if t["failed_runs"] else "")

        row(f"{args.processes} boto3 processes × {args.executions} executions × {STATES} Pass states", tput)
        row("… peak RSS of the server", lambda r: fmt_mib(part(r, "throughput").get("peak_rss_kib")))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("suite", "throughput"), help="run one measurement only")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS), help=f"comma-separated, of {','.join(ALL_SERVERS)} (default: all)")
    ap.add_argument("--cases", type=int, default=0, help="run only the first N suite cases (default: all)")
    ap.add_argument("--cases-file", default=str(CORPUS), help="the corpus (default: ../shared/conformance/cases.jsonl)")
    ap.add_argument("--case-timeout", type=float, default=10, help="seconds a suite case may stay RUNNING (default 10)")
    ap.add_argument("--executions", type=int, default=200, help="executions per worker process (default 200)")
    ap.add_argument("--processes", type=int, default=4, help="throughput worker processes (default 4)")
    ap.add_argument("--repeat", type=int, default=1, help="throughput runs per server, each on a fresh instance (default 1; >1 reports min-max and median)")
    ap.add_argument("--poll-interval", type=float, default=0.01, help="seconds between DescribeExecution polls (default 0.01)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per server for the throughput run (default 600)")
    ap.add_argument("--ready-timeout", type=float, default=60, help="seconds allowed for a server to start (default 60)")
    ap.add_argument("--verbose", action="store_true", help="list the suite cases that did not end with the recorded status")
    ap.add_argument("--stepwise-bin", default=str(REPO / "target" / "release" / "stepwise"))
    args = ap.parse_args()

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in ALL_SERVERS]
    if unknown or not servers:
        ap.error(f"--servers: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(ALL_SERVERS)}")
    if args.executions < 1 or args.processes < 1 or args.repeat < 1:
        ap.error("--executions, --processes and --repeat must be at least 1")
    args.only = (args.only,) if args.only else ("suite", "throughput")
    if "stepwise" in servers and not os.access(args.stepwise_bin, os.X_OK):
        print(
            f"peers: {args.stepwise_bin} not found: run `cargo build --release -p stepwise-cli` first "
            f"(or leave stepwise out with --servers {','.join(s for s in servers if s != 'stepwise') or 'moto'})",
            file=sys.stderr,
        )
        return 2

    bootstrap(need_peers=any(s != "stepwise" for s in servers))
    import boto3

    corpus_total, cases = 0, []
    if "suite" in args.only:
        corpus_total, cases = load_cases(args.cases_file, args.cases)
        print(f"peers: suite of {len(cases)} cases (of {corpus_total} in the corpus)", file=sys.stderr, flush=True)

    t_begin = time.monotonic()
    results = {s: {} for s in servers}
    with tempfile.TemporaryDirectory(prefix="stepwise-peers-") as work:
        for name in servers:
            server = Server(name, work, stepwise_bin=args.stepwise_bin)
            for what in args.only:
                print(f"peers: {name}: {what} ...", file=sys.stderr, flush=True)
                t = time.monotonic()
                if what == "suite":
                    r = measure(server, what, args, cases)
                else:
                    runs = []
                    for k in range(args.repeat):
                        runs.append(measure(server, what, args, cases))
                        if args.repeat > 1:
                            run = runs[-1]
                            figure = run.get("error") or f"{run['transitions_per_s']} transitions/s"
                            print(f"  {name}: throughput run {k + 1}/{args.repeat}: {figure}", file=sys.stderr, flush=True)
                    r = combine_throughput(runs)
                results[name][what] = r
                if "error" in r:
                    print(f"peers: {name}: {what} failed: {r['error']}", file=sys.stderr, flush=True)
                else:
                    summary = (
                        f"{r['seconds']} s, {r['expected_status']}/{r['cases']} expected status, errors {r['errors']}, timeouts {r['timeouts']}"
                        if what == "suite"
                        else f"{r['transitions_per_s']} transitions/s"
                        + (f" (median of {len(r['runs'])}: {r['transitions_per_s_min']}–{r['transitions_per_s_max']})" if len(r["runs"]) > 1 else "")
                    )
                    print(f"peers: {name}: {what}: {summary}; peak RSS {fmt_mib(r['peak_rss_kib'])} ({time.monotonic() - t:.0f} s)", file=sys.stderr, flush=True)
                    for line in r.get("error_samples", []):
                        print(f"    {line}", file=sys.stderr)
                    if r.get("unexpected"):
                        print(f"    not ending as recorded: {r['unexpected']}", file=sys.stderr)
                    unexpected_cases = r.pop("unexpected_cases", [])
                    if args.verbose:
                        for line in unexpected_cases:
                            print(f"    {line}", file=sys.stderr)
    total_seconds = time.monotonic() - t_begin

    print(table(servers, results, args, len(cases)))
    print(json.dumps({
        "benchmark": "peers",
        "python": sys.version.split()[0],
        "boto3": boto3.__version__,
        "versions": {"ministack": MINISTACK_VERSION, "moto": MOTO_VERSION},
        "suite_cases": len(cases) if "suite" in args.only else None,
        "corpus_cases": corpus_total or None,
        "poll_interval_s": args.poll_interval,
        "case_timeout_s": args.case_timeout,
        "processes": args.processes,
        "executions_per_process": args.executions,
        "throughput_repeat": args.repeat,
        "states_per_execution": STATES,
        "total_seconds": round(total_seconds, 1),
        "results": results,
    }))
    failed = any("error" in r for per in results.values() for r in per.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
