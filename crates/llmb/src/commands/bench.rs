//! `llmb bench`: resolve the settings, run each point through `llmb_bench`, print its
//! reports and verdict, and pick the exit code.

use std::io::Write;
use std::sync::Arc;

use llmb_bench::{PointStatus, Resolved, Session};
use llmb_load::progress::Progress;
use llmb_report::run_dir;
use llmb_report::sweep::SweepSummary;
use llmb_settings::BenchSettings;

use super::ExitStatus;
use crate::cli::bench::{BenchArgs, BenchCompat};
use crate::live::Live;

/// The run's settings: `--settings` (a plan's load step, `--url` and `--header` from the
/// command line on top), else the options.
fn settings(mut args: BenchArgs) -> anyhow::Result<BenchSettings> {
    if let Some(BenchCompat::Serve(v)) = args.compat.take() {
        return v.into_settings();
    }
    let Some(path) = args.settings.clone() else {
        return Ok(args.into_settings());
    };
    let mut s = llmb_bench::read_settings(&path)?;
    if args.url.is_some() {
        s.url = args.url;
    }
    s.headers = args.headers;
    Ok(s)
}

/// Runs `llmb bench`.
pub async fn run(args: BenchArgs) -> anyhow::Result<ExitStatus> {
    run_settings(settings(args)?).await
}

/// Runs one benchmark from its settings (`llmb bench`, `llmb bench serve`, `llmb profile`).
pub async fn run_settings(settings: BenchSettings) -> anyhow::Result<ExitStatus> {
    let run = Resolved::new(settings)?;
    let exe = std::env::current_exe()?;
    let session = Session::open(run, &exe).await?;
    let a = &session.run.settings;
    let points = session.points();
    let (interrupt_tx, interrupt_rx) = tokio::sync::watch::channel(false);
    // SIGINT, SIGTERM, SIGHUP: stop sending, let in-flight requests finish for the grace
    // period, write everything, exit 128 + the signal. A second one ends at once.
    let stop = llmb_signals::Stop::install(move |_| {
        let _ = interrupt_tx.send(true);
    })?;
    let mut status = ExitStatus::OK;
    let mut sweep = SweepSummary::new(Vec::new());
    for point in &points {
        let progress = Arc::new(Progress::default());
        let live = Live::start(
            progress.clone(),
            point.label.clone(),
            a.quiet || a.workers > 1 || a.vllm.as_ref().is_some_and(|v| v.disable_tqdm),
        );
        let done = session
            .run_point(point, progress, interrupt_rx.clone())
            .await;
        live.finish().await;
        let done = done?;
        done.write()?;
        if !a.quiet {
            if let Some(line) = done.server_line() {
                writeln!(std::io::stderr(), "{line}")?;
            }
            write!(std::io::stdout().lock(), "{}", done.stdout(a.format))?;
        }
        let verdict = done.verdict(&session.run.fail_if, a.quiet);
        let mut err = std::io::stderr().lock();
        for line in &verdict.lines {
            writeln!(err, "{line}")?;
        }
        drop(err);
        if points.len() > 1 {
            sweep.points.push(done.sweep_row());
            sweep.write(&run_dir::sweep_summary(&session.top))?;
        }
        if status == ExitStatus::OK {
            status = match verdict.status {
                PointStatus::Ok => ExitStatus::OK,
                PointStatus::Threshold => ExitStatus::THRESHOLD,
                PointStatus::ClientBound => ExitStatus::CLIENT_BOUND,
            };
        }
        if done.result.interrupted {
            return Ok(match (stop.signal(), &done.result.stopped) {
                (Some(sig), _) => ExitStatus(llmb_signals::exit_code(sig)),
                (None, Some(_)) => status,
                (None, None) => ExitStatus::INTERRUPTED,
            });
        }
    }
    Ok(status)
}
