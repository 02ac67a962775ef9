//! What is asked: one requested run before validation, and what validation consults.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::types::GpuType;
use crate::workload::Catalog;

/// One requested run, before validation (from `llmb submit` flags or a bulk file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunRequest {
    /// Workload key (`inference_llama3.3`).
    pub workload: String,
    /// Model size (`70b`).
    pub model_size: String,
    /// Dtype as typed by the user (`nvfp4`).
    pub dtype: String,
    /// Total GPUs.
    pub scale: u32,
    /// Profile this run (`ENABLE_PROFILE=true`).
    pub profile: bool,
    /// Repeat index, 0-based.
    pub repeat: u32,
    /// Task environment overrides (bulk `env:`); win over the shell.
    pub env: BTreeMap<String, String>,
    /// Model overrides (bulk `params:`); exported with uppercased names (`tp` → `TP`) and win
    /// over `env`.
    pub params: BTreeMap<String, String>,
}

/// What validation needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct ValidateContext<'a> {
    /// All known workloads.
    pub catalog: &'a Catalog,
    /// `workloads.installed` from the cluster config; `None` = do not check.
    pub installed: Option<&'a [String]>,
    /// The cluster's GPU type.
    pub gpu_type: &'a GpuType,
    /// GPUs per node from the cluster config (`None` = the GPU type's default).
    pub gpus_per_node: Option<u32>,
    /// The submitting shell's environment (knobs are read from it; nothing reads the process env).
    pub env: &'a BTreeMap<String, String>,
    /// llmb-run's `--force`: the installed and scale checks become warnings. GPU type, size
    /// and dtype must still resolve (there is nothing to run otherwise).
    pub force: bool,
}
