//! Timestamps as ASL accepts them: ISO-8601 extended date-time *with* an offset
//! (`2016-03-14T01:59:00Z`, `2016-03-14T01:59:00.123+01:00`); a space instead of `T`, a missing
//! offset or an out-of-range field is rejected, as AWS rejects it.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an ASL timestamp.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

/// Formats a time the way AWS writes it in the context object and history
/// (`2024-01-01T00:00:00.000Z`).
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_offset_date_times() {
        assert!(parse("2016-12-05T21:29:29Z").is_some());
        assert!(parse("2016-12-05T21:29:29.123+01:00").is_some());
        for bad in [
            "2016-12-05 21:29:29Z",
            "2016-12-05T21:29:29",
            "2016-13-05T21:29:29Z",
            "2016-12-05T25:29:29Z",
            "05-12-2016T21:29:29Z",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
