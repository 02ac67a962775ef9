//! `llmb import`: read another tool's report into llmb's result files (`llmb_report::import`).

use std::io::Write;
use std::path::PathBuf;

use llmb_report::import::{self, ImportError};
use llmb_report::run_dir::{self, PointDir};

use super::{bad, ExitStatus};
use crate::cli::import::{ImportArgs, ImportSource, TrtllmBenchImportArgs};

/// Runs `llmb import`.
pub async fn run(a: ImportArgs) -> anyhow::Result<ExitStatus> {
    match a.source {
        ImportSource::TrtllmBench(args) => trtllm_bench(args),
    }
}

fn trtllm_bench(a: TrtllmBenchImportArgs) -> anyhow::Result<ExitStatus> {
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
    let done = import::trtllm_bench(&a.log, &dir).map_err(|e| match e {
        ImportError::Input(m) => bad(m),
        ImportError::Output(m) => anyhow::anyhow!(m),
    })?;
    if !a.quiet {
        writeln!(std::io::stdout().lock(), "{}", done.overview)?;
    }
    writeln!(
        std::io::stderr().lock(),
        "{}\nresults: {}",
        done.describe(&a.log),
        dir.dir.display()
    )?;
    Ok(ExitStatus::OK)
}
