// The stepwise console: a single-page app over the Step Functions API (POST / on this origin)
// and the console endpoints (GET /console/api/graph, GET /console/api/execution).
// No framework and no build step. Every text from the API goes into the page through
// textContent or attributes, never as markup; the graph SVG is parsed as XML and stripped of
// anything active before it is inserted.
"use strict";

(() => {
  const STATUSES = ["succeeded", "failed", "caught", "running", "waiting", "not-reached"];
  const STATUS_LABELS = {
    succeeded: "succeeded",
    failed: "failed",
    caught: "failed, caught",
    running: "running",
    waiting: "waiting for a task token",
    "not-reached": "not reached",
  };
  const EXECUTION_STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];
  const POLL_MS = 1000;
  // A state's node (the SVG's own legend has swatches of class "node" too, without data-id).
  const NODE = "g.node[data-id]";

  // ---- small helpers -------------------------------------------------------------------

  /** An element: h("a", {href: "#/"}, "text", child, ...). Strings become text nodes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  /** Replaces an element's children (null and false children are skipped, arrays flattened). */
  function fill(el, ...children) {
    el.replaceChildren();
    return append(el, children);
  }

  function $(sel, root) {
    return (root || document).querySelector(sel);
  }

  function $$(sel, root) {
    return Array.from((root || document).querySelectorAll(sel));
  }

  /** Pretty JSON of a value; a string holding JSON is parsed first. */
  function pretty(v) {
    if (v === undefined || v === null) return "null";
    if (typeof v === "string") {
      try {
        return JSON.stringify(JSON.parse(v), null, 2);
      } catch (_) {
        return v;
      }
    }
    return JSON.stringify(v, null, 2);
  }

  /** Event details with the JSON strings (input, output, parameters, ...) parsed for display. */
  function expandJsonStrings(details) {
    const out = {};
    for (const [k, v] of Object.entries(details || {})) {
      if (typeof v === "string" && /^\s*[[{"]/.test(v)) {
        try {
          out[k] = JSON.parse(v);
          continue;
        } catch (_) {
          /* not JSON: kept as is */
        }
      }
      out[k] = v && typeof v === "object" && !Array.isArray(v) ? expandJsonStrings(v) : v;
    }
    return out;
  }

  function iso(epoch) {
    if (epoch === undefined || epoch === null || epoch === "") return "";
    const d = new Date(Math.round(Number(epoch) * 1000));
    return isNaN(d.getTime()) ? String(epoch) : d.toISOString();
  }

  function shortTime(epoch) {
    const s = iso(epoch);
    return s ? s.replace("T", " ").replace(/\.\d+Z$/, "Z") : "—";
  }

  function duration(ms) {
    if (!isFinite(ms)) return "";
    const sign = ms < 0 ? "-" : "+";
    ms = Math.abs(ms);
    if (ms < 1000) return `${sign}${Math.round(ms)} ms`;
    if (ms < 60000) return `${sign}${(ms / 1000).toFixed(3)} s`;
    const m = Math.floor(ms / 60000);
    const s = ((ms % 60000) / 1000).toFixed(3);
    if (m < 60) return `${sign}${m} min ${s} s`;
    return `${sign}${Math.floor(m / 60)} h ${m % 60} min ${s} s`;
  }

  function nameOfArn(arn) {
    const parts = String(arn || "").split(":");
    return parts[parts.length - 1] || arn;
  }

  function machineArnOfExecution(arn) {
    // arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME
    const parts = String(arn || "").split(":");
    if (parts.length < 8) return "";
    return [...parts.slice(0, 5), "stateMachine", parts[6]].join(":");
  }

  function machineLink(arn) {
    return h("a", { href: `#/machine/${encodeURIComponent(arn)}` }, nameOfArn(arn));
  }

  function executionLink(arn, name) {
    return h("a", { href: `#/execution/${encodeURIComponent(arn)}` }, name || nameOfArn(arn));
  }

  function statusBadge(status, attrs) {
    return h("span", Object.assign({ class: `badge status-${status}`, "data-status": status }, attrs || {}), status);
  }

  // ---- API -----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(code, message, httpStatus) {
      super(code ? `${code}: ${message}` : message);
      this.code = code;
      this.httpStatus = httpStatus;
    }
  }

  async function failure(resp) {
    let code = "";
    let message = `HTTP ${resp.status} ${resp.statusText}`;
    try {
      const text = await resp.text();
      try {
        const body = JSON.parse(text);
        code = String(body.__type || "").split("#").pop();
        message = body.message || body.Message || message;
      } catch (_) {
        if (text) message = text.slice(0, 500);
      }
    } catch (_) {
      /* keep the status line */
    }
    return new ApiError(code, message, resp.status);
  }

  /** A Step Functions API call: POST / with X-Amz-Target. */
  async function sfn(operation, body) {
    const resp = await fetch("/", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": `AWSStepFunctions.${operation}`,
      },
      body: JSON.stringify(body || {}),
    });
    if (!resp.ok) throw await failure(resp);
    const text = await resp.text();
    return text ? JSON.parse(text) : {};
  }

  /** Every page of a paginated API call, up to `limit` items. */
  async function sfnAll(operation, body, key, limit) {
    const items = [];
    let nextToken;
    do {
      const page = await sfn(operation, Object.assign({}, body, nextToken ? { nextToken } : {}));
      items.push(...(page[key] || []));
      nextToken = page.nextToken;
    } while (nextToken && items.length < (limit || 10000));
    return items;
  }

  async function getText(url) {
    const resp = await fetch(url, { cache: "no-store" });
    if (!resp.ok) throw await failure(resp);
    return resp.text();
  }

  async function getJson(url) {
    return JSON.parse(await getText(url));
  }

  // ---- errors and render marks ---------------------------------------------------------

  function showError(err) {
    const box = $("#error");
    const msg = err instanceof Error ? err.message : String(err);
    $("#error-text").textContent = msg;
    box.hidden = false;
    if (!(err instanceof ApiError)) console.error(err);
  }

  function clearError() {
    $("#error").hidden = true;
    $("#error-text").textContent = "";
  }

  function markRendered(withGraph) {
    if (withGraph) {
      try {
        performance.mark("graph-rendered");
      } catch (_) {
        /* marks are optional */
      }
    }
    window.__stepwiseRendered = performance.now();
    document.body.dataset.rendered = "1";
  }

  // ---- the graph -----------------------------------------------------------------------

  /** Parses the server's SVG and drops anything that could run: scripts, foreign content,
   * event handler attributes and javascript: links. */
  function parseSvg(text) {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = doc.documentElement;
    if (!root || root.localName !== "svg" || doc.getElementsByTagName("parsererror").length) {
      throw new Error("the graph is not a valid SVG");
    }
    for (const bad of Array.from(root.querySelectorAll("script, foreignObject, iframe, object, embed"))) {
      bad.remove();
    }
    for (const el of [root, ...root.querySelectorAll("*")]) {
      for (const attr of Array.from(el.attributes)) {
        const name = attr.name.toLowerCase();
        if (name.startsWith("on")) el.removeAttribute(attr.name);
        else if ((name === "href" || name.endsWith(":href")) && /^\s*javascript:/i.test(attr.value)) {
          el.removeAttribute(attr.name);
        }
      }
    }
    return document.importNode(root, true);
  }

  /** Inserts the SVG into `container` (forcing layout) and wires selection and keyboard. */
  function mountGraph(container, svgText, onSelect) {
    const svg = parseSvg(svgText);
    svg.setAttribute("focusable", "false");
    // Not role="img": that would hide the focusable nodes from assistive technology.
    svg.setAttribute("role", "group");
    if (!svg.getAttribute("aria-label")) svg.setAttribute("aria-label", "State machine graph");
    container.replaceChildren(svg);
    for (const node of $$(NODE, svg)) {
      if (!node.hasAttribute("tabindex")) node.setAttribute("tabindex", "0");
      if (!node.hasAttribute("role")) node.setAttribute("role", "button");
    }
    // Force layout so that the render mark is taken on a laid-out graph.
    svg.getBoundingClientRect();

    const nodes = () => $$(NODE, svg);
    container.addEventListener("click", (e) => {
      const node = e.target.closest && e.target.closest(NODE);
      if (node && svg.contains(node)) {
        node.focus({ preventScroll: true });
        onSelect(node);
      }
    });
    container.addEventListener("keydown", (e) => {
      const node = e.target.closest && e.target.closest(NODE);
      if (!node || !svg.contains(node)) return;
      if (e.key === "Enter" || e.key === " " || e.key === "Spacebar") {
        e.preventDefault();
        onSelect(node);
      } else if (["ArrowDown", "ArrowRight", "ArrowUp", "ArrowLeft", "Home", "End"].includes(e.key)) {
        const all = nodes();
        const i = all.indexOf(node);
        let j = i;
        if (e.key === "ArrowDown" || e.key === "ArrowRight") j = Math.min(all.length - 1, i + 1);
        else if (e.key === "ArrowUp" || e.key === "ArrowLeft") j = Math.max(0, i - 1);
        else if (e.key === "Home") j = 0;
        else j = all.length - 1;
        e.preventDefault();
        if (all[j]) all[j].focus();
      }
    });
    return svg;
  }

  // Mounts the graph, or says in its place (and in #error) why it cannot be drawn; the SVG or null.
  function mountOrReport(container, svgText, onSelect) {
    try {
      if (svgText instanceof Error) throw svgText;
      return mountGraph(container, svgText, onSelect);
    } catch (err) {
      container.append(h("p", { class: "empty" }, "The graph could not be drawn."));
      showError(err);
      return null;
    }
  }

  function selectNode(svg, node) {
    for (const n of $$(`${NODE}.selected`, svg)) {
      n.classList.remove("selected");
      n.setAttribute("aria-pressed", "false");
    }
    if (node) {
      node.classList.add("selected");
      node.setAttribute("aria-pressed", "true");
    }
  }

  function findNode(svg, id) {
    return $$(NODE, svg).find((n) => n.dataset.id === id) || null;
  }

  /** Sets a node's status in place: class, data-status, status text, aria-label. */
  function setNodeStatus(node, status) {
    const old = node.dataset.status || "none";
    if (old === status) return;
    node.classList.remove(`status-${old}`);
    for (const s of STATUSES) node.classList.remove(`status-${s}`);
    node.classList.add(`status-${status}`);
    node.dataset.status = status;
    const text = $("text.node-status", node);
    if (text) text.textContent = status;
    // The label reads "NAME, TYPE, STATUS": only its last part changes.
    const label = node.getAttribute("aria-label");
    if (label && label.endsWith(`, ${old}`)) node.setAttribute("aria-label", `${label.slice(0, -old.length)}${status}`);
  }

  function legend() {
    return h(
      "ul",
      { id: "legend", class: "legend", "aria-label": "Legend" },
      STATUSES.map((s) =>
        h("li", { class: `legend-item status-${s}`, "data-status": s },
          h("span", { class: "swatch", "aria-hidden": "true" }),
          h("span", { class: "legend-label" }, STATUS_LABELS[s]))
      )
    );
  }

  /** The definition of the state a node stands for: found by name, depth first. */
  function findStateDefinition(def, name) {
    if (!def || typeof def !== "object") return null;
    const states = def.States || {};
    if (Object.prototype.hasOwnProperty.call(states, name)) return states[name];
    for (const st of Object.values(states)) {
      const subs = [...(st.Branches || []), st.ItemProcessor, st.Iterator].filter(Boolean);
      for (const sub of subs) {
        const found = findStateDefinition(sub, name);
        if (found) return found;
      }
    }
    return null;
  }

  // ---- router --------------------------------------------------------------------------

  let view = null; // the current page: {dispose()}
  let seq = 0; // bumped on every navigation; stale async work checks it

  function parseRoute() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, query] = raw.split("?");
    const params = new URLSearchParams(query || "");
    let m;
    if ((m = path.match(/^\/machine\/(.+)$/))) return { page: "machine", arn: decodeURIComponent(m[1]), params };
    if ((m = path.match(/^\/execution\/(.+)$/))) return { page: "execution", arn: decodeURIComponent(m[1]), params };
    if (path === "/executions") return { page: "executions", params };
    return { page: "machines", params };
  }

  async function route() {
    const token = ++seq;
    if (view && view.dispose) view.dispose();
    view = null;
    clearError();
    delete document.body.dataset.rendered;
    delete window.__stepwiseRendered;
    const r = parseRoute();
    for (const [id, page] of [["nav-machines", "machines"], ["nav-executions", "executions"]]) {
      const a = document.getElementById(id);
      const active = r.page === page || (page === "machines" && r.page === "machine") || (page === "executions" && r.page === "execution");
      a.classList.toggle("active", active);
      if (active) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const app = $("#app");
    fill(app, h("p", { class: "loading" }, "Loading…"));
    const live = () => token === seq;
    try {
      if (r.page === "machine") view = await machinePage(app, r.arn, live);
      else if (r.page === "execution") view = await executionPage(app, r.arn, live);
      else if (r.page === "executions") view = await executionsPage(app, r.params.get("status") || "", live);
      else view = await machinesPage(app, live);
    } catch (err) {
      if (!live()) return;
      fill(app, h("p", { class: "empty" }, "This page could not be loaded."));
      showError(err);
      markRendered(false);
    }
  }

  // ---- state machines list -------------------------------------------------------------

  async function machinesPage(app, live) {
    const machines = await sfnAll("ListStateMachines", { maxResults: 1000 }, "stateMachines");
    if (!live()) return null;
    document.title = "State machines · stepwise";
    machines.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const table = h("table", { id: "machines-table", class: "data" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Created"))),
      h("tbody", {}, machines.map((m) =>
        h("tr", { "data-arn": m.stateMachineArn },
          h("td", {}, machineLink(m.stateMachineArn)),
          h("td", {}, m.type || "STANDARD"),
          h("td", {}, h("time", { datetime: iso(m.creationDate) }, shortTime(m.creationDate)))))));
    fill(app,
      h("h1", {}, "State machines"),
      table,
      machines.length ? null : h("p", { class: "empty" }, "No state machines yet: create one with the API (CreateStateMachine)."),
    );
    markRendered(false);
    return null;
  }

  // ---- executions tables ---------------------------------------------------------------

  function executionsTable(executions, filter, withMachine) {
    const head = ["Name", ...(withMachine ? ["State machine"] : []), "Status", "Started", "Stopped"];
    return h("table", { id: "executions-table", class: "data", "data-status-filter": filter || "ALL" },
      h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, executions.map((e) =>
        h("tr", { "data-arn": e.executionArn, "data-status": e.status },
          h("td", {}, executionLink(e.executionArn, e.name)),
          withMachine ? h("td", {}, machineLink(e.stateMachineArn || machineArnOfExecution(e.executionArn))) : null,
          h("td", { class: "status-cell" }, statusBadge(e.status)),
          h("td", {}, h("time", { datetime: iso(e.startDate) }, shortTime(e.startDate))),
          h("td", {}, e.stopDate ? h("time", { datetime: iso(e.stopDate) }, shortTime(e.stopDate)) : "—")))));
  }

  function byStartDesc(a, b) {
    return Number(b.startDate || 0) - Number(a.startDate || 0);
  }

  async function executionsPage(app, filter, live) {
    if (filter && !EXECUTION_STATUSES.includes(filter)) filter = "";
    const machines = await sfnAll("ListStateMachines", { maxResults: 1000 }, "stateMachines");
    const body = (arn) => Object.assign({ stateMachineArn: arn, maxResults: 1000 }, filter ? { statusFilter: filter } : {});
    const lists = await Promise.all(machines.map((m) => sfnAll("ListExecutions", body(m.stateMachineArn), "executions", 5000)));
    if (!live()) return null;
    document.title = "Executions · stepwise";
    const executions = lists.flat().sort(byStartDesc);
    const select = h("select", { id: "status-filter", name: "status" },
      h("option", { value: "" }, "All"),
      EXECUTION_STATUSES.map((s) => h("option", { value: s }, s)));
    select.value = filter;
    select.addEventListener("change", () => {
      delete document.body.dataset.rendered;
      location.hash = select.value ? `#/executions?status=${encodeURIComponent(select.value)}` : "#/executions";
    });
    fill(app,
      h("h1", {}, "Executions"),
      h("div", { class: "toolbar" },
        h("label", { for: "status-filter" }, "Status "), select,
        h("span", { class: "count", id: "executions-count" }, `${executions.length} execution${executions.length === 1 ? "" : "s"}`)),
      executionsTable(executions, filter, true),
      executions.length ? null : h("p", { class: "empty" }, filter ? `No ${filter} executions.` : "No executions yet."),
    );
    markRendered(false);
    return null;
  }

  // ---- machine page --------------------------------------------------------------------

  async function machinePage(app, arn, live) {
    const [machine, svgText, executions] = await Promise.all([
      sfn("DescribeStateMachine", { stateMachineArn: arn }),
      getText(`/console/api/graph?machine=${encodeURIComponent(arn)}`).catch((e) => e),
      sfnAll("ListExecutions", { stateMachineArn: arn, maxResults: 1000 }, "executions", 1000).catch((e) => e),
    ]);
    if (!live()) return null;
    document.title = `${machine.name} · stepwise`;
    let definition = null;
    try {
      definition = JSON.parse(machine.definition);
    } catch (_) {
      /* shown as is */
    }

    const graph = h("div", { id: "graph", class: "graph" });
    const panel = h("section", { id: "state-panel", class: "panel state-panel", hidden: true, "aria-live": "polite" });
    const input = h("textarea", { id: "start-input", rows: 6, spellcheck: "false", "aria-describedby": "start-input-error" }, "{}");
    const inputError = h("p", { id: "start-input-error", class: "field-error", role: "status", hidden: true });
    const nameField = h("input", { id: "start-name", type: "text", placeholder: "generated when empty", autocomplete: "off", spellcheck: "false" });
    const startButton = h("button", { id: "start-button", type: "submit", class: "primary" }, "Start execution");
    const validate = () => {
      try {
        JSON.parse(input.value);
        inputError.hidden = true;
        inputError.textContent = "";
        input.removeAttribute("aria-invalid");
        startButton.disabled = false;
      } catch (e) {
        inputError.textContent = `Invalid JSON: ${e.message}`;
        inputError.hidden = false;
        input.setAttribute("aria-invalid", "true");
        startButton.disabled = true;
      }
    };
    input.addEventListener("input", validate);
    const form = h("form", { id: "start-form", class: "panel start-form" },
      h("h2", {}, "Start an execution"),
      h("label", { for: "start-name" }, "Name (optional)"), nameField,
      h("label", { for: "start-input" }, "Input (JSON)"), input, inputError,
      h("div", { class: "actions" }, startButton));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      validate();
      if (startButton.disabled) return;
      startButton.disabled = true;
      clearError();
      try {
        const body = { stateMachineArn: arn, input: input.value };
        if (nameField.value.trim()) body.name = nameField.value.trim();
        const started = await sfn("StartExecution", body);
        delete document.body.dataset.rendered;
        location.hash = `#/execution/${encodeURIComponent(started.executionArn)}`;
      } catch (err) {
        showError(err);
        startButton.disabled = false;
      }
    });

    fill(app,
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "State machines"), " / "),
      h("h1", {}, machine.name),
      h("dl", { class: "facts" },
        h("dt", {}, "ARN"), h("dd", { class: "mono" }, machine.stateMachineArn),
        h("dt", {}, "Type"), h("dd", {}, machine.type || "STANDARD"),
        h("dt", {}, "Status"), h("dd", {}, machine.status || "ACTIVE"),
        h("dt", {}, "Role"), h("dd", { class: "mono" }, machine.roleArn || "—"),
        h("dt", {}, "Created"), h("dd", {}, shortTime(machine.creationDate))),
      h("div", { class: "split" },
        h("section", { class: "panel graph-panel", "aria-label": "Graph" }, h("h2", {}, "Graph"), graph, panel),
        h("section", { class: "panel definition-panel", "aria-label": "Definition" },
          h("h2", {}, "Definition"),
          h("pre", { id: "definition", class: "json", tabindex: "0" }, definition ? JSON.stringify(definition, null, 2) : machine.definition))),
      form,
      h("section", { class: "panel" },
        h("h2", {}, "Executions"),
        executions instanceof Error
          ? h("p", { class: "empty" }, "The executions could not be listed.")
          : [executionsTable(executions.sort(byStartDesc), "", false),
             executions.length ? null : h("p", { class: "empty" }, "No executions yet.")]),
    );
    if (executions instanceof Error) showError(executions);

    // The handler runs after mounting, when `svg` is set.
    let svg = null;
    svg = mountOrReport(graph, svgText, (node) => {
      selectNode(svg, node);
      const name = node.dataset.state || "";
      const def = definition ? findStateDefinition(definition, name) : null;
      fill(panel,
        h("h3", {}, name, " ", h("span", { class: "muted" }, node.dataset.type || "")),
        h("pre", { id: "state-definition", class: "json" }, def ? JSON.stringify(def, null, 2) : "(not found in the definition)"));
      panel.hidden = false;
    });
    const hasGraph = svg !== null;
    markRendered(hasGraph);
    return null;
  }

  // ---- execution page ------------------------------------------------------------------

  function detailsOf(event) {
    for (const [k, v] of Object.entries(event)) {
      if (k.endsWith("EventDetails") && v && typeof v === "object") return v;
    }
    return null;
  }

  function eventSummary(details) {
    if (!details) return "";
    const bits = [];
    if (details.name) bits.push(details.name);
    if (details.resourceType && details.resource) bits.push(`${details.resourceType}:${details.resource}`);
    if (details.error) bits.push(details.error);
    if (details.index !== undefined) bits.push(`index ${details.index}`);
    if (details.length !== undefined) bits.push(`length ${details.length}`);
    return bits.join(" · ");
  }

  function historyRow(event, prev, start) {
    const t = Number(event.timestamp) * 1000;
    const details = detailsOf(event);
    const summary = eventSummary(details);
    return h("tr", { "data-event-id": event.id, "data-type": event.type, class: /Failed|Aborted|TimedOut/.test(event.type) ? "bad" : null },
      h("td", { class: "num" }, event.id),
      h("td", { class: "type" }, event.type),
      h("td", { class: "mono" }, h("time", { datetime: iso(event.timestamp) }, iso(event.timestamp))),
      h("td", { class: "num mono", title: "since the previous event" }, prev ? duration(t - Number(prev.timestamp) * 1000) : "—"),
      h("td", { class: "num mono", title: "since the start" }, start ? duration(t - Number(start.timestamp) * 1000) : "—"),
      h("td", { class: "details" }, details
        ? h("details", {}, h("summary", {}, summary || "details"), h("pre", { class: "json" }, JSON.stringify(expandJsonStrings(details), null, 2)))
        : ""));
  }

  async function executionPage(app, arn, live) {
    const [data, svgText] = await Promise.all([
      getJson(`/console/api/execution?arn=${encodeURIComponent(arn)}`),
      getText(`/console/api/graph?execution=${encodeURIComponent(arn)}`).catch((e) => e),
    ]);
    if (!live()) return null;
    let exec = data.execution || {};
    let states = new Map();
    let history = [];
    let selectedId = null;
    let timer = null;
    let disposed = false;
    let svg = null;
    let fetched = 0; // the number of the last execution request sent
    let applied = 0; // the number of the last answer shown (older answers are dropped)
    document.title = `${exec.name || nameOfArn(arn)} · stepwise`;

    const machineArn = exec.stateMachineArn || machineArnOfExecution(arn);
    const statusEl = h("span", { id: "execution-status", class: "badge", "aria-live": "polite" });
    const stopButton = h("button", { id: "stop-button", type: "button", class: "danger", hidden: true }, "Stop execution");
    const facts = h("dl", { class: "facts" });
    const ioBox = h("div", { class: "io" });
    const graph = h("div", { id: "graph", class: "graph" });
    const panel = h("section", { id: "state-panel", class: "panel state-panel", hidden: true, "aria-live": "polite" });
    const waitingBox = h("section", { id: "waiting-tasks", class: "panel waiting", hidden: true, "aria-label": "Tasks waiting for a token" });
    const historyBody = h("tbody", {});
    const historyTable = h("table", { id: "history-table", class: "data history" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "ID"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Timestamp"),
        h("th", { scope: "col" }, "Since previous"), h("th", { scope: "col" }, "Since start"), h("th", { scope: "col" }, "Details"))),
      historyBody);

    stopButton.addEventListener("click", async () => {
      stopButton.disabled = true;
      clearError();
      try {
        await sfn("StopExecution", { executionArn: arn, error: "Console.Stopped", cause: "Stopped from the stepwise console" });
        await refresh();
      } catch (err) {
        showError(err);
      } finally {
        stopButton.disabled = false;
      }
    });

    fill(app,
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
        h("a", { href: "#/" }, "State machines"), " / ", machineArn ? machineLink(machineArn) : "", " / "),
      h("div", { class: "title-row" }, h("h1", {}, exec.name || nameOfArn(arn)), statusEl, stopButton),
      facts,
      waitingBox,
      h("div", { class: "split execution" },
        h("section", { class: "panel graph-panel", "aria-label": "Graph" }, h("h2", {}, "Graph"), graph, legend(), panel),
        h("section", { class: "panel history-panel", "aria-label": "History" },
          h("h2", {}, "History ", h("span", { class: "muted", id: "history-count" })), h("div", { class: "scroll" }, historyTable))),
      ioBox,
    );

    function renderState() {
      if (!selectedId) return;
      const node = svg && findNode(svg, selectedId);
      const st = states.get(selectedId);
      const status = (st && st.status) || (node && node.dataset.status) || "not-reached";
      const name = (st && st.name) || (node && node.dataset.state) || selectedId;
      fill(panel,
        h("h3", {}, name, " ", h("span", { id: "state-status", class: `badge status-${status}`, "data-status": status }, STATUS_LABELS[status] || status)),
        h("dl", { class: "facts small" },
          h("dt", {}, "Type"), h("dd", {}, (node && node.dataset.type) || "—"),
          h("dt", {}, "Entered"), h("dd", { class: "mono" }, st && st.entered ? iso(st.entered) : "—"),
          h("dt", {}, "Exited"), h("dd", { class: "mono" }, st && st.exited ? iso(st.exited) : "—"),
          st && st.entered && st.exited ? [h("dt", {}, "Duration"), h("dd", { class: "mono" }, duration((st.exited - st.entered) * 1000).slice(1))] : null),
        h("h4", {}, "Input"),
        h("pre", { id: "state-input", class: "json" }, st && st.input !== null && st.input !== undefined ? pretty(st.input) : "—"),
        h("h4", {}, "Output"),
        h("pre", { id: "state-output", class: "json" }, st && st.output !== null && st.output !== undefined ? pretty(st.output) : "—"));
      panel.hidden = false;
    }

    function onSelect(node) {
      selectedId = node.dataset.id;
      selectNode(svg, node);
      renderState();
    }

    function renderExecution() {
      const status = exec.status || "UNKNOWN";
      statusEl.textContent = status;
      statusEl.className = `badge status-${status}`;
      statusEl.dataset.status = status;
      stopButton.hidden = status !== "RUNNING";
      fill(facts,
        h("dt", {}, "ARN"), h("dd", { class: "mono" }, exec.executionArn || arn),
        h("dt", {}, "State machine"), h("dd", {}, machineArn ? machineLink(machineArn) : "—"),
        h("dt", {}, "Started"), h("dd", { class: "mono" }, iso(exec.startDate) || "—"),
        h("dt", {}, "Stopped"), h("dd", { class: "mono" }, exec.stopDate ? iso(exec.stopDate) : "—"),
        exec.startDate && exec.stopDate
          ? [h("dt", {}, "Duration"), h("dd", { class: "mono" }, duration((exec.stopDate - exec.startDate) * 1000).slice(1))]
          : null);
      const parts = [
        h("section", { class: "panel" }, h("h2", {}, "Input"), h("pre", { id: "execution-input", class: "json" }, pretty(exec.input))),
      ];
      if (exec.output !== undefined && exec.output !== null) {
        parts.push(h("section", { class: "panel" }, h("h2", {}, "Output"), h("pre", { id: "execution-output", class: "json" }, pretty(exec.output))));
      }
      if (exec.error || exec.cause) {
        parts.push(h("section", { class: "panel bad" }, h("h2", {}, "Error"),
          h("p", { id: "execution-error", class: "mono" }, exec.error || ""),
          h("pre", { id: "execution-cause", class: "json" }, exec.cause ? pretty(exec.cause) : "")));
      }
      ioBox.replaceChildren(...parts);
    }

    function renderHistory() {
      const rows = historyBody.rows;
      // Appends the new events; rebuilds when what is shown is not a prefix of the history.
      let ok = rows.length <= history.length;
      for (let i = 0; ok && i < rows.length; i++) {
        if (rows[i].dataset.eventId !== String(history[i].id)) ok = false;
      }
      if (!ok) historyBody.replaceChildren();
      const start = history[0];
      const frag = document.createDocumentFragment();
      for (let i = historyBody.rows.length; i < history.length; i++) {
        frag.append(historyRow(history[i], history[i - 1], start));
      }
      historyBody.append(frag);
      $("#history-count").textContent = `(${history.length} event${history.length === 1 ? "" : "s"})`;
    }

    function waitingBlock(w) {
      const output = h("textarea", { class: "task-output", rows: 3, spellcheck: "false", "aria-label": `Output for ${w.state}` }, "{}");
      const outputError = h("p", { class: "field-error task-output-error", hidden: true });
      const success = h("button", { type: "button", class: "send-success primary" }, "Send task success");
      const error = h("input", { type: "text", class: "task-error", placeholder: "Error", "aria-label": `Error for ${w.state}` });
      const cause = h("input", { type: "text", class: "task-cause", placeholder: "Cause", "aria-label": `Cause for ${w.state}` });
      const failureButton = h("button", { type: "button", class: "send-failure danger" }, "Send task failure");
      const block = h("div", { class: "waiting-task", "data-state": w.state, "data-id": w.id, "data-token": w.token },
        h("h3", {}, w.state, " ", h("span", { class: "badge status-waiting" }, "waiting for a task token")),
        h("details", { class: "token" }, h("summary", {}, "Task token"), h("code", { class: "mono" }, w.token)),
        h("div", { class: "task-forms" },
          h("div", { class: "task-form" }, h("label", {}, "Output (JSON)", output), outputError, success),
          h("div", { class: "task-form" }, h("label", {}, "Error", error), h("label", {}, "Cause", cause), failureButton)));
      output.addEventListener("input", () => {
        try {
          JSON.parse(output.value);
          outputError.hidden = true;
          success.disabled = false;
        } catch (e) {
          outputError.textContent = `Invalid JSON: ${e.message}`;
          outputError.hidden = false;
          success.disabled = true;
        }
      });
      const send = async (button, op, body) => {
        success.disabled = failureButton.disabled = true;
        clearError();
        try {
          await sfn(op, body);
          block.classList.add("sent");
          await refresh();
        } catch (err) {
          showError(err);
          success.disabled = failureButton.disabled = false;
        }
      };
      success.addEventListener("click", () => {
        try {
          JSON.parse(output.value);
        } catch (e) {
          outputError.textContent = `Invalid JSON: ${e.message}`;
          outputError.hidden = false;
          return;
        }
        send(success, "SendTaskSuccess", { taskToken: w.token, output: output.value });
      });
      failureButton.addEventListener("click", () => {
        const body = { taskToken: w.token };
        if (error.value) body.error = error.value;
        if (cause.value) body.cause = cause.value;
        send(failureButton, "SendTaskFailure", body);
      });
      return block;
    }

    function renderWaiting(waiting) {
      const want = new Map((waiting || []).map((w) => [w.token, w]));
      for (const block of $$(".waiting-task", waitingBox)) {
        if (!want.has(block.dataset.token)) block.remove();
      }
      const have = new Set($$(".waiting-task", waitingBox).map((b) => b.dataset.token));
      if (!waitingBox.firstElementChild) waitingBox.append(h("h2", {}, "Waiting for a task token"));
      for (const w of want.values()) if (!have.has(w.token)) waitingBox.append(waitingBlock(w));
      waitingBox.hidden = want.size === 0;
    }

    function applyStates(list) {
      states = new Map((list || []).map((s) => [s.id, s]));
      if (!svg) return;
      for (const node of $$(NODE, svg)) {
        const st = states.get(node.dataset.id);
        setNodeStatus(node, st ? st.status : "not-reached");
      }
    }

    function apply(d) {
      exec = d.execution || exec;
      history = d.history || [];
      applyStates(d.states);
      renderExecution();
      renderHistory();
      renderWaiting(d.waiting);
      renderState();
    }

    async function refresh() {
      if (disposed) return;
      clearTimeout(timer);
      const mine = ++fetched;
      try {
        const d = await getJson(`/console/api/execution?arn=${encodeURIComponent(arn)}`);
        if (disposed) return;
        if (mine < applied) return;
        applied = mine;
        apply(d);
      } catch (err) {
        if (!disposed) showError(err);
      }
      schedule();
    }

    function schedule() {
      clearTimeout(timer);
      if (!disposed && exec.status === "RUNNING") timer = setTimeout(refresh, POLL_MS);
    }

    svg = mountOrReport(graph, svgText, onSelect);
    const hasGraph = svg !== null;
    apply(data);
    markRendered(hasGraph);
    schedule();

    return {
      dispose() {
        disposed = true;
        clearTimeout(timer);
      },
    };
  }

  // ---- start ---------------------------------------------------------------------------

  function start() {
    $("#error-close").addEventListener("click", clearError);
    window.addEventListener("hashchange", route);
    route();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
