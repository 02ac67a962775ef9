//! `llmb run-plan` and `llmb plan-rank`: the plan executor (`llmb_launch::exec`), run off
//! the async runtime; here only the exit codes.

use llmb_launch::exec::{self, Outcome};

use super::ExitStatus;
use crate::cli::launch::{PlanRankArgs, RunPlanArgs};

/// Runs `llmb run-plan`.
pub async fn run(a: RunPlanArgs) -> anyhow::Result<ExitStatus> {
    let outcome = tokio::task::spawn_blocking(move || exec::run(&a.plan)).await??;
    Ok(match outcome {
        Outcome::Completed => ExitStatus::OK,
        Outcome::Interrupted("SIGINT") => ExitStatus::INTERRUPTED,
        Outcome::Interrupted(_) => ExitStatus::TERMINATED,
    })
}

/// Runs `llmb plan-rank`.
pub async fn rank(a: PlanRankArgs) -> anyhow::Result<ExitStatus> {
    tokio::task::spawn_blocking(move || exec::rank(&a.plan, a.use_case, a.server, &a.engine_args))
        .await??;
    Ok(ExitStatus::OK)
}
