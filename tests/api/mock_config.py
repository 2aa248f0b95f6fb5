"""The stock-trading sample under Step Functions Local's mock configuration, through the AWS CLI
against `stepwise serve --mock-config examples/stock-trading/mock-config.json --time-scale 0`:
every Lambda, the SQS approval and the SNS report are mocked, nothing is called.

Usage: mock_config.py ENDPOINT_URL   (the AWS CLI is $AWS_CLI, default `aws`)

Cases: Buy, Sell, PriceCheckRetried (the price check throws twice, the Retry this test adds to
the sample succeeds on the third call), Rejected (the approval is mocked to fail); an unknown
test case is refused with InvalidName.
"""

import json
import os
import subprocess
import sys
import time

from common import ENV

URL = sys.argv[1]
AWS_CLI = os.environ.get("AWS_CLI", "aws")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ENV = dict(ENV)


def aws(*args, ok=True):
    p = subprocess.run(
        [AWS_CLI, "--endpoint-url", URL, "--output", "json", "stepfunctions", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if ok:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return json.loads(p.stdout) if p.stdout.strip() else {}
    assert p.returncode != 0, (args, p.stdout)
    return p.stderr


def definition():
    with open(os.path.join(ROOT, "examples/stock-trading/definition.asl.json")) as f:
        text = f.read()
    with open(os.path.join(ROOT, "examples/stock-trading/bindings.json")) as f:
        for name, value in json.load(f).items():
            text = text.replace("${" + name + "}", value)
    d = json.loads(text)
    # A retried price check: 2 s, then 4 s (instant under --time-scale 0).
    d["States"]["Check Stock Price"]["Retry"] = [
        {"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}
    ]
    return d


machine = aws(
    "create-state-machine",
    "--name", "StockTrading",
    "--definition", json.dumps(definition()),
    "--role-arn", "arn:aws:iam::123456789012:role/StockTrading",
)["stateMachineArn"]


def run(case):
    started = aws("start-execution", "--state-machine-arn", f"{machine}#{case}", "--input", "{}")
    arn = started["executionArn"]
    assert ":execution:StockTrading:" in arn, arn
    deadline = time.time() + 30
    while True:
        d = aws("describe-execution", "--execution-arn", arn)
        if d["status"] != "RUNNING":
            break
        assert time.time() < deadline, d
        time.sleep(0.05)
    assert d["stateMachineArn"] == machine, d
    events = aws("get-execution-history", "--execution-arn", arn)["events"]
    return d, events


def types(events):
    return [e["type"] for e in events]


def entered(events):
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def details(events, kind):
    key = kind[0].lower() + kind[1:] + "EventDetails"
    return [e[key] for e in events if e["type"] == kind]


PUBLISHED = {"MessageId": "f5b6c2a0-0000-4000-8000-000000000001"}

# Buy: every state answered by its mock, in a real call's history.
d, events = run("Buy")
assert d["status"] == "SUCCEEDED", d
assert json.loads(d["output"]) == PUBLISHED, d["output"]
assert entered(events) == [
    "Check Stock Price", "Generate Buy/Sell recommendation", "Request Human Approval",
    "Buy or Sell?", "Buy Stock", "Report Result",
], entered(events)
assert types(events) == [
    "ExecutionStarted",
    "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
    "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
    "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
    "ChoiceStateEntered", "ChoiceStateExited",
    "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
    "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
    "ExecutionSucceeded",
], types(events)
lambdas = [json.loads(x["output"]) for x in details(events, "LambdaFunctionSucceeded")]
assert lambdas[:2] == [{"stock_price": 42}, "buy"], lambdas
assert lambdas[2]["type"] == "buy", lambdas
sqs = details(events, "TaskScheduled")[0]
assert sqs["resourceType"] == "sqs" and sqs["resource"] == "sendMessage.waitForTaskToken", sqs
assert "TaskToken" in json.loads(sqs["parameters"])["MessageBody"], sqs
buy_input = json.loads([e for e in events if e["type"] == "TaskStateEntered"][3]["stateEnteredEventDetails"]["input"])
assert buy_input == {"stock_price": 42, "recommended_type": "buy"}, buy_input
print("mock config: buy ok")

# Sell.
d, events = run("Sell")
assert d["status"] == "SUCCEEDED", d
assert "Sell Stock" in entered(events) and "Buy Stock" not in entered(events), entered(events)
sold = [json.loads(x["output"]) for x in details(events, "LambdaFunctionSucceeded")][2]
assert sold["type"] == "sell" and sold["price"] == 87, sold
print("mock config: sell ok")

# The price check throws twice; the Retry's third call succeeds (calls 0-1 Throw, 2 Return).
d, events = run("PriceCheckRetried")
assert d["status"] == "SUCCEEDED", d
failed = details(events, "LambdaFunctionFailed")
assert [f["error"] for f in failed] == ["Lambda.ServiceException"] * 2, failed
assert failed[0]["cause"] == "The price service is unavailable", failed
assert types(events).count("LambdaFunctionScheduled") == 3 + 2, types(events)
assert json.loads(details(events, "LambdaFunctionSucceeded")[0]["output"]) == {"stock_price": 17}
# The history keeps the Retry's intervals (2 s, then 4 s) though they passed at once.
scheduled = [e["timestamp"] for e in events if e["type"] == "LambdaFunctionScheduled"][:3]
gaps = [round(b - a) for a, b in zip(scheduled, scheduled[1:])]
assert gaps == [2, 4], gaps
print("mock config: retried price check ok")

# The approval is mocked to fail: the execution fails with its error.
d, events = run("Rejected")
assert d["status"] == "FAILED", d
assert (d["error"], d["cause"]) == ("Rejected", "The trader rejected the order"), d
f = details(events, "TaskFailed")[0]
assert (f["error"], f["resourceType"], f["resource"]) == ("Rejected", "sqs", "sendMessage.waitForTaskToken"), f
assert types(events)[-1] == "ExecutionFailed", types(events)
print("mock config: rejected approval ok")

# TestState through the AWS CLI (its `sync-` host prefix turned off for a local endpoint).
ENV["AWS_DISABLE_HOST_PREFIX_INJECTION"] = "true"
answer = aws(
    "test-state",
    "--definition", json.dumps(definition()["States"]["Check Stock Price"]),
    "--mock", json.dumps({"errorOutput": {"error": "Lambda.ServiceException", "cause": "down"}}),
    "--state-configuration", json.dumps({"retrierRetryCount": 1}),
    "--inspection-level", "DEBUG",
)
assert answer["status"] == "RETRIABLE", answer
assert answer["inspectionData"]["errorDetails"] == {"retryBackoffIntervalSeconds": 4, "retryIndex": 0}, answer
print("test-state through the AWS CLI: ok")

# A test case the file does not define.
err = aws("start-execution", "--state-machine-arn", f"{machine}#NoSuchCase", ok=False)
assert "InvalidName" in err and "NoSuchCase" in err, err
print("mock config: all checks passed")
