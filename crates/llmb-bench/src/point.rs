//! One finished load point: its records, metrics, warnings and client verdict; the files
//! it writes (through the report crate's exporters), what it tells the user, and its row
//! in a sweep.

use llmb_engines::telemetry::{Scrape, ServerView};
use llmb_load::driver::LoadResult;
use llmb_load::verdict::{self, ClientBound};
use llmb_metrics::percentile::Method;
use llmb_metrics::{per_gpu, FailIf, Summary, Warning};
use llmb_report::export::{self, PointReport};
use llmb_report::run_summary::{Brief, ClientSummary};
use llmb_report::sweep::{finite, SweepRow};
use llmb_report::RunInfo;
use llmb_settings::ReportFormat;
use serde_json::Value;

use crate::session::Point;

/// How a point went, worst last: the run's exit code comes from its first point that
/// was not [`PointStatus::Ok`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointStatus {
    /// Valid results, no threshold crossed.
    Ok,
    /// `--fail-if` held, or more than half of the requests failed.
    Threshold,
    /// The client could not keep up: results invalid.
    ClientBound,
}

/// What a point tells the user on stderr, and its status.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Lines, in order: failures, warnings, client lag, the client verdict, thresholds,
    /// the result folder.
    pub lines: Vec<String>,
    /// The point's status.
    pub status: PointStatus,
}

/// A finished point.
#[derive(Debug)]
pub struct PointRun {
    /// The point.
    pub point: Point,
    /// Its `config.json`.
    pub config: Value,
    /// Facts the formats print.
    pub info: RunInfo,
    /// Its metrics.
    pub summary: Summary,
    /// The load's records, window and client figures.
    pub result: LoadResult,
    /// Warnings about the data.
    pub warnings: Vec<Warning>,
    /// The client's figures and why it could not keep up (`client_bound`, empty when it
    /// did), as `summary.json` gives them.
    pub client: ClientSummary,
    /// Why the run stopped by itself, said in words.
    pub stopped: Option<String>,
    /// The server's scrapes, when taken.
    pub scrapes: Option<Vec<Scrape>>,
    /// What the scrapes say.
    pub server: Option<ServerView>,
    /// The outputs a `vllm bench serve` command line asked for.
    pub vllm: Option<llmb_settings::vllm::VllmOutput>,
    /// The outputs an `aiperf profile` command line asked for.
    pub aiperf: Option<llmb_settings::aiperf::AiperfOutput>,
}

impl PointRun {
    /// Judges the data and the client.
    pub fn new(
        point: Point,
        config: Value,
        info: RunInfo,
        summary: Summary,
        result: LoadResult,
        scrapes: Option<Vec<Scrape>>,
        server: Option<ServerView>,
    ) -> PointRun {
        let warnings = llmb_metrics::warnings::collect(
            &summary,
            &result.records,
            result.interrupted && result.stopped.is_none(),
        );
        let client_bound = verdict::judge(
            &result.client,
            &summary.send_lag_ms,
            &summary.client_lag_ms,
            &summary.connect_wait_ms,
        );
        let lag = &summary.client_lag_ms;
        let c = &result.client;
        let client = ClientSummary {
            cpu_s: c.cpu_s,
            wall_s: c.wall_s,
            threads: c.threads,
            cpu_busy: c.busy(),
            timer_lag_ms: Brief::of(&c.loop_lag_ms),
            client_lag_ms: (!lag.is_empty()).then(|| Brief::of(lag)),
            valid: client_bound.is_empty(),
            client_bound,
        };
        let stopped = result.stopped.as_ref().map(ToString::to_string);
        PointRun {
            stopped,
            point,
            config,
            info,
            summary,
            result,
            warnings,
            client,
            scrapes,
            server,
            vllm: None,
            aiperf: None,
        }
    }

    /// The exporters' view of this point.
    pub fn report(&self) -> PointReport<'_> {
        PointReport {
            summary: &self.summary,
            records: &self.result.records,
            info: &self.info,
            config: &self.config,
            client: &self.client,
            warnings: &self.warnings,
            interrupted: self.result.interrupted,
            stopped: self.stopped.as_deref(),
            scrapes: self.scrapes.as_deref(),
            server: self.server.as_ref(),
            isl: self.point.isl,
            osl: self.point.osl,
            vllm: self.vllm.as_ref(),
            aiperf: self.aiperf.as_ref(),
        }
    }

    /// Writes every file of the point into its folder (`config.json` and `records.jsonl`
    /// are already there).
    ///
    /// # Errors
    /// A file that cannot be written, named.
    pub fn write(&self) -> std::io::Result<()> {
        export::write_point(&self.report(), &self.point.dir)?;
        if let Some(o) = self.vllm.as_ref().filter(|o| o.writes_file()) {
            let text = std::fs::read(self.point.dir.vllm_json())?;
            llmb_report::vllm::write_result_file(o, &self.info, &text)?;
        }
        if let Some(o) = &self.aiperf {
            let dir = &self.point.dir;
            let mut files = vec![
                (dir.aiperf_json(), "profile_export_aiperf.json"),
                (dir.aiperf_csv(), "profile_export_aiperf.csv"),
            ];
            if o.records {
                files.push((dir.aiperf_jsonl(), "profile_export.jsonl"));
            }
            for (from, name) in files {
                let to = o.artifact_dir.join(name);
                std::fs::copy(&from, &to).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot write {}: {e}", to.display()))
                })?;
            }
        }
        Ok(())
    }

    /// The reports `format` puts on stdout.
    pub fn stdout(&self, format: ReportFormat) -> String {
        export::stdout_text(&self.report(), format)
    }

    /// One line comparing the server's token count with the client's, when scraped.
    pub fn server_line(&self) -> Option<String> {
        let v = self.server.as_ref()?;
        let g = v.generated_tokens?;
        Some(format!(
            "server view ({} scrapes of /metrics): {g:.0} tokens generated (client counted {}), mean {:.1} running, max {:.0} waiting",
            v.samples,
            self.summary.total_output_tokens,
            v.mean_running.unwrap_or(0.0),
            v.max_waiting.unwrap_or(0.0)
        ))
    }

    /// What to tell the user, and the status: failures, warnings, the client lag (unless
    /// `quiet`), the client verdict, more than half failed, each `--fail-if` that held.
    pub fn verdict(&self, fail_if: &[FailIf], quiet: bool) -> Verdict {
        let s = &self.summary;
        let mut lines = Vec::new();
        let mut status = PointStatus::Ok;
        if s.failed() > 0 {
            let kinds: Vec<String> = s.failures.iter().map(|(k, n)| format!("{k} {n}")).collect();
            lines.push(format!(
                "failed requests: {} of {} ({})",
                s.failed(),
                s.requests,
                kinds.join(", ")
            ));
        }
        lines.extend(self.warnings.iter().map(|w| format!("warning: {w}")));
        let lag = &s.client_lag_ms;
        if !lag.is_empty() && !quiet {
            lines.push(format!(
                "client lag behind the engine's send stamps: mean {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                lag.mean(),
                lag.percentile(99.0, Method::Linear),
                lag.max()
            ));
        }
        if let Some(why) = &self.stopped {
            lines.push(format!(
                "stopped early: {why}; the results cover the requests that ended"
            ));
            status = PointStatus::Threshold;
        }
        if !self.client.client_bound.is_empty() {
            let why: Vec<String> = self
                .client
                .client_bound
                .iter()
                .map(ClientBound::to_string)
                .collect();
            lines.push(format!(
                "client-bound: results invalid ({}); lower the load or give the client more CPU",
                why.join("; ")
            ));
            status = PointStatus::ClientBound;
        }
        if s.requests > 0 && s.failed() * 2 > s.requests {
            lines.push("more than half of the requests failed".into());
            status = PointStatus::Threshold;
        }
        for f in fail_if.iter().filter(|f| f.holds(s)) {
            lines.push(format!("fail-if: {f} (measured {:.4})", f.value(s)));
            status = PointStatus::Threshold;
        }
        lines.push(format!("results: {}", self.point.dir.dir.display()));
        Verdict { lines, status }
    }

    /// The point's row in `sweep_summary.json`.
    pub fn sweep_row(&self) -> SweepRow {
        let s = &self.summary;
        let out = s.output_rate(s.span_s);
        SweepRow {
            label: self.point.label.clone(),
            dir: self.point.dir.dir.display().to_string(),
            concurrency: self.point.concurrency.as_flag(),
            use_case: self.point.use_case.as_ref().map(|u| u.name.clone()),
            isl: self.point.isl,
            osl: self.point.osl,
            completed: s.completed,
            failed: s.failed(),
            output_tokens_per_s: finite(out),
            output_tokens_per_s_per_gpu: finite(per_gpu(out, self.info.gpus)),
            user_tokens_per_s: finite(s.user_tput_with_ctx.mean()),
            mean_ttft_ms: finite(s.latency.ttft_ms.mean()),
            mean_tpot_ms: finite(s.tpot_ms.mean()),
        }
    }
}
