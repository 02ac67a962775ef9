//! Command-line types (clap derive only): what the user may type, documented on the fields.

pub mod bench;
pub mod selfbench;
pub mod serve;

use clap::{Parser, Subcommand};

/// Benchmark LLM inference servers: a load generator, a simulated engine, every tool's metrics.
#[derive(Debug, Parser)]
#[command(name = "llmb", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "Examples:
  llmb bench                                   benchmark the embedded simulated engine (zero setup)
  llmb serve sim --port 8000 --ttft-ms 50 --itl-ms 10
  llmb bench --url http://127.0.0.1:8000 --isl 128 --osl 64 --concurrency 16 --num-requests 200";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate load against an OpenAI-compatible server and report every tool's metrics.
    Bench(Box<bench::BenchArgs>),
    /// Start an engine (the embedded simulator: `llmb serve sim`).
    Serve(serve::ServeArgs),
    /// Measure llmb's own client against a minimal reference reader (docs/PERFORMANCE.md).
    Selfbench(selfbench::SelfbenchArgs),
    /// The reference reader alone (run by `llmb selfbench`).
    #[command(hide = true)]
    SelfbenchReader(selfbench::ReaderArgs),
    /// One client process of `llmb bench --workers K` (started by it).
    #[command(hide = true)]
    BenchWorker {
        /// The worker spec written by the parent.
        spec: std::path::PathBuf,
    },
}
