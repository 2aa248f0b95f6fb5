//! State machines as pictures: the graph of a definition (its states as nodes, its transitions
//! as edges, Parallel branches and Map item processors as nested groups), coloured by what an
//! execution did (from its history), laid out and written as SVG, Graphviz DOT or Mermaid. The
//! console of `stepwise serve` shows the SVG; `stepwise graph` writes any of the three.
//!
//! - [`model`]: definition → [`Graph`] (pure, no layout).
//! - [`outcome`]: an execution's history → each state's [`Status`], input and output.
//! - [`layout`]: positions from dugong (a Rust port of dagre's layered layout with compound
//!   nodes): why a library, and this one, is in ARCHITECTURE.md.
//! - [`svg`], [`text`]: the writers.

pub mod layout;
pub mod model;
pub mod outcome;
pub mod svg;
pub mod text;

pub use model::{Edge, EdgeKind, Graph, Group, GroupKind, Node};
pub use outcome::{Outcome, StateRun, Status};

/// What can go wrong drawing a definition.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The definition is not a state machine (names the JSON path of what is wrong).
    #[error("not a state machine definition: {0}")]
    Definition(String),
    /// The layout library refused the graph.
    #[error("laying the graph out failed: {0}")]
    Layout(String),
}

/// The output formats of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A laid-out, self-contained SVG image.
    Svg,
    /// Graphviz DOT (clusters for groups).
    Dot,
    /// A Mermaid flowchart (subgraphs for groups).
    Mermaid,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "svg" => Ok(Format::Svg),
            "dot" => Ok(Format::Dot),
            "mermaid" => Ok(Format::Mermaid),
            other => Err(format!("unknown format {other:?}: use svg, dot or mermaid")),
        }
    }
}

/// The picture of `definition` in `format`, coloured by `outcome` when given.
pub fn render(definition: &serde_json::Value, format: Format, outcome: Option<&Outcome>) -> Result<String, Error> {
    let graph = Graph::of(definition)?;
    Ok(match format {
        Format::Svg => svg::write(&graph, &layout::lay_out(&graph)?, outcome),
        Format::Dot => text::dot(&graph, outcome),
        Format::Mermaid => text::mermaid(&graph, outcome),
    })
}
