//! `llmb serve`: engine arguments.

use clap::{Args, Subcommand, ValueEnum};
use llmb_sim::sim::disagg::WorkerUrl;

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
  llmb serve sim --fault-rate 0.05 --fault-kinds reset,http500
  llmb serve sim --tls-cert cert.pem --tls-key key.pem   https on 127.0.0.1:8000
  llmb serve sim --role prefill --port 0         a prefill worker (the same for --role decode)
  llmb serve sim --role frontend --port 0 --prefill http://127.0.0.1:41001 \
      --prefill http://127.0.0.1:41002 --decode http://127.0.0.1:41003")]
    Sim(SimArgs),
}

/// The part a simulated engine plays.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SimRoleArg {
    /// Whole requests on one engine (the usual server).
    Aggregated,
    /// A prefill worker of a disaggregated deployment.
    Prefill,
    /// A decode worker of a disaggregated deployment.
    Decode,
    /// The frontend: each request to a prefill worker, then to a decode worker.
    Frontend,
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
    /// The part this engine plays in a deployment (see docs/ENGINES.md, "Disaggregated sim").
    /// The frontend only relays: the timing, batching, fault and tokenizer flags belong to
    /// its workers.
    #[arg(long, value_enum, default_value_t = SimRoleArg::Aggregated)]
    pub role: SimRoleArg,
    /// With --role frontend: a prefill worker's base URL (http://HOST:PORT); repeat for
    /// more (or separate them with commas).
    #[arg(long = "prefill", value_name = "URL", value_parser = parse_worker_url, value_delimiter = ',')]
    pub prefill: Vec<WorkerUrl>,
    /// With --role frontend: a decode worker's base URL (http://HOST:PORT); repeat for more
    /// (or separate them with commas).
    #[arg(long = "decode", value_name = "URL", value_parser = parse_worker_url, value_delimiter = ',')]
    pub decode: Vec<WorkerUrl>,
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
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

fn parse_worker_url(s: &str) -> Result<WorkerUrl, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn sim(args: &[&str]) -> Result<SimArgs, clap::Error> {
        let cli = Cli::try_parse_from(["llmb", "serve", "sim"].iter().chain(args))?;
        match cli.command {
            Command::Serve(ServeArgs {
                engine: ServeEngine::Sim(a),
            }) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn role_defaults_to_aggregated_and_workers_repeat() {
        let a = sim(&[]).unwrap();
        assert_eq!((a.role, a.prefill.len()), (SimRoleArg::Aggregated, 0));
        let a = sim(&[
            "--role",
            "frontend",
            "--prefill",
            "http://127.0.0.1:1",
            "--prefill",
            "http://127.0.0.1:2/",
            "--decode",
            "http://127.0.0.1:3",
        ])
        .unwrap();
        assert_eq!(a.role, SimRoleArg::Frontend);
        let urls: Vec<&str> = a.prefill.iter().map(WorkerUrl::as_str).collect();
        assert_eq!(urls, ["http://127.0.0.1:1", "http://127.0.0.1:2"]);
        assert_eq!(a.decode[0].authority(), "127.0.0.1:3");
        // One flag with a list (how a plan's `extra` map, one value per key, can pass several).
        let a = sim(&["--prefill", "http://h:1,http://h:2", "--role", "frontend"]).unwrap();
        assert_eq!(a.prefill.len(), 2);
        let e = sim(&["--role", "frontend", "--decode", "127.0.0.1:3"]).unwrap_err();
        assert!(e.to_string().contains("http://HOST:PORT"), "{e}");
        assert!(sim(&["--role", "router"]).is_err());
    }
}
