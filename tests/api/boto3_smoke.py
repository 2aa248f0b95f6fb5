"""Drives `stepwise serve` with the unmodified AWS clients: boto3 and the AWS CLI.

Usage: boto3_smoke.py ENDPOINT_URL   (the AWS CLI is $AWS_CLI, default `aws`)

Checks create/describe/list/update/delete of state machines, nested executions (.sync,
.sync:2, a failing child), an activity worker loop, (revisions: a running execution
keeps its definition; a deleted machine's execution fails with States.Runtime), start
(idempotent), describe, history, list, stop, StartSyncExecution, a waitForTaskToken round trip where the token is read from
GetExecutionHistory and completed with `aws stepfunctions send-task-success`, and that the
error codes come back as boto3's typed exceptions and in the CLI's error line.
"""

import json
import os
import subprocess
import sys
import threading
import time

import boto3

from common import ENV, expect
from common import client as client_of
from common import wait_done as wait_done_of

URL = sys.argv[1]
AWS_CLI = os.environ.get("AWS_CLI", "aws")
ROLE = "arn:aws:iam::123456789012:role/stepwise-test"


def client(**config):
    return client_of(URL, **config)


sfn = client()
X = sfn.exceptions


def wait_done(arn):
    return wait_done_of(sfn, arn)


def cli(*args):
    return subprocess.run(
        [AWS_CLI, "stepfunctions", *args, "--endpoint-url", URL, "--region", "us-east-1", "--output", "json"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "ok", "ResultPath": "$.r", "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
CALLBACK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/approvals",
                "MessageBody": {"token.$": "$$.Task.Token"},
            },
            "End": True,
        }
    },
}

# --- state machines ---------------------------------------------------------------------------
m = sfn.create_state_machine(name="Smoke", definition=json.dumps(PASS), roleArn=ROLE)
machine = m["stateMachineArn"]
assert machine == "arn:aws:states:us-east-1:123456789012:stateMachine:Smoke", m
assert m["creationDate"].year >= 2024, m  # epoch seconds parsed into a datetime
d = sfn.describe_state_machine(stateMachineArn=machine)
assert d["name"] == "Smoke" and d["type"] == "STANDARD" and json.loads(d["definition"]) == PASS, d
waiter = sfn.create_state_machine(name="SmokeWait", definition=json.dumps(WAIT), roleArn=ROLE)["stateMachineArn"]
names = [x["name"] for x in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 1}).build_full_result()["stateMachines"]]
assert names == ["Smoke", "SmokeWait"], names

# --- executions -------------------------------------------------------------------------------
s = sfn.start_execution(stateMachineArn=machine, name="one", input=json.dumps({"a": 1}))
arn = s["executionArn"]
d = wait_done(arn)
assert d["status"] == "SUCCEEDED", d
assert json.loads(d["output"]) == {"a": 1, "r": "ok"}, d
assert d["stopDate"] >= d["startDate"], d
for i in range(3):
    sfn.start_execution(stateMachineArn=machine, name=f"more-{i}")
events = sfn.get_paginator("get_execution_history").paginate(executionArn=arn, PaginationConfig={"PageSize": 2}).build_full_result()["events"]
assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"], events
assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == {"a": 1}, events[0]
assert [e["id"] for e in events] == [1, 2, 3, 4]
rev = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)
assert rev["events"][0]["type"] == "ExecutionSucceeded" and "nextToken" in rev, rev
listed = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, PaginationConfig={"PageSize": 2}).build_full_result()["executions"]
assert len(listed) == 4, listed

# Idempotent start, stop.
a = sfn.start_execution(stateMachineArn=waiter, name="same", input='{"k": 1}')
b = sfn.start_execution(stateMachineArn=waiter, name="same", input='{"k": 1}')
assert a["executionArn"] == b["executionArn"], (a, b)
expect(X.ExecutionAlreadyExists, sfn.start_execution, stateMachineArn=waiter, name="same", input='{"k": 2}')
running = sfn.list_executions(stateMachineArn=waiter, statusFilter="RUNNING")["executions"]
assert [e["executionArn"] for e in running] == [a["executionArn"]], running
sfn.stop_execution(executionArn=a["executionArn"], error="Manual", cause="smoke test")
d = wait_done(a["executionArn"])
assert d["status"] == "ABORTED" and d["error"] == "Manual", d

# StartSyncExecution (its host prefix is turned off to reach a plain endpoint URL).
quick = sfn.create_state_machine(name="SmokeExpress", definition=json.dumps(PASS), roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
sync = client(inject_host_prefix=False).start_sync_execution(stateMachineArn=quick, input='{"s": 1}')
assert sync["status"] == "SUCCEEDED" and json.loads(sync["output"]) == {"s": 1, "r": "ok"}, sync

# --- waitForTaskToken: the token from the history, completed with the AWS CLI ------------------
cb = sfn.create_state_machine(name="SmokeCallback", definition=json.dumps(CALLBACK), roleArn=ROLE)["stateMachineArn"]
run = sfn.start_execution(stateMachineArn=cb)["executionArn"]
token = None
deadline = time.time() + 30
while token is None:
    for e in sfn.get_execution_history(executionArn=run)["events"]:
        if e["type"] == "TaskScheduled":
            token = json.loads(e["taskScheduledEventDetails"]["parameters"])["MessageBody"]["token"]
    assert token or time.time() < deadline, "no TaskScheduled event"
    time.sleep(0.02)
sfn.send_task_heartbeat(taskToken=token)
r = cli("send-task-success", f"--task-token={token}", "--task-output", '{"approved": true}')
assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
d = wait_done(run)
assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"approved": True}, d
r = cli("send-task-success", f"--task-token={token}", "--task-output", "{}")
assert r.returncode != 0 and "(TaskTimedOut)" in r.stderr, (r.returncode, r.stderr)
r = cli("describe-execution", "--execution-arn", "arn:aws:states:us-east-1:123456789012:execution:Smoke:missing")
assert r.returncode != 0 and "An error occurred (ExecutionDoesNotExist) when calling the DescribeExecution operation" in r.stderr, r.stderr
r = cli("list-state-machines")
assert r.returncode == 0 and len(json.loads(r.stdout)["stateMachines"]) == 4, (r.stdout, r.stderr)

# --- UpdateStateMachine: a running execution keeps its revision; new ones run the update -------
up = sfn.create_state_machine(name="SmokeUpdate", definition=json.dumps(CALLBACK), roleArn=ROLE)["stateMachineArn"]
before = sfn.describe_state_machine(stateMachineArn=up)
old = sfn.start_execution(stateMachineArn=up, name="old")["executionArn"]
old_token = None
deadline = time.time() + 30
while old_token is None:
    for e in sfn.get_execution_history(executionArn=old)["events"]:
        if e["type"] == "TaskScheduled":
            old_token = json.loads(e["taskScheduledEventDetails"]["parameters"])["MessageBody"]["token"]
    assert old_token or time.time() < deadline, "no TaskScheduled event"
    time.sleep(0.02)
r = cli("update-state-machine", "--state-machine-arn", up, "--definition", json.dumps(PASS))
assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
updated = json.loads(r.stdout)
after = sfn.describe_state_machine(stateMachineArn=up)
# AWS: no revisionId until the first update (the first revision's id is null).
assert "revisionId" not in before and updated["revisionId"] == after["revisionId"], (updated, before, after)
assert json.loads(after["definition"]) == PASS and after["creationDate"] == before["creationDate"], after
for_old = sfn.describe_state_machine_for_execution(executionArn=old)
assert json.loads(for_old["definition"]) == CALLBACK and "revisionId" not in for_old, for_old
new = sfn.start_execution(stateMachineArn=up, name="new", input='{"n": 1}')["executionArn"]
d = wait_done(new)
assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"n": 1, "r": "ok"}, d
assert sfn.describe_state_machine_for_execution(executionArn=new)["revisionId"] == after["revisionId"]
sfn.send_task_success(taskToken=old_token, output='{"old": true}')
d = wait_done(old)
assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"old": True}, d
same = sfn.update_state_machine(stateMachineArn=up, definition=json.dumps(PASS))
assert same["revisionId"] == after["revisionId"], same
sfn.update_state_machine(stateMachineArn=up, roleArn="arn:aws:iam::123456789012:role/other")
assert sfn.describe_state_machine(stateMachineArn=up)["roleArn"] == "arn:aws:iam::123456789012:role/other"
expect(X.MissingRequiredParameter, sfn.update_state_machine, stateMachineArn=up)
expect(X.InvalidDefinition, sfn.update_state_machine, stateMachineArn=up, definition='{"StartAt": "X", "States": {}}')
expect(X.StateMachineDoesNotExist, sfn.update_state_machine, stateMachineArn=up + "Nope", definition=json.dumps(PASS))
expect(X.InvalidArn, sfn.update_state_machine, stateMachineArn="nope", definition=json.dumps(PASS))

# --- DeleteStateMachine: gone at once; its running execution fails with States.Runtime ---------
doomed = sfn.start_execution(stateMachineArn=waiter, name="doomed")["executionArn"]
sfn.delete_state_machine(stateMachineArn=waiter)
d = wait_done(doomed)
assert d["status"] == "FAILED" and d["error"] == "States.Runtime", d
assert d["cause"] == "State machine SmokeWait has been deleted.", d
assert sfn.get_execution_history(executionArn=doomed, reverseOrder=True, maxResults=1)["events"][0]["type"] == "ExecutionFailed"
expect(X.StateMachineDoesNotExist, sfn.describe_state_machine, stateMachineArn=waiter)
expect(X.StateMachineDoesNotExist, sfn.start_execution, stateMachineArn=waiter)
r = cli("delete-state-machine", "--state-machine-arn", waiter)
assert r.returncode == 0, (r.returncode, r.stderr)  # deleting again is not an error
r = cli("delete-state-machine", "--state-machine-arn", up)
assert r.returncode == 0, (r.returncode, r.stderr)
names = [x["name"] for x in sfn.list_state_machines()["stateMachines"]]
assert names == ["Smoke", "SmokeCallback", "SmokeExpress"], names  # by name, as AWS lists them
expect(X.InvalidArn, sfn.delete_state_machine, stateMachineArn="not-an-arn")

# --- what the client sent, verbatim: AWS echoes the text it was given -------------------------
PRETTY = json.dumps(PASS, indent=2)
verbatim = sfn.create_state_machine(name="Verbatim", definition=PRETTY, roleArn=ROLE)["stateMachineArn"]
assert sfn.describe_state_machine(stateMachineArn=verbatim)["definition"] == PRETTY
# The identical request again is idempotent; the same machine reformatted is another request.
again = sfn.create_state_machine(name="Verbatim", definition=PRETTY, roleArn=ROLE)
assert again["stateMachineArn"] == verbatim, again
e = expect(X.StateMachineAlreadyExists, sfn.create_state_machine, name="Verbatim", definition=json.dumps(PASS), roleArn=ROLE)
assert e.response["Error"]["Message"] == f"State Machine Already Exists: '{verbatim}'", e.response
TEXT = '{ "a" : 1,\n  "b": [1, 2.50, "\\u00e9"] }'
run = sfn.start_execution(stateMachineArn=verbatim, name="verbatim", input=TEXT)["executionArn"]
d = wait_done(run)
assert d["input"] == TEXT and json.loads(d["output"]) == {**json.loads(TEXT), "r": "ok"}, d
events = sfn.get_execution_history(executionArn=run)["events"]
assert events[0]["executionStartedEventDetails"]["input"] == TEXT, events[0]
assert events[1]["stateEnteredEventDetails"]["input"] == TEXT, events[1]
waits = sfn.create_state_machine(name="VerbatimWait", definition=json.dumps(WAIT), roleArn=ROLE)["stateMachineArn"]
first = sfn.start_execution(stateMachineArn=waits, name="w", input=TEXT)["executionArn"]
assert sfn.start_execution(stateMachineArn=waits, name="w", input=TEXT)["executionArn"] == first
expect(X.ExecutionAlreadyExists, sfn.start_execution, stateMachineArn=waits, name="w", input=json.dumps(json.loads(TEXT)))
sfn.stop_execution(executionArn=first)

# --- nested executions: a parent's .sync task waits for its child ------------------------------
child = sfn.create_state_machine(name="SmokeChild", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
for resource, parsed in [("arn:aws:states:::states:startExecution.sync", False), ("arn:aws:states:::states:startExecution.sync:2", True)]:
    PARENT = {"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": resource, "Parameters": {"StateMachineArn": child, "Input": {"from": "parent"}}, "End": True}}}
    parent = sfn.create_state_machine(name=f"SmokeParent{int(parsed)}", definition=json.dumps(PARENT), roleArn=ROLE)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=parent)["executionArn"]
    d = wait_done(run)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    output = out["Output"] if parsed else json.loads(out["Output"])
    assert out["Status"] == "SUCCEEDED" and output == {"from": "parent", "r": "ok"}, out
    kid = sfn.describe_execution(executionArn=out["ExecutionArn"])
    assert kid["status"] == "SUCCEEDED" and kid["input"] == '{"from":"parent"}' and kid["stateMachineArn"] == child, kid
    types = [e["type"] for e in sfn.get_execution_history(executionArn=run)["events"]]
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"], types
FAILING = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "bad"}}}
failing = sfn.create_state_machine(name="SmokeChildFails", definition=json.dumps(FAILING), roleArn=ROLE)["stateMachineArn"]
PARENT = {"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync", "Parameters": {"StateMachineArn": failing}, "End": True}}}
parent = sfn.create_state_machine(name="SmokeParentOfFailure", definition=json.dumps(PARENT), roleArn=ROLE)["stateMachineArn"]
d = wait_done(sfn.start_execution(stateMachineArn=parent)["executionArn"])
cause = json.loads(d["cause"])
assert d["status"] == "FAILED" and d["error"] == "States.TaskFailed" and (cause["Error"], cause["Cause"], cause["Status"]) == ("Boom", "bad", "FAILED"), d

# --- activities: a worker loop (GetActivityTask -> SendTaskSuccess) ----------------------------
act = sfn.create_activity(name="SmokeWork")
assert act["activityArn"] == "arn:aws:states:us-east-1:123456789012:activity:SmokeWork", act
assert sfn.create_activity(name="SmokeWork")["activityArn"] == act["activityArn"]  # idempotent
assert sfn.describe_activity(activityArn=act["activityArn"])["name"] == "SmokeWork"
assert [a["name"] for a in sfn.list_activities()["activities"]] == ["SmokeWork"]
WORK = {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": act["activityArn"], "HeartbeatSeconds": 30, "End": True}}}
worked = sfn.create_state_machine(name="SmokeActivity", definition=json.dumps(WORK), roleArn=ROLE)["stateMachineArn"]
done = []


def worker():
    w = client(read_timeout=70)
    while len(done) < 3:
        task = w.get_activity_task(activityArn=act["activityArn"], workerName="smoke-worker")
        if not task.get("taskToken"):
            continue
        w.send_task_heartbeat(taskToken=task["taskToken"])
        job = json.loads(task["input"])
        w.send_task_success(taskToken=task["taskToken"], output=json.dumps({"doubled": job["n"] * 2}))
        done.append(job["n"])


thread = threading.Thread(target=worker)
thread.start()
runs = [sfn.start_execution(stateMachineArn=worked, input=json.dumps({"n": n}))["executionArn"] for n in range(3)]
for n, run in enumerate(runs):
    d = wait_done(run)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"doubled": n * 2}, d
    types = [e["type"] for e in sfn.get_execution_history(executionArn=run)["events"]]
    assert types == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"], types
thread.join(timeout=30)
assert sorted(done) == [0, 1, 2], done
expect(X.ActivityDoesNotExist, sfn.describe_activity, activityArn=act["activityArn"] + "Nope")
expect(X.InvalidArn, sfn.get_activity_task, activityArn="not-an-arn")
sfn.delete_activity(activityArn=act["activityArn"])
expect(X.ActivityDoesNotExist, sfn.describe_activity, activityArn=act["activityArn"])

# --- ARNs of the region (and partition) the client addresses -----------------------------------
for region, partition in [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-iso-east-1", "aws-iso"), ("us-gov-west-1", "aws-us-gov")]:
    regional = boto3.client("stepfunctions", endpoint_url=URL, region_name=region, aws_access_key_id="test", aws_secret_access_key="test")
    made = regional.create_state_machine(name="Regional", definition=json.dumps(PASS), roleArn=f"arn:{partition}:iam::123456789012:role/r")
    assert made["stateMachineArn"] == f"arn:{partition}:states:{region}:123456789012:stateMachine:Regional", (region, made)
    started = regional.start_execution(stateMachineArn=made["stateMachineArn"], name="x")["executionArn"]
    assert started == f"arn:{partition}:states:{region}:123456789012:execution:Regional:x", (region, started)
    assert [m["name"] for m in regional.list_state_machines()["stateMachines"]] == ["Regional"], region
assert "Regional" not in [m["name"] for m in sfn.list_state_machines()["stateMachines"]]

# --- AWS's wording and limits (recorded against AWS) --------------------------------------------
e = expect(X.ValidationException, sfn.list_state_machines, nextToken="t" * 1025)
assert e.response["Error"]["Message"] == f"1 validation error detected: Value '{'t' * 1025}' at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1024", e.response
e = expect(X.ValidationException, sfn.list_executions, stateMachineArn=machine, nextToken="t" * 3097)
assert e.response["Error"]["Message"].endswith("Member must have length less than or equal to 3096"), e.response
expect(X.InvalidToken, sfn.list_executions, stateMachineArn=machine, nextToken="t" * 3096)
e = expect(X.ValidationException, sfn.list_executions, stateMachineArn=machine, statusFilter="succeeded")
assert e.response["Error"]["Message"] == "1 validation error detected: Value 'succeeded' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]", e.response
e = expect(X.MissingRequiredParameter, sfn.update_state_machine, stateMachineArn=verbatim)
assert e.response["Error"]["Message"] == "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified", e.response
expect(X.InvalidArn, sfn.create_state_machine, name="BadRole", definition=json.dumps(PASS), roleArn="arn:aws:iam::1234:role/x")
sfn.create_state_machine(name="Smoke_10", definition=json.dumps(PASS), roleArn=ROLE)
sfn.create_state_machine(name="Smoke_1_", definition=json.dumps(PASS), roleArn=ROLE)
names = [x["name"] for x in sfn.list_state_machines()["stateMachines"]]
assert names == sorted(names, key=lambda n: n.encode()) and names.index("Smoke_10") < names.index("Smoke_1_"), names

# --- typed exceptions -------------------------------------------------------------------------
missing_machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Nope"
missing_exec = "arn:aws:states:us-east-1:123456789012:execution:Smoke:nope"
expect(X.InvalidDefinition, sfn.create_state_machine, name="Bad", definition='{"StartAt": "X", "States": {}}', roleArn=ROLE)
expect(X.InvalidName, sfn.create_state_machine, name="bad name", definition=json.dumps(PASS), roleArn=ROLE)
expect(X.InvalidArn, sfn.describe_state_machine, stateMachineArn="not-an-arn")
expect(X.StateMachineDoesNotExist, sfn.describe_state_machine, stateMachineArn=missing_machine)
expect(X.StateMachineDoesNotExist, sfn.start_execution, stateMachineArn=missing_machine)
expect(X.InvalidExecutionInput, sfn.start_execution, stateMachineArn=machine, input="{oops")
expect(X.ExecutionDoesNotExist, sfn.describe_execution, executionArn=missing_exec)
expect(X.ExecutionDoesNotExist, sfn.get_execution_history, executionArn=missing_exec)
expect(X.ExecutionDoesNotExist, sfn.stop_execution, executionArn=missing_exec)
expect(X.InvalidToken, sfn.send_task_success, taskToken="not a token!", output="{}")
expect(X.TaskDoesNotExist, sfn.send_task_success, taskToken="A" * 32, output="{}")
expect(X.TaskTimedOut, sfn.send_task_failure, taskToken=token, error="E")
expect(X.InvalidOutput, sfn.send_task_success, taskToken="A" * 32, output="{not json")
expect(X.ValidationException, sfn.get_execution_history, executionArn=arn, maxResults=5000)
expect(X.StateMachineAlreadyExists, sfn.create_state_machine, name="Smoke", definition=json.dumps(WAIT), roleArn=ROLE)
expect(X.StateMachineTypeNotSupported, client(inject_host_prefix=False).start_sync_execution, stateMachineArn=machine)

# --- Distributed Map: a Map Run, its child executions, UpdateMapRun ------------------------------
# Six items, one child at a time (each waits a second) until UpdateMapRun lets all run at once.
PROCESSOR = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Slow",
             "States": {"Slow": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
                        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.bad", "IsPresent": True, "Next": "Bad"}],
                                  "Default": "Done"},
                        "Bad": {"Type": "Fail", "Error": "Item.Bad", "Cause": "a bad item"},
                        "Done": {"Type": "Pass", "End": True}}}
DM = {"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "Label": "Fan", "MaxConcurrency": 1,
      "ToleratedFailureCount": 1, "ItemProcessor": PROCESSOR, "End": True}}}
dm_machine = sfn.create_state_machine(name="SmokeDistributed", definition=json.dumps(DM), roleArn=ROLE)["stateMachineArn"]
items = [{"n": i} for i in range(6)]
run = sfn.start_execution(stateMachineArn=dm_machine, input=json.dumps(items))["executionArn"]
deadline = time.time() + 10
while not sfn.list_map_runs(executionArn=run)["mapRuns"]:
    assert time.time() < deadline, "no Map Run listed"
    time.sleep(0.02)
[listed] = sfn.list_map_runs(executionArn=run)["mapRuns"]
map_run = listed["mapRunArn"]
assert map_run.startswith(dm_machine.replace(":stateMachine:", ":mapRun:") + "/Fan:"), listed
assert listed["stateMachineArn"] == dm_machine + "/Fan" and listed["executionArn"] == run, listed
d = sfn.describe_map_run(mapRunArn=map_run)
assert d["status"] == "RUNNING" and d["maxConcurrency"] == 1 and d["toleratedFailureCount"] == 1, d
assert d["executionCounts"]["total"] == 6 and d["executionCounts"]["running"] == 1, d
sfn.update_map_run(mapRunArn=map_run, maxConcurrency=6)
assert sfn.describe_map_run(mapRunArn=map_run)["maxConcurrency"] == 6
expect(X.ValidationException, sfn.update_map_run, mapRunArn=map_run, toleratedFailurePercentage=101.0)
done = wait_done(run)
assert done["status"] == "SUCCEEDED", done
assert json.loads(done["output"]) == items, done["output"]
d = sfn.describe_map_run(mapRunArn=map_run)
assert d["status"] == "SUCCEEDED" and "stopDate" in d, d
assert d["executionCounts"]["succeeded"] == 6 and d["itemCounts"]["succeeded"] == 6, d
assert d["executionCounts"]["running"] == 0 and d["executionCounts"]["pending"] == 0, d
children = sfn.list_executions(mapRunArn=map_run)["executions"]
assert len(children) == 6 and all(c["status"] == "SUCCEEDED" and c["mapRunArn"] == map_run for c in children), children
assert all(c["stateMachineArn"] == dm_machine + "/Fan" for c in children), children
page = sfn.list_executions(mapRunArn=map_run, maxResults=4)
assert len(page["executions"]) == 4 and "nextToken" in page, page
rest = sfn.list_executions(mapRunArn=map_run, maxResults=4, nextToken=page["nextToken"])["executions"]
assert len(rest) == 2, rest
child = sfn.describe_execution(executionArn=children[0]["executionArn"])
assert child["mapRunArn"] == map_run and child["status"] == "SUCCEEDED", child
expect(X.ResourceNotFound, sfn.describe_map_run, mapRunArn=map_run + "x")
assert not any(m["name"].endswith("/Fan") for m in sfn.list_state_machines()["stateMachines"])
# Two bad items of four, one tolerated: the run fails and the Map with it.
bad = [{"n": 0}, {"n": 1, "bad": 1}, {"n": 2, "bad": 1}, {"n": 3}]
run = sfn.start_execution(stateMachineArn=dm_machine, input=json.dumps(bad))["executionArn"]
done = wait_done(run)
assert done["status"] == "FAILED" and done["error"] == "States.ExceedToleratedFailureThreshold", done
[listed] = sfn.list_map_runs(executionArn=run)["mapRuns"]
d = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
assert d["status"] == "FAILED" and d["executionCounts"]["failed"] == 2, d
types = [e["type"] for e in sfn.get_execution_history(executionArn=run)["events"]]
assert types[-4:] == ["MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"], types
print("distributed map: ok")

# --- AWS service tasks through the endpoint the server was given (AWS_ENDPOINT_URL) ----------
# The test command runs the server with its moto endpoint: a DynamoDB putItem (optimized) and
# an aws-sdk getItem reach it, and their answers come back in Step Functions' shapes.
endpoint = os.environ.get("AWS_ENDPOINT_URL")
if endpoint:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    table = f"smoke-{int(time.time() * 1000)}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    DDB = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"id": {"S.$": "$.id"}}}, "ResultPath": "$.put", "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                "Parameters": {"TableName": table, "Key": {"id": {"S.$": "$.id"}}}, "ResultPath": "$.got", "End": True}}}
    ddb_machine = sfn.create_state_machine(name="SmokeDynamo", definition=json.dumps(DDB), roleArn=ROLE)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=ddb_machine, input='{"id": "order-1"}')["executionArn"]
    done = wait_done(run)
    assert done["status"] == "SUCCEEDED", done
    out = json.loads(done["output"])
    assert out["got"] == {"Item": {"id": {"S": "order-1"}}}, out
    assert out["put"]["SdkHttpMetadata"]["HttpStatusCode"] == 200, out
    assert ddb.get_item(TableName=table, Key={"id": {"S": "order-1"}})["Item"] == {"id": {"S": "order-1"}}
    print("dynamodb and aws-sdk tasks: ok")

    # 1,000 items read from JSON Lines in S3, EXPRESS children, up to 1,000 at once, the
    # results written back to S3.
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    bucket = f"smoke-dm-{int(time.time() * 1000)}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="items.jsonl", Body="\n".join(json.dumps({"n": i}) for i in range(1000)))
    BIG = {"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "MaxConcurrency": 1000,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
                       "Parameters": {"Bucket": bucket, "Key": "items.jsonl"}},
        "ItemSelector": {"n.$": "$$.Map.Item.Value.n", "index.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "Double",
                          "States": {"Double": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.n, $.n)"},
                                                "End": True}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "out"}},
        "End": True}}}
    big_machine = sfn.create_state_machine(name="SmokeThousand", definition=json.dumps(BIG), roleArn=ROLE)["stateMachineArn"]
    started = time.time()
    run = sfn.start_execution(stateMachineArn=big_machine, input="{}")["executionArn"]
    deadline = time.time() + 120
    while (d := sfn.describe_execution(executionArn=run))["status"] == "RUNNING":
        assert time.time() < deadline, d
        time.sleep(0.1)
    elapsed = time.time() - started
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    run_id = out["MapRunArn"].rsplit(":", 1)[1]
    assert out["ResultWriterDetails"] == {"Bucket": bucket, "Key": f"out/{run_id}/manifest.json"}, out
    m = sfn.describe_map_run(mapRunArn=out["MapRunArn"])
    assert m["executionCounts"]["succeeded"] == 1000 and m["executionCounts"]["total"] == 1000, m
    assert m["itemCounts"]["resultsWritten"] == 1000, m
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"out/{run_id}/manifest.json")["Body"].read())
    assert manifest["DestinationBucket"] == bucket and manifest["MapRunArn"] == out["MapRunArn"], manifest
    assert manifest["ResultFiles"]["FAILED"] == [] and len(manifest["ResultFiles"]["SUCCEEDED"]) == 1, manifest
    results = json.loads(s3.get_object(Bucket=bucket, Key=manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])["Body"].read())
    assert len(results) == 1000 and all(r["Status"] == "SUCCEEDED" for r in results), len(results)
    assert sorted(json.loads(r["Output"])["double"] for r in results) == [2 * i for i in range(1000)]
    assert sorted(json.loads(r["Input"])["index"] for r in results) == list(range(1000))
    assert all(r["StateMachineArn"] == big_machine + "/" + out["MapRunArn"].split("/")[1].split(":")[0] for r in results)
    print(f"distributed map of 1000 items from S3: ok ({elapsed:.1f} s)")

print("boto3 smoke: all checks passed")
