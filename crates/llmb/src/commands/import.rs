//! `llmb import`: read another tool's report and write llmb's result files from it, so
//! offline trtllm-bench runs sit next to online `llmb bench` runs in the same format.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use llmb_report::run_dir::{self, PointDir};
use llmb_report::{summary_json, trtllm_bench_log};

use super::{bad, ExitStatus};
use crate::cli::import::{ImportArgs, ImportSource, TrtllmBenchImportArgs};

/// Runs `llmb import`.
pub async fn run(a: ImportArgs) -> anyhow::Result<ExitStatus> {
    match a.source {
        ImportSource::TrtllmBench(args) => trtllm_bench(args),
    }
}

fn trtllm_bench(a: TrtllmBenchImportArgs) -> anyhow::Result<ExitStatus> {
    let text =
        std::fs::read(&a.log).map_err(|e| bad(format!("cannot read {}: {e}", a.log.display())))?;
    // Logs can hold stray non-UTF-8 bytes (progress bars, binary noise): keep the rest.
    let text = String::from_utf8_lossy(&text);
    let report = trtllm_bench_log::parse(&text)
        .map_err(|e| bad(format!("cannot import {}: {e}", a.log.display())))?;
    let dir = PointDir::new(match &a.output_dir {
        Some(d) => d.clone(),
        None => {
            let now_s = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            run_dir::default_dir(
                &PathBuf::from("results"),
                &run_dir::stamp(now_s),
                "trtllm-bench",
            )
        }
    });
    std::fs::create_dir_all(&dir.dir)
        .with_context(|| format!("cannot create result folder {}", dir.dir.display()))?;
    let doc = summary_json::from_trtllm_bench(&report, &a.log.display().to_string());
    std::fs::write(dir.summary(), serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", dir.summary().display()))?;
    let overview = trtllm_bench_log::render(&report);
    std::fs::write(dir.overview(), &overview)
        .with_context(|| format!("cannot write {}", dir.overview().display()))?;
    if !a.quiet {
        writeln!(std::io::stdout().lock(), "{overview}")?;
    }
    writeln!(
        std::io::stderr().lock(),
        "imported trtllm-bench report ({} requests, {}) from {}\nresults: {}",
        report.request.num_requests,
        if report.streaming.is_some() {
            "streaming"
        } else {
            "not streaming: no TTFT/TPOT"
        },
        a.log.display(),
        dir.dir.display()
    )?;
    Ok(ExitStatus::OK)
}
