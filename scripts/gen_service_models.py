#!/usr/bin/env python3
"""Writes crates/sdk/models/services.json.deflate: the AWS service models stepwise calls
services from (`aws-sdk:<service>:<action>` Tasks), compacted from the models botocore ships.

Why botocore: it is how AWS publishes its service models in a package registry (the same models
the AWS SDKs are generated from). Only what a caller needs stays: protocol metadata, each
operation's HTTP binding and input/output shapes, and each shape's members and wire locations;
documentation, examples and validation constraints are dropped.

With --constraints it writes crates/sdk/models/constraints.json.deflate instead: the
validation constraints of the shapes an operation's output reaches (required members, enums,
minimum and maximum lengths and values), which the TestState API checks mocked results
against (fieldValidationMode STRICT/PRESENT). Kept apart so that callers of services never
inflate them.

Usage: .venv/bin/python scripts/gen_service_models.py [--constraints]   (needs botocore; the
test venv has it)
"""
import glob, gzip, json, os, sys, zlib

import botocore

DATA = os.path.join(os.path.dirname(botocore.__file__), "data")
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "sdk", "models", "services.json.deflate")
PREFERRED = ["json", "rest-json", "rest-xml", "query"]


def sdk_id(service_id):
    """The service's name in `aws-sdk:` ARNs: the SDK v2 client package (serviceId, lower case,
    without spaces)."""
    return service_id.replace(" ", "").replace("-", "").lower()


def compact_shape(shape):
    t = shape["type"]
    if t == "structure":
        members = {}
        for name, m in shape.get("members", {}).items():
            entry = [m["shape"]]
            loc, loc_name = m.get("location"), m.get("locationName")
            flags = ""
            if m.get("flattened"):
                flags += "f"
            if m.get("xmlAttribute"):
                flags += "a"
            if m.get("jsonvalue"):
                flags += "j"
            if loc or loc_name or flags:
                entry += [loc or "", loc_name or ""]
            if flags:
                entry.append(flags)
            members[name] = entry
        out = ["structure", members]
        if shape.get("payload"):
            out.append(shape["payload"])
        return out
    if t == "list":
        m = shape["member"]
        return ["list", m["shape"], m.get("locationName", ""), "f" if shape.get("flattened") else ""]
    if t == "map":
        return ["map", shape["key"]["shape"], shape["value"]["shape"], shape["key"].get("locationName", ""),
                shape["value"].get("locationName", ""), "f" if shape.get("flattened") else ""]
    extra = []
    if t == "timestamp" and shape.get("timestampFormat"):
        extra.append(shape["timestampFormat"])
    if t == "blob" and shape.get("streaming"):
        extra.append("streaming")
    if t == "string" and shape.get("jsonvalue"):
        extra.append("jsonvalue")
    return [t, *extra]


def output_constraints(model):
    """{shape: [required, min, max, enum]} for the shapes operations' outputs reach, only those
    with a constraint (0 for an absent part)."""
    shapes = model["shapes"]
    seen, todo = set(), [op["output"]["shape"] for op in model["operations"].values() if op.get("output")]
    while todo:
        name = todo.pop()
        if name in seen or name not in shapes:
            continue
        seen.add(name)
        sh = shapes[name]
        if sh["type"] == "structure":
            todo += [m["shape"] for m in sh.get("members", {}).values()]
        elif sh["type"] == "list":
            todo.append(sh["member"]["shape"])
        elif sh["type"] == "map":
            todo += [sh["key"]["shape"], sh["value"]["shape"]]
    out = {}
    for name in sorted(seen):
        sh = shapes[name]
        entry = [sh.get("required", []) if sh["type"] == "structure" else 0,
                 sh.get("min", 0) if "min" in sh else None, sh.get("max") if "max" in sh else None,
                 sh.get("enum", 0)]
        if entry[0] or entry[1] is not None or entry[2] is not None or entry[3]:
            out[name] = entry
    return out


def write_indexed(services, out):
    blobs, index, offset, total = [], {}, 0, 0
    for sid in sorted(services):
        text = json.dumps(services[sid], separators=(",", ":"), sort_keys=True).encode()
        total += len(text)
        blob = zlib.compress(text, 9)[2:-4]
        index[sid] = [offset, len(blob)]
        offset += len(blob)
        blobs.append(blob)
    with open(out, "wb") as f:
        f.write(json.dumps(index, separators=(",", ":")).encode() + b"\n")
        for blob in blobs:
            f.write(blob)
    return total


def models():
    """Each service's latest model, as botocore ships it."""
    for name in sorted(os.listdir(DATA)):
        versions = sorted(glob.glob(os.path.join(DATA, name, "*", "service-2.json.gz")))
        if versions:
            yield json.load(gzip.open(versions[-1]))


def constraints():
    out = os.path.join(os.path.dirname(OUT), "constraints.json.deflate")
    services = {}
    for model in models():
        services[sdk_id(model["metadata"]["serviceId"])] = output_constraints(model)
    total = write_indexed(services, out)
    print(f"botocore {botocore.__version__}: {len(services)} services, {total} bytes of JSON, "
          f"{os.path.getsize(out)} bytes stored -> {os.path.relpath(out)}", file=sys.stderr)


def main():
    if "--constraints" in sys.argv:
        return constraints()
    services = {}
    for model in models():
        md = model["metadata"]
        protocols = md.get("protocols") or [md["protocol"]]
        protocol = next((p for p in PREFERRED if p in protocols), None)
        if protocol is None:
            continue
        ops = {}
        for op_name, op in model["operations"].items():
            http = op.get("http", {})
            ops[op_name] = [http.get("method", "POST"), http.get("requestUri", "/"),
                            op.get("input", {}).get("shape", ""), op.get("output", {}).get("shape", ""),
                            op.get("output", {}).get("resultWrapper", "")]
        shapes = {k: compact_shape(v) for k, v in model["shapes"].items()}
        # Error codes on the wire that differ from the shape's name (query protocol services).
        errors = {v["error"]["code"]: k for k, v in model["shapes"].items()
                  if isinstance(v.get("error"), dict) and v["error"].get("code") and v["error"]["code"] != k}
        sid = sdk_id(md["serviceId"])
        services[sid] = {
            "protocol": protocol,
            "json": md.get("jsonVersion", "1.0"),
            "target": md.get("targetPrefix", ""),
            "signing": md.get("signingName", md["endpointPrefix"]),
            "endpoint": md["endpointPrefix"],
            "service_id": md["serviceId"],
            "version": md["apiVersion"],
            "global": md.get("globalEndpoint", ""),
            "xmlns": md.get("xmlNamespace", {}).get("uri", "") if isinstance(md.get("xmlNamespace"), dict) else "",
            "ops": ops,
            "shapes": shapes,
            "errors": errors,
        }
    # One raw-deflate blob per service (a caller inflates only the services it calls), after
    # a first line indexing them: {"sdk id": [offset, length], ...}, offsets from the line's end.
    total = write_indexed(services, OUT)
    print(f"botocore {botocore.__version__}: {len(services)} services, {total} bytes of JSON, "
          f"{os.path.getsize(OUT)} bytes stored -> {os.path.relpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
