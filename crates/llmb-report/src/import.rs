//! Another tool's report read into llmb's result files, so offline trtllm-bench runs sit
//! next to online `llmb bench` runs in the same format: `summary.json` (the same keys,
//! trtllm-bench's definitions) and its PERFORMANCE OVERVIEW as trtllm-bench printed it.
//! `llmb import` and a plan's offline step both call it.

use std::path::Path;

use crate::run_dir::PointDir;
use crate::run_summary::RunSummary;
use crate::trtllm_bench_log::{self, TrtllmBenchReport};

/// What an import read and wrote.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The report as parsed.
    pub report: TrtllmBenchReport,
    /// The PERFORMANCE OVERVIEW written.
    pub overview: String,
}

impl Imported {
    /// One line saying what was imported from where.
    pub fn describe(&self, log: &Path) -> String {
        format!(
            "imported trtllm-bench report ({} requests, {}) from {}",
            self.report.request.num_requests,
            if self.report.streaming.is_some() {
                "streaming"
            } else {
                "not streaming: no TTFT/TPOT"
            },
            log.display()
        )
    }
}

/// Reads trtllm-bench's log or report at `log` and writes `summary.json` and
/// `performance_overview.txt` into `dir` (created).
///
/// # Errors
/// An unreadable log, one without a report, or a folder that cannot be written; the path
/// is named.
pub fn trtllm_bench(log: &Path, dir: &PointDir) -> Result<Imported, ImportError> {
    let bytes = std::fs::read(log)
        .map_err(|e| ImportError::Input(format!("cannot read {}: {e}", log.display())))?;
    // Logs can hold stray non-UTF-8 bytes (progress bars, binary noise): keep the rest.
    let text = String::from_utf8_lossy(&bytes);
    let report = trtllm_bench_log::parse(&text)
        .map_err(|e| ImportError::Input(format!("cannot import {}: {e}", log.display())))?;
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes)
            .map_err(|e| ImportError::Output(format!("cannot write {}: {e}", path.display())))
    };
    std::fs::create_dir_all(&dir.dir).map_err(|e| {
        ImportError::Output(format!(
            "cannot create result folder {}: {e}",
            dir.dir.display()
        ))
    })?;
    let doc = RunSummary::from_trtllm_bench(&report, &log.display().to_string());
    write(&dir.summary(), &doc.to_json())?;
    let overview = trtllm_bench_log::render(&report);
    write(&dir.overview(), overview.as_bytes())?;
    Ok(Imported { report, overview })
}

/// Why an import failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The log: unreadable, or no report in it (the user's to fix).
    #[error("{0}")]
    Input(String),
    /// The result folder cannot be written.
    #[error("{0}")]
    Output(String),
}
