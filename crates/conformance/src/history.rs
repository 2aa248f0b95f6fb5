//! History comparison by event type.
//!
//! Events inside a Parallel or Map state (after its `*StateStarted` up to the matching
//! `*StateSucceeded|Failed|Aborted`) interleave in any order, so they are compared as a
//! multiset; everything else is compared in order. Nested Map/Parallel states fall inside the
//! outer block. A block never closed (the recording dropped or never had the closing event)
//! runs to the end of the history.

use std::collections::BTreeMap;

use serde_json::Value;

/// One unit of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An event compared in order.
    Event(String),
    /// The events inside a Map/Parallel state, sorted (a multiset).
    Block(Vec<String>),
}

/// Whether an event type opens a Parallel/Map block.
pub fn opens_block(t: &str) -> bool {
    t == "MapStateStarted" || t == "ParallelStateStarted"
}

/// Whether an event type closes a Parallel/Map block.
pub fn closes_block(t: &str) -> bool {
    matches!(
        t,
        "MapStateSucceeded"
            | "MapStateFailed"
            | "MapStateAborted"
            | "ParallelStateSucceeded"
            | "ParallelStateFailed"
            | "ParallelStateAborted"
    )
}

/// One unit of a history split at its Parallel/Map blocks, by position: an event compared in
/// order, or the positions of the events inside a block (after a `*StateStarted`, up to its
/// closing event, which is the next ordered event; nested blocks fall inside the outer one; a
/// block never closed runs to the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// An ordered event.
    Event(usize),
    /// The events inside a block.
    Block(Vec<usize>),
}

/// Split a sequence of event types into [`Span`]s.
pub fn spans<S: AsRef<str>>(types: &[S]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        out.push(Span::Event(i));
        let opened = opens_block(types[i].as_ref());
        i += 1;
        if !opened {
            continue;
        }
        let mut depth = 1usize;
        let mut inner = Vec::new();
        while i < types.len() {
            let u = types[i].as_ref();
            if opens_block(u) {
                depth += 1;
            } else if closes_block(u) {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            inner.push(i);
            i += 1;
        }
        out.push(Span::Block(inner));
    }
    out
}

/// Split a type sequence into ordered events and multiset blocks.
pub fn tokenize<S: AsRef<str>>(types: &[S]) -> Vec<Token> {
    spans(types)
        .into_iter()
        .map(|s| match s {
            Span::Event(i) => Token::Event(types[i].as_ref().to_string()),
            Span::Block(ix) => {
                let mut inner: Vec<String> = ix.iter().map(|&i| types[i].as_ref().to_string()).collect();
                inner.sort();
                Token::Block(inner)
            }
        })
        .collect()
}

/// The event types of an AWS-shaped history (`[{"type": ...}, ...]`).
pub fn event_types(history: &[Value]) -> Vec<String> {
    history.iter().map(|e| e.get("type").and_then(Value::as_str).unwrap_or("<no type>").to_string()).collect()
}

fn describe(t: Option<&Token>) -> String {
    match t {
        None => "<end>".into(),
        Some(Token::Event(e)) => e.clone(),
        Some(Token::Block(b)) => format!("block of {} events", b.len()),
    }
}

fn counts<S: AsRef<str>>(items: &[S]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for t in items {
        *m.entry(t.as_ref().to_string()).or_insert(0) += 1;
    }
    m
}

fn multiset_delta(expected: &[String], actual: &[String]) -> String {
    let e = counts(expected);
    let a = counts(actual);
    let mut parts = Vec::new();
    for (k, n) in &e {
        let m = a.get(k).copied().unwrap_or(0);
        if m < *n {
            parts.push(format!("-{}×{k}", n - m));
        }
    }
    for (k, m) in &a {
        let n = e.get(k).copied().unwrap_or(0);
        if *m > n {
            parts.push(format!("+{}×{k}", m - n));
        }
    }
    parts.join(" ")
}

/// Compare recorded event types with ours. `Err` says where they first differ.
pub fn compare_history<S: AsRef<str>, T: AsRef<str>>(expected: &[S], actual: &[T]) -> Result<(), String> {
    let e = tokenize(expected);
    let a = tokenize(actual);
    let mut pos = 0usize; // index in the flat event sequence, for the message
    for i in 0..e.len().max(a.len()) {
        let (et, at) = (e.get(i), a.get(i));
        if et == at {
            pos += match et {
                Some(Token::Block(b)) => b.len(),
                _ => 1,
            };
            continue;
        }
        return Err(match (et, at) {
            (Some(Token::Block(x)), Some(Token::Block(y))) => {
                format!(
                    "inside the Map/Parallel block at event {}: {} (- missing, + extra)",
                    pos + 1,
                    multiset_delta(x, y)
                )
            }
            _ => format!("event {}: expected {}, got {}", pos + 1, describe(et), describe(at)),
        });
    }
    Ok(())
}

/// For histories the recording normalised (sorted inside Parallel blocks, some events lost):
/// the ordered events before the first block must match, and every recorded event type must
/// occur in ours at least as often.
pub fn compare_history_lenient<S: AsRef<str>, T: AsRef<str>>(expected: &[S], actual: &[T]) -> Result<(), String> {
    let e = tokenize(expected);
    let a = tokenize(actual);
    for (i, (x, y)) in e.iter().zip(a.iter()).enumerate() {
        if matches!(x, Token::Block(_)) || matches!(y, Token::Block(_)) {
            break;
        }
        if x != y {
            return Err(format!("event {}: expected {}, got {}", i + 1, describe(Some(x)), describe(Some(y))));
        }
    }
    let ec = counts(expected);
    let ac = counts(actual);
    let missing: Vec<String> = ec
        .iter()
        .filter_map(|(k, n)| {
            let m = ac.get(k).copied().unwrap_or(0);
            (m < *n).then(|| format!("-{}×{k}", n - m))
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing recorded events: {}", missing.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn tokenize_blocks() {
        let t = tokenize(&v("ExecutionStarted MapStateEntered MapStateStarted B A MapStateSucceeded MapStateExited"));
        assert_eq!(
            t,
            vec![
                Token::Event("ExecutionStarted".into()),
                Token::Event("MapStateEntered".into()),
                Token::Event("MapStateStarted".into()),
                Token::Block(v("A B")),
                Token::Event("MapStateSucceeded".into()),
                Token::Event("MapStateExited".into()),
            ]
        );
    }

    #[test]
    fn multiset_inside_order_outside() {
        let rec = v("ExecutionStarted ParallelStateEntered ParallelStateStarted PassStateEntered PassStateExited WaitStateEntered WaitStateExited ParallelStateSucceeded ParallelStateExited ExecutionSucceeded");
        let ours = v("ExecutionStarted ParallelStateEntered ParallelStateStarted WaitStateEntered PassStateEntered WaitStateExited PassStateExited ParallelStateSucceeded ParallelStateExited ExecutionSucceeded");
        assert!(compare_history(&rec, &ours).is_ok());

        // Order outside a block matters.
        let swapped = v("ParallelStateEntered ExecutionStarted ParallelStateStarted PassStateEntered PassStateExited WaitStateEntered WaitStateExited ParallelStateSucceeded ParallelStateExited ExecutionSucceeded");
        let err = compare_history(&rec, &swapped).unwrap_err();
        assert!(err.contains("event 1: expected ExecutionStarted, got ParallelStateEntered"), "{err}");

        // Multiplicity inside a block matters.
        let extra = v("ExecutionStarted ParallelStateEntered ParallelStateStarted PassStateEntered PassStateExited PassStateExited WaitStateEntered WaitStateExited ParallelStateSucceeded ParallelStateExited ExecutionSucceeded");
        let err = compare_history(&rec, &extra).unwrap_err();
        assert!(err.contains("+1×PassStateExited"), "{err}");
    }

    #[test]
    fn nested_blocks_and_unclosed() {
        let rec = v("ExecutionStarted MapStateStarted MapIterationStarted ParallelStateStarted X Y ParallelStateSucceeded MapIterationSucceeded MapStateSucceeded ExecutionSucceeded");
        let ours = v("ExecutionStarted MapStateStarted ParallelStateStarted MapIterationStarted Y X MapIterationSucceeded ParallelStateSucceeded MapStateSucceeded ExecutionSucceeded");
        assert!(compare_history(&rec, &ours).is_ok());

        // Map state retried: no close in between, block runs to the end.
        let retry = v("MapStateEntered MapStateStarted A MapIterationFailed MapStateStarted A MapIterationFailed MapStateFailed ExecutionFailed");
        let t = tokenize(&retry);
        assert_eq!(t.len(), 3);
        assert!(compare_history(&retry, &retry).is_ok());

        // Closing event of a Map that never started (items evaluation failed) is just an event.
        let early = v("MapStateEntered EvaluationFailed MapStateFailed ExecutionFailed");
        assert_eq!(tokenize(&early).len(), 4);
    }

    #[test]
    fn length_mismatch() {
        let err = compare_history(&v("A B C"), &v("A B")).unwrap_err();
        assert_eq!(err, "event 3: expected C, got <end>");
        let err = compare_history(&v("A"), &v("A B")).unwrap_err();
        assert_eq!(err, "event 2: expected <end>, got B");
    }

    #[test]
    fn lenient_for_normalised_recordings() {
        let rec = v("ExecutionStarted ParallelStateEntered ParallelStateStarted ParallelStateEntered ParallelStateStarted PassStateEntered PassStateExited ParallelStateExited ExecutionSucceeded");
        let ours = v("ExecutionStarted ParallelStateEntered ParallelStateStarted ParallelStateEntered ParallelStateStarted PassStateEntered PassStateExited ParallelStateSucceeded ParallelStateExited ParallelStateSucceeded ParallelStateExited ExecutionSucceeded");
        assert!(compare_history(&rec, &ours).is_err());
        assert!(compare_history_lenient(&rec, &ours).is_ok());
        let missing = v("ExecutionStarted ParallelStateEntered ParallelStateStarted ParallelStateSucceeded ParallelStateExited ExecutionSucceeded");
        assert!(compare_history_lenient(&rec, &missing).unwrap_err().contains("PassStateEntered"));
    }

    #[test]
    fn types_from_events() {
        let h = vec![serde_json::json!({"id": 1, "type": "ExecutionStarted"}), serde_json::json!({"id": 2})];
        assert_eq!(event_types(&h), vec!["ExecutionStarted".to_string(), "<no type>".to_string()]);
    }
}
