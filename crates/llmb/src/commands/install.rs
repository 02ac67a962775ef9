//! `llmb init` (asks for what the flags left out, then `llmb_launch::install::init`) and
//! `llmb list` (the workloads this install can run).

use std::io::Write;

use llmb_launch::install::{self, InitOptions, Install, LAYOUT};

use super::{bad, ExitStatus};
use crate::cli::launch::{InitArgs, ListArgs};

/// In a terminal, asks for what the flags left out (the install folder and GPU type, then
/// the optional Slurm account and partition); elsewhere, names the missing flags.
fn ask_for_missing(a: &mut InitArgs) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal};
    let interactive = std::io::stdin().is_terminal();
    let missing: Vec<&str> = [
        (a.install_dir.is_none(), "--install-dir DIR"),
        (
            a.gpu_type.is_none(),
            "--gpu-type h100|b200|b300|gb200|gb300",
        ),
    ]
    .iter()
    .filter(|(m, _)| *m)
    .map(|(_, f)| *f)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !interactive {
        return Err(bad(format!(
            "llmb init needs {} (not a terminal, so nothing is asked)",
            missing.join(" and ")
        )));
    }
    let ask = |question: &str| -> anyhow::Result<Option<String>> {
        let mut err = std::io::stderr().lock();
        write!(err, "{question}: ")?;
        err.flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let v = line.trim().to_owned();
        Ok((!v.is_empty()).then_some(v))
    };
    if a.install_dir.is_none() {
        a.install_dir = ask("Install folder (becomes $LLMB_INSTALL)")?.map(Into::into);
    }
    if a.gpu_type.is_none() {
        a.gpu_type = ask("GPU type of the cluster (h100, b200, b300, gb200, gb300)")?;
    }
    if a.account.is_none() {
        a.account = ask("Slurm account (empty: none)")?;
    }
    if a.partition.is_none() {
        a.partition = ask("Slurm GPU partition (empty: the default)")?;
    }
    if a.install_dir.is_none() || a.gpu_type.is_none() {
        return Err(bad("llmb init needs an install folder and a GPU type"));
    }
    Ok(())
}

/// `llmb init`.
pub async fn init(mut a: InitArgs) -> anyhow::Result<ExitStatus> {
    ask_for_missing(&mut a)?;
    let (Some(install_dir), Some(gpu_type)) = (a.install_dir.clone(), a.gpu_type.clone()) else {
        unreachable!("ask_for_missing fills both or fails");
    };
    let (dir, path) = install::init(&InitOptions {
        install_dir,
        gpu_type,
        account: a.account,
        partition: a.partition,
        gpus_per_node: a.gpus_per_node,
        force: a.force,
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Created {} ({})", dir.display(), LAYOUT.join(", "))?;
    writeln!(out, "Wrote {}", path.display())?;
    writeln!(out, "Next: export LLMB_INSTALL={}", dir.display())?;
    Ok(ExitStatus::OK)
}

/// `llmb list`.
pub async fn list(a: ListArgs) -> anyhow::Result<ExitStatus> {
    let install = Install::locate()?;
    let catalog = install.catalog()?;
    let gpu = &install.config.gpu_type;
    if let Some(w) = &a.workload {
        if catalog.get(w).is_none() {
            return Err(bad(format!(
                "unknown workload `{w}`. Available workloads: {}",
                catalog.keys().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Workloads for GPU type {gpu} ({}):",
        install.config_path.display()
    )?;
    let mut shown = 0;
    for w in catalog.iter() {
        if a.workload.as_deref().is_some_and(|k| k != w.key) {
            continue;
        }
        if !install.config.is_installed(&w.key) {
            continue;
        }
        let Some(cfg) = w.recipe.gpus.get(gpu) else {
            if a.workload.is_some() {
                let gpus: Vec<String> = w.recipe.gpus.keys().map(ToString::to_string).collect();
                return Err(bad(format!(
                    "workload `{}` does not support GPU type `{gpu}`. Supported GPU types: {}",
                    w.key,
                    gpus.join(", ")
                )));
            }
            continue;
        };
        shown += 1;
        writeln!(out, "  {}", w.key)?;
        for (size, dtypes) in &cfg.model_sizes {
            for (dtype, scales) in dtypes {
                let list: Vec<String> = scales.scales.iter().map(ToString::to_string).collect();
                writeln!(
                    out,
                    "    {size}  {dtype}  scales: {}{}",
                    list.join(", "),
                    if scales.exact_scales { " (exact)" } else { "" }
                )?;
            }
        }
    }
    if shown == 0 {
        writeln!(out, "  (none support {gpu})")?;
    }
    Ok(ExitStatus::OK)
}
