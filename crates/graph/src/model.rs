//! A definition as a graph: its states as [`Node`]s, its transitions as [`Edge`]s, and the
//! scopes that nest states (Parallel branches, Map item processors) as [`Group`]s.
//!
//! A Parallel or Map state is drawn as a box ([`GroupKind::Parallel`], [`GroupKind::Map`]) that
//! holds the state's own node at its top, its branches (each a [`GroupKind::Branch`] box) or
//! item processor, and a *join* point at its bottom: transitions into the state reach its node,
//! transitions out of it (Next, Catch) leave from the join, so a branch reads top to bottom as
//! the state does. Where a scope begins and ends is drawn with [`EdgeKind::Marker`] edges: the
//! machine's start marker to `StartAt`, each end state to the end marker (at the top level) or
//! to its box's join (inside a branch or processor).

use crate::Error;
use serde_json::Value;

/// A state machine's picture, before layout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// Every state of the machine, nested ones included, in definition order.
    pub nodes: Vec<Node>,
    /// Every transition, and the marker edges of each scope's start and end.
    pub edges: Vec<Edge>,
    /// The boxes of Parallel and Map states and of Parallel branches.
    pub groups: Vec<Group>,
}

/// One state.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique in the graph: the state's name, prefixed by the path of the scopes around it
    /// (`Fan out/1/Break`, `Each/items/Work`).
    pub id: String,
    /// The state's name (what history events name).
    pub name: String,
    /// The state's `Type` (Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map).
    pub kind: String,
    /// The innermost group holding it (index into [`Graph::groups`]).
    pub group: Option<usize>,
    /// Its `Resource` (Task states), for tooltips.
    pub resource: Option<String>,
    /// For a Parallel or Map state: the id of the join point its transitions leave from.
    pub join: Option<String>,
}

/// What a transition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// `Next`.
    Next,
    /// A Choice rule (labelled with the rule).
    Choice,
    /// A Choice's `Default`.
    Default,
    /// A `Catch` (labelled with its errors).
    Catch,
    /// Where a scope starts or ends (start and end markers, branch starts, joins).
    Marker,
}

impl EdgeKind {
    /// Its name in class names and writers.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Next => "next",
            EdgeKind::Choice => "choice",
            EdgeKind::Default => "default",
            EdgeKind::Catch => "catch",
            EdgeKind::Marker => "marker",
        }
    }
}

/// One transition. `from` and `to` are node ids, or the ids of markers and joins.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Where it leaves (a state's id; a Parallel or Map state's transitions leave its join).
    pub from: String,
    /// Where it goes.
    pub to: String,
    /// What it is.
    pub kind: EdgeKind,
    /// Its label (a Choice rule, "Default", a Catch's errors).
    pub label: Option<String>,
}

/// What a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// A Parallel state's box (holding its node, its branches and its join).
    Parallel,
    /// One branch of a Parallel state.
    Branch,
    /// A Map state's box (holding its node, its item processor's states and its join).
    Map,
}

impl GroupKind {
    /// Its name in class names.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Parallel => "parallel",
            GroupKind::Branch => "branch",
            GroupKind::Map => "map",
        }
    }
}

/// A box around nested states.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Unique in the graph (a Parallel or Map box takes `{state id}/box`, a branch
    /// `{state id}/{index}`).
    pub id: String,
    /// The state it belongs to (the Parallel or Map state's name).
    pub state: String,
    /// Its caption.
    pub label: String,
    /// What it is.
    pub kind: GroupKind,
    /// The group around it.
    pub parent: Option<usize>,
}

/// The start marker's id.
pub const START: &str = "__start";
/// The end marker's id.
pub const END: &str = "__end";

impl Graph {
    /// The graph of a definition (a parsed ASL document).
    pub fn of(definition: &Value) -> Result<Graph, Error> {
        let mut g = Graph::default();
        let start = g.scope(definition, "$", "", None)?;
        g.edges.insert(0, Edge { from: START.into(), to: start, kind: EdgeKind::Marker, label: None });
        // Top-level ends go to the end marker.
        for e in &mut g.edges {
            if e.to == SCOPE_END {
                e.to = END.into();
            }
        }
        Ok(g)
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Adds the states of one scope (`{"StartAt", "States"}` at JSON path `path`, ids prefixed
    /// by `prefix`, inside `group`); returns the id of its first state. Its end states get
    /// marker edges to [`SCOPE_END`], which the caller points at the scope's join or end.
    fn scope(&mut self, scope: &Value, path: &str, prefix: &str, group: Option<usize>) -> Result<String, Error> {
        let start = scope
            .get("StartAt")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Definition(format!("{path}.StartAt: missing or not a string")))?;
        let states = scope
            .get("States")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::Definition(format!("{path}.States: missing or not an object")))?;
        if !states.contains_key(start) {
            return Err(Error::Definition(format!("{path}.StartAt: no state named {start:?}")));
        }
        let id_of = |name: &str| format!("{prefix}{name}");
        for (name, state) in states {
            let at = format!("{path}.States.{name}");
            let kind = state
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Definition(format!("{at}.Type: missing or not a string")))?
                .to_string();
            let id = id_of(name);
            let target = |field: &str, v: Option<&Value>| -> Result<Option<String>, Error> {
                match v {
                    None => Ok(None),
                    Some(Value::String(next)) if states.contains_key(next) => Ok(Some(id_of(next))),
                    Some(other) => {
                        Err(Error::Definition(format!("{at}.{field}: {other} is not a state of this scope")))
                    }
                }
            };
            let node_index = self.nodes.len();
            self.nodes.push(Node {
                id: id.clone(),
                name: name.clone(),
                kind: kind.clone(),
                group,
                resource: state.get("Resource").and_then(Value::as_str).map(str::to_string),
                join: None,
            });
            // Nested scopes: the state's node moves into its box, transitions leave its join.
            let mut from = id.clone();
            match kind.as_str() {
                "Parallel" => {
                    let boxed = self.group(&id, name, GroupKind::Parallel, format!("{name} (Parallel)"), group);
                    self.nodes[node_index].group = Some(boxed);
                    let join = format!("{id}/__join");
                    let branches = state
                        .get("Branches")
                        .and_then(Value::as_array)
                        .ok_or_else(|| Error::Definition(format!("{at}.Branches: missing or not an array")))?;
                    for (i, branch) in branches.iter().enumerate() {
                        let bid = format!("{id}/{i}");
                        let b = self.group(&bid, name, GroupKind::Branch, format!("Branch {}", i + 1), Some(boxed));
                        let mark = self.edges.len();
                        let first = self.scope(branch, &format!("{at}.Branches[{i}]"), &format!("{bid}/"), Some(b))?;
                        self.edges.push(Edge { from: id.clone(), to: first, kind: EdgeKind::Marker, label: None });
                        self.close(mark, &join);
                    }
                    self.nodes[node_index].join = Some(join.clone());
                    from = join;
                }
                "Map" => {
                    let boxed = self.group(&id, name, GroupKind::Map, format!("{name} (Map)"), group);
                    self.nodes[node_index].group = Some(boxed);
                    let join = format!("{id}/__join");
                    let (field, processor) = match (state.get("ItemProcessor"), state.get("Iterator")) {
                        (Some(p), _) => ("ItemProcessor", p),
                        (None, Some(p)) => ("Iterator", p),
                        (None, None) => {
                            return Err(Error::Definition(format!("{at}.ItemProcessor: missing")));
                        }
                    };
                    let mark = self.edges.len();
                    let first =
                        self.scope(processor, &format!("{at}.{field}"), &format!("{id}/items/"), Some(boxed))?;
                    self.edges.push(Edge { from: id.clone(), to: first, kind: EdgeKind::Marker, label: None });
                    self.close(mark, &join);
                    self.nodes[node_index].join = Some(join.clone());
                    from = join;
                }
                _ => {}
            }
            if kind == "Choice" {
                let rules = state.get("Choices").and_then(Value::as_array).cloned().unwrap_or_default();
                for (i, rule) in rules.iter().enumerate() {
                    let to = target(&format!("Choices[{i}].Next"), rule.get("Next"))?
                        .ok_or_else(|| Error::Definition(format!("{at}.Choices[{i}].Next: missing")))?;
                    self.edges.push(Edge {
                        from: from.clone(),
                        to,
                        kind: EdgeKind::Choice,
                        label: Some(rule_label(rule)),
                    });
                }
                if let Some(to) = target("Default", state.get("Default"))? {
                    self.edges.push(Edge {
                        from: from.clone(),
                        to,
                        kind: EdgeKind::Default,
                        label: Some("Default".into()),
                    });
                }
            }
            if let Some(to) = target("Next", state.get("Next"))? {
                self.edges.push(Edge { from: from.clone(), to, kind: EdgeKind::Next, label: None });
            }
            for (i, catcher) in state.get("Catch").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let to = target(&format!("Catch[{i}].Next"), catcher.get("Next"))?
                    .ok_or_else(|| Error::Definition(format!("{at}.Catch[{i}].Next: missing")))?;
                let errors: Vec<&str> = catcher
                    .get("ErrorEquals")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                self.edges.push(Edge {
                    from: from.clone(),
                    to,
                    kind: EdgeKind::Catch,
                    label: Some(shorten(&errors.join(", "))),
                });
            }
            let ends =
                state.get("End").and_then(Value::as_bool).unwrap_or(false) || kind == "Succeed" || kind == "Fail";
            if ends {
                self.edges.push(Edge { from, to: SCOPE_END.into(), kind: EdgeKind::Marker, label: None });
            }
        }
        Ok(id_of(start))
    }

    /// Points the end edges added since `mark` (one nested scope's) at `join`.
    fn close(&mut self, mark: usize, join: &str) {
        for e in &mut self.edges[mark..] {
            if e.to == SCOPE_END {
                e.to = join.to_string();
            }
        }
    }

    fn group(&mut self, id: &str, state: &str, kind: GroupKind, label: String, parent: Option<usize>) -> usize {
        let id = match kind {
            GroupKind::Branch => id.to_string(),
            _ => format!("{id}/box"),
        };
        self.groups.push(Group { id, state: state.to_string(), label, kind, parent });
        self.groups.len() - 1
    }
}

/// Where a scope's end edges point until their scope is closed.
const SCOPE_END: &str = "\u{0}end";

/// A Choice rule as a short label: its `Condition` (JSONata), or its comparison (JSONPath),
/// with `And`/`Or`/`Not` spelled out.
fn rule_label(rule: &Value) -> String {
    if let Some(c) = rule.get("Condition").and_then(Value::as_str) {
        return shorten(c.trim_start_matches("{%").trim_end_matches("%}").trim());
    }
    shorten(&comparison(rule))
}

fn comparison(rule: &Value) -> String {
    let join = |key: &str, word: &str| {
        rule.get(key)
            .and_then(Value::as_array)
            .map(|rs| rs.iter().map(comparison).collect::<Vec<_>>().join(&format!(" {word} ")))
    };
    if let Some(s) = join("And", "and") {
        return s;
    }
    if let Some(s) = join("Or", "or") {
        return s;
    }
    if let Some(inner) = rule.get("Not") {
        return format!("not ({})", comparison(inner));
    }
    let variable = rule.get("Variable").and_then(Value::as_str).unwrap_or("?");
    let Some(obj) = rule.as_object() else { return variable.to_string() };
    for (key, value) in obj {
        if matches!(key.as_str(), "Variable" | "Next" | "Comment" | "Assign" | "Output") {
            continue;
        }
        let (op, path) = match key.strip_suffix("Path") {
            Some(op) if key != "IsPresent" => (op, true),
            _ => (key.as_str(), false),
        };
        let symbol = match op {
            s if s.ends_with("GreaterThanEquals") => ">=",
            s if s.ends_with("LessThanEquals") => "<=",
            s if s.ends_with("GreaterThan") => ">",
            s if s.ends_with("LessThan") => "<",
            s if s.ends_with("Equals") => "==",
            "StringMatches" => "matches",
            other => other,
        };
        let shown = match value {
            Value::String(s) if !path => format!("{s:?}"),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return format!("{variable} {symbol} {shown}");
    }
    variable.to_string()
}

/// Labels longer than this are cut (with an ellipsis).
const LABEL_CHARS: usize = 40;

fn shorten(s: &str) -> String {
    if s.chars().count() <= LABEL_CHARS {
        return s.to_string();
    }
    let cut: String = s.chars().take(LABEL_CHARS - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(g: &Graph, kind: EdgeKind) -> Vec<(String, String, Option<String>)> {
        g.edges.iter().filter(|e| e.kind == kind).map(|e| (e.from.clone(), e.to.clone(), e.label.clone())).collect()
    }

    #[test]
    fn a_choice_labels_its_rules_and_marks_its_default() {
        let g = Graph::of(&json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.kind", "StringEquals": "buy", "Next": "B"},
                {"And": [{"Variable": "$.n", "NumericGreaterThan": 3}, {"Variable": "$.m", "NumericLessThanEqualsPath": "$.k"}], "Next": "S"}
            ], "Default": "S"},
            "B": {"Type": "Pass", "End": true},
            "S": {"Type": "Succeed"}}}))
        .expect("graph");
        assert_eq!(g.nodes.len(), 3);
        assert_eq!(
            kinds(&g, EdgeKind::Choice),
            vec![
                ("C".into(), "B".into(), Some("$.kind == \"buy\"".into())),
                ("C".into(), "S".into(), Some("$.n > 3 and $.m <= $.k".into())),
            ]
        );
        assert_eq!(kinds(&g, EdgeKind::Default), vec![("C".into(), "S".into(), Some("Default".into()))]);
        // start marker to C; B and S end
        assert_eq!(
            kinds(&g, EdgeKind::Marker),
            vec![(START.into(), "C".into(), None), ("B".into(), END.into(), None), ("S".into(), END.into(), None)]
        );
    }

    #[test]
    fn parallel_branches_and_map_processors_nest_and_join() {
        let g = Graph::of(&json!({"StartAt": "P", "States": {
            "Z": {"Type": "Succeed"},
            "P": {"Type": "Parallel", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Fail"}}}, "End": true}}}
            ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "R"}], "Next": "N"},
            "R": {"Type": "Pass", "End": true},
            "N": {"Type": "Pass", "End": true}}}))
        .expect("graph");
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["Z", "P", "P/0/A", "P/1/M", "P/1/M/items/W", "R", "N"]);
        let groups: Vec<(&str, GroupKind, Option<usize>)> =
            g.groups.iter().map(|x| (x.id.as_str(), x.kind, x.parent)).collect();
        assert_eq!(
            groups,
            [
                ("P/box", GroupKind::Parallel, None),
                ("P/0", GroupKind::Branch, Some(0)),
                ("P/1", GroupKind::Branch, Some(0)),
                ("P/1/M/box", GroupKind::Map, Some(2)),
            ]
        );
        assert_eq!(g.node("P/1/M/items/W").and_then(|n| n.group), Some(3));
        assert_eq!(g.node("Z").and_then(|n| n.group), None);
        // Transitions out of the Parallel leave its join.
        assert_eq!(kinds(&g, EdgeKind::Next), vec![("P/__join".into(), "N".into(), None)]);
        assert_eq!(kinds(&g, EdgeKind::Catch), vec![("P/__join".into(), "R".into(), Some("States.ALL".into()))]);
        let markers = kinds(&g, EdgeKind::Marker);
        for edge in [
            (START, "P"),
            ("P", "P/0/A"),
            ("P/0/A", "P/__join"),
            ("P", "P/1/M"),
            ("P/1/M", "P/1/M/items/W"),
            ("P/1/M/items/W", "P/1/M/__join"),
            ("P/1/M/__join", "P/__join"),
            ("R", END),
            ("N", END),
            ("Z", END),
        ] {
            assert!(markers.contains(&(edge.0.into(), edge.1.into(), None)), "{edge:?} in {markers:?}");
        }
        assert_eq!(markers.len(), 10);
    }

    #[test]
    fn what_is_wrong_is_named_by_its_path() {
        let e = Graph::of(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nope"}}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a state machine definition: $.States.A.Next: \"Nope\" is not a state of this scope"
        );
        let e = Graph::of(
            &json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [{"States": {}}], "End": true}}}),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a state machine definition: $.States.P.Branches[0].StartAt: missing or not a string"
        );
        assert!(Graph::of(&json!([])).is_err());
    }

    #[test]
    fn jsonata_conditions_label_their_rules() {
        let g = Graph::of(&json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n > 1 %}", "Next": "D"}], "Default": "D"},
            "D": {"Type": "Succeed"}}}))
        .expect("graph");
        assert_eq!(kinds(&g, EdgeKind::Choice)[0].2.as_deref(), Some("$states.input.n > 1"));
    }
}
