//! `llmb selfbench`: the client-performance harness, and the hidden reference reader.

use std::path::PathBuf;

use clap::Args;

/// Harness options.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  llmb selfbench                         the full set: c = 1, 64, 512, 4096, 10000, firehose and paced
  llmb selfbench --quick --check docs/selfbench-baseline.json
                                         CI's light check: fails on a >20% regression
  llmb selfbench --concurrency 64 --mode paced --save /tmp/now.json
  llmb selfbench --concurrency 64 --mode paced --tls
                                         each row plain, then over https (the TLS cost)")]
pub struct SelfbenchArgs {
    /// Only concurrency 1, 64 and 512, fewer requests (minutes become tens of seconds).
    #[arg(long)]
    pub quick: bool,
    /// Only these concurrency levels (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub concurrency: Vec<u64>,
    /// Only this engine timing.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Prompt length (tokens).
    #[arg(long, default_value_t = 128)]
    pub isl: u64,
    /// Output length (tokens).
    #[arg(long, default_value_t = 128)]
    pub osl: u64,
    /// Run each configuration twice: over plain http, then over https (the engine serves a
    /// certificate from an authority made for the run, trusted through SSL_CERT_FILE).
    #[arg(long)]
    pub tls: bool,
    /// Write the report (JSON) here.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Compare with a saved report; exit 3 if a figure regressed by more than 20%.
    #[arg(long)]
    pub check: Option<PathBuf>,
}

/// Engine timing.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    /// As fast as the engine can stream.
    Firehose,
    /// TTFT 50 ms, ITL 10 ms.
    Paced,
}

/// Reference reader options.
#[derive(Debug, Args)]
pub struct ReaderArgs {
    /// Engine base URL (`http://host:port`).
    #[arg(long)]
    pub url: String,
    /// Concurrent streams.
    #[arg(long, default_value_t = 1)]
    pub concurrency: u64,
    /// Requests in all.
    #[arg(long, default_value_t = 10)]
    pub requests: u64,
    /// Prompt length (words).
    #[arg(long, default_value_t = 128)]
    pub isl: u64,
    /// Output tokens.
    #[arg(long, default_value_t = 128)]
    pub osl: u64,
}
