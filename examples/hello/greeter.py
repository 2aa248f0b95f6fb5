"""A local Lambda-style function: reads the event JSON on stdin, writes the result on stdout."""
import json
import sys

event = json.load(sys.stdin)
name = event.get("name")
if not isinstance(name, str) or not name:
    print(json.dumps({"errorType": "ValueError", "errorMessage": f"no name in {event!r}"}))
    sys.exit(1)
print(json.dumps({"greeting": f"Hello, {name}!"}))
