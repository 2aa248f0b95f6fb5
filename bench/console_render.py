"""How fast the console draws a 200-state machine with nested Maps, in headless Chromium.

    .venv/bin/python bench/console_render.py [--runs N] [--binary target/release/stepwise]

Starts `stepwise serve` on a free port with a fresh data directory, creates the machine
(tests/console/console_test.py's `big_definition`: 200 states, Maps inside Maps, a Parallel,
Choices), opens its page N times (a fresh navigation each) and prints the times from
navigation start until the graph is drawn (the page's `window.__stepwiseRendered`), and the
server's time to lay the graph out and write its SVG (GET /console/api/graph, N times). Needs
what the console's browser test needs: Debian's chromium and chromedriver, selenium and boto3.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "console"))

import console_test  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "stepwise"))
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="stepwise-render-")
    server = subprocess.Popen(
        [args.binary, "serve", "--port", "0", "--data-dir", data], stdout=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().strip().removeprefix("listening on ")
        sfn = console_test.common.client(url)
        c = console_test.Console(url, tempfile.mkdtemp(prefix="stepwise-render-shots-"))
        try:
            runs, total = console_test.render_times(c, sfn, args.runs)
        finally:
            c.quit()
        arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"].startswith("Big200-"))
        server_ms = []
        for _ in range(args.runs):
            t = time.perf_counter()
            urllib.request.urlopen(url + "/console/api/graph?machine=" + urllib.parse.quote(arn, safe="")).read()
            server_ms.append((time.perf_counter() - t) * 1000)
        q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]  # noqa: E731
        print(f"states: {total}")
        print(f"page drawn after navigation: median {statistics.median(runs):.0f} ms, p90 {q(runs, 0.9):.0f} ms, min {min(runs):.0f} ms ({args.runs} runs)")
        print(f"GET /console/api/graph (layout + SVG): median {statistics.median(server_ms):.1f} ms, p90 {q(server_ms, 0.9):.1f} ms")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
