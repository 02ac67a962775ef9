//! `llmb serve`: engine arguments.

use clap::{Args, Subcommand};

/// `llmb serve ...`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Which engine.
    #[command(subcommand)]
    pub engine: ServeEngine,
}

/// Engines `llmb serve` can start.
#[derive(Debug, Subcommand)]
pub enum ServeEngine {
    /// The embedded simulated engine: OpenAI-compatible, continuous batching or fixed timings.
    #[command(after_help = "Examples:
  llmb serve sim                                 continuous batching on 127.0.0.1:8000
  llmb serve sim --port 0 --ttft-ms 50 --itl-ms 10   exact timings on any free port
  llmb serve sim --fault-rate 0.05 --fault-kinds reset,http500")]
    Sim(SimArgs),
}

/// Simulated engine settings.
#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 = any free port; the chosen one is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Served model name.
    #[arg(long, default_value = "llmb-sim")]
    pub model: String,
    /// Seed of output lengths, words and faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Tokenizer (tokenizer.json or a folder holding one) used to count prompt tokens.
    #[arg(long)]
    pub tokenizer: Option<std::path::PathBuf>,
    /// Fixed time to first token, from request arrival (with --itl-ms: no batching model).
    #[arg(long, requires = "itl_ms")]
    pub ttft_ms: Option<f64>,
    /// Fixed time between tokens.
    #[arg(long, requires = "ttft_ms")]
    pub itl_ms: Option<f64>,
    /// Most sequences per iteration.
    #[arg(long, default_value_t = 256)]
    pub max_batch_size: usize,
    /// Most tokens per iteration (chunked prefill budget).
    #[arg(long, default_value_t = 8192)]
    pub max_num_tokens: u64,
    /// KV-cache capacity in tokens; requests wait when it is full.
    #[arg(long, default_value_t = 2_000_000)]
    pub kv_cache_tokens: u64,
    /// Step time model: fixed cost per iteration (ms).
    #[arg(long, default_value_t = 2.0)]
    pub step_base_ms: f64,
    /// Step time model: cost per prompt token (ms).
    #[arg(long, default_value_t = 0.01)]
    pub step_prefill_token_ms: f64,
    /// Step time model: cost per decoding sequence (ms).
    #[arg(long, default_value_t = 0.02)]
    pub step_decode_seq_ms: f64,
    /// Tokens per streamed chunk when a request does not set stream_interval.
    #[arg(long, default_value_t = 1)]
    pub stream_interval: u32,
    /// Share of requests that get an injected fault (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Fault kinds to draw from: http500, http429, reset, stall, malformed.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http500,http429,reset,stall,malformed"
    )]
    pub fault_kinds: Vec<String>,
}
