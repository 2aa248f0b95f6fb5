#!/usr/bin/env python3
"""A Distributed Map at scale on the embedded runtime (issue 13).

Starts a moto server and `stepwise serve` (pointed at moto, a fresh temporary data directory)
itself, puts N items as JSON Lines in an S3 bucket on moto, and runs one state machine: a
Distributed Map reading them (ItemReader JSONL), an ItemSelector, MaxConcurrency M, EXPRESS
children of one Pass state, and a ResultWriter to the same bucket. Measured from StartExecution
to the DescribeExecution that saw SUCCEEDED; then checks DescribeMapRun's counts and the result
file's entries, and reports the peak resident memory of the server (VmHWM from /proc).

Usage (from the repository root, after `cargo build --release -p stepwise-cli`):

    .venv/bin/python bench/distributed_map.py [--items 10000] [--concurrency 1000] [--binary PATH]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--binary", default=str(REPO / "target/release/stepwise"))
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()

    creds = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    moto_port, sw_port = free_port(), free_port()
    moto_url, sw_url = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{sw_port}"
    data = tempfile.mkdtemp(prefix="stepwise-dm-bench-")
    env = dict(os.environ, MOTO_ACCOUNT_ID="111111111111", AWS_ENDPOINT_URL=moto_url,
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1",
               AWS_DEFAULT_REGION="us-east-1")
    moto = subprocess.Popen([sys.executable, str(REPO / "scripts/moto_server.py"), "-H", "127.0.0.1",
                             "-p", str(moto_port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        wait_http(moto_url + "/moto-api/")
        server = subprocess.Popen([args.binary, "serve", "--port", str(sw_port), "--data-dir", data], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(sw_url + "/")
        s3 = boto3.client("s3", endpoint_url=moto_url, **creds)
        sfn = boto3.client("stepfunctions", endpoint_url=sw_url, config=Config(retries={"max_attempts": 1}),
                           **creds)
        bucket = "dm-bench"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="items.jsonl",
                      Body="\n".join(json.dumps({"id": i, "name": f"item-{i}"}) for i in range(args.items)))
        definition = {"StartAt": "Fan", "States": {"Fan": {
            "Type": "Map", "MaxConcurrency": args.concurrency,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
                           "Parameters": {"Bucket": bucket, "Key": "items.jsonl"}},
            "ItemSelector": {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                              "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "Parameters": {"Bucket": bucket, "Prefix": "results"}},
            "End": True}}}
        machine = sfn.create_state_machine(name="DmBench", definition=json.dumps(definition),
                                           roleArn="arn:aws:iam::111111111111:role/bench")["stateMachineArn"]
        started = time.time()
        arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        while (d := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            if time.time() - started > args.timeout:
                raise SystemExit("timed out")
            time.sleep(0.05)
        elapsed = time.time() - started
        if d["status"] != "SUCCEEDED":
            raise SystemExit(f"execution {d['status']}: {d.get('error')} {d.get('cause')}")
        out = json.loads(d["output"])
        run = sfn.describe_map_run(mapRunArn=out["MapRunArn"])
        assert run["executionCounts"]["succeeded"] == args.items, run
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=out["ResultWriterDetails"]["Key"])["Body"].read())
        [succeeded] = manifest["ResultFiles"]["SUCCEEDED"]
        results = json.loads(s3.get_object(Bucket=bucket, Key=succeeded["Key"])["Body"].read())
        assert len(results) == args.items, len(results)
        rss = peak_rss_mib(server.pid)
        row = {"items": args.items, "max_concurrency": args.concurrency, "seconds": round(elapsed, 2),
               "children_per_second": round(args.items / elapsed, 1), "peak_rss_mib": round(rss, 1),
               "result_file_bytes": succeeded["Size"]}
        print(f"{args.items} items, MaxConcurrency {args.concurrency}: {elapsed:.1f} s "
              f"({args.items / elapsed:.0f} children/s), peak RSS {rss:.0f} MiB, "
              f"result file {succeeded['Size'] / 1e6:.1f} MB")
        print(json.dumps(row))
    finally:
        for p in (server, moto):
            if p:
                p.terminate()
                p.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
