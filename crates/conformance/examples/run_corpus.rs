//! Run the conformance corpus without the CLI:
//! `cargo run --release -p stepwise-conformance --example run_corpus -- [--threads N] [--family F] [--id ID] [--verbose] [--replay] [--exact-only] [--wait-cap SECS] [PATH]`
use std::path::PathBuf;
use std::sync::Arc;

use stepwise_conformance::{default_corpus_dir, run_corpus_with, Filter, LocalEngine, RunnerOptions};

fn main() {
    let mut filter = Filter::default();
    let mut options = RunnerOptions { threads: 2, ..RunnerOptions::default() };
    let mut path: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => options.threads = args.next().and_then(|s| s.parse().ok()).unwrap_or(2),
            "--family" => filter.families.extend(args.next()),
            "--id" => filter.ids.extend(args.next()),
            "--verbose" => options.verbose = true,
            "--replay" => options.replay = true,
            "--exact-only" => filter.exact_only = true,
            "--wait-cap" => {
                options.function_wait_cap =
                    args.next().and_then(|s| s.parse().ok()).map(std::time::Duration::from_secs_f64);
            }
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let path = path.unwrap_or_else(default_corpus_dir);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let summary = run_corpus_with(&path, &filter, &options, Arc::new(LocalEngine), &mut out);
    std::process::exit(if summary.is_success() { 0 } else { 1 });
}
