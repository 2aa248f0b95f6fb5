//! The text writers: Graphviz DOT (groups as clusters) and Mermaid flowcharts (groups as
//! subgraphs), for READMEs and reviews, where the reader's tool lays the graph out. Statuses
//! colour the nodes and are written into their labels.

use crate::model::{EdgeKind, Graph, GroupKind, END, START};
use crate::outcome::{Outcome, Status};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Fill and stroke of a status.
fn colours(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Succeeded => ("#e6f4ea", "#1e8e3e"),
        Status::Failed => ("#fce8e6", "#c5221f"),
        Status::Caught => ("#fef0e1", "#e8710a"),
        Status::Running => ("#e8f0fe", "#1a73e8"),
        Status::Waiting => ("#f3e8fd", "#9334e6"),
        Status::NotReached => ("#f1f3f4", "#9aa0a6"),
    }
}

/// Children of each group (nodes, joins and groups), in order.
struct Tree<'a> {
    nodes: HashMap<Option<usize>, Vec<usize>>,
    groups: HashMap<Option<usize>, Vec<usize>>,
    graph: &'a Graph,
}

impl<'a> Tree<'a> {
    fn of(graph: &'a Graph) -> Self {
        let mut nodes: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
        for (i, n) in graph.nodes.iter().enumerate() {
            nodes.entry(n.group).or_default().push(i);
        }
        let mut groups: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
        for (i, g) in graph.groups.iter().enumerate() {
            groups.entry(g.parent).or_default().push(i);
        }
        Tree { nodes, groups, graph }
    }
}

/// A DOT string literal.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// The graph in Graphviz DOT.
pub fn dot(graph: &Graph, outcome: Option<&Outcome>) -> String {
    let tree = Tree::of(graph);
    let mut out = String::from(
        "digraph stepwise {\n  rankdir=TB;\n  compound=true;\n  fontname=\"Helvetica\";\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#5f6b7a\", fontname=\"Helvetica\"];\n  edge [color=\"#5f6b7a\", fontname=\"Helvetica\", fontsize=10];\n",
    );
    let _ = writeln!(out, "  {} [label=\"Start\", shape=circle, style=filled, fillcolor=\"#3c4043\", fontcolor=\"#ffffff\", width=0.4, fixedsize=true, fontsize=8];", quoted(START));
    if graph.edges.iter().any(|e| e.to == END) {
        let _ = writeln!(out, "  {} [label=\"End\", shape=doublecircle, style=filled, fillcolor=\"#ffffff\", width=0.3, fixedsize=true, fontsize=8];", quoted(END));
    }
    dot_scope(&mut out, &tree, None, outcome, 1);
    for edge in &graph.edges {
        let mut attrs: Vec<String> = Vec::new();
        if let Some(label) = &edge.label {
            attrs.push(format!("label={}", quoted(label)));
        }
        match edge.kind {
            EdgeKind::Catch => attrs.push("style=dashed, color=\"#e8710a\"".into()),
            EdgeKind::Default => attrs.push("style=dotted".into()),
            EdgeKind::Marker => attrs.push("color=\"#9aa0a6\"".into()),
            EdgeKind::Next | EdgeKind::Choice => {}
        }
        let _ = writeln!(
            out,
            "  {} -> {}{};",
            quoted(&edge.from),
            quoted(&edge.to),
            if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) }
        );
    }
    out.push_str("}\n");
    out
}

fn dot_scope(out: &mut String, tree: &Tree<'_>, group: Option<usize>, outcome: Option<&Outcome>, depth: usize) {
    let pad = "  ".repeat(depth);
    let graph = tree.graph;
    for &i in tree.nodes.get(&group).into_iter().flatten() {
        let node = &graph.nodes[i];
        let status = outcome.map(|o| o.status(&node.name));
        let mut label = format!("{}\n{}", node.kind.to_ascii_uppercase(), node.name);
        let mut attrs = String::new();
        if let Some(s) = status {
            let (fill, stroke) = colours(s);
            let _ = write!(label, "\n{}", s.as_str());
            let _ = write!(attrs, ", fillcolor=\"{fill}\", color=\"{stroke}\"");
        }
        if node.kind == "Choice" {
            attrs.push_str(", shape=hexagon");
        }
        let _ = writeln!(out, "{pad}{} [label={}{attrs}];", quoted(&node.id), quoted(&label));
        if let Some(join) = &node.join {
            let _ = writeln!(out, "{pad}{} [label=\"\", shape=point, width=0.12];", quoted(join));
        }
    }
    for &gi in tree.groups.get(&group).into_iter().flatten() {
        let g = &graph.groups[gi];
        let _ = writeln!(out, "{pad}subgraph {} {{", quoted(&format!("cluster_{}", g.id)));
        let style = if g.kind == GroupKind::Branch { "dashed" } else { "rounded,dashed" };
        let _ = writeln!(out, "{pad}  label={}; style=\"{style}\"; color=\"#bdc1c6\";", quoted(&g.label));
        dot_scope(out, tree, Some(gi), outcome, depth + 1);
        let _ = writeln!(out, "{pad}}}");
    }
}

/// Mermaid's node ids: `n{index}`, `j{index}` for joins, `start` and `finish`.
fn mermaid_ids(graph: &Graph) -> HashMap<&str, String> {
    let mut ids: HashMap<&str, String> = HashMap::new();
    ids.insert(START, "start".into());
    ids.insert(END, "finish".into());
    for (i, n) in graph.nodes.iter().enumerate() {
        ids.insert(&n.id, format!("n{i}"));
        if let Some(j) = &n.join {
            ids.insert(j, format!("j{i}"));
        }
    }
    ids
}

/// Mermaid label text: quoted, with `"` as `#quot;`.
fn mlabel(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "#quot;"))
}

/// The graph as a Mermaid flowchart.
pub fn mermaid(graph: &Graph, outcome: Option<&Outcome>) -> String {
    let tree = Tree::of(graph);
    let ids = mermaid_ids(graph);
    let mut out = String::from("flowchart TD\n");
    out.push_str("  start((Start))\n");
    if graph.edges.iter().any(|e| e.to == END) {
        out.push_str("  finish(((End)))\n");
    }
    mermaid_scope(&mut out, &tree, &ids, None, 1);
    for edge in &graph.edges {
        let (from, to) = (&ids[edge.from.as_str()], &ids[edge.to.as_str()]);
        let arrow = match edge.kind {
            EdgeKind::Catch | EdgeKind::Default => "-.->",
            _ => "-->",
        };
        match &edge.label {
            Some(l) => {
                let _ = writeln!(out, "  {from} {arrow}|{}| {to}", mlabel(l));
            }
            None => {
                let _ = writeln!(out, "  {from} {arrow} {to}");
            }
        }
    }
    if let Some(o) = outcome {
        for s in Status::ALL {
            let (fill, stroke) = colours(s);
            let _ = writeln!(out, "  classDef {} fill:{fill},stroke:{stroke}", class_name(s));
        }
        for (i, n) in graph.nodes.iter().enumerate() {
            let _ = writeln!(out, "  class n{i} {}", class_name(o.status(&n.name)));
        }
    }
    out
}

fn class_name(s: Status) -> &'static str {
    match s {
        Status::NotReached => "notReached",
        other => other.as_str(),
    }
}

fn mermaid_scope(out: &mut String, tree: &Tree<'_>, ids: &HashMap<&str, String>, group: Option<usize>, depth: usize) {
    let pad = "  ".repeat(depth);
    let graph = tree.graph;
    for &i in tree.nodes.get(&group).into_iter().flatten() {
        let node = &graph.nodes[i];
        let text = mlabel(&format!("{}: {}", node.kind, node.name));
        let shape = if node.kind == "Choice" { format!("{{{text}}}") } else { format!("[{text}]") };
        let _ = writeln!(out, "{pad}{}{shape}", ids[node.id.as_str()]);
        if let Some(j) = &node.join {
            let _ = writeln!(out, "{pad}{}(( ))", ids[j.as_str()]);
        }
    }
    for &gi in tree.groups.get(&group).into_iter().flatten() {
        let g = &graph.groups[gi];
        let _ = writeln!(out, "{pad}subgraph g{gi}[{}]", mlabel(&g.label));
        mermaid_scope(out, tree, ids, Some(gi), depth + 1);
        let _ = writeln!(out, "{pad}end");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn graph() -> Graph {
        Graph::of(&json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "A \"q\"", "States": {"A \"q\"": {"Type": "Pass", "End": true}}}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "y", "Next": "F"}], "Default": "F"},
            "F": {"Type": "Fail"}}}))
        .expect("graph")
    }

    #[test]
    fn dot_has_clusters_nodes_and_styled_edges() {
        let d = dot(&graph(), None);
        assert!(d.starts_with("digraph stepwise {"));
        assert!(d.contains("subgraph \"cluster_P/box\" {"));
        assert!(d.contains("subgraph \"cluster_P/0\" {"));
        assert!(d.contains("\"P/0/A \\\"q\\\"\" [label=\"PASS\\nA \\\"q\\\"\"];"), "{d}");
        assert!(d.contains("\"P/__join\" -> \"F\" [label=\"States.ALL\", style=dashed"));
        assert!(d.contains("\"C\" -> \"F\" [label=\"$.x == \\\"y\\\"\"];"), "{d}");
        assert!(d.contains("\"C\" -> \"F\" [label=\"Default\", style=dotted];"));
        assert_eq!(d.matches('{').count(), d.matches('}').count());
    }

    #[test]
    fn mermaid_has_subgraphs_and_status_classes() {
        let history = vec![
            json!({"id": 1, "type": "ExecutionStarted"}),
            json!({"id": 2, "previousEventId": 1, "type": "FailStateEntered", "stateEnteredEventDetails": {"name": "F", "input": "{}"}}),
        ];
        let m = mermaid(&graph(), Some(&Outcome::of(&history, false, &[])));
        assert!(m.starts_with("flowchart TD\n"));
        assert!(m.contains("subgraph g0[\"P (Parallel)\"]"));
        assert!(m.contains("n1[\"Pass: A #quot;q#quot;\"]"), "{m}");
        assert!(m.contains("n2{\"Choice: C\"}"));
        assert!(m.contains("j0 -.->|\"States.ALL\"| n3"));
        assert!(m.contains("class n3 failed"));
        assert!(m.contains("class n0 notReached"));
        assert_eq!(m.matches("subgraph").count(), m.lines().filter(|l| l.trim() == "end").count());
    }
}
