//! Whole-history comparison: every field of every recorded event (`histories.jsonl`) against
//! ours, after our history went through what the recording did to AWS's.
//!
//! What the recording did, and what [`prepare`] therefore does to our events:
//! - LocalStack's snapshot parses every string value that starts with `{` as JSON (state input
//!   and output, `assignedVariables` values, causes); some recordings also parsed arrays. We
//!   parse `{…}` strings the same way, and where the recording holds a parsed value and ours
//!   is still text, we parse ours before comparing ([`align`]).
//! - `timestamp` values became `"timestamp"`; the case's snapshot transformers and the corpus
//!   defaults (account, region, partition, dates, UUIDs) ran over the whole history.
//!
//! How events are matched: outside Parallel and Map states, in order, with equal `id` and
//! `previousEventId`. Inside a Parallel/Map block (from `*StateStarted` to its closing event)
//! AWS interleaves branches and iterations by timing, so the block's events are matched as a
//! multiset: ids are not compared there, and a `previousEventId` that points into a block is
//! compared by the type of the event it points at rather than by number (which event of a block
//! came last is timing). A reference to an event outside any block is compared by number.

use std::collections::HashMap;

use serde_json::Value;

use crate::compare::{first_diff_by, placeholder_str_eq, truncate};
use crate::history::{spans, Span};
use crate::transform::{apply_to_history, is_iso_date, normalise_placeholders, Defaults, Transformer};

const SHOW: usize = 160;

/// Our AWS-shaped history as the recording would show it: timestamps masked, `{…}` strings
/// parsed, the transformers and defaults applied.
pub fn prepare(history: &[Value], transformers: &[Transformer], defaults: &Defaults) -> Vec<Value> {
    let mut events: Vec<Value> = history.to_vec();
    for e in &mut events {
        if let Some(m) = e.as_object_mut() {
            if m.contains_key("timestamp") {
                m.insert("timestamp".into(), Value::String("timestamp".into()));
            }
        }
        parse_object_strings(e);
        mask_timestamp_keys(e);
    }
    let mut all = transformers.to_vec();
    all.extend(recorder_defaults());
    all.extend(map_run_transformers(&events));
    apply_to_history(&mut events, &all, defaults);
    events.iter().map(normalise_placeholders).collect()
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

/// What the recorder's Step Functions fixture masks in every snapshot: the Lambda response's
/// `Date` and `X-Amzn-Trace-Id` headers.
fn recorder_defaults() -> Vec<Transformer> {
    let mut out = Vec::new();
    for headers in ["AllHttpHeaders", "HttpHeaders"] {
        for (key, to) in [("Date", "date"), ("X-Amzn-Trace-Id", "X-Amzn-Trace-Id")] {
            out.extend(Transformer::jsonpath(&format!("$..SdkHttpMetadata.{headers}.{key}"), to, false).ok());
        }
    }
    out
}

/// The transformers the recording's fixture registered for each Map Run ARN it saw (in order):
/// the two `:`-separated parts after the last `/` become `<MapRunArnPart0_Nidx>` and
/// `<MapRunArnPart1_Nidx>`.
fn map_run_transformers(events: &[Value]) -> Vec<Transformer> {
    let mut seen: Vec<&str> = Vec::new();
    for e in events {
        if let Some(arn) = e.pointer("/mapRunStartedEventDetails/mapRunArn").and_then(Value::as_str) {
            if arn.contains(":mapRun:") && !seen.contains(&arn) {
                seen.push(arn);
            }
        }
    }
    let mut out = Vec::new();
    for (i, arn) in seen.iter().enumerate() {
        let tail = arn.rsplit('/').next().unwrap_or_default();
        for (k, part) in tail.split(':').take(2).enumerate() {
            // A label the state set stays (the recordings show it); a generated one is masked.
            if k == 0 && !is_uuid(part) {
                continue;
            }
            if let Ok(t) = Transformer::regex(&regex::escape(part), &format!("<MapRunArnPart{k}_{i}idx>")) {
                out.push(t);
            }
        }
    }
    out
}

/// LocalStack's snapshot step: string values of objects (also inside arrays) that start with
/// `{` and parse as JSON are replaced by the parsed value (whose own strings stay text).
fn parse_object_strings(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for c in m.values_mut() {
                if let Value::String(s) = c {
                    if s.starts_with('{') {
                        if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                            // Not parsed again inside: JSON text within the parsed value stays.
                            *c = parsed;
                            continue;
                        }
                    }
                }
                parse_object_strings(c);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(parse_object_strings),
        _ => {}
    }
}

/// The recording's timestamp rule: a string under a key naming a timestamp
/// (`TimestampValue`, any case) that is not an ISO 8601 date (those become `date` by the
/// defaults) became `"timestamp"`. Inferred from the recording (20 such values, none left as
/// they were).
fn mask_timestamp_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                if let Value::String(s) = c {
                    if k != "timestamp" && k.to_ascii_lowercase().contains("timestamp") && !is_iso_date(s) {
                        *c = Value::String("timestamp".into());
                    }
                }
                mask_timestamp_keys(c);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_timestamp_keys),
        _ => {}
    }
}

/// `actual` shaped like `expected` where the recording parsed JSON text that ours still holds
/// as a string.
fn align(expected: &Value, actual: &Value) -> Value {
    match (expected, actual) {
        (Value::String(_), _) => actual.clone(),
        // Some recordings parsed every JSON text (numbers too), some only objects.
        (_, Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(parsed) => align(expected, &parsed),
            Err(_) => actual.clone(),
        },
        (Value::Object(e), Value::Object(a)) => Value::Object(
            a.iter()
                .map(|(k, av)| (k.clone(), e.get(k).map(|ev| align(ev, av)).unwrap_or_else(|| av.clone())))
                .collect(),
        ),
        (Value::Array(e), Value::Array(a)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, av)| e.get(i).map(|ev| align(ev, av)).unwrap_or_else(|| av.clone()))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

/// Where each event sits: its index, and the block it belongs to (None: ordered).
struct Layout<'a> {
    events: &'a [Value],
    by_id: HashMap<u64, usize>,
    block_of: Vec<Option<usize>>,
    /// Ordered events and blocks, in order.
    units: Vec<Span>,
}

fn ty(e: &Value) -> &str {
    e.get("type").and_then(Value::as_str).unwrap_or("")
}

fn num(e: &Value, k: &str) -> Option<u64> {
    e.get(k).and_then(Value::as_u64)
}

impl<'a> Layout<'a> {
    fn new(events: &'a [Value]) -> Layout<'a> {
        let mut by_id = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            if let Some(id) = num(e, "id") {
                by_id.insert(id, i);
            }
        }
        let types: Vec<&str> = events.iter().map(ty).collect();
        let units = spans(&types);
        let mut block_of = vec![None; events.len()];
        for (b, inner) in units.iter().filter_map(|u| if let Span::Block(ix) = u { Some(ix) } else { None }).enumerate()
        {
            for &i in inner {
                block_of[i] = Some(b);
            }
        }
        Layout { events, by_id, block_of, units }
    }

    /// The event `e` follows, when it names one that exists.
    fn previous(&self, e: &Value) -> Option<usize> {
        num(e, "previousEventId").filter(|p| *p > 0).and_then(|p| self.by_id.get(&p).copied())
    }
}

/// What a reference points at, as far as timing can't change it.
fn reference(l: &Layout, e: &Value) -> String {
    match num(e, "previousEventId") {
        Some(0) => "0".into(),
        None => "<none>".into(),
        Some(p) => match l.by_id.get(&p) {
            None => format!("<missing {p}>"),
            Some(&i) if l.block_of[i].is_none() => p.to_string(),
            Some(&i) => ty(&l.events[i]).to_string(),
        },
    }
}

/// The first field where `exp` and `act` differ. `ids`: compare `id` and `previousEventId` by
/// number (ordered events); otherwise the reference is compared by [`reference`].
fn event_diff(el: &Layout, exp: &Value, al: &Layout, act: &Value, ids: bool, str_eq: &StrEq) -> Option<String> {
    let mut e = exp.clone();
    let mut a = align(exp, act);
    for v in [&mut e, &mut a] {
        if let Some(m) = v.as_object_mut() {
            if !ids {
                m.remove("id");
            }
            m.remove("previousEventId");
        }
    }
    if let Some(d) = first_diff_by(&e, &a, str_eq) {
        return Some(d.describe(SHOW));
    }
    let (re, ra) = (reference(el, exp), reference(al, act));
    let recorded_chain = el.previous(exp).map(|i| &el.events[i]);
    let ours_chain = al.previous(act).map(|i| &al.events[i]);
    let same = if ids {
        num(exp, "previousEventId") == num(act, "previousEventId")
            || (re == ra && el.previous(exp).is_some_and(|i| el.block_of[i].is_some()))
    } else {
        re == ra
    };
    if !same {
        let show = |chain: Option<&Value>, p: Option<u64>| match chain {
            Some(c) => format!("{} ({})", p.unwrap_or(0), ty(c)),
            None => p.unwrap_or(0).to_string(),
        };
        return Some(format!(
            "at previousEventId: expected {}, got {}",
            show(recorded_chain, num(exp, "previousEventId")),
            show(ours_chain, num(act, "previousEventId"))
        ));
    }
    None
}

type StrEq = dyn Fn(&str, &str) -> bool;

/// How strictly to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every field of every event.
    Exact,
    /// As [`Mode::Exact`], strings holding the recording's placeholders (`<uuid:1>`) match any text.
    Placeholders,
    /// The recording normalised the history (ids inside blocks lost, events dropped): every
    /// recorded event must be in ours, the ordered ones before the first block in place.
    Normalised,
}

/// Compare a recorded history with ours (already [`prepare`]d). `Err` names the first
/// differing event and field.
pub fn compare_events(recorded: &[Value], ours: &[Value], mode: Mode) -> Result<(), String> {
    let recorded: Vec<Value> = recorded.iter().map(normalise_placeholders).collect();
    let exact: &StrEq = &|e: &str, a: &str| e == a;
    let loose: &StrEq = &placeholder_str_eq;
    let str_eq = if mode == Mode::Placeholders { loose } else { exact };
    let el = Layout::new(&recorded);
    let al = Layout::new(ours);
    let label = |e: &Value| {
        let name = e
            .as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.ends_with("EventDetails")))
            .and_then(|(_, d)| d.get("name"))
            .and_then(Value::as_str)
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        format!("{}{name}", ty(e))
    };
    if mode == Mode::Normalised {
        return compare_normalised(&el, &al, str_eq, &label);
    }
    for (k, pair) in el.units.iter().zip(al.units.iter()).enumerate() {
        match pair {
            (Span::Event(i), Span::Event(j)) => {
                let (e, a) = (&recorded[*i], &ours[*j]);
                if ty(e) != ty(a) {
                    return Err(format!("event {}: expected {}, got {}", i + 1, label(e), label(a)));
                }
                if let Some(d) = event_diff(&el, e, &al, a, true, str_eq) {
                    return Err(format!("event {} ({}) {d}", i + 1, label(e)));
                }
            }
            (Span::Block(xs), Span::Block(ys)) => match_block(&el, xs, &al, ys, str_eq, &label)?,
            _ => return Err(format!("unit {}: an event on one side, a Parallel/Map block on the other", k + 1)),
        }
    }
    if el.units.len() != al.units.len() {
        let at = el.units.len().min(al.units.len());
        let first = |l: &Layout, u: Option<&Span>| match u {
            None => "<end>".to_string(),
            Some(Span::Event(i)) => label(&l.events[*i]),
            Some(Span::Block(xs)) => format!("block of {} events", xs.len()),
        };
        return Err(format!(
            "after {at} units: expected {}, got {}",
            first(&el, el.units.get(at)),
            first(&al, al.units.get(at))
        ));
    }
    Ok(())
}

/// Match the events of one block as a multiset.
fn match_block(
    el: &Layout,
    xs: &[usize],
    al: &Layout,
    ys: &[usize],
    str_eq: &StrEq,
    label: &dyn Fn(&Value) -> String,
) -> Result<(), String> {
    let mut used = vec![false; ys.len()];
    for &i in xs {
        let e = &el.events[i];
        let hit = ys
            .iter()
            .enumerate()
            .find(|(k, &j)| !used[*k] && event_diff(el, e, al, &al.events[j], false, str_eq).is_none());
        match hit {
            Some((k, _)) => used[k] = true,
            None => {
                // The closest candidate: same type and state name, not yet used.
                let near = ys
                    .iter()
                    .enumerate()
                    .filter(|(k, &j)| !used[*k] && label(&al.events[j]) == label(e))
                    .map(|(_, &j)| j)
                    .next();
                return Err(match near {
                    Some(j) => format!(
                        "inside the block, event {} ({}) {}",
                        i + 1,
                        label(e),
                        event_diff(el, e, al, &al.events[j], false, str_eq).unwrap_or_default()
                    ),
                    None => format!("inside the block, event {} ({}): none of ours like it", i + 1, label(e)),
                });
            }
        }
    }
    if let Some((_, &j)) = ys.iter().enumerate().find(|(k, _)| !used[*k]) {
        return Err(format!("inside the block: extra event of ours {}", label(&al.events[j])));
    }
    Ok(())
}

/// For recordings that lost ids and events inside blocks.
fn compare_normalised(
    el: &Layout,
    al: &Layout,
    str_eq: &StrEq,
    label: &dyn Fn(&Value) -> String,
) -> Result<(), String> {
    for pair in el.units.iter().zip(al.units.iter()) {
        match pair {
            (Span::Event(i), Span::Event(j)) => {
                let (e, a) = (&el.events[*i], &al.events[*j]);
                if let Some(d) = event_diff(el, e, al, a, true, str_eq) {
                    return Err(format!("event {} ({}) {d}", i + 1, label(e)));
                }
            }
            _ => break,
        }
    }
    let mut used = vec![false; al.events.len()];
    for e in el.events {
        let mut strip = e.clone();
        if let Some(m) = strip.as_object_mut() {
            m.remove("id");
            m.remove("previousEventId");
        }
        let hit = al.events.iter().enumerate().find(|(k, a)| {
            if used[*k] {
                return false;
            }
            let mut a = align(&strip, a);
            if let Some(m) = a.as_object_mut() {
                m.remove("id");
                m.remove("previousEventId");
            }
            first_diff_by(&strip, &a, str_eq).is_none()
        });
        match hit {
            Some((k, _)) => used[k] = true,
            None => return Err(format!("recorded event {} is not in ours", label(e))),
        }
    }
    Ok(())
}

/// Shorten a value for a message.
pub fn show(v: &Value) -> String {
    truncate(&v.to_string(), SHOW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: u64, prev: u64, ty: &str, details: Value) -> Value {
        let mut e = json!({"id": id, "previousEventId": prev, "timestamp": "timestamp", "type": ty});
        if let Value::Object(d) = details {
            for (k, v) in d {
                e[k] = v;
            }
        }
        e
    }

    fn entered(id: u64, prev: u64, ty: &str, name: &str, input: &str) -> Value {
        ev(
            id,
            prev,
            ty,
            json!({"stateEnteredEventDetails": {"input": input, "inputDetails": {"truncated": false}, "name": name}}),
        )
    }

    #[test]
    fn prepare_masks_timestamps_and_parses_object_text() {
        let ours = vec![
            json!({"id": 1, "previousEventId": 0, "timestamp": "2026-01-01T00:00:00Z", "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": "{\"a\":1}", "inputDetails": {"truncated": false}, "roleArn": "arn:aws:iam::111111111111:role/r"}}),
        ];
        let p = prepare(&ours, &[], &Defaults::default());
        assert_eq!(p[0]["timestamp"], "timestamp");
        assert_eq!(p[0]["executionStartedEventDetails"]["input"], json!({"a": 1}));
        assert_eq!(p[0]["executionStartedEventDetails"]["roleArn"], "arn:<partition>:iam::111111111111:role/r");
    }

    #[test]
    fn ordered_events_compare_every_field_and_ids() {
        let rec = vec![entered(2, 0, "PassStateEntered", "A", "{}")];
        assert!(compare_events(&rec, &rec, Mode::Exact).is_ok());
        let other_input = vec![entered(2, 0, "PassStateEntered", "A", "[]")];
        let err = compare_events(&rec, &other_input, Mode::Exact).unwrap_err();
        assert!(err.contains("stateEnteredEventDetails.input"), "{err}");
        let other_prev = vec![entered(2, 1, "PassStateEntered", "A", "{}")];
        let err = compare_events(&rec, &other_prev, Mode::Exact).unwrap_err();
        assert!(err.contains("previousEventId: expected 0, got 1"), "{err}");
        let mut missing_field = rec.clone();
        missing_field[0]["stateEnteredEventDetails"].as_object_mut().unwrap().remove("inputDetails");
        let err = compare_events(&rec, &missing_field, Mode::Exact).unwrap_err();
        assert!(err.contains("inputDetails: expected {\"truncated\":false}, got <absent>"), "{err}");
    }

    #[test]
    fn parsed_recording_matches_our_text() {
        let rec = vec![ev(3, 2, "PassStateExited", json!({"stateExitedEventDetails": {"output": [{"a": 1}]}}))];
        let ours = vec![ev(3, 2, "PassStateExited", json!({"stateExitedEventDetails": {"output": "[{\"a\":1}]"}}))];
        assert!(compare_events(&rec, &ours, Mode::Exact).is_ok());
        // A recorded string stays a string comparison.
        let rec = vec![ev(3, 2, "PassStateExited", json!({"stateExitedEventDetails": {"output": "[1,2]"}}))];
        let ours = vec![ev(3, 2, "PassStateExited", json!({"stateExitedEventDetails": {"output": "[1, 2]"}}))];
        assert!(compare_events(&rec, &ours, Mode::Exact).is_err());
    }

    #[test]
    fn blocks_match_in_any_order_with_references_by_what_they_point_at() {
        let started = ev(2, 1, "ParallelStateStarted", json!({}));
        let head = [ev(1, 0, "ParallelStateEntered", json!({})), started];
        let a = entered(3, 2, "PassStateEntered", "A", "{}");
        let b = entered(4, 2, "PassStateEntered", "B", "{}");
        let close = ev(5, 4, "ParallelStateSucceeded", json!({}));
        let rec: Vec<Value> = head.iter().cloned().chain([a.clone(), b.clone(), close]).collect();
        let ours: Vec<Value> = head
            .iter()
            .cloned()
            .chain([
                entered(3, 2, "PassStateEntered", "B", "{}"),
                entered(4, 2, "PassStateEntered", "A", "{}"),
                ev(5, 4, "ParallelStateSucceeded", json!({})),
            ])
            .collect();
        assert!(compare_events(&rec, &ours, Mode::Exact).is_ok());
        // A branch event that follows the wrong event is found.
        let mut wrong = ours.clone();
        wrong[2]["previousEventId"] = json!(1);
        let err = compare_events(&rec, &wrong, Mode::Exact).unwrap_err();
        assert!(err.contains("inside the block") && err.contains("previousEventId"), "{err}");
        // An event missing from the block is found.
        let mut short = ours.clone();
        short.remove(3);
        assert!(compare_events(&rec, &short, Mode::Exact).is_err());
    }

    #[test]
    fn normalised_recordings_need_every_recorded_event() {
        let rec = vec![
            ev(1, 0, "ParallelStateEntered", json!({})),
            ev(2, 1, "ParallelStateStarted", json!({})),
            json!({"id": [0], "previousEventId": 0, "timestamp": "timestamp", "type": "PassStateEntered"}),
        ];
        let ours = vec![
            ev(1, 0, "ParallelStateEntered", json!({})),
            ev(2, 1, "ParallelStateStarted", json!({})),
            ev(3, 2, "PassStateEntered", json!({})),
            ev(4, 3, "ParallelStateSucceeded", json!({})),
        ];
        assert!(compare_events(&rec, &ours, Mode::Normalised).is_ok());
        assert!(compare_events(&rec, &ours[..2], Mode::Normalised).is_err());
    }
}
