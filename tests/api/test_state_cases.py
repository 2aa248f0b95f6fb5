"""The TestState calls recorded against AWS (`test_state_cases.jsonl`), sent with boto3 to a
server, each answer compared with AWS's as the corpus README says.

Usage:
  test_state_cases.py ENDPOINT_URL CASES [--min-pass N] [--report FILE]
  test_state_cases.py --write-functions FILE CASES

boto3 and the AWS CLI send TestState to a `sync-` host prefix (`sync-states.<region>...`);
against a local endpoint, turn that off: `Config(inject_host_prefix=False)` in boto3,
`AWS_DISABLE_HOST_PREFIX_INJECTION=true` for the AWS CLI (see docs/testing.md).

--write-functions writes a functions.json (the `stepwise serve --functions` registry) for the
cases' embedded Python Lambda handlers, each run as a command.
"""

import json
import re
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

WRAPPER = r"""
import base64, json, sys
ns = {}
exec(compile(CODE, "handler.py", "exec"), ns)
out = ns[HANDLER](json.load(sys.stdin), None)
if isinstance(out, (bytes, bytearray)):
    sys.stdout.write(out.decode())
else:
    sys.stdout.write(json.dumps(out))
"""


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_functions(target, cases):
    functions = {}
    for case in cases:
        for arn, f in (case.get("lambda_functions") or {}).items():
            code = WRAPPER.replace("CODE", json.dumps(f["code"])).replace("HANDLER", json.dumps(f.get("handler", "handler")))
            functions[f["function_name"]] = {"command": [sys.executable, "-c", code]}
    with open(target, "w") as out:
        json.dump({"functions": functions}, out, indent=1)


ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
TOKEN = re.compile(r"<[A-Za-z0-9_-]+(?::\d+)?>")


def snapshot_parse(v):
    """The snapshot library's rule: parse strings that begin with `{`, in dicts and in dicts
    inside lists, not walking into what it parsed."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if isinstance(x, str) and x.startswith("{"):
                try:
                    out[k] = json.loads(x)
                    continue
                except ValueError:
                    pass
            out[k] = snapshot_parse(x) if isinstance(x, (dict, list)) else x
        return out
    if isinstance(v, list):
        return [snapshot_parse(x) if isinstance(x, dict) else x for x in v]
    return v


def defaults(s, region):
    s = s.replace("arn:aws:", "arn:<partition>:").replace(region, "<region>")
    return ISO.sub("date", s)


def text_match(expected, got, region):
    got = defaults(got, region)
    if expected == got:
        return True
    if TOKEN.search(expected) or "date" in expected:
        parts = TOKEN.split(expected)
        pattern = "(.+?)".join(re.escape(p) for p in parts)
        return re.fullmatch(pattern, got) is not None
    return False


def same(expected, got, region):
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected == got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return float(expected) == float(got)
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(same(expected[k], got[k], region) for k in expected)
    if isinstance(expected, list) and isinstance(got, list):
        return len(expected) == len(got) and all(same(a, b, region) for a, b in zip(expected, got))
    if isinstance(expected, str) and isinstance(got, str):
        if text_match(expected, got, region):
            return True
        # JSON text on both sides (AWS's spacing is not meaningful).
        try:
            return same(json.loads(expected), json.loads(got), region)
        except ValueError:
            return False
    return expected == got


def call(client, request):
    try:
        r = client.test_state(**request)
        r.pop("ResponseMetadata", None)
        return r
    except ClientError as e:
        return {"exception": {"code": e.response["Error"]["Code"], "message": e.response["Error"].get("Message", "")}}
    except ParamValidationError as e:
        return {"exception": {"code": "ParamValidationError", "message": str(e)}}


def transform(case, got):
    """The case's own snapshot transformers, applied to our answer as the recorder did."""
    for t in case.get("snapshot_transformers") or []:
        kind = t.get("kind")
        if kind == "regex":
            text = re.sub(t["regex"], t["replacement"], json.dumps(got))
            got = json.loads(text)
        elif kind in ("jsonpath", "key_value"):
            key = t.get("key") or t["jsonpath"].rsplit(".", 1)[-1]

            def walk(v):
                if isinstance(v, dict):
                    return {k: (t["replacement"] if k == key and x not in (None, "") else walk(x)) for k, x in v.items()}
                if isinstance(v, list):
                    return [walk(x) for x in v]
                return v

            got = walk(got)
    return got


def check(case, got, region):
    expected = case["expected"]
    if "exception" in expected:
        want = expected["exception"]
        have = got.get("exception")
        if not have:
            return False
        if case.get("expected_origin") == "botocore_client":
            return have["code"] in ("ParamValidationError", "ValidationException")
        return have["code"] == want["code"] and have["message"] == want["message"]
    return same(expected, transform(case, snapshot_parse(got)), region)


def main(argv):
    if argv[0] == "--write-functions":
        write_functions(argv[1], load(argv[2]))
        return 0
    url, path = argv[0], argv[1]
    min_pass = int(argv[argv.index("--min-pass") + 1]) if "--min-pass" in argv else 0
    report = argv[argv.index("--report") + 1] if "--report" in argv else None
    cases = load(path)
    clients = {}
    passed, failed = 0, []
    for case in cases:
        region = case.get("context", {}).get("region", "us-east-1")
        if region not in clients:
            clients[region] = boto3.client(
                "stepfunctions",
                endpoint_url=url,
                region_name=region,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
            )
        got = call(clients[region], case["request"])
        if check(case, got, region):
            passed += 1
        else:
            failed.append({"id": case["id"], "expected": case["expected"], "got": got})
    print(f"test state cases: {passed} of {len(cases)} passed")
    for f in failed:
        print("FAIL", f["id"])
    if report:
        with open(report, "w") as out:
            json.dump(failed, out, indent=1)
    return 0 if passed >= min_pass else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
