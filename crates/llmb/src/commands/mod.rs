//! One async function per subcommand; `dispatch` picks it. Exit codes are defined here.

mod bench;
mod dataset;
mod import;
mod install;
mod jobs;
mod run_plan;
mod selfbench;
mod serve;
mod submit;

use llmb_settings::exit;

use crate::cli::{Cli, Command};

/// A process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(pub u8);

impl ExitStatus {
    /// Success.
    pub const OK: ExitStatus = ExitStatus(exit::OK);
    /// `--fail-if` held, or more than half of the requests failed.
    pub const THRESHOLD: ExitStatus = ExitStatus(exit::THRESHOLD);
    /// The client could not keep up: results invalid.
    pub const CLIENT_BOUND: ExitStatus = ExitStatus(exit::CLIENT_BOUND);
    /// Stopped by SIGTERM.
    pub const TERMINATED: ExitStatus = ExitStatus(exit::TERMINATED);
    /// Interrupted by Ctrl-C.
    pub const INTERRUPTED: ExitStatus = ExitStatus(exit::INTERRUPTED);
}

/// Bad input from the user (exit code 2): the settings crate's [`Invalid`](llmb_settings::Invalid).
pub use llmb_settings::invalid as bad;

/// Runs the chosen subcommand.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Bench(args) => bench::run(*args).await,
        Command::Profile(args) => {
            let argv: Vec<String> = std::env::args().collect();
            bench::run_settings(args.into_settings(&argv)?).await
        }
        Command::Dataset(args) => dataset::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Selfbench(args) => selfbench::run(args).await,
        Command::SelfbenchReader(args) => selfbench::reader(args).await,
        Command::BenchWorker { spec } => llmb_load::team::worker(&spec)
            .await
            .map(|()| ExitStatus::OK),
        Command::Init(args) => install::init(args).await,
        Command::List(args) => install::list(args).await,
        Command::Submit(args) => submit::run(*args).await,
        Command::Jobs(args) => jobs::run(args).await,
        Command::RunPlan(args) => run_plan::run(args).await,
        Command::PlanRank(args) => run_plan::rank(args).await,
    }
}
