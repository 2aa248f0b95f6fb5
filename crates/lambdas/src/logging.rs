//! Logging: `tracing` with JSON lines, the format Lambda's `LoggingConfig: {LogFormat: JSON}`
//! expects (`level`, `timestamp`, `message`, and the current span's fields — `execution_arn`
//! and `state` — under `span`).

use std::str::FromStr;
use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The level filter from Lambda's `AWS_LAMBDA_LOG_LEVEL` (set by `LoggingConfig:
/// ApplicationLogLevel`), else `RUST_LOG` (full `EnvFilter` directives), else `INFO`.
fn filter() -> EnvFilter {
    if let Ok(level) = std::env::var("AWS_LAMBDA_LOG_LEVEL") {
        let level = if level.eq_ignore_ascii_case("fatal") { "error" } else { level.as_str() };
        return EnvFilter::builder()
            .with_default_directive(LevelFilter::from_str(level).unwrap_or(LevelFilter::INFO).into())
            .parse_lossy("");
    }
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(std::env::var("RUST_LOG").unwrap_or_default())
}

/// A subscriber writing one JSON object per event to `writer`: the event's fields flattened
/// (`message`, ...), `level`, `timestamp`, and `span` with the current span's fields (the
/// handlers' spans carry `execution_arn` and `state`). Used by [`init_logging`]; tests pass a
/// buffer.
pub fn json_subscriber<W>(writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter())
        .with_writer(writer)
        .finish()
}

/// Installs the global subscriber: JSON lines on stdout ([`json_subscriber`]), or plain text
/// when `AWS_LAMBDA_LOG_FORMAT` is `Text` (Lambda's other log format). Levels come from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `INFO`. Calling it again does nothing.
pub fn init_logging() {
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    let subscriber: Box<dyn Subscriber + Send + Sync> = if text {
        Box::new(tracing_subscriber::fmt().with_target(false).without_time().with_env_filter(filter()).finish())
    } else {
        Box::new(json_subscriber(std::io::stdout))
    };
    let _ = tracing::subscriber::set_global_default(subscriber);
}
