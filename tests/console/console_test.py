"""Browser test of the stepwise console (`stepwise serve` at URL): machines, a machine's graph and
start form, executions coloured by what happened, the history beside them, approving a waiting
task and stopping an execution from the page, the status filter, and the render time of a
200-state machine.

    python tests/console/console_test.py URL OUTDIR

Drives headless Chromium through Selenium ($CHROMIUM, default /usr/bin/chromium, and
$CHROMEDRIVER, default /usr/bin/chromedriver; Selenium Manager is never used). The server must
serve the stock-trading sample's functions. A screenshot of every page visited goes to OUTDIR.
Prints `console: all checks passed` at the end; any failed check raises with its reason.
"""

import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

import common  # noqa: E402

# Selenium Manager must never download a browser or a driver.
os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/stepwise/StockTrading"
WAIT = 20  # seconds, the longest any check waits
RUN = time.strftime("%Y%m%d-%H%M%S")

SAMPLE_STATES = [
    "Check Stock Price",
    "Generate Buy/Sell recommendation",
    "Request Human Approval",
    "Buy or Sell?",
    "Buy Stock",
    "Sell Stock",
    "Report Result",
]

PARALLEL = {
    "StartAt": "Fan out",
    "States": {
        "Fan out": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "End": True}}},
                {"StartAt": "Break", "States": {"Break": {"Type": "Fail", "Error": "Oops", "Cause": "on purpose"}}},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
            "Next": "Never",
        },
        "Recover": {"Type": "Pass", "End": True},
        "Never": {"Type": "Pass", "End": True},
    },
}


# ---- helpers ---------------------------------------------------------------------------------


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def sample_definition():
    with open(os.path.join(ROOT, "examples", "stock-trading", "definition.asl.json")) as f:
        text = f.read()
    with open(os.path.join(ROOT, "examples", "stock-trading", "bindings.json")) as f:
        bindings = json.load(f)
    for key, value in bindings.items():
        text = text.replace("${%s}" % key, value)
    check("${" not in text, "a ${Name} of the sample's definition has no binding")
    return text


def big_definition(total=200):
    """A machine of exactly `total` states: a chain, a Choice with rules and a Default, a
    Parallel of chains, a Map whose processor holds another Map, then a padded tail."""
    count = 0

    def chain(prefix, n, then=None, end=False):
        """n Pass states PREFIX 1..n; the last goes to `then` (or ends)."""
        nonlocal count
        states = {}
        for i in range(1, n + 1):
            st = {"Type": "Pass", "Result": {"step": i}, "ResultPath": f"$.{prefix.replace(' ', '_').lower()}"}
            if i < n:
                st["Next"] = f"{prefix} {i + 1}"
            elif then:
                st["Next"] = then
            else:
                st["End"] = True
            states[f"{prefix} {i}"] = st
        count += n
        return states

    states = {}
    states.update(chain("Step", 40, then="Route"))
    states["Route"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.route", "StringEquals": "a", "Next": "Route A"},
            {"Variable": "$.route", "StringEquals": "b", "Next": "Route B"},
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Route C"},
        ],
        "Default": "Route D",
    }
    count += 1
    for x in "ABCD":
        states[f"Route {x}"] = {"Type": "Pass", "Next": "Fan out"}
        count += 1
    states["Fan out"] = {
        "Type": "Parallel",
        "Branches": [{"StartAt": f"Branch {b} 1", "States": chain(f"Branch {b}", 10)} for b in "XYZ"],
        "Next": "Outer map",
    }
    count += 1
    inner = chain("Inner", 30)
    outer = chain("Outer", 29, then="Inner map")
    outer["Inner map"] = {
        "Type": "Map",
        "ItemsPath": "$.inner",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Inner 1", "States": inner},
        "End": True,
    }
    count += 1
    states["Outer map"] = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Outer 1", "States": outer},
        "Next": "Tail 1",
    }
    count += 1
    # The tail: a chain, a Choice that may fail, then Done.
    tail = total - count - 3
    check(tail > 0, "the generated machine is already over its size")
    states.update(chain("Tail", tail, then="Check"))
    states["Check"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"},
            {"Variable": "$.ok", "BooleanEquals": False, "Next": "Give up"},
        ],
        "Default": "Done",
    }
    states["Give up"] = {"Type": "Fail", "Error": "GaveUp", "Cause": "not ok"}
    states["Done"] = {"Type": "Succeed"}
    count += 3
    check(count == total, f"generated {count} states, not {total}")
    return {"Comment": "200 states for the console's render time", "StartAt": "Step 1", "States": states}, count


def history_of(sfn, arn):
    events = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn, PaginationConfig={"PageSize": 1000}):
        events.extend(page["events"])
    return events


def executions_with_status(sfn, status):
    arns = set()
    for page in sfn.get_paginator("list_state_machines").paginate():
        for m in page["stateMachines"]:
            for ep in sfn.get_paginator("list_executions").paginate(stateMachineArn=m["stateMachineArn"], statusFilter=status):
                arns.update(e["executionArn"] for e in ep["executions"])
    return arns


class Console:
    def __init__(self, url, outdir):
        self.base = url.rstrip("/") + "/"
        self.outdir = outdir
        options = Options()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000", "--disable-dev-shm-usage"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.js_errors = []

    def quit(self):
        self.driver.quit()

    # -- navigation and waits --

    def wait(self, cond, message, timeout=WAIT):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: cond(), message
            )
        except TimeoutException as e:
            self.collect_log()
            raise AssertionError(f"{message} (waited {timeout} s){self.page_error()}") from e

    def page_error(self):
        try:
            text = self.js("const e = document.getElementById('error'); return e && !e.hidden ? e.textContent.trim() : ''")
        except Exception:
            return ""
        return f"; the page shows the error: {text}" if text else ""

    def open(self, fragment):
        """A fresh navigation to `fragment` (#/...), waiting until the page says it rendered."""
        self.driver.get("about:blank")
        self.driver.get(self.base + fragment)
        self.wait_rendered(fragment)

    def wait_rendered(self, what):
        self.wait(lambda: self.js("return document.body && document.body.dataset.rendered === '1'"), f"{what} did not render")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def shot(self, name):
        """A full-page screenshot into OUTDIR (the viewport's when the page cannot be measured)."""
        path = os.path.join(self.outdir, name)
        try:
            m = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = m.get("cssContentSize") or m["contentSize"]
            width, height = max(1400, int(size["width"])), min(int(size["height"]), 8000)
            import base64

            data = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
            )["data"]
            with open(path, "wb") as f:
                f.write(base64.b64decode(data))
        except Exception:
            self.driver.save_screenshot(path)
        print(f"console: screenshot {path}")

    def collect_log(self):
        try:
            for entry in self.driver.get_log("browser"):
                if entry.get("level") == "SEVERE" and "Uncaught" in entry.get("message", ""):
                    self.js_errors.append(entry["message"])
        except Exception:
            pass

    def no_error_shown(self, where):
        self.collect_log()
        check(not self.js_errors, f"{where}: JavaScript errors: {self.js_errors}")
        shown = self.page_error()
        check(not shown, f"{where}: unexpected error{shown}")

    # -- the graph --

    def nodes(self):
        """{state name: {id, state, type, status, classes}} of the graph's nodes, and their count."""
        rows = self.js(
            """return Array.from(document.querySelectorAll('#graph svg g.node[data-id]')).map(n => ({
                 id: n.dataset.id, state: n.dataset.state, type: n.dataset.type, status: n.dataset.status,
                 classes: n.getAttribute('class'), text: (n.querySelector('text.node-status') || {}).textContent || null}))"""
        )
        return {r["state"]: r for r in rows}, len(rows)

    def edges(self):
        return self.js(
            """return Array.from(document.querySelectorAll('#graph svg g.edge')).map(e => ({
                 from: e.dataset.from, to: e.dataset.to,
                 kind: (Array.from(e.classList).find(c => /^edge-/.test(c) && c !== 'edge-label') || '').slice(5)}))"""
        )

    def node(self, state):
        return self.driver.find_element(By.CSS_SELECTOR, f'#graph svg g.node[data-id][data-state="{state}"]')

    def check_statuses(self, expected, where):
        nodes, _ = self.nodes()
        for state, status in expected.items():
            check(state in nodes, f"{where}: no node for state {state!r} (nodes: {sorted(nodes)})")
            n = nodes[state]
            check(n["status"] == status, f"{where}: {state!r} is {n['status']!r}, expected {status!r}")
            check(f"status-{status}" in n["classes"].split(), f"{where}: {state!r} lacks class status-{status}: {n['classes']}")
            if n["text"] is not None:
                check(n["text"].replace(" ", "-") == status, f"{where}: {state!r} is labelled {n['text']!r}, expected {status!r}")

    # -- the execution page --

    def status(self):
        return self.js("const e = document.getElementById('execution-status'); return e ? e.textContent.trim() : null")

    def wait_status(self, status, where):
        self.wait(lambda: self.status() == status, f"{where}: #execution-status never became {status} (it is {self.status()!r})")

    def history_rows(self):
        return self.js(
            "return Array.from(document.querySelectorAll('#history-table tbody tr')).map(r => [r.dataset.eventId, r.dataset.type])"
        )

    def check_history(self, sfn, arn, where):
        events = history_of(sfn, arn)
        self.wait(lambda: len(self.history_rows()) == len(events), f"{where}: the history table does not have {len(events)} rows")
        rows = self.history_rows()
        check(
            [(str(e["id"]), e["type"]) for e in events] == [tuple(r) for r in rows],
            f"{where}: the history rows differ from GetExecutionHistory: {rows} vs {[(e['id'], e['type']) for e in events]}",
        )
        # Every row: id, type, ISO timestamp with ms, durations.
        cells = self.js(
            "const r = document.querySelector('#history-table tbody tr:last-child'); return Array.from(r.cells).map(c => c.textContent)"
        )
        check(len(cells) >= 5, f"{where}: a history row has {len(cells)} cells")
        check(
            len(cells[2]) == 24 and cells[2][10] == "T" and cells[2][19] == "." and cells[2].endswith("Z"),
            f"{where}: the timestamp {cells[2]!r} is not an ISO time with milliseconds",
        )
        check(cells[3].startswith("+") and cells[4].startswith("+"), f"{where}: durations missing in {cells}")
        return events

    def approve(self, state, output):
        block = self.wait(
            lambda: self.driver.find_element(By.CSS_SELECTOR, f'.waiting-task[data-state="{state}"]'),
            f"no .waiting-task for {state!r}",
        )
        area = block.find_element(By.CSS_SELECTOR, "textarea.task-output")
        check(json.loads(area.get_attribute("value")) == {}, "the task output does not default to {}")
        area.clear()
        area.send_keys(output)
        button = block.find_element(By.CSS_SELECTOR, "button.send-success")
        self.wait(lambda: button.is_enabled(), "button.send-success stays disabled")
        block.find_element(By.CSS_SELECTOR, "button.send-failure")
        block.find_element(By.CSS_SELECTOR, "input.task-error")
        block.find_element(By.CSS_SELECTOR, "input.task-cause")
        button.click()


def execution_fragment(arn):
    return "#/execution/" + urllib.parse.quote(arn, safe="")


def machine_fragment(arn):
    return "#/machine/" + urllib.parse.quote(arn, safe="")


def get_json(base, path):
    with urllib.request.urlopen(base.rstrip("/") + path, timeout=10) as resp:
        return json.loads(resp.read())


def wait_waiting(base, arn, limit=WAIT):
    """The console API's view of `arn` once a task of it waits for a token."""
    deadline = time.time() + limit
    while True:
        data = get_json(base, "/console/api/execution?arn=" + urllib.parse.quote(arn, safe=""))
        if data.get("waiting"):
            return data
        check(data["execution"]["status"] == "RUNNING", f"{arn} ended before waiting: {data['execution']}")
        check(time.time() < deadline, f"{arn} never waited for a task token: {data}")
        time.sleep(0.05)


# ---- the test --------------------------------------------------------------------------------


def render_times(c, sfn, n, shot=None):
    """Opens the page of a new 200-state machine with nested Maps `n` times (a fresh navigation
    each); checks every state is drawn; returns (the times from navigation start to the graph
    drawn, in ms; the number of states)."""
    big, total = big_definition(200)
    name = f"Big200-{RUN}-{time.time_ns()}"
    big_arn = sfn.create_state_machine(name=name, definition=json.dumps(big), roleArn=ROLE)["stateMachineArn"]
    runs = []
    for i in range(n):
        c.open(machine_fragment(big_arn))
        ms = c.js("return window.__stepwiseRendered")
        check(isinstance(ms, (int, float)), f"window.__stepwiseRendered is {ms!r}")
        check(c.js("return performance.getEntriesByName('graph-rendered').length") >= 1, "no graph-rendered mark")
        runs.append(float(ms))
        if i == 0:
            nodes, count = c.nodes()
            check(count == total, f"the 200-state graph has {count} nodes, expected {total}")
            c.no_error_shown("200-state machine")
            if shot:
                c.shot(shot)
    return runs, total


def main(url, outdir):
    os.makedirs(outdir, exist_ok=True)
    sfn = common.client(url)

    # The console API answers 404 for an unknown ARN.
    try:
        get_json(url, "/console/api/execution?arn=" + urllib.parse.quote("arn:aws:states:us-east-1:123456789012:execution:Nope:nope", safe=""))
        raise AssertionError("/console/api/execution answered an unknown ARN")
    except urllib.error.HTTPError as e:
        check(e.code == 404, f"/console/api/execution of an unknown ARN: HTTP {e.code}, expected 404")
        check("DoesNotExist" in json.loads(e.read()).get("__type", ""), "the 404 is not a ...DoesNotExist error")

    # 1. The stock-trading sample, waiting for approval.
    definition = sample_definition()
    sample = sfn.create_state_machine(name=f"StockTrading-console-{RUN}", definition=definition, roleArn=ROLE)["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=sample, name=f"sample-{RUN}", input="{}")["executionArn"]
    data = wait_waiting(url, first)
    check([w["state"] for w in data["waiting"]] == ["Request Human Approval"], f"waiting: {data['waiting']}")
    print("console: sample execution waits for approval")

    c = Console(url, outdir)
    try:
        # 2. Its execution page: colours, the waiting task, approval from the page, live update.
        c.open(execution_fragment(first))
        nodes, count = c.nodes()
        check(count == 7, f"sample graph: {count} nodes, expected 7")
        check(sorted(nodes) == sorted(SAMPLE_STATES), f"sample graph nodes: {sorted(nodes)}")
        edges = c.edges()
        check(len(edges) == 7, f"sample graph: {len(edges)} edges, expected 7: {edges}")
        check(sum(e["kind"] == "choice" for e in edges) == 2, f"sample graph: not 2 choice edges: {edges}")
        c.wait_status("RUNNING", "sample")
        c.check_statuses(
            {
                "Check Stock Price": "succeeded",
                "Generate Buy/Sell recommendation": "succeeded",
                "Request Human Approval": "waiting",
                "Buy or Sell?": "not-reached",
                "Buy Stock": "not-reached",
                "Sell Stock": "not-reached",
                "Report Result": "not-reached",
            },
            "sample while waiting",
        )
        legend = c.js(
            "return Array.from(document.querySelectorAll('#legend [data-status]')).map(li => [li.dataset.status, li.textContent.trim()])"
        )
        check(
            sorted(s for s, _ in legend) == sorted(["succeeded", "failed", "caught", "running", "waiting", "not-reached"]),
            f"legend: {legend}",
        )
        check(all(label for _, label in legend), f"a legend colour has no text label: {legend}")
        check(c.driver.find_element(By.ID, "stop-button").is_displayed(), "#stop-button hidden while RUNNING")
        c.no_error_shown("sample while waiting")

        # Keyboard: the nodes take focus, arrows move it, Enter selects.
        first_node = c.driver.find_element(By.CSS_SELECTOR, "#graph svg g.node[data-id]")
        first_state = first_node.get_attribute("data-state")
        check(first_node.get_attribute("tabindex") == "0", "the graph's nodes are not focusable")
        c.js("arguments[0].focus()", first_node)
        check(c.js("return document.activeElement.dataset.state") == first_state, "a node cannot take focus")
        c.driver.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
        moved = c.js("return document.activeElement.dataset.state || null")
        check(moved and moved != first_state, f"ArrowRight did not move the focus from {first_state!r} to another node ({moved})")
        c.driver.switch_to.active_element.send_keys(Keys.ENTER)
        c.wait(lambda: c.driver.find_element(By.ID, "state-panel").is_displayed(), "Enter on a node shows no #state-panel")
        check("selected" in c.node(moved).get_attribute("class").split(), f"Enter did not select {moved!r}")
        check(moved in c.driver.find_element(By.ID, "state-panel").text, f"#state-panel does not name {moved!r}")
        c.shot("execution-waiting.png")

        c.js("window.__noReload = 1")
        c.approve("Request Human Approval", '{"approved": true}')
        c.wait_status("SUCCEEDED", "sample after approval")
        check(c.js("return window.__noReload") == 1, "the page reloaded instead of updating live")
        # The selected node kept its selection across the live updates.
        check("selected" in c.node(moved).get_attribute("class").split(), f"{moved!r} lost its selection across updates")
        c.wait(lambda: not c.driver.find_element(By.ID, "stop-button").is_displayed(), "#stop-button still shown after the end")
        c.wait(lambda: not c.driver.find_elements(By.CSS_SELECTOR, ".waiting-task"), ".waiting-task still shown after the end")

        events = c.check_history(sfn, first, "sample")
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        taken = "Buy Stock" if "Buy Stock" in entered else "Sell Stock"
        other = "Sell Stock" if taken == "Buy Stock" else "Buy Stock"
        check(other not in entered, f"both Buy Stock and Sell Stock ran: {entered}")
        c.check_statuses(
            {
                "Check Stock Price": "succeeded",
                "Generate Buy/Sell recommendation": "succeeded",
                "Request Human Approval": "succeeded",
                "Buy or Sell?": "succeeded",
                taken: "succeeded",
                other: "not-reached",
                "Report Result": "succeeded",
            },
            "sample after approval",
        )

        # A node's input and output, as the history has them.
        state_in = next(
            e["stateEnteredEventDetails"]["input"]
            for e in events
            if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "Check Stock Price"
        )
        state_out = next(
            e["stateExitedEventDetails"]["output"]
            for e in events
            if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Check Stock Price"
        )
        c.node("Check Stock Price").click()
        c.wait(lambda: "selected" in c.node("Check Stock Price").get_attribute("class").split(), "a click does not select the node")
        check(
            len(c.driver.find_elements(By.CSS_SELECTOR, "#graph g.node[data-id].selected")) == 1,
            "more than one node is selected",
        )
        shown_in = c.driver.find_element(By.ID, "state-input").text
        shown_out = c.driver.find_element(By.ID, "state-output").text
        check(json.loads(shown_in) == json.loads(state_in), f"#state-input {shown_in!r} is not the entered input {state_in!r}")
        check(json.loads(shown_out) == json.loads(state_out), f"#state-output {shown_out!r} is not the exited output {state_out!r}")
        check("succeeded" in c.driver.find_element(By.ID, "state-panel").text, "#state-panel does not show the state's status")
        # A history event's details open as pretty JSON.
        summary = c.driver.find_element(By.CSS_SELECTOR, '#history-table tbody tr[data-type="TaskStateEntered"] details summary')
        summary.click()
        pre = c.driver.find_element(By.CSS_SELECTOR, '#history-table tbody tr[data-type="TaskStateEntered"] details pre')
        check(json.loads(pre.text)["name"] == "Check Stock Price", f"the first TaskStateEntered details: {pre.text}")
        c.no_error_shown("sample after approval")
        c.shot("execution-sample.png")
        print(f"console: sample approved from the page, took {taken}, {len(events)} history rows")

        # 3. A Parallel whose branch fails and is caught.
        parallel = sfn.create_state_machine(name=f"ParallelCaught-console-{RUN}", definition=json.dumps(PARALLEL), roleArn=ROLE)[
            "stateMachineArn"
        ]
        p_exec = sfn.start_execution(stateMachineArn=parallel, name=f"parallel-{RUN}", input='{"x": 1}')["executionArn"]
        done = common.wait_done(sfn, p_exec, 20)
        check(done["status"] == "SUCCEEDED", f"the caught Parallel execution: {done}")
        c.open(execution_fragment(p_exec))
        c.wait_status("SUCCEEDED", "parallel")
        nodes, count = c.nodes()
        check(count == 5, f"parallel graph: {count} nodes, expected 5 ({sorted(nodes)})")
        ids = {n["id"]: name for name, n in nodes.items()}
        edges = sorted((ids.get(e["from"]), ids.get(e["to"]), e["kind"]) for e in c.edges())
        check(
            edges == [("Fan out", "Never", "next"), ("Fan out", "Recover", "catch")],
            f"parallel graph edges: {edges}",
        )
        # The branches run side by side: Fine may or may not have run before Break failed the
        # Parallel; the history says which.
        p_events = history_of(sfn, p_exec)
        fine_ran = any(e.get("stateExitedEventDetails", {}).get("name") == "Fine" for e in p_events)
        c.check_statuses(
            {
                "Fan out": "caught",
                "Fine": "succeeded" if fine_ran else "not-reached",
                "Break": "failed",
                "Recover": "succeeded",
                "Never": "not-reached",
            },
            "parallel",
        )
        groups = c.js(
            "return Array.from(document.querySelectorAll('#graph svg g.group.group-parallel')).map(g => g.dataset.state)"
        )
        check(groups and all(g == "Fan out" for g in groups), f"parallel graph groups: {groups}")
        for inner in ("Fine", "Break"):
            # Inside a box of the Parallel (drawn around the node, whether or not it holds it).
            inside = c.js(
                """const n = arguments[0].getBoundingClientRect();
                   return Array.from(document.querySelectorAll('#graph svg g.group.group-parallel')).some(g => {
                     const b = g.getBoundingClientRect();
                     return g.dataset.state === 'Fan out' && b.left <= n.left + 0.5 && b.top <= n.top + 0.5
                       && b.right >= n.right - 0.5 && b.bottom >= n.bottom - 0.5;
                   })""",
                c.node(inner),
            )
            check(inside, f"{inner!r} is not drawn inside a box of the Parallel")
        check(not c.driver.find_element(By.ID, "stop-button").is_displayed(), "#stop-button shown on an ended execution")
        c.check_history(sfn, p_exec, "parallel")
        c.no_error_shown("parallel")
        c.shot("execution-parallel.png")
        print("console: caught Parallel coloured")

        # 4. Start the sample from its machine page, approve, watch it succeed.
        c.open(machine_fragment(sample))
        nodes, count = c.nodes()
        check(count == 7, f"sample machine graph: {count} nodes")
        check(all(n["status"] == "none" for n in nodes.values()), f"a machine's graph has statuses: {nodes}")
        shown = c.driver.find_element(By.ID, "definition").text
        check(json.loads(shown) == json.loads(definition), "#definition is not the machine's definition")
        check(f"sample-{RUN}" in c.driver.find_element(By.ID, "executions-table").text, "the machine page does not list its execution")
        c.no_error_shown("machine page")
        c.shot("machine.png")

        name = f"from-page-{RUN}"
        c.driver.find_element(By.ID, "start-name").send_keys(name)
        area = c.driver.find_element(By.ID, "start-input")
        button = c.driver.find_element(By.ID, "start-button")
        check(area.get_attribute("value") == "{}", "#start-input does not default to {}")
        check(button.is_enabled(), "#start-button disabled with valid input")
        area.clear()
        area.send_keys('{"not": json')
        c.wait(lambda: not button.is_enabled(), "#start-button enabled with invalid JSON")
        error = c.driver.find_element(By.ID, "start-input-error")
        check(error.is_displayed() and error.text.strip(), "#start-input-error does not show the parse error")
        c.shot("machine-invalid-input.png")
        area.clear()
        area.send_keys("{}")
        c.wait(lambda: button.is_enabled(), "#start-button stays disabled with valid JSON")
        check(not error.is_displayed(), "#start-input-error still shown with valid JSON")
        c.js("window.__noReload = 1")
        button.click()
        c.wait(lambda: c.js("return location.hash").startswith("#/execution/"), "starting did not go to the execution page")
        started = urllib.parse.unquote(c.js("return location.hash")[len("#/execution/") :])
        check(started.endswith(":" + name), f"the new execution {started!r} is not named {name!r}")
        c.wait_rendered("the started execution's page")
        c.approve("Request Human Approval", '{"approved": true}')
        c.wait_status("SUCCEEDED", "started from the page")
        check(c.js("return window.__noReload") == 1, "the page reloaded between start and end")
        check(sfn.describe_execution(executionArn=started)["status"] == "SUCCEEDED", "DescribeExecution: not SUCCEEDED")
        c.check_history(sfn, started, "started from the page")
        c.no_error_shown("started from the page")
        c.shot("execution-started-from-page.png")
        print("console: execution started and approved from the page")

        # 5. Stop from the page.
        to_stop = sfn.start_execution(stateMachineArn=sample, name=f"stopped-{RUN}", input="{}")["executionArn"]
        c.open(execution_fragment(to_stop))
        stop = c.driver.find_element(By.ID, "stop-button")
        c.wait(lambda: stop.is_displayed(), "#stop-button not shown on a RUNNING execution")
        stop.click()
        c.wait_status("ABORTED", "stopped")
        c.wait(lambda: not stop.is_displayed(), "#stop-button still shown after stopping")
        check(sfn.describe_execution(executionArn=to_stop)["status"] == "ABORTED", "DescribeExecution: not ABORTED")
        c.no_error_shown("stopped")
        c.shot("execution-aborted.png")
        print("console: execution stopped from the page")

        # 6. All executions, newest first, filtered by status.
        c.open("#/executions")
        rows = c.js(
            """return Array.from(document.querySelectorAll('#executions-table tbody tr')).map(r =>
                 [r.dataset.arn, r.dataset.status, (r.querySelector('time') || {}).dateTime || ''])"""
        )
        arns = [r[0] for r in rows]
        for arn in (first, p_exec, started, to_stop):
            check(arn in arns, f"the executions page does not list {arn}")
        starts = [r[2] for r in rows]
        check(starts == sorted(starts, reverse=True), f"executions not newest first: {starts}")
        c.shot("executions.png")
        for status, at_least, mine in (("SUCCEEDED", 2, {first, p_exec, started}), ("ABORTED", 1, {to_stop})):
            Select(c.driver.find_element(By.ID, "status-filter")).select_by_value(status)
            c.wait(
                lambda: c.js(
                    "const t = document.getElementById('executions-table');"
                    "return document.body.dataset.rendered === '1' && t && t.dataset.statusFilter"
                )
                == status,
                f"the executions table never showed the {status} filter",
            )
            rows = c.js(
                "return Array.from(document.querySelectorAll('#executions-table tbody tr')).map(r => [r.dataset.arn, r.dataset.status])"
            )
            expected = executions_with_status(sfn, status)
            check(all(s == status for _, s in rows), f"filter {status}: rows {rows}")
            check(len(rows) >= at_least, f"filter {status}: {len(rows)} rows, expected at least {at_least}")
            check({a for a, _ in rows} == expected, f"filter {status}: rows {rows} vs ListExecutions {expected}")
            check(mine <= {a for a, _ in rows}, f"filter {status}: missing {mine - {a for a, _ in rows}}")
            check(Select(c.driver.find_element(By.ID, "status-filter")).first_selected_option.get_attribute("value") == status, "the filter select lost its value")
            c.no_error_shown(f"executions filtered by {status}")
            c.shot(f"executions-{status.lower()}.png")
            print(f"console: status filter {status}: {len(rows)} rows")

        # 7. The machines list.
        c.open("#/")
        table = c.driver.find_element(By.ID, "machines-table")
        names = [a.text for a in table.find_elements(By.CSS_SELECTOR, "tbody tr td:first-child a")]
        for n in (f"StockTrading-console-{RUN}", f"ParallelCaught-console-{RUN}"):
            check(n in names, f"#machines-table does not list {n}: {names}")
        c.no_error_shown("machines")
        c.shot("machines.png")
        link = table.find_element(By.LINK_TEXT, f"ParallelCaught-console-{RUN}")
        link.click()
        c.wait(lambda: c.js("return location.hash").startswith("#/machine/"), "a machine's link does not open its page")
        c.wait_rendered("the Parallel machine's page")
        check(c.nodes()[1] == 5, "the Parallel machine's graph does not have 5 nodes")
        c.shot("machine-parallel.png")
        print("console: machines listed")

        # 8. A 200-state machine with nested Maps: every state drawn; its render time printed
        # (bench/console_render.py measures it: a benchmark, not a timed test).
        runs, total = render_times(c, sfn, 3, shot="machine-200.png")
        print(f"render-200: {statistics.median(runs):.0f} ms (runs: {', '.join(f'{r:.0f}' for r in runs)})")

        c.no_error_shown("the end")
    finally:
        c.quit()
    print("console: all checks passed")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: console_test.py URL OUTDIR")
    main(sys.argv[1], sys.argv[2])
