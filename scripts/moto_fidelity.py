"""WSGI middleware that makes moto answer a few requests as AWS does (moto 5.2.5).

The tests use moto server as their local AWS endpoint. Where moto's answer differs from AWS's
documented (and recorded: ../shared/conformance/service_cases.jsonl) behaviour in a way a state
machine sees, this layer corrects it, for every request of that kind; it never looks at test
names or ids. Each correction says what moto does and what AWS does:

- S3 PutObject: AWS encrypts every new object with SSE-S3 by default (since January 2023) and
  says so (`x-amz-server-side-encryption: AES256`); with a full-object checksum in the request it
  answers `x-amz-checksum-type: FULL_OBJECT`. moto sends neither header.
- DynamoDB: `ConsumedCapacity` comes back only when the request asks for it
  (`ReturnConsumedCapacity` TOTAL or INDEXES); moto always adds it to UpdateItem's answer.
- DynamoDB PutItem without `Item`: AWS refuses with a ValidationException ("1 validation error
  detected: Value null at 'item' failed to satisfy constraint: Member must not be null"); moto
  answers HTTP 500.
- EventBridge PutEvents: an entry whose `Detail` is not a JSON object fails on its own
  (`MalformedDetail`, "Detail is malformed.") while the others are put; moto answers HTTP 500.
- SNS Publish to a topic that does not exist: AWS says "Topic does not exist"; moto says
  "Endpoint does not exist".
- Secrets Manager CreateSecret: a name with characters other than alphanumerics and -/_+=.@!
  is refused (ValidationException); moto creates the secret.
"""

import io
import json
import re
from urllib.parse import parse_qs

SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@!-]+$")


def _json_error(start_response, code, message, status="400 Bad Request"):
    body = json.dumps({"__type": f"com.amazon.coral.validate#{code}", "message": message}).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body))),
                            ("x-amzn-RequestId", "fidelity-validation")])
    return [body]


class AwsFidelity:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        auth = environ.get("HTTP_AUTHORIZATION", "")

        if target == "DynamoDB_20120810.PutItem":
            request = _parse_json(body)
            if request.get("Item") is None:
                return _json_error(start_response, "ValidationException",
                                   "1 validation error detected: Value null at 'item' failed to satisfy constraint: "
                                   "Member must not be null")
        if target == "secretsmanager.CreateSecret":
            name = _parse_json(body).get("Name", "")
            if not SECRET_NAME.match(name):
                return _json_error(start_response, "ValidationException",
                                   "Invalid name. Must be a valid name containing alphanumeric characters, or any of "
                                   "the following: -/_+=.@!")
        if target == "AWSEvents.PutEvents":
            return self._put_events(environ, start_response, _parse_json(body))

        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, list(headers)
            return lambda data: captured.setdefault("written", []).append(data)

        chunks = list(self.app(environ, capture))
        out = b"".join(captured.get("written", []) + chunks)
        status, headers = captured["status"], captured["headers"]

        if target.startswith("DynamoDB_20120810.") and status.startswith("200"):
            asked = _parse_json(body).get("ReturnConsumedCapacity", "NONE") not in ("NONE", None)
            answer = _parse_json(out)
            if not asked and "ConsumedCapacity" in answer:
                answer.pop("ConsumedCapacity")
                out = json.dumps(answer, separators=(",", ":")).encode()
        if "/s3/aws4_request" in auth and environ.get("REQUEST_METHOD") == "PUT" and status.startswith("200") \
                and environ.get("PATH_INFO", "/").strip("/").count("/") >= 1 and not environ.get("QUERY_STRING"):
            names = {k.lower() for k, _ in headers}
            if "x-amz-server-side-encryption" not in names:
                headers.append(("x-amz-server-side-encryption", "AES256"))
            sent_checksum = any(k.startswith("HTTP_X_AMZ_CHECKSUM_") for k in environ)
            if sent_checksum and "x-amz-checksum-type" not in names:
                headers.append(("x-amz-checksum-type", "FULL_OBJECT"))
        if status.startswith("404") and b"Endpoint does not exist" in out:
            form = parse_qs(body.decode(errors="replace"))
            if form.get("Action") == ["Publish"] and form.get("TopicArn"):
                out = out.replace(b"Endpoint does not exist", b"Topic does not exist")

        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(out))))
        start_response(status, headers)
        return [out]

    def _put_events(self, environ, start_response, request):
        """Puts the well-formed entries through moto; malformed ones fail alone, in place."""
        entries = request.get("Entries", [])
        malformed = [i for i, e in enumerate(entries) if "Detail" in e and not _is_json_object(e["Detail"])]
        if not malformed:
            return self.app(environ, start_response)
        good = [e for i, e in enumerate(entries) if i not in malformed]
        results = []
        if good:
            forwarded = dict(request, Entries=good)
            data = json.dumps(forwarded).encode()
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"] = status
                return lambda d: None

            answer = _parse_json(b"".join(self.app(environ, capture)))
            results = answer.get("Entries", [])
        merged, it = [], iter(results)
        for i in range(len(entries)):
            if i in malformed:
                merged.append({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
            else:
                merged.append(next(it, {}))
        failed = sum(1 for m in merged if "ErrorCode" in m)
        body = json.dumps({"FailedEntryCount": failed, "Entries": merged}).encode()
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))])
        return [body]


def _parse_json(data):
    try:
        v = json.loads(data or b"{}")
        return v if isinstance(v, dict) else {}
    except ValueError:
        return {}


def _is_json_object(text):
    try:
        return isinstance(json.loads(text), dict)
    except (TypeError, ValueError):
        return False
