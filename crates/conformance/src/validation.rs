//! The invalid-definition half of the corpus (`validation_cases.jsonl`): definitions AWS
//! rejected at CreateStateMachine, with AWS's `InvalidDefinition` message.
//!
//! A case passes when stepwise rejects the definition and, where the recorded text is AWS's
//! own, with exactly that message (after the recording's `arn:aws:` → `arn:<partition>:`
//! replacement and without the client's "An error occurred (InvalidDefinition) when calling the
//! CreateStateMachine operation: " prefix). Some recorded messages are LocalStack's wording
//! (`Error=ValueError Args=['reason'] in definition '...'`); for those the reason must appear in
//! ours.

use serde_json::Value;
use std::io::Write;
use std::path::Path;

const CLIENT_PREFIX: &str = "An error occurred (InvalidDefinition) when calling the CreateStateMachine operation: ";

/// Counts over the validation cases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationSummary {
    /// Cases read.
    pub total: usize,
    /// Cases stepwise rejects.
    pub rejected: usize,
    /// Cases with AWS's own wording.
    pub aws_worded: usize,
    /// Of those, rejected with exactly AWS's message.
    pub aws_exact: usize,
    /// Cases with LocalStack's wording.
    pub localstack_worded: usize,
    /// Of those, rejected with the same reason.
    pub localstack_reason: usize,
    /// (id, expected, got) of every case not matched.
    pub mismatches: Vec<(String, String, String)>,
}

impl ValidationSummary {
    /// Cases that matched (rejected with the expected message or reason).
    pub fn passed(&self) -> usize {
        self.aws_exact + self.localstack_reason
    }
}

/// Whether a JSONL file holds validation cases (its first case has `"kind": "create_validation"`).
pub fn is_validation_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.lines().find(|l| !l.trim().is_empty()).map(str::to_string))
        .and_then(|l| serde_json::from_str::<Value>(&l).ok())
        .is_some_and(|v| v["kind"] == "create_validation")
}

/// Runs every validation case of `path` whose id contains `id_filter` (all when `None`),
/// writes a report ending in `N passed, N failed, N skipped`, and returns the counts.
pub fn run_validation_cases(
    path: &Path,
    id_filter: Option<&str>,
    out: &mut dyn Write,
) -> std::io::Result<ValidationSummary> {
    let load = |def: &Value, express: bool| stepwise_asl::load(def, express).map(|_| ()).map_err(|e| e.to_string());
    run_validation_cases_with(path, id_filter, out, &load)
}

/// [`run_validation_cases`] with the definitions checked by `validate` (`Err`: the refusal's
/// message), e.g. by creating the machine on a runtime.
pub fn run_validation_cases_with(
    path: &Path,
    id_filter: Option<&str>,
    out: &mut dyn Write,
    validate: &dyn Fn(&Value, bool) -> Result<(), String>,
) -> std::io::Result<ValidationSummary> {
    let text = std::fs::read_to_string(path)?;
    let mut s = ValidationSummary::default();
    let mut skipped = 0;
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let c: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                writeln!(out, "ERROR line {}: not JSON: {e}", n + 1)?;
                skipped += 1;
                continue;
            }
        };
        let id = c["id"].as_str().unwrap_or("?").to_string();
        if id_filter.is_some_and(|f| !id.contains(f)) {
            skipped += 1;
            continue;
        }
        s.total += 1;
        let def = match (&c["definition"], c["definition_text"].as_str()) {
            (Value::Null, Some(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
            (d, _) => d.clone(),
        };
        // The recording has no machine type; the Express cases come from the Express tests.
        let express = id.to_ascii_lowercase().contains("express");
        let got = match validate(&def, express) {
            Ok(()) => None,
            Err(e) => Some(e.replace("arn:aws:", "arn:<partition>:")),
        };
        if got.is_some() {
            s.rejected += 1;
        }
        let expected = c["expected"]["message"].as_str().unwrap_or_default();
        let expected = expected.strip_prefix(CLIENT_PREFIX).unwrap_or(expected);
        let ok = match localstack_reason(expected) {
            Some(reason) => {
                s.localstack_worded += 1;
                let ok = got.as_deref().is_some_and(|g| g.contains(&reason));
                s.localstack_reason += ok as usize;
                ok
            }
            None => {
                s.aws_worded += 1;
                let ok = got.as_deref() == Some(expected);
                s.aws_exact += ok as usize;
                ok
            }
        };
        if !ok {
            let got = got.unwrap_or_else(|| "(accepted)".into());
            writeln!(out, "FAIL {id}\n     expected: {expected}\n     got:      {got}")?;
            s.mismatches.push((id, expected.to_string(), got));
        }
    }
    writeln!(
        out,
        "validation cases: {} read, {} rejected; AWS-worded messages exact {}/{}; LocalStack-worded reasons {}/{}",
        s.total, s.rejected, s.aws_exact, s.aws_worded, s.localstack_reason, s.localstack_worded
    )?;
    writeln!(out, "{} passed, {} failed, {} skipped", s.passed(), s.total - s.passed(), skipped)?;
    Ok(s)
}

/// The reason a LocalStack-formatted message carries (`Error=ValueError Args=['reason'] in
/// definition '...'`), unquoted from Python's repr.
fn localstack_reason(msg: &str) -> Option<String> {
    if !msg.starts_with("Error=") {
        return None;
    }
    let start = msg.find("Args=[")? + "Args=[".len();
    let end = msg.find("] in definition")?;
    let inner = msg.get(start..end)?;
    let quote = inner.chars().next()?;
    let body = inner.get(1..inner.len().checked_sub(1)?)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n) if n == '\\' || n == quote => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localstack_reasons_are_unquoted() {
        assert_eq!(
            localstack_reason(
                r#"Error=ValueError Args=["Label contains invalid character: '\\x9f'"] in definition '{}'"#
            ),
            Some(r"Label contains invalid character: '\x9f'".to_string())
        );
        assert_eq!(localstack_reason("Invalid State Machine Definition: 'x'"), None);
    }
}
