//! What an `aiperf profile` command line asks of the results besides the load: the
//! artifact folder and its files, the goodput SLOs, and the resolved configuration AIPerf
//! writes as `input_config`. Resolved once from `llmb profile`'s options.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The aiperf outputs of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiperfOutput {
    /// The artifact folder, resolved (AIPerf's name under `artifacts/`, or `--artifact-dir`
    /// as given).
    pub artifact_dir: PathBuf,
    /// Write the per-request `profile_export.jsonl` (`--export-level records`).
    pub records: bool,
    /// `--goodput` SLOs: metric tag and limit in its display unit.
    pub goodput: Vec<(String, f64)>,
    /// The run's configuration as AIPerf writes it (`input_config`).
    pub input_config: serde_json::Value,
    /// The command line, for `run_info.cli_command` (secrets redacted).
    pub cli_command: String,
    /// `--random-seed`.
    pub random_seed: Option<u64>,
}
