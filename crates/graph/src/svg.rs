//! The SVG writer: a self-contained image (its own styles), also the console's interactive
//! graph. Every state is a focusable `<g class="node type-… status-…" data-id data-state
//! data-type data-status tabindex="0" role="button" aria-label>`, every transition a
//! `<g class="edge edge-{next,choice,default,catch}" data-from data-to>`, boxes are
//! `<g class="group group-{parallel,branch,map}" data-state>`, markers `<g class="marker
//! marker-{start,end}">` joined by `<g class="marker-edge">`. Colours carry a text label too
//! (the status line of each state, the legend).

use crate::layout::{Layout, Rect, NODE_HEIGHT};
use crate::model::{EdgeKind, Graph, Node, END, START};
use crate::outcome::{Outcome, Status};
use std::fmt::Write as _;

/// The styles embedded in every image (the console may override them).
const STYLE: &str = r#"
.stepwise-graph{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
.stepwise-graph .node .shape{fill:#fff;stroke:#5f6b7a;stroke-width:1.5}
.stepwise-graph .node .node-label{font-size:13px;fill:#1d2430;text-anchor:middle;dominant-baseline:middle}
.stepwise-graph .node .node-type{font-size:9px;letter-spacing:.06em;fill:#5f6b7a;text-anchor:middle}
.stepwise-graph .node .node-status{font-size:10px;fill:#3d4653;text-anchor:middle}
.stepwise-graph .node:focus{outline:none}
.stepwise-graph .node:focus .shape,.stepwise-graph .node.selected .shape{stroke:#0b57d0;stroke-width:3}
.stepwise-graph .type-choice .shape{stroke-dasharray:6 3}
.stepwise-graph .type-pass .shape{fill:#fafbfc}
.stepwise-graph .type-succeed .shape{stroke:#1e8e3e}
.stepwise-graph .type-fail .shape{stroke:#c5221f}
.stepwise-graph .legend-item .shape{stroke-width:1.5}
.stepwise-graph .status-succeeded .shape{fill:#e6f4ea;stroke:#1e8e3e}
.stepwise-graph .status-failed .shape{fill:#fce8e6;stroke:#c5221f}
.stepwise-graph .status-caught .shape{fill:#fef0e1;stroke:#e8710a}
.stepwise-graph .status-running .shape{fill:#e8f0fe;stroke:#1a73e8}
.stepwise-graph .status-waiting .shape{fill:#f3e8fd;stroke:#9334e6}
.stepwise-graph .status-not-reached .shape{fill:#f1f3f4;stroke:#9aa0a6}
.stepwise-graph .status-not-reached .node-label{fill:#80868b}
.stepwise-graph .edge path,.stepwise-graph .marker-edge path{fill:none;stroke:#5f6b7a;stroke-width:1.4}
.stepwise-graph .edge-catch path{stroke:#e8710a;stroke-dasharray:5 4}
.stepwise-graph .edge-default path{stroke-dasharray:2 3}
.stepwise-graph .marker-edge path{stroke:#9aa0a6}
.stepwise-graph .edge-label{font-size:11px;fill:#3d4653;text-anchor:middle;dominant-baseline:middle}
.stepwise-graph .edge-label-bg{fill:#fff;opacity:.9}
.stepwise-graph .group rect{fill:#f8f9fa;stroke:#bdc1c6;stroke-dasharray:4 3;rx:8}
.stepwise-graph .group-branch rect{fill:#fff}
.stepwise-graph .group-label{font-size:11px;fill:#5f6b7a}
.stepwise-graph .marker circle{fill:#3c4043}
.stepwise-graph .marker-end circle{fill:#fff;stroke:#3c4043;stroke-width:4}
.stepwise-graph .marker text{font-size:10px;fill:#3c4043;text-anchor:middle}
.stepwise-graph .join circle{fill:#9aa0a6}
.stepwise-graph .legend text{font-size:11px;fill:#3d4653;dominant-baseline:middle}
"#;

/// Writes the picture of `graph` laid out as `layout`, coloured by `outcome` when given (then
/// with a legend of the colours).
pub fn write(graph: &Graph, layout: &Layout, outcome: Option<&Outcome>) -> String {
    let legend_height = if outcome.is_some() { 28.0 } else { 0.0 };
    let legend_width = if outcome.is_some() { legend_width() } else { 0.0 };
    let (width, height) = (layout.width.max(160.0).max(legend_width), layout.height + legend_height);
    let mut out = String::with_capacity(512 + graph.nodes.len() * 600);
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="stepwise-graph" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="group" aria-label="state machine graph"><style>{STYLE}</style><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#5f6b7a"/></marker></defs>"##,
        w = num(width),
        h = num(height),
    );
    // Boxes first (outermost first: groups are listed parents before children).
    for group in &graph.groups {
        let Some(r) = layout.groups.get(&group.id) else { continue };
        let _ = write!(
            out,
            r#"<g class="group group-{kind}" data-state="{state}"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8"/><text class="group-label" x="{tx}" y="{ty}">{label}</text></g>"#,
            kind = group.kind.as_str(),
            state = esc(&group.state),
            x = num(r.x - r.width / 2.0),
            y = num(r.y - r.height / 2.0),
            w = num(r.width),
            h = num(r.height),
            tx = num(r.x - r.width / 2.0 + 8.0),
            ty = num(r.y - r.height / 2.0 + 13.0),
            label = esc(&group.label),
        );
    }
    for (edge, route) in graph.edges.iter().zip(&layout.routes) {
        if route.points.is_empty() {
            continue;
        }
        let mut d = String::new();
        for (i, (x, y)) in route.points.iter().enumerate() {
            let _ = write!(d, "{}{},{}", if i == 0 { "M" } else { "L" }, num(*x), num(*y));
        }
        let class = match edge.kind {
            EdgeKind::Marker => "marker-edge".to_string(),
            kind => format!("edge edge-{}", kind.as_str()),
        };
        let _ = write!(
            out,
            r#"<g class="{class}" data-from="{from}" data-to="{to}"><path d="{d}" marker-end="url(#arrow)"/>"#,
            from = esc(&state_of(graph, &edge.from)),
            to = esc(&edge.to),
        );
        if let (Some(text), Some((x, y))) = (&edge.label, route.label) {
            let w = text.chars().count() as f64 * crate::layout::SMALL_CHAR_WIDTH + 8.0;
            let _ = write!(
                out,
                r#"<rect class="edge-label-bg" x="{rx}" y="{ry}" width="{w}" height="16" rx="3"/><text class="edge-label" x="{x}" y="{y}">{t}</text>"#,
                rx = num(x - w / 2.0),
                ry = num(y - 8.0),
                w = num(w),
                x = num(x),
                y = num(y),
                t = esc(text),
            );
        }
        out.push_str("</g>");
    }
    for (id, label) in [(START, "Start"), (END, "End")] {
        let Some(r) = layout.boxes.get(id) else { continue };
        let kind = if id == START { "start" } else { "end" };
        let _ = write!(
            out,
            r#"<g class="marker marker-{kind}" aria-label="{label}"><circle cx="{x}" cy="{y}" r="{r}"/><text x="{tx}" y="{ty}">{label}</text></g>"#,
            x = num(r.x),
            y = num(r.y),
            r = num(r.width / 2.0 - 2.0),
            tx = num(r.x + r.width / 2.0 + 18.0),
            ty = num(r.y + 4.0),
        );
    }
    for node in &graph.nodes {
        if let Some(join) = node.join.as_ref().and_then(|j| layout.boxes.get(j)) {
            let _ = write!(
                out,
                r#"<g class="join"><circle cx="{x}" cy="{y}" r="{r}"/></g>"#,
                x = num(join.x),
                y = num(join.y),
                r = num(join.width / 2.0),
            );
        }
        if let Some(r) = layout.boxes.get(&node.id) {
            write_node(&mut out, node, r, outcome.map(|o| o.status(&node.name)));
        }
    }
    if outcome.is_some() {
        let y = layout.height + legend_height / 2.0;
        out.push_str(r#"<g class="legend">"#);
        let mut x = LEGEND_MARGIN;
        for status in Status::ALL {
            let _ = write!(
                out,
                r#"<g class="legend-item status-{s}"><rect class="shape" x="{x}" y="{ry}" width="14" height="14" rx="3"/><text x="{tx}" y="{y}">{s}</text></g>"#,
                s = status.as_str(),
                x = num(x),
                ry = num(y - 7.0),
                tx = num(x + 19.0),
                y = num(y),
            );
            x += legend_item_width(status);
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>\n");
    out
}

const LEGEND_MARGIN: f64 = 16.0;

fn legend_item_width(status: Status) -> f64 {
    30.0 + status.as_str().len() as f64 * 6.2
}

/// The legend's width: the image is at least that wide.
fn legend_width() -> f64 {
    2.0 * LEGEND_MARGIN + Status::ALL.iter().map(|s| legend_item_width(*s)).sum::<f64>()
}

fn write_node(out: &mut String, node: &Node, r: &Rect, status: Option<Status>) {
    let kind = node.kind.to_ascii_lowercase();
    let status_name = status.map_or("none", Status::as_str);
    let (left, top) = (r.x - r.width / 2.0, r.y - r.height / 2.0);
    let rx = match node.kind.as_str() {
        "Choice" => 18.0,
        "Pass" | "Succeed" | "Fail" => 14.0,
        _ => 5.0,
    };
    let label = match status {
        Some(s) => format!("{}, {}, {}", node.name, node.kind, s.as_str()),
        None => format!("{}, {}", node.name, node.kind),
    };
    let title = match &node.resource {
        Some(res) => format!("{} ({})\n{res}", node.name, node.kind),
        None => format!("{} ({})", node.name, node.kind),
    };
    let _ = write!(
        out,
        r#"<g class="node type-{kind} status-{status_name}" data-id="{id}" data-state="{name}" data-type="{ty}" data-status="{status_name}" tabindex="0" role="button" aria-label="{aria}"><title>{title}</title><rect class="shape" x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}"/><text class="node-type" x="{cx}" y="{ty_y}">{upper}</text><text class="node-label" x="{cx}" y="{cy}">{name}</text>"#,
        id = esc(&node.id),
        name = esc(&node.name),
        ty = esc(&node.kind),
        aria = esc(&label),
        title = esc(&title),
        x = num(left),
        y = num(top),
        w = num(r.width),
        h = num(NODE_HEIGHT),
        rx = num(rx),
        cx = num(r.x),
        ty_y = num(top + 12.0),
        upper = esc(&node.kind.to_ascii_uppercase()),
        cy = num(top + 26.0),
    );
    if let Some(s) = status {
        let _ =
            write!(out, r#"<text class="node-status" x="{}" y="{}">{}</text>"#, num(r.x), num(top + 43.0), s.as_str());
    }
    out.push_str("</g>");
}

/// The state an edge leaves: a join stands for its Parallel or Map state.
fn state_of(graph: &Graph, from: &str) -> String {
    graph.nodes.iter().find(|n| n.join.as_deref() == Some(from)).map_or_else(|| from.to_string(), |n| n.id.clone())
}

/// A coordinate, rounded to a tenth.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Text and attribute values, escaped for XML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::lay_out;
    use serde_json::json;

    #[test]
    fn states_edges_and_statuses_are_marked_up_for_the_console() {
        let graph = Graph::of(&json!({"StartAt": "A & B", "States": {
            "A & B": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "Next": "D"},
            "C": {"Type": "Fail"},
            "D": {"Type": "Succeed"}}}))
        .expect("graph");
        let layout = lay_out(&graph).expect("layout");
        let plain = write(&graph, &layout, None);
        assert_eq!(plain.matches(r#"<g class="node "#).count(), 3);
        assert_eq!(plain.matches(r#"<g class="edge "#).count(), 2);
        assert!(plain.contains(r#"data-state="A &amp; B""#));
        assert!(plain.contains(r#"class="edge edge-catch" data-from="A &amp; B" data-to="C""#));
        assert!(plain.contains("status-none"));
        assert!(!plain.contains(r#"<g class="legend">"#));
        let history = vec![
            json!({"id": 1, "previousEventId": 0, "type": "ExecutionStarted"}),
            json!({"id": 2, "previousEventId": 1, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "A & B", "input": "{}"}}),
        ];
        let outcome = Outcome::of(&history, true, &["A & B".to_string()]);
        let coloured = write(&graph, &layout, Some(&outcome));
        assert!(coloured.contains(r#"class="node type-task status-waiting" data-id="A &amp; B""#), "{coloured}");
        assert!(coloured.contains(r#"aria-label="A &amp; B, Task, waiting""#));
        assert_eq!(coloured.matches("status-not-reached\" data-id=").count(), 2);
        assert!(coloured.contains(r#"<g class="legend">"#));
        // The legend's swatches are not nodes.
        assert_eq!(coloured.matches(r#"<g class="node "#).count(), 3);
        assert_eq!(coloured.matches(r#"<g class="legend-item "#).count(), 6);
        // The image is wide enough for its legend, even for a narrow machine.
        let width: f64 = coloured
            .split("width=\"")
            .nth(1)
            .and_then(|w| w.split('"').next())
            .and_then(|w| w.parse().ok())
            .expect("width");
        assert!(width >= legend_width(), "{width}");
    }
}
