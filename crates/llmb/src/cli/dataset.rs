//! `llmb dataset`: arguments of the trtllm-bench dataset writer.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// What each line of the dataset holds.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DatasetFormatArg {
    /// trtllm-bench: {"task_id":i,"input_ids":[...],"output_tokens":N}, random ids.
    Trtllm,
    /// {"task_id":i,"prompt":"...","output_tokens":N}, text of exactly ISL tokens.
    Prompts,
}

/// `llmb dataset` arguments.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  llmb dataset --isl 8000 --osl 512 --num-requests 50000 -o dataset_summarization_8000_512.txt
  llmb dataset --tokenizer /models/Llama3.3_70B --isl 1000 --osl 1000 --num-requests 50000 -o ds.txt
  llmb dataset --isl 128 --isl-stddev 32 --osl 128 --num-requests 100 --format prompts -o -
  llmb bench --url http://host:8000 --dataset ds.txt --endpoint completions   replay it online

The trtllm format is what `prepare_dataset.py --stdout token-norm-dist` writes for `trtllm-bench
--dataset`: token ids go to the engine as they are, so it sees exactly the drawn lengths.")]
pub struct DatasetArgs {
    /// Tokenizer: a tokenizer.json or a model folder holding one (default: built-in cl100k_base).
    /// Ids are drawn from its vocabulary, never its special tokens (EOS, BOS, chat markers).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Input length in tokens (mean when --isl-stddev > 0).
    #[arg(long, default_value_t = 128, allow_negative_numbers = true)]
    pub isl: i64,
    /// Output length in tokens, written as output_tokens.
    #[arg(long, default_value_t = 128, allow_negative_numbers = true)]
    pub osl: i64,
    /// Standard deviation of input lengths: max(1, ceil(normal(isl, stddev))), as token-norm-dist.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub isl_stddev: f64,
    /// Standard deviation of output lengths.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub osl_stddev: f64,
    /// Lines to write.
    #[arg(long, default_value_t = 1000)]
    pub num_requests: u64,
    /// Seed: same seed, byte-identical file (and the lengths `llmb bench --seed` draws).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// File to write (`-` = stdout).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Line format.
    #[arg(long, value_enum, default_value_t = DatasetFormatArg::Trtllm)]
    pub format: DatasetFormatArg,
    /// No progress bar and no closing summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}
