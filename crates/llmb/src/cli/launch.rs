//! `llmb init`, `list`, `submit`, `jobs` and the hidden `run-plan` / `plan-rank`: arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// `llmb init`: create an install folder.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  llmb init --install-dir /lustre/llmb --gpu-type gb200 --account my_acct --partition batch
  export LLMB_INSTALL=/lustre/llmb")]
pub struct InitArgs {
    /// The install folder (`$LLMB_INSTALL`); created if missing. Asked for in a terminal.
    #[arg(long)]
    pub install_dir: Option<PathBuf>,
    /// The cluster's GPU type: h100, b200, b300, gb200, gb300, ... Asked for in a terminal.
    #[arg(long)]
    pub gpu_type: Option<String>,
    /// Slurm account (exported as SBATCH_ACCOUNT).
    #[arg(long)]
    pub account: Option<String>,
    /// Slurm GPU partition (exported as SBATCH_PARTITION).
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per node, when not the GPU type's default (gb200 4, h100/b200 8).
    #[arg(long)]
    pub gpus_per_node: Option<u32>,
    /// Replace an existing cluster_config.yaml.
    #[arg(long)]
    pub force: bool,
}

/// `llmb list`: workloads for the cluster's GPU type.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this workload.
    #[arg(short, long)]
    pub workload: Option<String>,
}

/// Where a submission runs.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LauncherArg {
    /// sbatch on the Slurm cluster.
    Slurm,
    /// Child processes on this machine, in the foreground.
    Local,
}

/// Which engine serves.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EngineArg {
    /// The recipe's engine.
    Recipe,
    /// The embedded simulated engine (no GPU needed).
    Sim,
}

/// `llmb submit`: validate a run, resolve it into a plan and launch it.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  llmb submit -w inference_llama3.3 -s 70b --dtype nvfp4 --scale 1 --dry-run
  USE_CASES=chat:128/128 NUM_REQUESTS=40 llmb submit -w inference_llama3.3 -s 70b --dtype nvfp4 --scale 1 --engine sim
  llmb submit -w inference_llama3.3 -s 70b --dtype nvfp4 --scale 1 --engine sim --launcher local
  llmb submit -w inference_deepseek-r1-dynamo -s 671b --dtype nvfp4 --scale 32 --engine sim
  MODEL_PATH=model.gguf TOKENIZER=tokenizer.json llmb submit -w inference_smollm2-llamacpp -s 135m --dtype q4 --scale 1 --launcher local
  llmb submit --file bulk.yaml --dry-run

Knobs are read from the environment as the seed recipes do: USE_CASES, MAX_BATCH_SIZE,
MAX_NUM_TOKENS, KV_CACHE_FRACTION, NUM_REQUESTS, CONCURRENCY, STREAMING, TP, EP, PP, ISL, OSL,
NCTX/NGEN and CTX_*/GEN_* (Dynamo pools), SBATCH_*; MODEL_PATH (weights, or the GGUF file),
TOKENIZER (for exact input lengths), LLAMA_THREADS. SIM_ARGS adds arguments to `llmb serve sim`
(with --engine sim). --dry-run prints every engine's command line, environment and generated
files. Engines that cannot start here (a program not on PATH, a container image without Slurm
and pyxis) are refused before anything is submitted.")]
pub struct SubmitArgs {
    /// Workload key (`inference_llama3.3`); see `llmb list`.
    #[arg(short, long, required_unless_present = "file")]
    pub workload: Option<String>,
    /// Model size (`70b`).
    #[arg(short = 's', long, required_unless_present = "file")]
    pub model_size: Option<String>,
    /// Dtype (`nvfp4`).
    #[arg(long, required_unless_present = "file")]
    pub dtype: Option<String>,
    /// Total GPUs.
    #[arg(long, required_unless_present = "file")]
    pub scale: Option<u32>,
    /// Use case `name:ISL/OSL` (repeatable; replaces USE_CASES).
    #[arg(long = "use-case", value_name = "NAME:ISL/OSL")]
    pub use_cases: Vec<String>,
    /// Print the sbatch script and command; submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit this many identical runs (each with its own folders).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeats: u32,
    /// Profile the run (ENABLE_PROFILE=true).
    #[arg(short, long)]
    pub profile: bool,
    /// Skip the installed and scale checks (warnings instead).
    #[arg(short, long)]
    pub force: bool,
    /// Engine to serve with.
    #[arg(long, value_enum, default_value_t = EngineArg::Recipe)]
    pub engine: EngineArg,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = LauncherArg::Slurm)]
    pub launcher: LauncherArg,
    /// A bulk file (llmb-run's simple format, or advanced YAML) expanding into many runs.
    #[arg(long, conflicts_with_all = ["workload", "model_size", "dtype", "scale"])]
    pub file: Option<PathBuf>,
}

/// `llmb jobs`.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: JobsAction,
}

/// `llmb jobs ...` actions.
#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Jobs, newest first (states refreshed from Slurm first).
    List {
        /// Only this workload.
        #[arg(short, long)]
        workload: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One job: its record, folders and, when it failed, the log tail.
    Show {
        /// Job id.
        id: String,
    },
    /// The job's log.
    Log {
        /// Job id.
        id: String,
        /// Keep printing until the job ends.
        #[arg(long)]
        follow: bool,
    },
    /// Cancel a Slurm job and wait for its final state.
    Cancel {
        /// Job id.
        id: String,
    },
    /// Update unfinished jobs from Slurm.
    Refresh,
}

/// `llmb run-plan PLAN`: execute a plan (inside a Slurm job, or as the local launcher).
#[derive(Debug, Args)]
pub struct RunPlanArgs {
    /// The plan.json written by `llmb submit`.
    pub plan: PathBuf,
}

/// `llmb plan-rank PLAN USE_CASE SERVER`: one rank of a server, started by srun.
#[derive(Debug, Args)]
pub struct PlanRankArgs {
    /// The plan.json.
    pub plan: PathBuf,
    /// Use-case index.
    pub use_case: usize,
    /// Server index within the use case.
    pub server: usize,
    /// What rank 0 runs: the `llmb` arguments of the simulated engine (after `--`).
    #[arg(last = true)]
    pub engine_args: Vec<String>,
}
