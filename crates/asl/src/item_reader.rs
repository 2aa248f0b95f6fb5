//! A Distributed Map's `ItemReader`: the items in what S3 returned, as Step Functions reads
//! them (pure; the read itself is the runtime's I/O).
//!
//! - `s3:getObject` with `ReaderConfig.InputType` `JSON` (a JSON array), `JSONL` (a JSON value
//!   per non-empty line) or `CSV` (each row an object keyed by the headers: the first row
//!   (`CSVHeaderLocation: FIRST_ROW`) or `CSVHeaders` (`GIVEN`); `CSVDelimiter` COMMA,
//!   PIPE, SEMICOLON, SPACE or TAB; fields are strings; a short row gets `""` for the missing
//!   fields and a long one loses the extra ones; blank lines are skipped);
//! - `InputType: MANIFEST` (an S3 inventory): the runtime reads the manifest's gzipped CSV files
//!   and answers with their rows as one CSV, the manifest's `fileSchema` as its first row; each
//!   row is an item keyed by the schema's columns;
//! - `s3:listObjectsV2`: each object of the listing is an item (the runtime follows the
//!   listing's pages);
//! - `MaxItems` (or the value `MaxItemsPath` gives): 0 or more than 100,000,000 means all,
//!   a negative value is refused.
//!
//! Refusals are `States.ItemReaderFailed` causes, in AWS's words where the recordings give
//! them ("CSV headers cannot contain duplicates.", "Attempting to map over non-iterable node.",
//! "field MaxItems must be positive"). CSV is read with the `csv` crate (RFC 4180 quoting).

use serde_json::{Map, Value};

/// The most items a reader passes on (AWS's limit; a larger `MaxItems` means all).
pub const MAX_ITEMS_LIMIT: i64 = 100_000_000;

/// What the object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// A JSON array.
    Json,
    /// JSON Lines.
    Jsonl,
    /// Comma- (or otherwise) separated values.
    Csv,
    /// An S3 inventory manifest.
    Manifest,
}

/// `ReaderConfig`, as given in the definition (`MaxItemsPath` resolved by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderConfig {
    /// `InputType` (none: the resource is `s3:listObjectsV2`).
    pub input_type: Option<InputType>,
    /// `CSVHeaders` when `CSVHeaderLocation` is `GIVEN`; `None`: the first row.
    pub csv_headers: Option<Vec<String>>,
    /// `CSVDelimiter`.
    pub delimiter: u8,
}

impl ReaderConfig {
    /// Reads `ReaderConfig` (a missing one: a listing, or JSON).
    pub fn parse(config: Option<&Value>) -> Result<ReaderConfig, String> {
        let text = |k: &str| config.and_then(|c| c.get(k)).and_then(Value::as_str);
        let input_type = match text("InputType") {
            None => None,
            Some("JSON") => Some(InputType::Json),
            Some("JSONL") => Some(InputType::Jsonl),
            Some("CSV") => Some(InputType::Csv),
            Some("MANIFEST") => Some(InputType::Manifest),
            Some(other) => return Err(format!("InputType {other} is not one of JSON, JSONL, CSV, MANIFEST")),
        };
        let csv_headers = match text("CSVHeaderLocation") {
            Some("GIVEN") => {
                let headers: Vec<String> = config
                    .and_then(|c| c.get("CSVHeaders"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(|h| h.as_str().unwrap_or_default().to_string()).collect())
                    .unwrap_or_default();
                Some(headers)
            }
            _ => None,
        };
        let delimiter = match text("CSVDelimiter") {
            None | Some("COMMA") => b',',
            Some("PIPE") => b'|',
            Some("SEMICOLON") => b';',
            Some("SPACE") => b' ',
            Some("TAB") => b'\t',
            Some(other) => {
                return Err(format!("CSVDelimiter {other} is not one of COMMA, PIPE, SEMICOLON, SPACE, TAB"))
            }
        };
        Ok(ReaderConfig { input_type, csv_headers, delimiter })
    }
}

/// The number of items to pass on for a `MaxItems` value: `None` for all of them.
pub fn max_items(value: Option<i64>) -> Result<Option<usize>, String> {
    match value {
        None | Some(0) => Ok(None),
        Some(n) if n < 0 => Err("field MaxItems must be positive".into()),
        Some(n) if n > MAX_ITEMS_LIMIT => Ok(None),
        Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
    }
}

/// The items in an object's text.
pub fn items_of_object(text: &str, config: &ReaderConfig, limit: Option<usize>) -> Result<Vec<Value>, String> {
    let mut items = match config.input_type.unwrap_or(InputType::Json) {
        InputType::Json => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            Ok(_) => return Err("Attempting to map over non-iterable node.".into()),
            Err(e) => return Err(format!("The object is not valid JSON: {e}")),
        },
        InputType::Jsonl => {
            let mut items = Vec::new();
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                items.push(serde_json::from_str(line).map_err(|e| format!("Line {} is not valid JSON: {e}", n + 1))?);
            }
            items
        }
        InputType::Csv => csv_items(text, config, limit)?,
        // The runtime answers a manifest read with the inventory's rows as one CSV, the
        // manifest's `fileSchema` as its first row.
        InputType::Manifest => {
            let csv = ReaderConfig { input_type: Some(InputType::Csv), csv_headers: None, delimiter: b',' };
            csv_items(text, &csv, limit)?
        }
    };
    if let Some(n) = limit {
        items.truncate(n);
    }
    Ok(items)
}

/// The items of an `s3:listObjectsV2` answer: its `Contents`.
pub fn items_of_listing(listing: &Value, limit: Option<usize>) -> Vec<Value> {
    let mut items = listing.get("Contents").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(n) = limit {
        items.truncate(n);
    }
    items
}

/// The S3 call an ItemReader makes: `arn:aws:states:::s3:getObject` or `s3:listObjectsV2`
/// with its resolved `Parameters` / `Arguments` (`Bucket`, `Key` or `Prefix`, ...).
pub fn read_call(resource: &str, parameters: &Value) -> Result<crate::integrations::aws::AwsCall, String> {
    use crate::integrations::aws::{AwsCall, Flavour};
    let action = match resource.rsplit(":::").next() {
        Some("s3:getObject") => "getObject",
        Some("s3:listObjectsV2") => "listObjectsV2",
        _ => {
            return Err(format!(
                "ItemReader Resource {resource} is not arn:aws:states:::s3:getObject or s3:listObjectsV2"
            ))
        }
    };
    Ok(AwsCall {
        service: "s3".into(),
        action: action.into(),
        input: parameters.clone(),
        role: None,
        identity: None,
        flavour: Flavour::Sdk,
    })
}

/// The items of the read's answer, or the reader's failure (`States.ItemReaderFailed` unless
/// S3 refused: then its error as an `aws-sdk:s3` task would report it).
pub fn items_of_reply(
    call: &crate::integrations::aws::AwsCall,
    reply: crate::integrations::aws::AwsReply,
    config: &ReaderConfig,
    limit: Option<usize>,
) -> Result<Vec<Value>, (String, String)> {
    use crate::integrations::aws::AwsReply;
    let failed = |cause: String| ("States.ItemReaderFailed".to_string(), cause);
    match reply {
        AwsReply::Answer(a) if call.action == "listObjectsV2" => Ok(items_of_listing(&a.output, limit)),
        AwsReply::Answer(a) => {
            let body = a.output.get("Body").and_then(Value::as_str).unwrap_or_default();
            items_of_object(body, config, limit).map_err(failed)
        }
        AwsReply::Fault(f) => Err(crate::integrations::aws::sdk_error(&f)),
        AwsReply::NotSent { error, cause } => Err((error, cause)),
    }
}

/// The order a `java.util.HashMap` iterates these keys in: Step Functions builds each CSV row
/// as one, so its fields come out in bucket order (recorded: headers `H1,` give `{"": …, "H1":
/// …}`), not in column order. Buckets are `(h ^ h >>> 16) & (capacity - 1)` of Java's
/// `String.hashCode` over UTF-16 units, the capacity 16 doubled while the map is more than 3/4
/// full; keys sharing a bucket keep their insertion order.
fn java_hash_map_order(keys: &[String]) -> Vec<usize> {
    let mut capacity = 16usize;
    while keys.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |k: &str| {
        let h = k.encode_utf16().fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u))) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| bucket(&keys[i]));
    order
}

fn csv_items(text: &str, config: &ReaderConfig, limit: Option<usize>) -> Result<Vec<Value>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(config.delimiter)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let headers: Vec<String> = match &config.csv_headers {
        Some(h) => h.clone(),
        None => match records.next() {
            Some(r) => r.map_err(|e| format!("The CSV is malformed: {e}"))?.iter().map(String::from).collect(),
            None => return Ok(Vec::new()),
        },
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h.as_str())) {
        return Err("CSV headers cannot contain duplicates.".into());
    }
    let order = java_hash_map_order(&headers);
    let mut items = Vec::new();
    for record in records {
        if limit.is_some_and(|n| items.len() >= n) {
            break;
        }
        let record = record.map_err(|e| format!("The CSV is malformed: {e}"))?;
        let mut item = Map::new();
        for &i in &order {
            item.insert(headers[i].clone(), Value::String(record.get(i).unwrap_or_default().to_string()));
        }
        items.push(Value::Object(item));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn csv_config(given: Option<&[&str]>) -> ReaderConfig {
        let mut c = json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"});
        if let Some(h) = given {
            c = json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": h});
        }
        ReaderConfig::parse(Some(&c)).expect("config")
    }

    // The objects and results below are AWS's recordings (service_cases.jsonl).
    const ROWS: &str = "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n";

    #[test]
    fn csv_rows_become_objects_as_aws_reads_them() {
        let items = items_of_object(&format!("Col1,Col2,Col3\n{ROWS}"), &csv_config(None), None).expect("items");
        assert_eq!(
            Value::Array(items),
            json!([{"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"}, {"Col1": "Value4", "Col2": "Value5", "Col3": "Value6"},
                   {"Col1": "", "Col2": "", "Col3": ""}, {"Col1": "true", "Col2": "1", "Col3": "'HelloWorld'"},
                   {"Col1": "Null", "Col2": "None", "Col3": ""}, {"Col1": "   ", "Col2": "", "Col3": ""}])
        );
        let given = items_of_object(ROWS, &csv_config(Some(&["H1", "H2", "H3"])), None).expect("items");
        assert_eq!(given[3], json!({"H1": "true", "H2": "1", "H3": "'HelloWorld'"}));
        let short = items_of_object("H1,\nValue4,Value5,Value6\n", &csv_config(None), None).expect("items");
        assert_eq!(short, [json!({"H1": "Value4", "": "Value5"})]);
        assert_eq!(
            items_of_object(ROWS, &csv_config(Some(&["H1", "H1", "H3"])), None),
            Err("CSV headers cannot contain duplicates.".into())
        );
        let quoted = items_of_object("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n", &csv_config(None), None).expect("items");
        assert_eq!(quoted, [json!({"a": "x, y", "b": "say \"hi\""})]);
    }

    #[test]
    fn json_jsonl_and_listings() {
        let json_config = ReaderConfig::parse(Some(&json!({"InputType": "JSON"}))).expect("config");
        assert_eq!(items_of_object("[1, {\"a\": 2}]", &json_config, None), Ok(vec![json!(1), json!({"a": 2})]));
        assert_eq!(
            items_of_object("{\"Hello\": \"world\"}", &json_config, None),
            Err("Attempting to map over non-iterable node.".into())
        );
        let jsonl = ReaderConfig::parse(Some(&json!({"InputType": "JSONL"}))).expect("config");
        assert_eq!(items_of_object("{\"a\":1}\n\n[2]\n", &jsonl, None), Ok(vec![json!({"a": 1}), json!([2])]));
        let listing = json!({"Contents": [{"Key": "a"}, {"Key": "b"}, {"Key": "c"}], "KeyCount": 3});
        assert_eq!(items_of_listing(&listing, Some(2)), vec![json!({"Key": "a"}), json!({"Key": "b"})]);
    }

    #[test]
    fn reads_are_s3_calls_and_answers_become_items() {
        use crate::integrations::aws::{AwsAnswer, AwsReply};
        let call = read_call("arn:aws:states:::s3:getObject", &json!({"Bucket": "b", "Key": "k.csv"})).expect("call");
        assert_eq!((call.service.as_str(), call.action.as_str()), ("s3", "getObject"));
        assert!(read_call("arn:aws:states:::s3:putObject", &json!({})).is_err());
        let answer = |output: Value| {
            AwsReply::Answer(AwsAnswer { status: 200, request_id: "R".into(), body: String::new(), output })
        };
        let items = items_of_reply(&call, answer(json!({"Body": "a,b\n1,2\n"})), &csv_config(None), None);
        assert_eq!(items, Ok(vec![json!({"a": "1", "b": "2"})]));
        let json_config = ReaderConfig::parse(Some(&json!({"InputType": "JSON"}))).expect("config");
        let refused = items_of_reply(&call, answer(json!({"Body": "{}"})), &json_config, None);
        assert_eq!(
            refused,
            Err(("States.ItemReaderFailed".into(), "Attempting to map over non-iterable node.".into()))
        );
        let list = read_call("arn:aws:states:::s3:listObjectsV2", &json!({"Bucket": "b"})).expect("call");
        let items = items_of_reply(
            &list,
            answer(json!({"Contents": [{"Key": "x"}]})),
            &ReaderConfig::parse(None).expect("c"),
            None,
        );
        assert_eq!(items, Ok(vec![json!({"Key": "x"})]));
    }

    #[test]
    fn max_items_as_aws_counts_them() {
        assert_eq!(max_items(None), Ok(None));
        assert_eq!(max_items(Some(0)), Ok(None));
        assert_eq!(max_items(Some(2)), Ok(Some(2)));
        assert_eq!(max_items(Some(100_000_000)), Ok(Some(100_000_000)));
        assert_eq!(max_items(Some(100_000_001)), Ok(None));
        assert_eq!(max_items(Some(-1)), Err("field MaxItems must be positive".into()));
        let rows = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\n";
        assert_eq!(items_of_object(rows, &csv_config(None), Some(2)).map(|i| i.len()), Ok(2));
    }
}
