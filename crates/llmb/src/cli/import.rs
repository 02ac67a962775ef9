//! `llmb import`: arguments for reading another tool's results into llmb's result files.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `llmb import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Whose results.
    #[command(subcommand)]
    pub source: ImportSource,
}

/// Tools whose results can be imported.
#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// trtllm-bench's report: its printed stdout (the run's .out file) or its --report_json file.
    #[command(
        name = "trtllm-bench",
        after_help = "Examples:
  llmb import trtllm-bench Llama3.3-70B_TP1_EP1_PP1_CON-1_reasoning_streaming-on_1234.out
  llmb import trtllm-bench report.json --output-dir results/offline-reasoning

Writes summary.json (same keys as `llmb bench`, \"source\": \"trtllm-bench\", trtllm-bench's
definitions; what it does not report is absent) and performance_overview.txt into the folder."
    )]
    TrtllmBench(TrtllmBenchImportArgs),
}

/// `llmb import trtllm-bench` arguments.
#[derive(Debug, Args)]
pub struct TrtllmBenchImportArgs {
    /// trtllm-bench's stdout log, or the file it wrote with --report_json.
    pub log: PathBuf,
    /// Result folder (default: results/<timestamp>-trtllm-bench).
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Do not print the report on stdout.
    #[arg(long, short)]
    pub quiet: bool,
}
