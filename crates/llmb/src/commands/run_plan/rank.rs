//! `llmb plan-rank`: one rank of a simulated server inside an srun step.

use super::*;
use crate::cli::launch::PlanRankArgs;
use crate::commands::bad;

/// `llmb plan-rank`: one rank of a server inside an srun step. Records where it runs
/// (`ranks/<server>-rank<R>.json` in the run folder); rank 0 becomes the engine, the other
/// ranks hold their place until stopped (the simulator is a single process).
pub async fn rank(a: PlanRankArgs) -> anyhow::Result<ExitStatus> {
    let plan = read_plan(&a.plan)?;
    let server = plan
        .use_cases
        .get(a.use_case)
        .and_then(|u| u.servers.get(a.server))
        .ok_or_else(|| {
            bad(format!(
                "{}: no server {}/{}",
                a.plan.display(),
                a.use_case,
                a.server
            ))
        })?;
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let rank: u32 = var("SLURM_PROCID").parse().unwrap_or(0);
    let dir = plan.run_dir.join("ranks");
    std::fs::create_dir_all(&dir)?;
    let record = serde_json::json!({
        "server": server.name,
        "rank": rank,
        "node": var("SLURMD_NODENAME"),
        "local_rank": var("SLURM_LOCALID"),
        "gpus": var("CUDA_VISIBLE_DEVICES"),
    });
    std::fs::write(
        dir.join(format!("{}-rank{rank}.json", server.name)),
        record.to_string(),
    )?;
    if rank == 0 {
        use std::os::unix::process::CommandExt;
        let err = std::process::Command::new(&plan.llmb)
            .args(&a.engine_args)
            .exec();
        return Err(anyhow::anyhow!(
            "cannot exec {}: {err}",
            plan.llmb.display()
        ));
    }
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(ExitStatus::OK)
}
