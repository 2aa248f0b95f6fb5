"""Versions, aliases, tags, redrive and logging through boto3 against `stepwise serve`.

Usage: boto3_versions.py ENDPOINT_URL FLAG_FILE LOG_DIR FLAG2_FILE

FLAG_FILE: the server's `Flaky` function fails while this file does not exist (the test
creates it between a failure and the redrive). LOG_DIR: where the server writes execution logs
(`--execution-logs DIR`).
"""

import json
import os
import sys
import time

from common import client, expect
from common import wait_done as wait_done_of

URL, FLAG, LOGS, FLAG2 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ROLE = "arn:aws:iam::123456789012:role/stepwise-test"
sfn = client(URL)
X = sfn.exceptions


def pass_machine(value):
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": value, "End": True}}})


def wait_done(arn):
    return wait_done_of(sfn, arn)


# ---------- versions
created = sfn.create_state_machine(
    name="Versioned", definition=pass_machine("v1"), roleArn=ROLE, publish=True, versionDescription="first"
)
machine = created["stateMachineArn"]
v1 = created["stateMachineVersionArn"]
assert v1 == machine + ":1", created
expect(X.ValidationException, sfn.create_state_machine, "Version description can only be set when publish is true",
       name="NoPublish", definition=pass_machine(0), roleArn=ROLE, versionDescription="x")
# Publishing the same revision again answers the same version.
assert sfn.publish_state_machine_version(stateMachineArn=machine)["stateMachineVersionArn"] == v1
updated = sfn.update_state_machine(stateMachineArn=machine, definition=pass_machine("v2"), publish=True, versionDescription="second")
v2 = updated["stateMachineVersionArn"]
assert v2 == machine + ":2" and updated["revisionId"], updated
bad = expect(X.ConflictException, sfn.publish_state_machine_version, stateMachineArn=machine, revisionId="not-the-current")
assert "The current State Machine revision is" in bad.response["Error"]["Message"]
assert bad.response["ResponseMetadata"]["HTTPStatusCode"] == 409
versions = sfn.list_state_machine_versions(stateMachineArn=machine)["stateMachineVersions"]
assert [v["stateMachineVersionArn"] for v in versions] == [v2, v1], versions
d1 = sfn.describe_state_machine(stateMachineArn=v1)
assert d1["stateMachineArn"] == v1 and d1["description"] == "first" and json.loads(d1["definition"])["States"]["P"]["Result"] == "v1", d1
# Published at creation: the first revision, which has no revisionId (AWS).
assert "revisionId" not in d1, d1
assert sfn.describe_state_machine(stateMachineArn=machine)["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}

# An execution on a version runs that version, whatever the machine is now.
e = sfn.start_execution(stateMachineArn=v1)["executionArn"]
assert ":execution:Versioned:" in e, e
d = wait_done(e)
assert json.loads(d["output"]) == "v1" and d["stateMachineVersionArn"] == v1 and d["stateMachineArn"] == machine, d
assert "stateMachineAliasArn" not in d, d
print("versions: ok")

# ---------- aliases: routing between two versions over many starts
alias = sfn.create_state_machine_alias(
    name="live", description="canary", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": v2, "weight": 30}]
)["stateMachineAliasArn"]
assert alias == machine + ":live", alias
# The same request again is the same alias; another routing under that name is a conflict.
again = sfn.create_state_machine_alias(name="live", description="canary", routingConfiguration=[
    {"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": v2, "weight": 30}])
assert again["stateMachineAliasArn"] == alias
expect(X.ConflictException, sfn.create_state_machine_alias, name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
expect(X.ValidationException, sfn.create_state_machine_alias,
       "Sum of routing configuration weights must equal 100. Received: [70, 29]",
       name="odd", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": v2, "weight": 29}])
expect(X.ValidationException, sfn.create_state_machine_alias, name="123", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
expect(X.ValidationException, sfn.create_state_machine_alias,
       f"Routing configuration must contain state machine version ARNs. Received: [{machine}]",
       name="base", routingConfiguration=[{"stateMachineVersionArn": machine, "weight": 100}])
expect(X.StateMachineDoesNotExist, sfn.describe_state_machine, stateMachineArn=alias)
expect(X.ValidationException, sfn.delete_state_machine, stateMachineArn=alias)
da = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
assert da["name"] == "live" and da["description"] == "canary" and len(da["routingConfiguration"]) == 2, da
counts = {"v1": 0, "v2": 0}
arns = []
for i in range(200):
    arns.append(sfn.start_execution(stateMachineArn=alias, name=f"routed-{i}")["executionArn"])
for a in arns:
    d = wait_done(a)
    counts[json.loads(d["output"])] += 1
    assert d["stateMachineAliasArn"] == alias and d["stateMachineVersionArn"] in (v1, v2), d
started = sfn.get_execution_history(executionArn=arns[0], maxResults=1)["events"][0]["executionStartedEventDetails"]
assert started["stateMachineAliasArn"] == alias and started["stateMachineVersionArn"] in (v1, v2), started
# 70/30 over 200 starts: far from 50/50 and from 100/0 (binomial sd ~6.5).
assert 110 <= counts["v1"] <= 170, counts
print(f"aliases: ok (200 starts through 70/30: {counts})")
by_alias = sfn.list_executions(stateMachineArn=alias, maxResults=1000)["executions"]
assert len(by_alias) == 200, len(by_alias)
by_v2 = sfn.list_executions(stateMachineArn=v2, maxResults=1000)["executions"]
assert len(by_v2) == counts["v2"], (len(by_v2), counts)
paged = sfn.list_executions(stateMachineArn=alias, maxResults=150)
assert len(paged["executions"]) == 150 and paged["nextToken"], len(paged["executions"])
rest = sfn.list_executions(stateMachineArn=alias, maxResults=150, nextToken=paged["nextToken"])["executions"]
assert len(rest) == 50 and not {x["executionArn"] for x in rest} & {x["executionArn"] for x in paged["executions"]}
sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}])
d = wait_done(sfn.start_execution(stateMachineArn=alias)["executionArn"])
assert json.loads(d["output"]) == "v2", d
err = expect(X.ConflictException, sfn.delete_state_machine_version, stateMachineVersionArn=v2)
assert "[live]" in err.response["Error"]["Message"], err.response
listed = sfn.list_state_machine_aliases(stateMachineArn=machine)["stateMachineAliases"]
assert [a["stateMachineAliasArn"] for a in listed] == [alias], listed
sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
sfn.delete_state_machine_alias(stateMachineAliasArn=alias)  # twice is fine
expect(X.ResourceNotFound, sfn.describe_state_machine_alias, stateMachineAliasArn=alias)
sfn.delete_state_machine_version(stateMachineVersionArn=v1)
v3 = sfn.publish_state_machine_version(stateMachineArn=machine)["stateMachineVersionArn"]
assert v3 == v2, (v3, v2)  # the current revision is v2's
sfn.delete_state_machine_version(stateMachineVersionArn=v2)
sfn.update_state_machine(stateMachineArn=machine, definition=pass_machine("v3"))
assert sfn.publish_state_machine_version(stateMachineArn=machine)["stateMachineVersionArn"] == machine + ":3"
print("alias updates and version deletes: ok")

# ---------- tags
tagged = sfn.create_state_machine(name="Tagged", definition=pass_machine(1), roleArn=ROLE,
                                  tags=[{"key": "team", "value": "payments"}])["stateMachineArn"]
sfn.tag_resource(resourceArn=tagged, tags=[{"key": "env", "value": "test"}, {"key": "team", "value": "core"}])
tags = sfn.list_tags_for_resource(resourceArn=tagged)["tags"]
assert tags == [{"key": "team", "value": "core"}, {"key": "env", "value": "test"}], tags
sfn.untag_resource(resourceArn=tagged, tagKeys=["team", "nope"])
assert sfn.list_tags_for_resource(resourceArn=tagged)["tags"] == [{"key": "env", "value": "test"}]
expect(X.ResourceNotFound, sfn.list_tags_for_resource, f"Resource not found: '{machine}:3'", resourceArn=machine + ":3")
expect(X.TooManyTags, sfn.tag_resource, resourceArn=tagged, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
activity = sfn.create_activity(name="tagged-activity", tags=[{"key": "a", "value": "b"}])["activityArn"]
assert sfn.list_tags_for_resource(resourceArn=activity)["tags"] == [{"key": "a", "value": "b"}]
print("tags: ok")

# ---------- redrive
flaky = sfn.create_state_machine(name="Flaky", roleArn=ROLE, definition=json.dumps({
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.prepared", "Next": "Call"},
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "Flaky", "Payload": {"redrives.$": "$$.Execution.RedriveCount"}},
                 "ResultSelector": {"answer.$": "$.Payload", "redrives.$": "$$.Execution.RedriveCount"}, "End": True},
    },
}))["stateMachineArn"]
e = sfn.start_execution(stateMachineArn=flaky, input='{"order": 7}')["executionArn"]
d = wait_done(e)
assert d["status"] == "FAILED" and d["redriveStatus"] == "REDRIVABLE", d
open(FLAG, "w").close()
r = sfn.redrive_execution(executionArn=e, clientToken="redrive-once")
assert r["redriveDate"], r
# The same request again (an SDK's retry) answers the same redrive.
assert sfn.redrive_execution(executionArn=e, clientToken="redrive-once")["redriveDate"] == r["redriveDate"]
d = wait_done(e)
assert d["status"] == "SUCCEEDED" and d["redriveCount"] == 1 and d["redriveDate"], d
out = json.loads(d["output"])
assert out == {"answer": {"ok": True}, "redrives": 1}, out
events = sfn.get_execution_history(executionArn=e, maxResults=1000)["events"]
types = [x["type"] for x in events]
redriven = types.index("ExecutionRedriven")
assert types[redriven - 1] == "ExecutionFailed", types
assert events[redriven]["executionRedrivenEventDetails"] == {"redriveCount": 1}, events[redriven]
assert events[redriven]["previousEventId"] == events[redriven - 1]["id"], events[redriven]
# Prepare ran once; Call was scheduled again.
entered = [x["stateEnteredEventDetails"]["name"] for x in events if x["type"].endswith("StateEntered")]
assert entered == ["Prepare", "Call", "Call"], entered
assert [x["id"] for x in events] == list(range(1, len(events) + 1))
expect(X.ExecutionNotRedrivable, sfn.redrive_execution, "Execution is SUCCEEDED and cannot be redriven", executionArn=e)
d = sfn.describe_execution(executionArn=e)
assert d["redriveStatus"] == "NOT_REDRIVABLE" and d["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven", d
redriven_list = sfn.list_executions(stateMachineArn=flaky, redriveFilter="REDRIVEN")["executions"]
assert [x["executionArn"] for x in redriven_list] == [e], redriven_list
assert sfn.list_executions(stateMachineArn=flaky, redriveFilter="NOT_REDRIVEN")["executions"] == []
# An aborted execution is redriven from where it stopped.
waiting = sfn.create_state_machine(name="Waiting", roleArn=ROLE, definition=json.dumps({
    "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Succeed"}}}))["stateMachineArn"]
e2 = sfn.start_execution(stateMachineArn=waiting)["executionArn"]
sfn.stop_execution(executionArn=e2, error="Manual")
assert wait_done(e2)["status"] == "ABORTED"
sfn.redrive_execution(executionArn=e2)
running = sfn.describe_execution(executionArn=e2)
# Running again: no stop date until it ends again.
assert running["status"] == "RUNNING" and "stopDate" not in running and running["redriveCount"] == 1, running
assert [x for x in sfn.list_executions(stateMachineArn=waiting)["executions"] if x["executionArn"] == e2][0].get("stopDate") is None
assert wait_done(e2)["status"] == "SUCCEEDED"
# A Parallel and an inline Map rerun only their unsuccessful branches and iterations.
fan = sfn.create_state_machine(name="Fan", roleArn=ROLE, definition=json.dumps({
    "StartAt": "Both",
    "States": {
        "Both": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Each", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky2", "End": True}}},
        ]},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "Which", "States": {
                "Which": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Call"}], "Default": "Echo"},
                "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky2", "End": True},
                "Echo": {"Type": "Pass", "End": True},
            }}},
    },
}))["stateMachineArn"]
e3 = sfn.start_execution(stateMachineArn=fan, input='{"items": [1, 2, 3]}')["executionArn"]
assert wait_done(e3)["status"] == "FAILED"
open(FLAG2, "w").close()
sfn.redrive_execution(executionArn=e3)
d = wait_done(e3)
assert d["status"] == "SUCCEEDED", d
assert json.loads(d["output"]) == [1, "fixed", 3], d
# Branch B ran twice (before and after the redrive).
ev = sfn.get_execution_history(executionArn=e3, maxResults=1000)["events"]
names = [x["stateEnteredEventDetails"]["name"] for x in ev if x["type"].endswith("StateEntered")]
# A branch that finished before B failed is not rerun (one that B's failure stopped is).
redriven = next(x["id"] for x in ev if x["type"] == "ExecutionRedriven")
a_done = any(x["type"] == "PassStateExited" and x["stateExitedEventDetails"]["name"] == "A" and x["id"] < redriven for x in ev)
assert names.count("A") == (1 if a_done else 2) and names.count("B") == 2, names
fan2 = sfn.create_state_machine(name="Each", roleArn=ROLE, definition=json.dumps({
    "StartAt": "Each", "States": {"Each": {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "Which", "States": {
            "Which": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Call"}], "Default": "Echo"},
            "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky2", "Next": "Fail"},
            "Fail": {"Type": "Choice", "Choices": [{"Variable": "$", "StringEquals": "fixed", "Next": "Echo"}], "Default": "Boom"},
            "Boom": {"Type": "Fail", "Error": "Boom"},
            "Echo": {"Type": "Pass", "End": True},
        }}}}}))["stateMachineArn"]
os.remove(FLAG2)
e4 = sfn.start_execution(stateMachineArn=fan2, input="[1, 2, 3]")["executionArn"]
assert wait_done(e4)["status"] == "FAILED"
open(FLAG2, "w").close()
sfn.redrive_execution(executionArn=e4)
d = wait_done(e4)
assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == [1, "fixed", 3], d
ev = sfn.get_execution_history(executionArn=e4, maxResults=1000)["events"]
redriven = next(x["id"] for x in ev if x["type"] == "ExecutionRedriven")
started = [x["mapIterationStartedEventDetails"]["index"] for x in ev if x["type"] == "MapIterationStarted"]
succeeded = {x["mapIterationSucceededEventDetails"]["index"] for x in ev
             if x["type"] == "MapIterationSucceeded" and x["id"] < redriven}
# Three iterations, then only those that had not succeeded: the failed one, and a sibling the
# failure stopped before it finished (the iterations run concurrently, so which siblings were
# done is timing: the assertion follows the history rather than a guess).
assert 1 not in succeeded, ev
assert started[:3] == [0, 1, 2] and started[3:] == sorted({0, 1, 2} - succeeded), (started, succeeded)
express = sfn.create_state_machine(name="Quick", roleArn=ROLE, type="EXPRESS", definition=pass_machine(1))["stateMachineArn"]
ex = sfn.start_execution(stateMachineArn=express)["executionArn"]
expect(X.ExecutionNotRedrivable, sfn.redrive_execution, executionArn=ex)
print("redrive: ok")

# ---------- logging
group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/Logged:*"
expect(X.InvalidLoggingConfiguration, sfn.create_state_machine,
       "Invalid Logging Configuration: Must specify exactly one Log Destination.",
       name="Logged", definition=pass_machine(1), roleArn=ROLE, loggingConfiguration={"level": "ALL"})
expect(X.InvalidLoggingConfiguration, sfn.create_state_machine,
       "Invalid Logging Configuration: Log Group ARN must be provided with '*' qualifier.",
       name="Logged", definition=pass_machine(1), roleArn=ROLE,
       loggingConfiguration={"level": "ALL", "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group[:-2]}}]})
logged = sfn.create_state_machine(
    name="Logged", roleArn=ROLE, tracingConfiguration={"enabled": True},
    definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "F"}, "F": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}}}),
    loggingConfiguration={"level": "ALL", "includeExecutionData": True, "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group}}]},
)["stateMachineArn"]
dl = sfn.describe_state_machine(stateMachineArn=logged)
assert dl["loggingConfiguration"]["level"] == "ALL" and dl["tracingConfiguration"] == {"enabled": True}, dl
e = sfn.start_execution(stateMachineArn=logged, input='{"secret": 1}')["executionArn"]
assert wait_done(e)["status"] == "FAILED"
sfn.update_state_machine(stateMachineArn=logged, loggingConfiguration={
    "level": "ERROR", "includeExecutionData": False, "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group}}]})
e2 = sfn.start_execution(stateMachineArn=logged, input='{"secret": 2}')["executionArn"]
assert wait_done(e2)["status"] == "FAILED"
path = os.path.join(LOGS, "aws", "vendedlogs", "states", "Logged.log")
deadline = time.time() + 10
while True:
    # Complete lines only: the server may be appending the next one.
    text = open(path).read() if os.path.exists(path) else ""
    records = [json.loads(line) for line in text.split("\n")[:-1]]
    if len({r["execution_arn"] for r in records}) == 2 and any(r["type"] == "ExecutionFailed" and r["execution_arn"] == e2 for r in records):
        break
    assert time.time() < deadline, records
    time.sleep(0.05)
first = [r for r in records if r["execution_arn"] == e]
assert [r["type"] for r in first] == [x["type"] for x in sfn.get_execution_history(executionArn=e)["events"]], first
assert all(isinstance(r[k], str) for r in first for k in ("id", "previous_event_id", "event_timestamp", "redrive_count"))
assert list(first[0].keys()) == ["id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"]
assert json.loads(first[0]["details"]["input"]) == {"secret": 1}, first[0]
second = [r for r in records if r["execution_arn"] == e2]
# ERROR: the Fail state entered and the execution failed; no input (includeExecutionData false).
assert [r["type"] for r in second] == ["FailStateEntered", "ExecutionFailed"], second
assert "input" not in second[0]["details"] and second[1]["details"]["error"] == "Boom", second
print("logging: ok")
print("boto3 versions: all checks passed")
