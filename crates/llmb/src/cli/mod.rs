//! Command-line types (clap derive only): what the user may type, documented on the fields.

pub mod aiperf;
pub mod bench;
pub mod dataset;
pub mod import;
pub mod launch;
pub mod llmb_run;
pub mod selfbench;
pub mod serve;
pub mod vllm;

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
  llmb bench --url http://127.0.0.1:8000 --isl 128 --osl 64 --concurrency 16 --num-requests 200
  llmb bench --url http://host:8000 --concurrency 512 --workers 4   one schedule, 4 client processes
  llmb bench serve --model m --num-prompts 100 --save-result      a `vllm bench serve` command line
  llmb profile -m m --streaming --concurrency 4 --output-tokens-mean 128   an `aiperf profile` line
  llmb dataset --isl 8000 --osl 512 --num-requests 50000 -o ds.txt   a trtllm-bench dataset
  llmb import trtllm-bench run_1234.out        trtllm-bench's report as llmb result files
  llmb selfbench --quick                       llmb's client against a minimal reference reader
  llmb init --install-dir /lustre/llmb --gpu-type gb200     then: export LLMB_INSTALL=/lustre/llmb
  llmb submit -w inference_llama3.3 -s 70b --dtype nvfp4 --scale 1 --engine sim
  llmb jobs list";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate load against an OpenAI-compatible server and report every tool's metrics.
    Bench(Box<bench::BenchArgs>),
    /// Run an `aiperf profile` command line (change `aiperf` to `llmb`): AIPerf's options,
    /// defaults and export files.
    Profile(Box<aiperf::AiperfProfileArgs>),
    /// Write a trtllm-bench dataset file: random token ids (or exact-length prompts) of drawn lengths.
    Dataset(dataset::DatasetArgs),
    /// Read another tool's report into llmb result files (`llmb import trtllm-bench LOG`).
    Import(import::ImportArgs),
    /// Start an engine (the embedded simulator: `llmb serve sim`).
    Serve(serve::ServeArgs),
    /// Measure llmb's own client against a minimal reference reader (docs/PERFORMANCE.md).
    Selfbench(selfbench::SelfbenchArgs),
    /// Create an install folder ($LLMB_INSTALL) and its cluster_config.yaml.
    Init(launch::InitArgs),
    /// Workloads available for the cluster's GPU type: sizes, dtypes, scales.
    List(launch::ListArgs),
    /// Validate a run, resolve it into a plan and launch it (Slurm or local).
    Submit(Box<launch::SubmitArgs>),
    /// Submitted jobs: list, show, log, cancel, refresh.
    Jobs(launch::JobsArgs),
    /// Execute a plan (run inside the Slurm job, or by the local launcher).
    #[command(hide = true)]
    RunPlan(launch::RunPlanArgs),
    /// One rank of a planned server (started by srun).
    #[command(hide = true)]
    PlanRank(launch::PlanRankArgs),
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
