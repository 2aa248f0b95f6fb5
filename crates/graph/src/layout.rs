//! Positions for a [`Graph`], from dugong: a Rust port of dagre (Sugiyama-style layered layout:
//! cycle breaking, network-simplex ranking, crossing minimisation, Brandes-Köpf coordinates)
//! that keeps dagre's compound nodes, so Parallel and Map boxes nest and hold their states.
//!
//! The layout does not depend on an execution: every node has room for a status line, so an
//! execution's picture has the machine's positions and a live page only changes colours.

use crate::model::{Graph, END, START};
use crate::Error;
use dugong::graphlib::{EdgeKey, Graph as DGraph, GraphOptions};
use dugong::{EdgeLabel, GraphLabel, NodeLabel, RankDir};
use std::collections::HashMap;

/// A box: its centre, width and height.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rect {
    /// Centre, x.
    pub x: f64,
    /// Centre, y.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// Where an edge runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Route {
    /// The polyline, from source to target.
    pub points: Vec<(f64, f64)>,
    /// Where its label's centre goes.
    pub label: Option<(f64, f64)>,
}

/// A laid-out graph.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    /// The drawing's width.
    pub width: f64,
    /// The drawing's height.
    pub height: f64,
    /// Nodes, markers and joins by id.
    pub boxes: HashMap<String, Rect>,
    /// Groups by id.
    pub groups: HashMap<String, Rect>,
    /// The routes of [`Graph::edges`], in the same order.
    pub routes: Vec<Route>,
}

/// Height of a state's box (a type line, the name, a status line).
pub const NODE_HEIGHT: f64 = 50.0;
/// Diameter of the start and end markers.
pub const MARKER: f64 = 22.0;
/// Diameter of a join point.
pub const JOIN: f64 = 10.0;
/// Average advance of a character of the 13 px label font.
pub const CHAR_WIDTH: f64 = 7.4;
/// Average advance of a character of the 11 px edge label font.
pub const SMALL_CHAR_WIDTH: f64 = 6.2;

/// The width a state's box needs for its name.
pub fn node_width(name: &str) -> f64 {
    (name.chars().count() as f64 * CHAR_WIDTH + 28.0).max(120.0)
}

/// Lays `graph` out, top to bottom.
pub fn lay_out(graph: &Graph) -> Result<Layout, Error> {
    let mut g: DGraph<NodeLabel, EdgeLabel, GraphLabel> =
        DGraph::new(GraphOptions { multigraph: true, compound: true, directed: true });
    g.set_graph(GraphLabel {
        rankdir: RankDir::TB,
        nodesep: 28.0,
        ranksep: 34.0,
        edgesep: 14.0,
        marginx: 16.0,
        marginy: 16.0,
        ..Default::default()
    });
    g.set_default_edge_label(EdgeLabel::default);
    let sized = |width: f64, height: f64| NodeLabel { width, height, ..Default::default() };
    for group in &graph.groups {
        g.set_node(group.id.clone(), NodeLabel::default());
    }
    for group in &graph.groups {
        if let Some(parent) = group.parent {
            g.set_parent(group.id.clone(), graph.groups[parent].id.clone());
        }
    }
    g.set_node(START, sized(MARKER, MARKER));
    g.set_node(END, sized(MARKER, MARKER));
    for node in &graph.nodes {
        g.set_node(node.id.clone(), sized(node_width(&node.name), NODE_HEIGHT));
        if let Some(group) = node.group {
            g.set_parent(node.id.clone(), graph.groups[group].id.clone());
        }
        if let (Some(join), Some(group)) = (&node.join, node.group) {
            g.set_node(join.clone(), sized(JOIN, JOIN));
            g.set_parent(join.clone(), graph.groups[group].id.clone());
        }
    }
    // Is the end marker used? (A machine whose states all loop has none.)
    let has_end = graph.edges.iter().any(|e| e.to == END);
    if !has_end {
        g.remove_node(END);
    }
    for (i, edge) in graph.edges.iter().enumerate() {
        let label = match &edge.label {
            Some(text) => EdgeLabel {
                width: text.chars().count() as f64 * SMALL_CHAR_WIDTH + 8.0,
                height: 16.0,
                ..Default::default()
            },
            None => EdgeLabel::default(),
        };
        g.set_edge_named(edge.from.clone(), edge.to.clone(), Some(i.to_string()), Some(label));
    }
    dugong::layout(&mut g).map_err(|e| Error::Layout(e.to_string()))?;

    let rect = |l: &NodeLabel| Rect { x: l.x.unwrap_or(0.0), y: l.y.unwrap_or(0.0), width: l.width, height: l.height };
    let mut boxes = HashMap::new();
    let mut ids: Vec<&str> = vec![START];
    if has_end {
        ids.push(END);
    }
    for node in &graph.nodes {
        ids.push(&node.id);
        if let Some(join) = &node.join {
            ids.push(join);
        }
    }
    for id in ids {
        if let Some(l) = g.node(id) {
            boxes.insert(id.to_string(), rect(l));
        }
    }
    let groups =
        graph.groups.iter().filter_map(|group| g.node(&group.id).map(|l| (group.id.clone(), rect(l)))).collect();
    let routes = graph
        .edges
        .iter()
        .enumerate()
        .map(|(i, edge)| {
            let key = EdgeKey::new(edge.from.clone(), edge.to.clone(), Some(i.to_string()));
            g.edge_by_key(&key).map_or_else(Route::default, |l| Route {
                points: l.points.iter().map(|p| (p.x, p.y)).collect(),
                label: edge.label.as_ref().and_then(|_| Some((l.x?, l.y?))),
            })
        })
        .collect();
    let label = g.graph();
    Ok(Layout { width: label.width, height: label.height, boxes, groups, routes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn boxes_hold_their_states_and_every_edge_has_a_route() {
        let graph = Graph::of(&json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": true}}},
                {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Pass", "End": true}}}, "End": true}}}
            ], "Next": "N"},
            "N": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": true, "Next": "P"}], "Default": "Z"},
            "Z": {"Type": "Succeed"}}}))
        .expect("graph");
        let l = lay_out(&graph).expect("layout");
        let inside = |outer: &Rect, inner: &Rect| {
            inner.x - inner.width / 2.0 >= outer.x - outer.width / 2.0 - 0.5
                && inner.x + inner.width / 2.0 <= outer.x + outer.width / 2.0 + 0.5
                && inner.y - inner.height / 2.0 >= outer.y - outer.height / 2.0 - 0.5
                && inner.y + inner.height / 2.0 <= outer.y + outer.height / 2.0 + 0.5
        };
        let parallel = l.groups["P/box"];
        for id in ["P", "P/0/A", "P/0/B", "P/1/M", "P/1/M/items/W", "P/__join"] {
            assert!(inside(&parallel, &l.boxes[id]), "{id} inside the Parallel's box");
        }
        assert!(inside(&l.groups["P/1/M/box"], &l.boxes["P/1/M/items/W"]));
        assert!(!inside(&parallel, &l.boxes["N"]), "N outside the Parallel's box");
        // Top to bottom: the Parallel's node above its branches, its join below them.
        assert!(l.boxes["P"].y < l.boxes["P/0/A"].y && l.boxes["P/0/B"].y < l.boxes["P/__join"].y);
        assert_eq!(l.routes.len(), graph.edges.len());
        assert!(l.routes.iter().all(|r| r.points.len() >= 2), "{:?}", l.routes);
        // The labelled edges (the rule, the Default) have label positions.
        assert_eq!(l.routes.iter().filter(|r| r.label.is_some()).count(), 2);
        assert!(l.width > 0.0 && l.height > 0.0);
    }
}
