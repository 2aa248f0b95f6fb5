//! [`DynamoStore`]: the execution store in one DynamoDB table.
//!
//! # Table
//!
//! One table, key `pk` (S) + `sk` (S), on-demand billing, TTL on `ttl` (N, epoch seconds), and
//! one global secondary index `gsi1` (`gsi1pk` + `gsi1sk`, projecting `machine_arn`, `status`
//! and `stop`) for the per-machine, newest-first listing. [`create_table`] makes it.
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | machine | `M#{arn}` | `M` | `machine` (S, JSON; B, deflated, above 100 KB: a definition may be 1 MiB) |
//! | machine revision | `M#{arn}` | `R#{revision id}` | `machine` (as above): kept after updates and deletion, for the executions that run it |
//! | execution | `E#{arn}` | `E` | `version` (N), `body` (B), `history_from` (N), `status` (S), `gsi1pk` = `L#{machine digest}#{shard}`, `gsi1sk` = `{start}#{name}` (start in epoch milliseconds, 13 digits, so it sorts by time), `machine_arn` (only when it is not the execution's own), `stop` (N, epoch milliseconds) and `ttl` once finished |
//! | outbox marker | `E#{arn}` | `E#cleared` | `version` (N): the version whose outbox was done, `ttl` |
//! | history | `E#{arn}` | `H#{from:012}` (or `H#{from:012}#{part:03}`) | `to` (N), `events` (B: deflated JSON array of the events of versions `from..=to`), `ttl` |
//! | big body | `E#{arn}` | `B#{nonce}#{part:03}` | `data` (B), `ttl` |
//! | token | `T#{hash}` | `T` | `entry` (S, JSON), `used` (BOOL), `ttl` |
//! | activity | `A#{arn}` | `A` | `activity` (S, JSON) |
//! | waiting activity task | `AT#{activity arn}` | `{created ms:013}#{id}` | `task` (S, JSON): taken (deleted under a condition) by one worker |
//! | activity task id | `ATI#{id}` | `ATI` | `sk_of` (S), `ttl`: makes a redone schedule of the same task a no-op |
//! | Map Run | `MR#{arn}` | `MR` | `run` (S, JSON: counts and watermarks, no per-item data), `version` (N) |
//! | Map Run of an execution | `MRX#{execution arn}` | `R#{start ms:013}#{run arn}` | (the key is the listing) |
//! | Map Run inputs | `MI#{run arn}` | `{chunk:08}` | `items` (B: a deflated JSON array of up to 100 child inputs) or, above 350 KB, `parts` (N) with the data in `{chunk:08}#{part:03}` items, `ttl` |
//! | kept step message | `Q#{key}` | `p{part:03}` | `data` (B, up to 350 KB each): a step message too big for SQS, sent as `{"stepwiseStoredStep": key}`; `ttl` |
//!
//! The execution's `body` is one deflate stream of three JSON documents: the state
//! (`Execution`), the outbox, and the events of the latest commits. DynamoDB charges by the
//! started kilobyte, and compressed together they take a quarter of their JSON (the ARNs,
//! state names and keys repeat across all three). The execution name and machine come from the
//! ARN.
//!
//! # Listing
//!
//! `ListExecutions` is per state machine, newest first. The index puts a machine's executions
//! under [`LIST_SHARDS`] partition keys (`L#{machine digest}#{0..8}`, the shard from a hash of
//! the execution ARN), sorted by `{start}#{name}`: every execution start and end writes one index
//! item, and a single partition key would cap a machine (and, keyed by anything coarser, a whole
//! deployment) at DynamoDB's ~1,000 writes per second per partition; eight shards give one
//! machine ~8,000 (~4,000 executions a second, each written at start and end). A page is a
//! merge of the shards: each is queried newest first from the page token's position (a key
//! condition `gsi1sk < {start}#{name}`, so a token stays valid while executions are added) for
//! about its share of the page, and a shard is read further only while its items are still
//! among the newest, so a page of 100 reads ~110 index items whatever the table holds. A status
//! filter is a filter expression: it reads (and pays for) the other statuses' items it passes.
//! Index keys are kept short (a digest of the machine ARN, epoch milliseconds, the name): they
//! are attributes of the execution item too, written with every commit. Listings therefore
//! give start and stop times to the millisecond, as the API shows them.
//!
//! | access | requests | reads |
//! |---|---|---|
//! | load an execution | 1 `Query` (strongly consistent) | the execution item and its marker |
//! | history | 1 `Query` of the execution item + 1 `Query` of its `H#` items | the history |
//! | page of `n` executions | 8 `Query` (+ a few while a shard's items stay the newest) | ≈ `n` + 16 index items |
//! | page of `n` with a status filter | as above, more while shards hold other statuses | every index item down to the page's last |
//! | machine, revision, token | 1 `GetItem` | 1 item |
//!
//! # Commits
//!
//! Every commit is one conditional write on the execution item (`version = :expected`), so a
//! stale commit writes nothing and fails with `Conflict`. The history is never lost or wrong:
//!
//! - The events of the latest commits are *in the execution item* (versions
//!   `history_from..=version`), written by the same conditional update as the state. A loser of
//!   a race writes nothing.
//! - Older events live in history items. They are written by a *later* commit, before its
//!   conditional update drops them from the execution item, from committed data only: the
//!   events the committer loaded. Whoever writes them (the winner, a loser of a race, a crashed
//!   attempt) writes the same events, so the write needs no transaction; a crash between it and
//!   the update leaves a history item whose events are still in the execution item too, which
//!   [`Store::history`] recognises (items with `from >= history_from` are superseded by the
//!   execution item).
//! - Events stay in the execution item while they fit in the write units the item costs anyway
//!   (a write is charged for the larger of the old and the new item, by the started KB), and
//!   move to one history item (keyed by the first version, `to` the last) when keeping them
//!   would cost a unit more. A writer that loaded an older version may write a shorter range
//!   under the same key: that put is conditional on `to` not going back
//!   (`attribute_not_exists(to) OR to <= :to`), so it never overwrites a longer range.
//! - Ranges are capped at 64 KB of JSON; a single commit's events beyond 350 KB deflated are
//!   split into `H#{v}#{part}` items (their content is fixed, as they are one version's).
//!
//! Task tokens issued by a commit (or a creation) are put before its conditional write (1 unit
//! each, where a transaction would cost 2 per item). A token left by a commit that lost is
//! harmless: the runtime accepts a completion only while the committed state runs that frame's
//! task id, which happens only when the winner computed the same transition — and then the
//! loser's request (and token) was delivered as well. Every commit is a single `UpdateItem`,
//! every creation a single `PutItem`.
//!
//! Emptying the outbox (`clear_outbox`) writes the small marker item instead of the execution
//! item: [`Store::load`] reads both with one strongly consistent `Query` (`begins_with(sk, "E")`,
//! one read unit for up to 4 KB) and drops the outbox when the marker names the loaded
//! version. Markers are only written once that version's actions were done, and are
//! conditional on not going back.
//!
//! An execution whose body passes 350 KB (DynamoDB items hold 400 KB) is kept in
//! `B#{nonce}#{part}` items written *before* the conditional update that points the execution
//! item at them; the previous version's parts are deleted after it, a loser's right away (best
//! effort: they carry a TTL too).
//!
//! Items written while an execution runs (history, markers, tokens, parts) expire one year (the
//! longest an execution runs) plus the retention after they were written; the execution item
//! gets its TTL when it finishes.
//!
//! # Cost per transition
//!
//! On-demand DynamoDB charges a write unit per started KB of the larger of the old and the new
//! item (failed conditions included, transactions double) and a read unit per started 4 KB read
//! strongly consistent. One transition of the driver (one step message handled) costs:
//!
//! | request | units |
//! |---|---|
//! | `Query` of the execution item and its marker (strongly consistent; ≤ 4 KB for most machines) | 1 read |
//! | `UpdateItem` of the execution item (0.7–1.7 KB for the stock-trading sample) | 1–2 write |
//! | `PutItem` of a history item, when the events no longer fit (one commit in seven for the sample) | 1 write |
//! | `PutItem` of the outbox marker, only when the outbox's last action is not a step message (a task's invocation, completion) | 1 write |
//! | `gsi1` index write, when the status changes (start, end) | 1 write each |
//!
//! Measured on the stock-trading sample (`tests/cost.rs`, 3 executions, 42 commits, sizes
//! from the items written): per commit 2.6 write units in all (execution item 1.7, outbox
//! markers 0.5, history items 0.15, creation with its index item 0.15, token transactions and
//! consumption 0.1) and 1 read unit for the load (plus 0.2 for the machine and token look-ups
//! of the API calls). At $0.625 per million write and $0.125 per million read units that is
//! $1.75 per million commits; with one SQS `SendMessage` per commit and the event source
//! mapping's batched receives and deletes (≈ $0.48) and the step function's batched Lambda
//! invocations (≈ $0.06): ≈ $2.30 per million commits. The driver commits once per Task
//! state (the call happens inside the step that enters it, and its outcome is applied before
//! the commit), once per other state.

use crate::{add_estimated_capacity, add_reported_capacity, count, count_items, storage_error};
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::create_table::CreateTableOutput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::operation::describe_time_to_live::DescribeTimeToLiveOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::operation::update_time_to_live::UpdateTimeToLiveOutput;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConsumedCapacity, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, PutRequest, ReturnConsumedCapacity, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stepwise_asl::history::HistoryEvent;
use stepwise_asl::stepper::Execution;
use stepwise_runtime::ports::{
    Activity, Commit, ExecutionPage, ExecutionQuery, ExecutionStatus, ExecutionSummary, Machine, MapRun, OutboxItem,
    PageToken, PendingActivityTask, Store, Stored, TokenEntry,
};
use stepwise_runtime::Error;

/// The listing index.
pub const GSI: &str = "gsi1";
/// How many index partitions one machine's executions are spread over (see the module docs).
pub const LIST_SHARDS: usize = 8;
/// How long an execution may run at most (AWS: one year), for the TTL of items written while
/// it runs: they expire this long plus the retention after they were written.
const MAX_RUN: Duration = Duration::from_secs(366 * 24 * 3600);
/// Largest body kept in the execution item.
const INLINE_LIMIT: usize = 350_000;
/// Largest `data`/`events` attribute of one part item.
const PART: usize = 350_000;
/// Most bytes of event JSON the execution item accumulates (while they cost no extra write
/// unit) before they move to a history item.
const MAX_PENDING: usize = 64 * 1024;
/// Sort key of the marker saying which version's outbox was done.
const CLEARED: &str = "E#cleared";
/// The execution item's attributes that hold its body.
const BODY_ATTRS: [&str; 5] = ["y", "z", "body", "blob", "blob_parts"];
/// Entries of the per-store cache of loaded executions before it is emptied.
const CACHE_LIMIT: usize = 10_000;

/// The execution store in one DynamoDB table (see the module documentation for the layout,
/// the commit protocol and its cost). Cloning shares the client and the cache.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention: Duration,
    max_pending: usize,
    /// What the last load or commit of each execution saw: the committed events a next commit
    /// may have to move to a history item.
    loaded: Arc<Mutex<HashMap<String, Head>>>,
}

/// What a commit needs to know about the version it replaces.
#[derive(Debug, Clone)]
struct Head {
    version: u64,
    history_from: u64,
    /// JSON array of the events of versions `history_from..=version`.
    history: Arc<Vec<u8>>,
    blob: Option<(String, u32)>,
    status: ExecutionStatus,
    /// Item size in bytes.
    size: usize,
    /// The part of `size` taken by the body attributes.
    body_size: usize,
}

/// An execution item as read, decoded.
struct Fetched {
    stored: Stored,
    head: Head,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn b(v: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(v))
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn exec_pk(arn: &str) -> String {
    format!("E#{arn}")
}

fn history_sk(from: u64) -> String {
    format!("H#{from:012}")
}

fn deflate(json: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(json, 6)
}

/// A stored JSON document (a machine): as text, or deflated once it passes 100 KB (a definition
/// may be 1 MiB, kept twice: as parsed and as sent; an item holds 400 KB). The encoding is
/// deterministic, so a conditional write can compare a whole stored document.
fn document(json: String) -> AttributeValue {
    if json.len() <= 100_000 {
        s(json)
    } else {
        b(deflate(json.as_bytes()))
    }
}

/// `InvalidDefinition` when a machine's document would not fit in an item even deflated (a
/// definition near 1 MiB of text that does not compress: random Comments): refused as AWS
/// refuses a definition over its size limit, rather than failing the write.
fn fits_an_item(json: &str) -> Result<(), Error> {
    match document(json.to_string()) {
        AttributeValue::B(bytes) if bytes.as_ref().len() > INLINE_LIMIT => Err(Error::invalid(
            stepwise_runtime::Invalid::Definition,
            format!(
                "Invalid State Machine Definition: the definition takes {} bytes deflated; at most {INLINE_LIMIT} can be stored",
                bytes.as_ref().len()
            ),
        )),
        _ => Ok(()),
    }
}

/// The JSON text of an attribute [`document`] wrote.
fn document_text(item: &Item, attr: &str) -> Option<Result<String, String>> {
    match item.get(attr)? {
        AttributeValue::S(text) => Some(Ok(text.clone())),
        AttributeValue::B(bytes) => {
            Some(inflate(bytes.as_ref(), attr).and_then(|t| String::from_utf8(t).map_err(|e| format!("{attr}: {e}"))))
        }
        _ => None,
    }
}

fn inflate(bytes: &[u8], what: &str) -> Result<Vec<u8>, String> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(bytes, 1 << 30)
        .map_err(|e| format!("{what} is not deflated data: {e:?}"))
}

/// The preset dictionary of bodies and history items written as `z`: the keys and the usual
/// strings of an execution's state, outbox and history events, so that their first occurrence
/// in a small item costs a back-reference instead of its bytes (it halves a typical
/// execution item). Stored data depends on it byte for byte: never edit it; a new dictionary
/// needs a new attribute name. Read only: items are written with [`DICTIONARY_Y`].
const DICTIONARY: &[u8] = include_bytes!("body_dictionary.json");

/// The dictionary of items written as `y` (and body parts named `y…`): [`DICTIONARY`] with
/// the SQS and SNS task results as AWS answers them (`connection`, `Date`, SQS's JSON content
/// type), so that carrying AWS's headers costs the sample no extra write unit. Never edit it
/// either.
const DICTIONARY_Y: &[u8] = include_bytes!("body_dictionary_y.json");

/// How a stored body or history item is compressed, by the attribute (or part name) holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Packing {
    /// `body` / `events`: plain deflate (before dictionaries).
    Plain,
    /// `z`: deflate primed with [`DICTIONARY`].
    Z,
    /// `y`: deflate primed with [`DICTIONARY_Y`] (what is written today).
    Y,
}

/// Inflates stored data packed as `packing`.
fn unpack(bytes: &[u8], packing: Packing, what: &str) -> Result<Vec<u8>, String> {
    match packing {
        Packing::Plain => inflate(bytes, what),
        Packing::Z => inflate_with(DICTIONARY, dictionary_head(DICTIONARY), bytes, what),
        Packing::Y => inflate_with(DICTIONARY_Y, dictionary_head(DICTIONARY_Y), bytes, what),
    }
}

/// Raw deflate of `data` primed with `prefix`: the whole stream is `deflate(prefix)` (ended by
/// a sync flush, so on a byte boundary) followed by what this returns, whose back-references
/// may reach into `prefix`.
fn deflate_primed(prefix: &[u8], data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use miniz_oxide::deflate::core::{
        compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
    };
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
    let mut run = |mut input: &[u8], flush: TDEFLFlush| {
        let mut out = vec![0; input.len() + input.len() / 8 + 1024];
        let mut pos = 0;
        loop {
            let (status, used, wrote) = compress(&mut c, input, &mut out[pos..], flush);
            pos += wrote;
            input = &input[used..];
            let done = match flush {
                TDEFLFlush::Finish => status == TDEFLStatus::Done,
                _ => status == TDEFLStatus::Okay && input.is_empty() && pos < out.len(),
            };
            if done || !matches!(status, TDEFLStatus::Okay | TDEFLStatus::Done) {
                out.truncate(pos);
                return out;
            }
            out.resize(out.len() * 2, 0);
        }
    };
    let head = run(prefix, TDEFLFlush::Sync);
    let tail = run(data, TDEFLFlush::Finish);
    (head, tail)
}

/// The compressed dictionary that [`unpack`] puts before a stored stream.
fn dictionary_head(dictionary: &'static [u8]) -> &'static [u8] {
    static HEAD_Z: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    static HEAD_Y: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let cell = if std::ptr::eq(dictionary, DICTIONARY) { &HEAD_Z } else { &HEAD_Y };
    cell.get_or_init(|| deflate_primed(dictionary, b"").0)
}

/// Deflate with the preset [`DICTIONARY_Y`] (the `y` attributes): how items are written.
fn deflate_y(data: &[u8]) -> Vec<u8> {
    deflate_primed(DICTIONARY_Y, data).1
}

fn inflate_with(dictionary: &[u8], head: &[u8], bytes: &[u8], what: &str) -> Result<Vec<u8>, String> {
    let mut stream = Vec::with_capacity(head.len() + bytes.len());
    stream.extend_from_slice(head);
    stream.extend_from_slice(bytes);
    let mut out = inflate(&stream, what)?;
    if !out.starts_with(dictionary) {
        return Err(format!("{what} does not continue the dictionary"));
    }
    out.drain(..dictionary.len());
    Ok(out)
}

/// `[a..] ++ [b..]` on two compact JSON arrays.
fn concat_arrays(a: &[u8], b: &[u8]) -> Vec<u8> {
    if a.len() <= 2 {
        return b.to_vec();
    }
    if b.len() <= 2 {
        return a.to_vec();
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(&a[..a.len() - 1]);
    out.push(b',');
    out.extend_from_slice(&b[1..]);
    out
}

/// DynamoDB's size of an attribute value.
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(x) => x.len(),
        AttributeValue::B(x) => x.as_ref().len(),
        AttributeValue::N(x) => x.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(l) => l.iter().map(String::len).sum(),
        AttributeValue::Ns(l) => l.iter().map(|x| x.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(l) => l.iter().map(|x| x.as_ref().len()).sum(),
        _ => 0,
    }
}

/// DynamoDB's size of an item: attribute names and values.
fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// How a DynamoDB request is charged, for the capacity estimate.
#[derive(Clone, Copy)]
enum Charge {
    /// Write units, known before the request and charged whether it succeeds or not (a failed
    /// condition is charged too).
    Write(f64),
    /// Read units, from the size of the items the request returned, strongly consistent or not.
    Read { consistent: bool },
    /// Nothing estimated here (the control plane, a Scan, a batch its caller estimates whole).
    Unestimated,
}

/// A DynamoDB response: the capacity it reports consumed (asked for with
/// `ReturnConsumedCapacity TOTAL`) and the size of the items it returned.
trait Response {
    fn consumed(&self) -> Option<&ConsumedCapacity> {
        None
    }
    fn returned_size(&self) -> usize {
        0
    }
}

impl Response for GetItemOutput {
    fn consumed(&self) -> Option<&ConsumedCapacity> {
        self.consumed_capacity()
    }
    fn returned_size(&self) -> usize {
        self.item().map(item_size).unwrap_or(0)
    }
}

impl Response for QueryOutput {
    fn consumed(&self) -> Option<&ConsumedCapacity> {
        self.consumed_capacity()
    }
    fn returned_size(&self) -> usize {
        self.items().iter().map(item_size).sum()
    }
}

macro_rules! write_responses {
    ($($t:ty),*) => {$(
        impl Response for $t {
            fn consumed(&self) -> Option<&ConsumedCapacity> {
                self.consumed_capacity()
            }
        }
    )*};
}
write_responses!(PutItemOutput, UpdateItemOutput, DeleteItemOutput);

impl Response for ScanOutput {}
impl Response for BatchWriteItemOutput {}
impl Response for CreateTableOutput {}
impl Response for DescribeTableOutput {}
impl Response for DescribeTimeToLiveOutput {}
impl Response for UpdateTimeToLiveOutput {}

/// The metering of one DynamoDB request: counted as `dynamodb.{request}` (and a write's
/// estimate added) when it starts, the capacity the service reports and a read's estimate when
/// it answers, all for store operation `op` (see [`Charge`]). Used through [`metered!`].
struct Metering<'a> {
    op: &'a str,
    charge: Charge,
}

impl<'a> Metering<'a> {
    fn start(request: &str, op: &'a str, charge: Charge) -> Metering<'a> {
        count("dynamodb", request);
        if let Charge::Write(units) = charge {
            add_estimated_capacity(op, 0.0, units);
        }
        Metering { op, charge }
    }

    fn done(self, out: &impl Response) {
        if let Some(cc) = out.consumed() {
            let units = cc.capacity_units().unwrap_or(0.0);
            match self.charge {
                Charge::Write(_) => add_reported_capacity(0.0, units),
                Charge::Read { .. } | Charge::Unestimated => add_reported_capacity(units, 0.0),
            }
        }
        if let Charge::Read { consistent } = self.charge {
            add_estimated_capacity(self.op, read_units(out.returned_size(), consistent), 0.0);
        }
    }
}

/// Awaits one DynamoDB request (`send`, the SDK's `send()` future) metered ([`Metering`]):
/// `metered!(request name, store operation, charge, send)`. A macro, not an async function:
/// wrapping the SDK's large, deeply nested futures in one more future overflowed the contract
/// tests' stack (debug builds) and the compiler's query depth for the Lambda binaries' `main`.
macro_rules! metered {
    ($request:expr, $op:expr, $charge:expr, $send:expr $(,)?) => {{
        let metering = Metering::start($request, $op, $charge);
        let result = $send.await;
        if let Ok(out) = &result {
            metering.done(out);
        }
        result
    }};
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// A fresh id for a set of body parts.
fn nonce(arn: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let seed = format!("{arn}/{nanos}/{}/{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    Sha256::digest(seed.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The state machine of an execution ARN (`arn:aws:states:R:A:execution:M:N` →
/// `arn:aws:states:R:A:stateMachine:M`; the same for `express:` ARNs).
fn machine_of(arn: &str) -> String {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        [a, p, svc, region, account, _kind, machine, ..] => {
            format!("{a}:{p}:{svc}:{region}:{account}:stateMachine:{machine}")
        }
        _ => String::new(),
    }
}

/// The execution name in an execution ARN (`...:execution:M:NAME`, `...:express:M:NAME:ID`).
fn name_of(arn: &str) -> String {
    arn.split(':').nth(7).unwrap_or_default().to_string()
}

/// A time as epoch milliseconds, 13 digits (sorts as text; what the index keeps: every byte of
/// an index key is written in the execution item too, on every commit).
fn millis_key(t: DateTime<Utc>) -> String {
    format!("{:013}", t.timestamp_millis().max(0))
}

fn from_millis(ms: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms.parse().ok()?)
}

/// The listing partition of a machine's shard: `L#{64 bits of the machine ARN's SHA-256, hex}#{shard}`.
fn shard_pk(machine_arn: &str, shard: usize) -> String {
    let digest: String = Sha256::digest(machine_arn.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("L#{digest}#{shard}")
}

/// `gsi1pk` of an execution: its machine's listing shard, by a hash of the execution ARN.
fn list_pk(machine_arn: &str, execution_arn: &str) -> String {
    shard_pk(machine_arn, usize::from(Sha256::digest(execution_arn.as_bytes())[0]) % LIST_SHARDS)
}

/// `gsi1sk` of an execution: start time, then name (unique in its machine, so a page token is
/// exact, and in ARN order).
fn list_sk(start: DateTime<Utc>, execution_arn: &str) -> String {
    format!("{}#{}", millis_key(start), name_of(execution_arn))
}

/// Frames `parts` as `len ‖ bytes` each, for a body kept in part items.
fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for p in parts {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn unframe(mut data: &[u8], count: usize) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
        out.push(data.get(4..4 + len)?.to_vec());
        data = &data[4 + len..];
    }
    Some(out)
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|x| x.parse().ok())
}

fn get_b<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    item.get(name).and_then(|v| v.as_b().ok()).map(std::convert::AsRef::as_ref)
}

/// Expression attribute names for every attribute an expression mentions (`#x` → `x`).
fn names(list: &[&str]) -> HashMap<String, String> {
    list.iter().map(|x| (format!("#{x}"), x.to_string())).collect()
}

/// The execution body: state, outbox and pending events (JSON), framed and deflated together.
fn pack(state: &[u8], outbox: &[u8], history: &[u8]) -> Vec<u8> {
    deflate_y(&frame(&[state, outbox, history]))
}

fn body_size_of(item: &Item) -> usize {
    BODY_ATTRS.iter().filter_map(|k| item.get(*k).map(|v| k.len() + value_size(v))).sum()
}

impl DynamoStore {
    /// A store on `table` (which [`create_table`] makes). Finished executions are kept 90 days.
    pub fn new(client: Client, table: &str) -> DynamoStore {
        DynamoStore {
            client,
            table: table.to_string(),
            retention: Duration::from_secs(90 * 24 * 3600),
            max_pending: MAX_PENDING,
            loaded: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Keeps finished executions (and their history and token items) this long before TTL
    /// removes them.
    pub fn with_retention(mut self, retention: Duration) -> DynamoStore {
        self.retention = retention;
        self
    }

    /// Keeps at most `bytes` of event JSON in the execution item (default 64 KB; 0 moves every
    /// commit's events to a history item at the next commit).
    pub fn with_max_pending_history(mut self, bytes: usize) -> DynamoStore {
        self.max_pending = bytes.min(MAX_PENDING);
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn err(&self, op: &str, e: impl Into<stepwise_runtime::Source>) -> Error {
        storage_error(op, &self.table, e)
    }

    fn corrupt(&self, what: &str, detail: impl std::fmt::Display) -> Error {
        Error::storage(format!("DynamoDB table {}: {what}", self.table), detail.to_string())
    }

    /// TTL of items written while an execution runs (history, markers, tokens, body parts).
    fn running_ttl(&self) -> AttributeValue {
        n(epoch(SystemTime::now() + MAX_RUN + self.retention))
    }

    fn finished_ttl(&self) -> AttributeValue {
        n(epoch(SystemTime::now() + self.retention))
    }

    fn remember(&self, arn: &str, head: Head) {
        let mut cache = self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_LIMIT && !cache.contains_key(arn) {
            cache.clear();
        }
        cache.insert(arn.to_string(), head);
    }

    fn cached(&self, arn: &str) -> Option<Head> {
        self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(arn).cloned()
    }

    fn forget(&self, arn: &str) {
        self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(arn);
    }

    // ---------- requests ----------

    async fn get(&self, op: &str, pk: String, sk: &str) -> Result<Option<Item>, Error> {
        let request = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        let out = metered!("GetItem", op, Charge::Read { consistent: true }, request).map_err(|e| self.err(op, e))?;
        Ok(out.item)
    }

    /// An unconditional put.
    async fn put(&self, op: &str, item: Item) -> Result<(), Error> {
        let units = write_units(item_size(&item));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        metered!("PutItem", op, Charge::Write(units), request).map_err(|e| self.err(op, e))?;
        Ok(())
    }

    /// A put under a condition (with its `:name` values): `Ok(false)`, nothing written, when
    /// the condition does not hold.
    async fn put_if(
        &self,
        op: &str,
        item: Item,
        condition: &str,
        values: Option<HashMap<String, AttributeValue>>,
        names: Option<HashMap<String, String>>,
    ) -> Result<bool, Error> {
        let units = write_units(item_size(&item));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .set_expression_attribute_names(names)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        match metered!("PutItem", op, Charge::Write(units), request) {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_dynamodb::operation::put_item::PutItemError::is_conditional_check_failed_exception,
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.err(op, e)),
        }
    }

    async fn delete(&self, op: &str, pk: String, sk: &str, size: usize) -> Result<(), Error> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        metered!("DeleteItem", op, Charge::Write(write_units(size)), request).map_err(|e| self.err(op, e))?;
        Ok(())
    }

    /// The JSON documents in attribute `attr` of every item whose `pk` starts with
    /// `pk_prefix` and whose `sk` is `sk`, decoded (a filtered Scan, in no order).
    async fn scan_kind<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        pk_prefix: &str,
        sk: &str,
        attr: &str,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let request = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :p) AND sk = :s")
                .expression_attribute_values(":p", s(pk_prefix))
                .expression_attribute_values(":s", s(sk))
                .set_exclusive_start_key(start.take())
                .send();
            let page = metered!("Scan", op, Charge::Unestimated, request).map_err(|e| self.err(op, e))?;
            for item in page.items() {
                let Some(json) = document_text(item, attr) else { continue };
                let json = json.map_err(|e| self.corrupt(op, e))?;
                out.push(
                    serde_json::from_str(&json)
                        .map_err(|e| self.corrupt(op, format!("a stored {attr} does not decode: {e}")))?,
                );
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every item of partition `pk` whose sort key starts with `prefix`, in key order
    /// (strongly consistent).
    async fn query_prefix(&self, op: &str, pk: String, prefix: &str) -> Result<Vec<Item>, Error> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send();
            let out = metered!("Query", op, Charge::Read { consistent: true }, request).map_err(|e| self.err(op, e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(items)
    }

    // ---------- bodies ----------

    /// Writes a body too large for the execution item as part items; returns (nonce, parts).
    async fn write_parts(&self, op: &str, arn: &str, body: &[u8]) -> Result<(String, u32), Error> {
        let id = format!("y{}", nonce(arn));
        let chunks: Vec<&[u8]> = body.chunks(PART).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut item = key(exec_pk(arn), &format!("B#{id}#{i:03}"));
            item.insert("data".into(), b(chunk.to_vec()));
            item.insert("ttl".into(), self.running_ttl());
            self.put(op, item).await?;
        }
        Ok((id, chunks.len() as u32))
    }

    /// Writes `data` as items `{prefix}{i:03}` of partition `pk`, each at most [`PART`] bytes
    /// (`data`, expiring as running executions' items do); how many.
    async fn put_chunked(&self, op: &str, pk: String, prefix: &str, data: &[u8]) -> Result<u32, Error> {
        let mut parts = 0;
        for (i, chunk) in data.chunks(PART).enumerate() {
            let mut item = key(pk.clone(), &format!("{prefix}{i:03}"));
            item.insert("data".into(), b(chunk.to_vec()));
            item.insert("ttl".into(), self.running_ttl());
            self.put(op, item).await?;
            parts += 1;
        }
        Ok(parts)
    }

    /// What [`DynamoStore::put_chunked`] wrote, and in how many parts (0: nothing there).
    async fn get_chunked(&self, op: &str, pk: String, prefix: &str) -> Result<(Vec<u8>, u64), Error> {
        let mut data = Vec::new();
        let mut parts = 0;
        for item in self.query_prefix(op, pk, prefix).await? {
            let suffix = get_s(&item, "sk").and_then(|sk| sk.strip_prefix(prefix)).unwrap_or("");
            if suffix.len() != 3 || !suffix.bytes().all(|c| c.is_ascii_digit()) {
                continue;
            }
            if let Some(bytes) = get_b(&item, "data") {
                data.extend_from_slice(bytes);
                parts += 1;
            }
        }
        Ok((data, parts))
    }

    /// Deletes body parts, best effort (they expire by TTL anyway).
    async fn delete_parts(&self, arn: &str, blob: &(String, u32)) {
        for i in 0..blob.1 {
            let _ = self.delete("delete body parts", exec_pk(arn), &format!("B#{}#{i:03}", blob.0), PART).await;
        }
    }

    /// Reads and decodes an execution (item, outbox marker, body parts). `None` if it does not
    /// exist.
    async fn fetch(&self, op: &str, arn: &str) -> Result<Option<Fetched>, Error> {
        // A concurrent commit may delete the parts of the version read: read again.
        for _ in 0..5 {
            // The execution item and the outbox marker: one request, one read unit.
            let items = self.query_prefix(op, exec_pk(arn), "E").await?;
            let Some(item) = items.iter().find(|i| get_s(i, "sk") == Some("E")) else { return Ok(None) };
            let cleared = items.iter().find(|i| get_s(i, "sk") == Some(CLEARED)).and_then(|i| get_n(i, "version"));
            let version =
                get_n(item, "version").ok_or_else(|| self.corrupt(arn, "execution item without a version"))?;
            let blob = match (get_s(item, "blob"), get_n(item, "blob_parts")) {
                (Some(id), Some(parts)) => Some((id.to_string(), parts as u32)),
                _ => None,
            };
            let body = match &blob {
                // `y` and `z` use a dictionary each; `body` was written before them.
                None => match (get_b(item, "y"), get_b(item, "z")) {
                    (Some(y), _) => Some((y.to_vec(), Packing::Y)),
                    (None, Some(z)) => Some((z.to_vec(), Packing::Z)),
                    (None, None) => get_b(item, "body").map(|body| (body.to_vec(), Packing::Plain)),
                },
                Some((id, parts)) => {
                    let chunks = self.query_prefix(op, exec_pk(arn), &format!("B#{id}#")).await?;
                    if chunks.len() != *parts as usize {
                        continue;
                    }
                    // Parts named `y…` and `z…` use those dictionaries.
                    let data =
                        chunks.iter().flat_map(|c| get_b(c, "data").unwrap_or_default().iter().copied()).collect();
                    let packing = match id.as_bytes().first() {
                        Some(b'y') => Packing::Y,
                        Some(b'z') => Packing::Z,
                        _ => Packing::Plain,
                    };
                    Some((data, packing))
                }
            };
            let body = body.ok_or_else(|| self.corrupt(arn, "execution item without a body"))?;
            let (body, packing) = body;
            let raw = unpack(&body, packing, "the execution body").map_err(|e| self.corrupt(arn, e))?;
            let mut fields = unframe(&raw, 3).ok_or_else(|| self.corrupt(arn, "malformed execution body"))?.into_iter();
            let (Some(state), Some(outbox), Some(history)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(self.corrupt(arn, "malformed execution body"));
            };
            let execution: Execution = serde_json::from_slice(&state)
                .map_err(|e| self.corrupt(arn, format!("the stored execution does not decode: {e}")))?;
            let outbox: Vec<OutboxItem> = if cleared == Some(version) {
                Vec::new()
            } else {
                serde_json::from_slice(&outbox)
                    .map_err(|e| self.corrupt(arn, format!("the stored outbox does not decode: {e}")))?
            };
            let head = Head {
                version,
                history_from: get_n(item, "history_from").unwrap_or(version),
                history: Arc::new(history),
                blob,
                status: get_s(item, "status").and_then(ExecutionStatus::parse).unwrap_or(ExecutionStatus::Running),
                size: item_size(item),
                body_size: body_size_of(item),
            };
            // Stored only when it is not the execution's own machine.
            let machine_arn = get_s(item, "machine_arn")
                .map(String::from)
                .unwrap_or_else(|| execution.info.state_machine_arn.clone());
            let stop_date = get_n(item, "stop").and_then(|ms| DateTime::<Utc>::from_timestamp_millis(ms as i64));
            return Ok(Some(Fetched { stored: Stored { execution, machine_arn, version, outbox, stop_date }, head }));
        }
        Err(Error::storage(format!("DynamoDB {op} on table {}: {arn}", self.table), "the body parts keep changing"))
    }

    /// Moves committed events (versions `from..=to`, JSON) to a history item. Idempotent: the
    /// same range always has the same events, and a shorter range never overwrites a longer
    /// one.
    async fn write_history(&self, arn: &str, from: u64, to: u64, events_json: &[u8]) -> Result<(), Error> {
        let op = "commit (history item)";
        let events = deflate_y(events_json);
        if events.len() > PART {
            // Only a single commit's events get this big (ranges are capped at MAX_PENDING of
            // JSON): fixed content, no condition needed.
            for (i, chunk) in events.chunks(PART).enumerate() {
                let mut item = key(exec_pk(arn), &format!("{}#{i:03}", history_sk(from)));
                item.insert("to".into(), n(to));
                item.insert("y".into(), b(chunk.to_vec()));
                item.insert("ttl".into(), self.running_ttl());
                self.put(op, item).await?;
            }
            return Ok(());
        }
        let mut item = key(exec_pk(arn), &history_sk(from));
        item.insert("to".into(), n(to));
        item.insert("y".into(), b(events));
        item.insert("ttl".into(), self.running_ttl());
        // A longer range already there (written from a later load) stays.
        self.put_unless_newer(op, item, "to", "<=", to).await
    }

    /// Puts `item` unless the stored one has a larger `attr` (compared with `cmp`: `<` or `<=`
    /// for "the stored value may be replaced"); a stored newer item is left alone, not an error.
    async fn put_unless_newer(&self, op: &str, item: Item, attr: &str, cmp: &str, value: u64) -> Result<(), Error> {
        let units = write_units(item_size(&item));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(format!("attribute_not_exists(#a) OR #a {cmp} :v"))
            .expression_attribute_names("#a", attr)
            .expression_attribute_values(":v", n(value))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        match metered!("PutItem", op, Charge::Write(units), request) {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_dynamodb::operation::put_item::PutItemError::is_conditional_check_failed_exception,
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(self.err(op, e)),
        }
    }

    /// The execution item's attributes for a body: inline, or pointing at part items.
    fn body_attrs(body: Vec<u8>, blob: &Option<(String, u32)>) -> Vec<(&'static str, AttributeValue)> {
        match blob {
            None => vec![("y", b(body))],
            Some((id, parts)) => vec![("blob", s(id.clone())), ("blob_parts", n(parts))],
        }
    }

    fn token_item(&self, t: &TokenEntry) -> Result<Item, Error> {
        let json = serde_json::to_string(t).map_err(|e| self.corrupt("encoding a token entry", e))?;
        let mut item = key(format!("T#{}", t.hash), "T");
        item.insert("entry".into(), s(json));
        item.insert("used".into(), AttributeValue::Bool(false));
        item.insert("ttl".into(), self.running_ttl());
        Ok(item)
    }

    /// Writes the execution item of a commit: its tokens, then one conditional update.
    /// `Ok(false)` when the version had moved on.
    async fn write_commit(&self, arn: &str, update: Update, tokens: &[TokenEntry], units: f64) -> Result<bool, Error> {
        let op = "commit";
        // Tokens first, each a plain put (1 unit) rather than a transaction with the update
        // (2 units per item): a token of a commit that then loses is harmless, because a
        // completion is only accepted while the execution's *committed* state runs that frame's
        // task, and then the loser computed the same transition (its token was delivered too).
        for t in tokens {
            self.put("commit token", self.token_item(t)?).await?;
        }
        {
            // the execution item: one conditional update
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(update.key))
                .update_expression(update.update_expression);
            req = req
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            match metered!("UpdateItem", op, Charge::Write(units), req.send()) {
                Ok(_) => Ok(true),
                Err(e)
                    if e.as_service_error().is_some_and(|x| {
                        x.is_conditional_check_failed_exception() || x.is_transaction_conflict_exception()
                    }) =>
                {
                    Ok(false)
                }
                Err(e) => Err(self.err(&format!("{op} {arn}"), e)),
            }
        }
    }
}

impl Store for DynamoStore {
    async fn put_machine(&self, machine: &Machine) -> Result<(), Error> {
        let json = serde_json::to_string(machine).map_err(|e| self.corrupt("encoding a machine", e))?;
        fits_an_item(&json)?;
        // The revision first: a machine is never visible without its revision.
        let mut revision = key(format!("M#{}", machine.arn), &format!("R#{}", machine.revision_id));
        revision.insert("machine".into(), document(json.clone()));
        self.put("put_machine", revision).await?;
        let mut item = key(format!("M#{}", machine.arn), "M");
        item.insert("machine".into(), document(json));
        self.put("put_machine", item).await
    }

    async fn replace_machine(&self, machine: &Machine, previous: &Machine) -> Result<(), Error> {
        let json = serde_json::to_string(machine).map_err(|e| self.corrupt("encoding a machine", e))?;
        fits_an_item(&json)?;
        let old = serde_json::to_string(previous).map_err(|e| self.corrupt("encoding a machine", e))?;
        // The revision first: a machine is never visible without its revision.
        let mut revision = key(format!("M#{}", machine.arn), &format!("R#{}", machine.revision_id));
        revision.insert("machine".into(), document(json.clone()));
        self.put("replace_machine", revision).await?;
        let mut item = key(format!("M#{}", machine.arn), "M");
        item.insert("machine".into(), document(json));
        let values = HashMap::from([(":old".to_string(), document(old))]);
        let names = HashMap::from([("#machine".to_string(), "machine".to_string())]);
        match self.put_if("replace_machine", item, "#machine = :old", Some(values), Some(names)).await? {
            true => Ok(()),
            false => Err(Error::Conflict { expected: 0 }),
        }
    }

    async fn get_machine_revision(&self, arn: &str, revision_id: &str) -> Result<Option<Machine>, Error> {
        let Some(item) = self.get("get_machine_revision", format!("M#{arn}"), &format!("R#{revision_id}")).await?
        else {
            return Ok(None);
        };
        let json = document_text(&item, "machine")
            .ok_or_else(|| self.corrupt(arn, "machine revision item without a definition"))?
            .map_err(|e| self.corrupt(arn, e))?;
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| self.corrupt(arn, format!("the stored machine revision does not decode: {e}")))
    }

    async fn delete_machine(&self, arn: &str) -> Result<(), Error> {
        self.delete("delete_machine", format!("M#{arn}"), "M", 1024).await
    }

    async fn get_machine(&self, arn: &str) -> Result<Option<Machine>, Error> {
        let Some(item) = self.get("get_machine", format!("M#{arn}"), "M").await? else { return Ok(None) };
        let json = document_text(&item, "machine")
            .ok_or_else(|| self.corrupt(arn, "machine item without a definition"))?
            .map_err(|e| self.corrupt(arn, e))?;
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| self.corrupt(arn, format!("the stored machine does not decode: {e}")))
    }

    async fn put_activity(&self, activity: &Activity) -> Result<(), Error> {
        let json = serde_json::to_string(activity).map_err(|e| self.corrupt("encoding an activity", e))?;
        let mut item = key(format!("A#{}", activity.arn), "A");
        item.insert("activity".into(), s(json));
        self.put("put_activity", item).await
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<Activity>, Error> {
        let Some(item) = self.get("get_activity", format!("A#{arn}"), "A").await? else { return Ok(None) };
        let json = get_s(&item, "activity").ok_or_else(|| self.corrupt(arn, "activity item without its body"))?;
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| self.corrupt(arn, format!("the stored activity does not decode: {e}")))
    }

    async fn delete_activity(&self, arn: &str) -> Result<(), Error> {
        self.delete("delete_activity", format!("A#{arn}"), "A", 256).await
    }

    async fn list_activities(&self) -> Result<Vec<Activity>, Error> {
        // Activities are few and listed rarely: a filtered Scan, as for machines.
        let mut out: Vec<Activity> = self.scan_kind("list_activities", "A#", "A", "activity").await?;
        out.sort_by(|a, b| (a.created, &a.arn).cmp(&(b.created, &b.arn)));
        Ok(out)
    }

    async fn push_activity_task(&self, task: &PendingActivityTask) -> Result<(), Error> {
        let json = serde_json::to_string(task).map_err(|e| self.corrupt("encoding an activity task", e))?;
        // Oldest first: the sort key starts with the creation time (13-digit epoch ms).
        let sk = format!("{:013}#{}", task.created.timestamp_millis().max(0), task.id);
        let mut item = key(format!("AT#{}", task.activity_arn), &sk);
        item.insert("task".into(), s(json));
        // The same id again (a redone schedule) finds its task there and changes nothing.
        let mut by_id = key(format!("ATI#{}", task.id), "ATI");
        by_id.insert("sk_of".into(), s(sk));
        by_id.insert("ttl".into(), self.running_ttl());
        if self.put_if("push_activity_task", by_id, "attribute_not_exists(pk)", None, None).await? {
            self.put("push_activity_task", item).await?;
        }
        Ok(())
    }

    async fn take_activity_task(&self, activity_arn: &str) -> Result<Option<PendingActivityTask>, Error> {
        let op = "take_activity_task";
        // The oldest few; each is taken by the one caller whose conditional delete removes it.
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("AT#{activity_arn}")))
            .consistent_read(true)
            .limit(8)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        let out = metered!("Query", op, Charge::Read { consistent: true }, request).map_err(|e| self.err(op, e))?;
        for item in out.items.unwrap_or_default() {
            let (Some(pk), Some(sk)) = (get_s(&item, "pk"), get_s(&item, "sk")) else { continue };
            let request = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(pk.to_string(), sk)))
                .condition_expression("attribute_exists(pk)")
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send();
            match metered!("DeleteItem", op, Charge::Write(write_units(item_size(&item))), request) {
                Ok(_) => {
                    let json = get_s(&item, "task").ok_or_else(|| self.corrupt(activity_arn, "activity task item without its task"))?;
                    let task: PendingActivityTask = serde_json::from_str(json)
                        .map_err(|e| self.corrupt(activity_arn, format!("a stored activity task does not decode: {e}")))?;
                    // The id marker stays (until its TTL): a schedule redone later must still
                    // find the task was there.
                    return Ok(Some(task));
                }
                Err(e)
                    if e.as_service_error().is_some_and(
                        aws_sdk_dynamodb::operation::delete_item::DeleteItemError::is_conditional_check_failed_exception,
                    ) =>
                {
                    continue; // another caller took it
                }
                Err(e) => return Err(self.err(op, e)),
            }
        }
        Ok(None)
    }

    async fn list_machines(&self) -> Result<Vec<Machine>, Error> {
        // Machines are few and listed rarely: a filtered Scan beats another index on every write.
        let mut out: Vec<Machine> = self.scan_kind("list_machines", "M#", "M", "machine").await?;
        out.sort_by(|a, b| (a.created, &a.arn).cmp(&(b.created, &b.arn)));
        Ok(out)
    }

    async fn create_map_run(&self, run: &MapRun) -> Result<bool, Error> {
        let json = serde_json::to_string(run).map_err(|e| self.corrupt("encoding a Map Run", e))?;
        let mut item = key(format!("MR#{}", run.arn), "MR");
        item.insert("run".into(), s(json));
        item.insert("version".into(), n(1));
        if !self.put_if("create_map_run", item, "attribute_not_exists(pk)", None, None).await? {
            return Ok(false);
        }
        let sk = format!("R#{}#{}", millis_key(run.start_date), run.arn);
        self.put("create_map_run", key(format!("MRX#{}", run.execution_arn), &sk)).await?;
        Ok(true)
    }

    async fn load_map_run(&self, arn: &str) -> Result<Option<(MapRun, u64)>, Error> {
        let Some(item) = self.get("load_map_run", format!("MR#{arn}"), "MR").await? else { return Ok(None) };
        let json = get_s(&item, "run").ok_or_else(|| self.corrupt(arn, "Map Run item without its body"))?;
        let version = get_n(&item, "version").ok_or_else(|| self.corrupt(arn, "Map Run item without its version"))?;
        let run =
            serde_json::from_str(json).map_err(|e| self.corrupt(arn, format!("the Map Run does not decode: {e}")))?;
        Ok(Some((run, version)))
    }

    async fn commit_map_run(&self, run: &MapRun, expected_version: u64) -> Result<(), Error> {
        let json = serde_json::to_string(run).map_err(|e| self.corrupt("encoding a Map Run", e))?;
        let mut item = key(format!("MR#{}", run.arn), "MR");
        item.insert("run".into(), s(json));
        item.insert("version".into(), n(expected_version + 1));
        let values = HashMap::from([(":v".to_string(), n(expected_version))]);
        if self.put_if("commit_map_run", item, "version = :v", Some(values), None).await? {
            Ok(())
        } else {
            Err(Error::Conflict { expected: expected_version })
        }
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRun>, Error> {
        let keys = self.query_prefix("list_map_runs", format!("MRX#{execution_arn}"), "R#").await?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let Some(arn) = get_s(&k, "sk").and_then(|sk| sk.splitn(3, '#').nth(2)).map(str::to_string) else {
                continue;
            };
            if let Some((run, _)) = self.load_map_run(&arn).await? {
                out.push(run);
            }
        }
        Ok(out)
    }

    async fn put_map_items(&self, run_arn: &str, chunk: u64, items: &str) -> Result<(), Error> {
        let op = "put_map_items";
        let data = deflate(items.as_bytes());
        let mut item = key(format!("MI#{run_arn}"), &format!("{chunk:08}"));
        if data.len() > INLINE_LIMIT {
            // A hundred inputs of up to 256 KiB each: in parts, written before the item naming them.
            let parts = self.put_chunked(op, format!("MI#{run_arn}"), &format!("{chunk:08}#"), &data).await?;
            item.insert("parts".into(), n(parts as u64));
        } else {
            item.insert("items".into(), b(data));
        }
        item.insert("ttl".into(), self.running_ttl());
        self.put(op, item).await
    }

    async fn get_map_items(&self, run_arn: &str, chunk: u64) -> Result<Option<String>, Error> {
        let op = "get_map_items";
        let Some(item) = self.get(op, format!("MI#{run_arn}"), &format!("{chunk:08}")).await? else {
            return Ok(None);
        };
        let bytes = match (get_b(&item, "items"), get_n(&item, "parts")) {
            (Some(bytes), _) => bytes.to_vec(),
            (None, Some(parts)) => {
                let data = self.get_chunked(op, format!("MI#{run_arn}"), &format!("{chunk:08}#")).await?;
                if data.1 != parts {
                    return Err(self.corrupt(run_arn, format!("inputs in {parts} parts, {} found", data.1)));
                }
                data.0
            }
            (None, None) => return Err(self.corrupt(run_arn, "inputs item without its items")),
        };
        let text = inflate(&bytes, "a Map Run's inputs").map_err(|e| self.corrupt(run_arn, e))?;
        String::from_utf8(text).map(Some).map_err(|e| self.corrupt(run_arn, e))
    }

    async fn put_blob(&self, key_: &str, data: &[u8]) -> Result<(), Error> {
        self.put_chunked("put_blob", format!("Q#{key_}"), "p", data).await.map(|_| ())
    }

    async fn get_blob(&self, key_: &str) -> Result<Option<Vec<u8>>, Error> {
        let (data, parts) = self.get_chunked("get_blob", format!("Q#{key_}"), "p").await?;
        Ok((parts > 0).then_some(data))
    }

    async fn create(&self, machine_arn: &str, commit: Commit) -> Result<(), Error> {
        let op = "create";
        let arn = commit.execution.info.execution_arn.clone();
        let (history, body) = self.creation_body(&commit)?;
        let blob = if body.len() > INLINE_LIMIT { Some(self.write_parts(op, &arn, &body).await?) } else { None };
        let item = self.creation_item(machine_arn, &commit, body, &blob);
        let size = item_size(&item);
        let head = Head {
            version: 1,
            history_from: 1,
            history: Arc::new(history),
            blob: blob.clone(),
            status: commit.status(),
            size,
            body_size: body_size_of(&item),
        };
        // Tokens first, as plain puts (see the module docs: a token of a creation that fails
        // is harmless, no task of it ever runs).
        for t in &commit.tokens {
            self.put("create token", self.token_item(t)?).await?;
        }
        // Plus the index item (keys and projected attributes: well under 1 KB).
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        let created = match metered!("PutItem", op, Charge::Write(write_units(size) + 1.0), request) {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_dynamodb::operation::put_item::PutItemError::is_conditional_check_failed_exception,
                ) =>
            {
                Err(Error::AlreadyExists { arn: arn.clone() })
            }
            Err(e) => Err(self.err(op, e)),
        };
        match created {
            Ok(()) => {
                self.remember(&arn, head);
                Ok(())
            }
            Err(e) => {
                if let Some(blob) = &blob {
                    self.delete_parts(&arn, blob).await;
                }
                Err(e)
            }
        }
    }

    async fn load(&self, arn: &str) -> Result<Option<Stored>, Error> {
        match self.fetch("load", arn).await? {
            Some(f) => {
                self.remember(arn, f.head);
                Ok(Some(f.stored))
            }
            None => {
                self.forget(arn);
                Ok(None)
            }
        }
    }

    async fn commit(&self, commit: &Commit) -> Result<(), Error> {
        let op = "commit";
        let arn = commit.execution.info.execution_arn.clone();
        let expected = commit.expected_version;
        let next = expected + 1;
        // The version this commit replaces: as loaded (the driver always loads first), or read.
        let prev = match self.cached(&arn).filter(|h| h.version == expected) {
            Some(h) => h,
            None => match self.fetch(op, &arn).await? {
                Some(f) if f.head.version == expected => f.head,
                _ => return Err(Error::Conflict { expected }),
            },
        };
        let status = commit.status();
        let finished = status.is_finished();
        let encode = |e: serde_json::Error| self.corrupt("encoding an execution", e);
        let state = serde_json::to_vec(&commit.execution).map_err(encode)?;
        let outbox = serde_json::to_vec(&commit.outbox).map_err(encode)?;
        let new_events = serde_json::to_vec(&commit.history).map_err(encode)?;
        // Everything but the body, as it will be.
        let ttl_size = "ttl".len() + 6;
        let mut meta = prev.size.saturating_sub(prev.body_size);
        match (finished, !prev.status.is_finished()) {
            (true, true) => meta += ttl_size,
            (false, false) => meta = meta.saturating_sub(ttl_size),
            _ => {}
        }
        // The units of the new item on its own: what the following commits pay for it.
        let own_units = |body: &[u8]| write_units(meta + "y".len() + body.len());
        // Events stay in the execution item while that costs no extra write unit.
        let (history_from, history, body) = if commit.history.is_empty() {
            (prev.history_from, prev.history.to_vec(), pack(&state, &outbox, &prev.history))
        } else if prev.history.len() <= 2 {
            (next, new_events.clone(), pack(&state, &outbox, &new_events))
        } else {
            let joined = concat_arrays(&prev.history, &new_events);
            let with = pack(&state, &outbox, &joined);
            let without = pack(&state, &outbox, &new_events);
            if joined.len() <= self.max_pending && own_units(&with) <= own_units(&without) {
                (prev.history_from, joined, with)
            } else {
                self.write_history(&arn, prev.history_from, expected, &prev.history).await?;
                (next, new_events.clone(), without)
            }
        };
        let blob = if body.len() > INLINE_LIMIT { Some(self.write_parts(op, &arn, &body).await?) } else { None };
        let attrs = Self::body_attrs(body, &blob);
        let body_size: usize = attrs.iter().map(|(k, v)| k.len() + value_size(v)).sum();
        let new_size = meta + body_size;

        let mut set = vec!["#version = :next".to_string(), "#history_from = :history_from".to_string()];
        let mut used = vec!["version", "history_from"];
        let mut values: Item = HashMap::from([
            (":next".to_string(), n(next)),
            (":expected".to_string(), n(expected)),
            (":history_from".to_string(), n(history_from)),
        ]);
        for (k, v) in attrs {
            set.push(format!("#{k} = :{k}"));
            values.insert(format!(":{k}"), v);
            used.push(k);
        }
        let status_changed = status != prev.status;
        if status_changed {
            set.push("#status = :status".into());
            values.insert(":status".into(), s(status.as_str()));
            used.push("status");
        }
        if let Some(stop) = commit.stop_date() {
            set.push("#stop = :stop".into());
            values.insert(":stop".into(), n(u64::try_from(stop.timestamp_millis()).unwrap_or_default()));
            used.push("stop");
        }
        let mut remove: Vec<&str> =
            if blob.is_some() { vec!["y", "z", "body"] } else { vec!["z", "body", "blob", "blob_parts"] };
        if finished {
            set.push("#ttl = :ttl".into());
            values.insert(":ttl".into(), self.finished_ttl());
            used.push("ttl");
        } else if prev.status.is_finished() {
            // Running again (RedriveExecution): no end, no expiry.
            remove.push("ttl");
            remove.push("stop");
        }
        used.extend(remove.iter().copied());
        let remove: Vec<String> = remove.iter().map(|k| format!("#{k}")).collect();
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(exec_pk(&arn), "E")))
            .update_expression(format!("SET {} REMOVE {}", set.join(", "), remove.join(", ")))
            .condition_expression("#version = :expected")
            .set_expression_attribute_names(Some(names(&used)))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| self.err(op, e))?;
        // The item, plus the index item when a projected attribute changes.
        let units = write_units(new_size.max(prev.size)) + if status_changed { 1.0 } else { 0.0 };
        let applied = match self.write_commit(&arn, update, &commit.tokens, units).await {
            Ok(applied) => applied,
            Err(e) => {
                if let Some(blob) = &blob {
                    self.delete_parts(&arn, blob).await;
                }
                return Err(e);
            }
        };
        if !applied {
            if let Some(blob) = &blob {
                self.delete_parts(&arn, blob).await;
            }
            self.forget(&arn);
            return Err(Error::Conflict { expected });
        }
        let body_size = new_size - meta;
        self.remember(
            &arn,
            Head { version: next, history_from, history: Arc::new(history), blob, status, size: new_size, body_size },
        );
        if let Some(old) = &prev.blob {
            self.delete_parts(&arn, old).await;
        }
        Ok(())
    }

    async fn clear_outbox(&self, arn: &str, version: u64) -> Result<(), Error> {
        // A small marker item instead of rewriting the execution item: `load` reads both in
        // one request and drops the outbox when the marker names the loaded version. It is
        // written only after `version`'s actions were done, and version numbers are never
        // reused, so a marker for an older version changes nothing.
        let mut item = key(exec_pk(arn), CLEARED);
        item.insert("version".into(), n(version));
        item.insert("ttl".into(), self.running_ttl());
        // A later version's outbox was done already: that marker stays.
        self.put_unless_newer("clear_outbox", item, "version", "<", version).await
    }

    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, Error> {
        let op = "history";
        // The execution item first: history items read after it cover everything it moved out.
        let Some(head) = self.fetch(op, arn).await?.map(|f| f.head) else { return Ok(Vec::new()) };
        let items = self.query_prefix(op, exec_pk(arn), "H#").await?;
        // Ranges by first version, parts concatenated in key order.
        // `y` and `z` use a dictionary each; `events` was written before them.
        let mut ranges: Vec<(u64, Vec<u8>, Packing)> = Vec::new();
        for item in &items {
            let sk = get_s(item, "sk").unwrap_or_default();
            let Some(from) = sk.get(2..14).and_then(|v| v.parse::<u64>().ok()) else { continue };
            if from >= head.history_from {
                continue; // moved out by a commit that did not happen (yet): the execution item has them
            }
            let (events, dictionary) = match (get_b(item, "y"), get_b(item, "z")) {
                (Some(y), _) => (y, Packing::Y),
                (None, Some(z)) => (z, Packing::Z),
                (None, None) => (get_b(item, "events").unwrap_or_default(), Packing::Plain),
            };
            match ranges.last_mut() {
                Some((f, data, _)) if *f == from => data.extend_from_slice(events),
                _ => ranges.push((from, events.to_vec(), dictionary)),
            }
        }
        let mut out = Vec::new();
        for (from, data, dictionary) in ranges {
            let json = unpack(&data, dictionary, "history").map_err(|e| self.corrupt(arn, e))?;
            let events: Vec<HistoryEvent> = serde_json::from_slice(&json)
                .map_err(|e| self.corrupt(arn, format!("history from version {from} does not decode: {e}")))?;
            out.extend(events);
        }
        let pending: Vec<HistoryEvent> = serde_json::from_slice(&head.history)
            .map_err(|e| self.corrupt(arn, format!("the execution item's events do not decode: {e}")))?;
        out.extend(pending);
        Ok(out)
    }

    async fn put_tokens(&self, tokens: &[TokenEntry]) -> Result<(), Error> {
        for t in tokens {
            self.put("put_tokens", self.token_item(t)?).await?;
        }
        Ok(())
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenEntry>, Error> {
        let Some(item) = self.get("find_token", format!("T#{hash}"), "T").await? else { return Ok(None) };
        let json = get_s(&item, "entry").ok_or_else(|| self.corrupt(hash, "token item without an entry"))?;
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| self.corrupt(hash, format!("the token entry does not decode: {e}")))
    }

    async fn consume_token(&self, hash: &str) -> Result<bool, Error> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("T#{hash}"), "T")))
            .update_expression("SET #used = :yes")
            .condition_expression("#used = :no")
            .expression_attribute_names("#used", "used")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        match metered!("UpdateItem", "consume_token", Charge::Write(1.0), request) {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::is_conditional_check_failed_exception,
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.err("consume_token", e)),
        }
    }

    async fn list_executions(&self, query: &ExecutionQuery) -> Result<ExecutionPage, Error> {
        let want = query.limit.max(1) + 1;
        let after = query.page.as_ref().map(|p| list_sk(p.start, &p.arn));
        let mut shards: Vec<ListShard> = (0..LIST_SHARDS)
            .map(|i| ListShard { pk: shard_pk(&query.machine_arn, i), items: VecDeque::new(), next: None, done: false })
            .collect();
        // Each shard's share of the page first, all at once; then more from a shard only while
        // its items are still the newest.
        let share = want.div_ceil(LIST_SHARDS) + 1;
        let firsts =
            futures_util::future::join_all(shards.iter().map(|sh| self.list_shard(sh, query, after.as_deref(), share)))
                .await;
        for (shard, page) in shards.iter_mut().zip(firsts) {
            shard.take(page?);
        }
        let mut executions = Vec::with_capacity(want);
        while executions.len() < want {
            // A shard that ran dry but has more must be read before anything is taken.
            for shard in &mut shards {
                while shard.items.is_empty() && !shard.done {
                    let page =
                        self.list_shard(shard, query, after.as_deref(), share.min(want - executions.len())).await?;
                    shard.take(page);
                }
            }
            let newest =
                shards.iter_mut().filter(|sh| !sh.items.is_empty()).max_by(|a, b| a.items[0].0.cmp(&b.items[0].0));
            match newest.and_then(|sh| sh.items.pop_front()) {
                Some((_, e)) => executions.push(e),
                None => break,
            }
        }
        let next = if executions.len() > query.limit.max(1) {
            executions.truncate(query.limit.max(1));
            executions.last().map(PageToken::after)
        } else {
            None
        };
        Ok(ExecutionPage { executions, next })
    }
}

impl DynamoStore {
    /// A new execution's events (JSON) and packed body.
    fn creation_body(&self, commit: &Commit) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let encode = |e: serde_json::Error| self.corrupt("encoding an execution", e);
        let state = serde_json::to_vec(&commit.execution).map_err(encode)?;
        let outbox = serde_json::to_vec(&commit.outbox).map_err(encode)?;
        let history = serde_json::to_vec(&commit.history).map_err(encode)?;
        let body = pack(&state, &outbox, &history);
        Ok((history, body))
    }

    /// The execution item of a creation (version 1), with its listing keys.
    fn creation_item(&self, machine_arn: &str, commit: &Commit, body: Vec<u8>, blob: &Option<(String, u32)>) -> Item {
        let x = &commit.execution;
        let arn = &x.info.execution_arn;
        let status = commit.status();
        let mut item = key(exec_pk(arn), "E");
        item.insert("version".into(), n(1));
        item.insert("history_from".into(), n(1));
        item.insert("status".into(), s(status.as_str()));
        if machine_arn != x.info.state_machine_arn {
            item.insert("machine_arn".into(), s(machine_arn));
        }
        item.insert("gsi1pk".into(), s(list_pk(machine_arn, arn)));
        item.insert("gsi1sk".into(), s(list_sk(x.start_time, arn)));
        if let Some(stop) = commit.stop_date() {
            item.insert("stop".into(), n(u64::try_from(stop.timestamp_millis()).unwrap_or_default()));
        }
        if status.is_finished() {
            item.insert("ttl".into(), self.finished_ttl());
        }
        for (k, v) in Self::body_attrs(body, blob) {
            item.insert(k.into(), v);
        }
        item
    }

    /// Writes executions made elsewhere (a migration, a restore, a test's data set) as their
    /// creations would, 25 to a `BatchWriteItem`: unconditionally (an execution with the same
    /// ARN is replaced), without their task tokens, and only executions whose body fits one
    /// item. Faster than [`Store::create`] one by one; not for executions a driver is running.
    pub async fn import(&self, machine_arn: &str, commits: &[Commit]) -> Result<(), Error> {
        let op = "import";
        let mut items = Vec::with_capacity(commits.len());
        for commit in commits {
            let (_, body) = self.creation_body(commit)?;
            if body.len() > INLINE_LIMIT {
                return Err(self.corrupt(
                    &commit.execution.info.execution_arn,
                    format!("a body of {} bytes is too large to import (at most {INLINE_LIMIT})", body.len()),
                ));
            }
            items.push(self.creation_item(machine_arn, commit, body, &None));
        }
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = Vec::with_capacity(chunk.len());
            for item in chunk {
                let put = PutRequest::builder().set_item(Some(item.clone())).build().map_err(|e| self.err(op, e))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            // The chunk is estimated once, however many attempts it takes.
            add_estimated_capacity(op, 0.0, chunk.iter().map(|i| write_units(item_size(i)) + 1.0).sum());
            // Unprocessed items (throttling) are written again, a little later each time.
            for attempt in 0..10u64 {
                let request = self.client.batch_write_item().request_items(&self.table, requests).send();
                let out = metered!("BatchWriteItem", op, Charge::Unestimated, request).map_err(|e| self.err(op, e))?;
                requests = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 9 {
                    return Err(self.corrupt(op, format!("{} items were never processed", requests.len())));
                }
                tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
            }
        }
        Ok(())
    }
}

/// One index partition of a machine's listing, as far as it was read.
struct ListShard {
    pk: String,
    /// Read and not yet taken: `(gsi1sk, summary)`, newest first.
    items: VecDeque<(String, ExecutionSummary)>,
    /// Where the next read goes on.
    next: Option<Item>,
    /// Nothing more to read.
    done: bool,
}

impl ListShard {
    fn take(&mut self, (items, next): (Vec<(String, ExecutionSummary)>, Option<Item>)) {
        self.items.extend(items);
        self.done = next.is_none();
        self.next = next;
    }
}

impl DynamoStore {
    /// Reads up to `limit` index items of one listing shard, newest first, older than `after`.
    async fn list_shard(
        &self,
        shard: &ListShard,
        query: &ExecutionQuery,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, ExecutionSummary)>, Option<Item>), Error> {
        let op = "list_executions";
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI)
            .expression_attribute_values(":p", s(shard.pk.clone()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(shard.next.clone())
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        req = match after {
            Some(a) => req
                .key_condition_expression("gsi1pk = :p AND gsi1sk < :after")
                .expression_attribute_values(":after", s(a)),
            None => req.key_condition_expression("gsi1pk = :p"),
        };
        if let Some(status) = query.status {
            req = req
                .filter_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        let page =
            metered!("Query", op, Charge::Read { consistent: false }, req.send()).map_err(|e| self.err(op, e))?;
        let scanned = usize::try_from(page.scanned_count()).unwrap_or(0);
        count_items(op, scanned);
        let items = page.items.unwrap_or_default();
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let Some(arn) = get_s(item, "pk").and_then(|pk| pk.strip_prefix("E#")) else { continue };
            let sort = get_s(item, "gsi1sk").unwrap_or_default().to_string();
            let time = |t: &str| {
                from_millis(t).ok_or_else(|| self.corrupt(arn, format!("bad time {t:?} in the listing index")))
            };
            let start = time(sort.split('#').next().unwrap_or_default())?;
            let status = get_s(item, "status").unwrap_or("RUNNING");
            let summary = ExecutionSummary {
                execution_arn: arn.to_string(),
                machine_arn: get_s(item, "machine_arn").map(String::from).unwrap_or_else(|| machine_of(arn)),
                name: name_of(arn),
                status: ExecutionStatus::parse(status)
                    .ok_or_else(|| self.corrupt(arn, format!("unknown status {status:?}")))?,
                start,
                stop: item.get("stop").and_then(|v| v.as_n().ok()).map(|t| time(t)).transpose()?,
            };
            out.push((sort, summary));
        }
        Ok((out, page.last_evaluated_key.filter(|k| !k.is_empty())))
    }
}

/// Creates the store's table if it does not exist (key `pk` + `sk`, on-demand billing, the
/// `gsi1` listing index, TTL on `ttl`), waits until it is active, and enables TTL.
/// Idempotent.
pub async fn create_table(client: &Client, name: &str) -> Result<(), Error> {
    let attr =
        |a: &str| AttributeDefinition::builder().attribute_name(a).attribute_type(ScalarAttributeType::S).build();
    let key_el = |a: &str, t: KeyType| KeySchemaElement::builder().attribute_name(a).key_type(t).build();
    let defs = vec![
        attr("pk").map_err(|e| storage_error("create_table", name, e))?,
        attr("sk").map_err(|e| storage_error("create_table", name, e))?,
        attr("gsi1pk").map_err(|e| storage_error("create_table", name, e))?,
        attr("gsi1sk").map_err(|e| storage_error("create_table", name, e))?,
    ];
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI)
        .key_schema(key_el("gsi1pk", KeyType::Hash).map_err(|e| storage_error("create_table", name, e))?)
        .key_schema(key_el("gsi1sk", KeyType::Range).map_err(|e| storage_error("create_table", name, e))?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes("machine_arn")
                .non_key_attributes("status")
                .non_key_attributes("stop")
                .build(),
        )
        .build()
        .map_err(|e| storage_error("create_table", name, e))?;
    let pk = key_el("pk", KeyType::Hash).map_err(|e| storage_error("create_table", name, e))?;
    let sk = key_el("sk", KeyType::Range).map_err(|e| storage_error("create_table", name, e))?;
    let request = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(defs))
        .key_schema(pk)
        .key_schema(sk)
        .billing_mode(BillingMode::PayPerRequest)
        .global_secondary_indexes(gsi)
        .send();
    match metered!("CreateTable", "create_table", Charge::Unestimated, request) {
        Ok(_) => {}
        Err(e)
            if e.as_service_error().is_some_and(
                aws_sdk_dynamodb::operation::create_table::CreateTableError::is_resource_in_use_exception,
            ) => {}
        Err(e) => return Err(storage_error("CreateTable", name, e)),
    }
    // Wait until active (instant on emulators; seconds on AWS).
    for _ in 0..300 {
        let d = metered!(
            "DescribeTable",
            "create_table",
            Charge::Unestimated,
            client.describe_table().table_name(name).send(),
        )
        .map_err(|e| storage_error("DescribeTable", name, e))?;
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let request = client.describe_time_to_live().table_name(name).send();
    let ttl = metered!("DescribeTimeToLive", "create_table", Charge::Unestimated, request)
        .map_err(|e| storage_error("DescribeTimeToLive", name, e))?;
    let status = ttl.time_to_live_description().and_then(|d| d.time_to_live_status());
    if !matches!(status, Some(TimeToLiveStatus::Enabled) | Some(TimeToLiveStatus::Enabling)) {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("ttl")
            .build()
            .map_err(|e| storage_error("UpdateTimeToLive", name, e))?;
        let request = client.update_time_to_live().table_name(name).time_to_live_specification(spec).send();
        metered!("UpdateTimeToLive", "create_table", Charge::Unestimated, request)
            .map_err(|e| storage_error("UpdateTimeToLive", name, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_machines_come_from_arns() {
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:e-1";
        assert_eq!(name_of(arn), "e-1");
        assert_eq!(machine_of(arn), "arn:aws:states:us-east-1:123456789012:stateMachine:m");
        let express = "arn:aws:states:us-east-1:123456789012:express:m:e-2:0e9d6b1c-5c2a-4d49-a7ad-2a1e3b8c4d5e";
        assert_eq!(name_of(express), "e-2");
        assert_eq!(machine_of(express), "arn:aws:states:us-east-1:123456789012:stateMachine:m");
    }

    #[test]
    fn arrays_concatenate() {
        assert_eq!(concat_arrays(b"[]", b"[1]"), b"[1]");
        assert_eq!(concat_arrays(b"[1]", b"[]"), b"[1]");
        assert_eq!(concat_arrays(b"[1,2]", b"[3]"), b"[1,2,3]");
    }

    #[test]
    fn frames_round_trip() {
        let data = frame(&[b"abc", b"", b"de"]);
        assert_eq!(unframe(&data, 3), Some(vec![b"abc".to_vec(), vec![], b"de".to_vec()]));
        assert_eq!(unframe(&data[..5], 3), None);
    }

    #[test]
    fn deflate_round_trips() {
        let json = br#"{"a":"arn:aws:states:us-east-1:123456789012:execution:m:e","b":"arn:aws:states:us-east-1:123456789012:execution:m:e"}"#;
        let z = deflate(json);
        assert!(z.len() < json.len());
        assert_eq!(inflate(&z, "x").ok().as_deref(), Some(&json[..]));
    }

    #[test]
    fn dictionary_deflate_round_trips() {
        let json = br#"{"id":3,"previous_event_id":2,"timestamp":"2026-01-01T00:00:00.000000000Z","event_type":"TaskStateEntered"}"#;
        let y = deflate_y(json);
        assert!(y.len() < deflate(json).len());
        assert_eq!(unpack(&y, Packing::Y, "x").ok().as_deref(), Some(&json[..]));
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_string().into_bytes()).collect();
        assert_eq!(unpack(&deflate_y(&big), Packing::Y, "x").ok(), Some(big.clone()));
        assert_eq!(unpack(&deflate_y(b""), Packing::Y, "x").ok(), Some(Vec::new()));
        // Items written with the first dictionary stay readable.
        let z = deflate_primed(DICTIONARY, json).1;
        assert_eq!(unpack(&z, Packing::Z, "x").ok().as_deref(), Some(&json[..]));
        assert!(unpack(&z, Packing::Y, "x").ok().as_deref() != Some(&json[..]));
    }

    #[test]
    fn listing_keys_sort_by_time_then_name() {
        let a = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.5Z").map(|t| t.with_timezone(&Utc));
        let b = DateTime::parse_from_rfc3339("2026-01-01T00:00:01Z").map(|t| t.with_timezone(&Utc));
        let (Ok(a), Ok(b)) = (a, b) else { panic!("times parse") };
        assert!(millis_key(a) < millis_key(b));
        assert_eq!(millis_key(a).len(), millis_key(b).len());
        assert_eq!(from_millis(&millis_key(a)), Some(a));
        let x = "arn:aws:states:us-east-1:1:execution:M:";
        assert!(list_sk(a, &format!("{x}b")) > list_sk(a, &format!("{x}a")));
        assert!(list_sk(b, &format!("{x}a")) > list_sk(a, &format!("{x}z")));
        assert_eq!(list_pk("arn:m", &format!("{x}a")).len(), "L#0123456789abcdef#0".len());
    }

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item: Item = HashMap::from([("pk".to_string(), s("abc")), ("n".to_string(), n(12345))]);
        assert_eq!(item_size(&item), 2 + 3 + 1 + 4);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4097, true), 2.0);
    }
}
