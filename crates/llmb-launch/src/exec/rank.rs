//! `llmb plan-rank`: one rank of a simulated server inside an srun step.

use std::path::Path;

use llmb_settings::invalid;

use super::read_plan;
use super::stop::Stop;

/// One rank of server `server` of use case `use_case` inside an srun step. Records where
/// it runs (`ranks/<server>-rank<R>.json` in the run folder); rank 0 becomes the engine
/// (`llmb ENGINE_ARGS`, exec'd: it never returns then), the other ranks hold their place
/// until stopped (the simulator is a single process).
///
/// # Errors
/// A plan without that server ([`Invalid`](llmb_settings::Invalid)), a run folder that
/// cannot be written, an engine that cannot be exec'd.
pub fn rank(
    plan_path: &Path,
    use_case: usize,
    server: usize,
    engine_args: &[String],
) -> anyhow::Result<()> {
    let plan = read_plan(plan_path)?;
    let server = plan
        .use_cases
        .get(use_case)
        .and_then(|u| u.servers.get(server))
        .ok_or_else(|| {
            invalid(format!(
                "{}: no server {use_case}/{server}",
                plan_path.display()
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
            .args(engine_args)
            .exec();
        return Err(anyhow::anyhow!(
            "cannot exec {}: {err}",
            plan.llmb.display()
        ));
    }
    Stop::install(|_| {})?.wait();
    Ok(())
}
