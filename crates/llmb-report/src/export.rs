//! One exporter per file a load point writes, behind one interface: a new output format is
//! one more [`Exporter`] in [`EXPORTERS`]. [`write_point`] puts every file of a point in its
//! folder; [`stdout_text`] is what `--format` prints.

use std::path::PathBuf;

use llmb_engines::telemetry::{Scrape, ServerView};
use llmb_metrics::{RequestRecord, Summary, Warning};
use llmb_settings::aiperf::AiperfOutput;
use llmb_settings::vllm::VllmOutput;
use llmb_settings::ReportFormat;
use serde_json::Value;

use crate::run_dir::PointDir;
use crate::run_summary::{ClientSummary, OnlineExtras, RunSummary};
use crate::{aiperf, genai_perf, perf_summary, serving, trtllm, vllm, RunInfo};

/// Everything known about one finished load point, borrowed for the exporters.
#[derive(Debug, Clone, Copy)]
pub struct PointReport<'a> {
    /// The metrics.
    pub summary: &'a Summary,
    /// Every record, warm-up included (the formats skip it).
    pub records: &'a [RequestRecord],
    /// Facts the formats print besides the metrics.
    pub info: &'a RunInfo,
    /// The resolved settings (`config.json`, GenAI-Perf's `input_config`).
    pub config: &'a Value,
    /// The client's own figures and verdict.
    pub client: &'a ClientSummary,
    /// Warnings about the data.
    pub warnings: &'a [Warning],
    /// The run stopped before its end.
    pub interrupted: bool,
    /// Why it stopped by itself.
    pub stopped: Option<&'a str>,
    /// The server's /metrics scrapes, when they were taken.
    pub scrapes: Option<&'a [Scrape]>,
    /// What the scrapes say, when they were taken.
    pub server: Option<&'a ServerView>,
    /// Nominal input and output lengths of the point (perf_summary.txt).
    pub isl: u64,
    /// See `isl`.
    pub osl: u64,
    /// A `vllm bench serve` command line's outputs, when it was one.
    pub vllm: Option<&'a VllmOutput>,
    /// An `aiperf profile` command line's outputs, when it was one.
    pub aiperf: Option<&'a AiperfOutput>,
}

impl PointReport<'_> {
    /// vLLM's figures and options, for a `vllm bench serve` command line.
    fn vllm(&self) -> Option<(&VllmOutput, llmb_metrics::vllm::VllmMetrics)> {
        let o = self.vllm?;
        Some((
            o,
            llmb_metrics::vllm::VllmMetrics::compute(self.records, vllm::slos(o)),
        ))
    }

    /// AIPerf's figures and options, for an `aiperf profile` command line.
    fn aiperf(&self) -> Option<(&AiperfOutput, llmb_metrics::aiperf::AiperfMetrics)> {
        let o = self.aiperf?;
        Some((
            o,
            llmb_metrics::aiperf::AiperfMetrics::compute(
                self.records,
                self.info.streaming,
                &o.goodput,
            ),
        ))
    }

    /// The point's `summary.json`.
    pub fn run_summary(&self) -> RunSummary {
        RunSummary::online(
            self.summary,
            self.info,
            OnlineExtras {
                client: self.client,
                warnings: self.warnings,
                interrupted: self.interrupted,
                stopped: self.stopped,
                server: self.server,
            },
        )
    }
}

/// One file format.
pub trait Exporter: Sync {
    /// Where the file goes in the point's folder.
    fn path(&self, dir: &PointDir) -> PathBuf;
    /// Whether this point has the file at all.
    fn wanted(&self, r: &PointReport<'_>) -> bool {
        let _ = r;
        true
    }
    /// The file's bytes.
    fn render(&self, r: &PointReport<'_>) -> Vec<u8>;
}

/// trtllm-bench's PERFORMANCE OVERVIEW.
pub struct TrtllmOverview;
/// benchmark_serving's printed block.
pub struct ServingText;
/// benchmark_serving's result JSON.
pub struct ServingJson;
/// GenAI-Perf's `profile_export_genai_perf.json`.
pub struct GenaiPerfJson;
/// GenAI-Perf's `profile_export_genai_perf.csv`.
pub struct GenaiPerfCsv;
/// The Dynamo recipe's `perf_summary.txt` (disaggregated runs).
pub struct PerfSummary;
/// llmb's `summary.json`.
pub struct SummaryJson;
/// The server's scrapes, one JSON line each.
pub struct ServerMetrics;
/// `vllm bench serve`'s result JSON (a copy in the point's folder; the file vLLM would
/// write goes where it would, see [`vllm::file_path`]).
pub struct VllmJson;
/// `vllm bench serve`'s printed block.
pub struct VllmText;
/// AIPerf's `profile_export_aiperf.json`.
pub struct AiperfJson;
/// AIPerf's `profile_export_aiperf.csv`.
pub struct AiperfCsv;
/// AIPerf's per-request `profile_export.jsonl`.
pub struct AiperfJsonl;

impl Exporter for AiperfJson {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.aiperf_json()
    }
    fn wanted(&self, r: &PointReport<'_>) -> bool {
        r.aiperf.is_some()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        r.aiperf()
            .map(|(o, m)| {
                let url = r.config["url"].as_str().unwrap_or_default();
                aiperf::json(&m, o, r.info, url, r.interrupted).into_bytes()
            })
            .unwrap_or_default()
    }
}

impl Exporter for AiperfCsv {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.aiperf_csv()
    }
    fn wanted(&self, r: &PointReport<'_>) -> bool {
        r.aiperf.is_some()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        r.aiperf()
            .map(|(_, m)| aiperf::csv(&m).into_bytes())
            .unwrap_or_default()
    }
}

impl Exporter for AiperfJsonl {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.aiperf_jsonl()
    }
    fn wanted(&self, r: &PointReport<'_>) -> bool {
        r.aiperf.is_some_and(|o| o.records)
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        r.aiperf()
            .map(|(_, m)| aiperf::jsonl(&m, r.info).into_bytes())
            .unwrap_or_default()
    }
}

impl Exporter for VllmJson {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.vllm_json()
    }
    fn wanted(&self, r: &PointReport<'_>) -> bool {
        r.vllm.is_some()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        r.vllm()
            .map(|(o, m)| vllm::result_json(o, &m, r.info, r.summary.duration_s()).into_bytes())
            .unwrap_or_default()
    }
}

impl Exporter for VllmText {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.vllm_txt()
    }
    fn wanted(&self, r: &PointReport<'_>) -> bool {
        r.vllm.is_some()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        r.vllm()
            .map(|(o, m)| vllm::report(o, &m, r.info, r.summary.duration_s()).into_bytes())
            .unwrap_or_default()
    }
}

impl Exporter for TrtllmOverview {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.overview()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        trtllm::report(r.summary, r.info).into_bytes()
    }
}

impl Exporter for ServingText {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.serving_txt()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        serving::report(r.summary, r.info).into_bytes()
    }
}

impl Exporter for ServingJson {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.serving_json()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        serde_json::to_vec(&serving::result_json(r.summary, r.records, r.info)).unwrap_or_default()
    }
}

impl Exporter for GenaiPerfJson {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.genai_json()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        let doc = genai_perf::json(r.summary, r.info, r.config.clone());
        serde_json::to_vec_pretty(&doc).unwrap_or_default()
    }
}

impl Exporter for GenaiPerfCsv {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.genai_csv()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        genai_perf::csv(r.summary, r.info).into_bytes()
    }
}

impl Exporter for PerfSummary {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.perf_summary()
    }
    fn wanted(&self, r: &PointReport<'_>) -> bool {
        r.info.decode_gpus.is_some()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        perf_summary::report(r.summary, r.info, r.isl, r.osl).into_bytes()
    }
}

impl Exporter for SummaryJson {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.summary()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        r.run_summary().to_json()
    }
}

impl Exporter for ServerMetrics {
    fn path(&self, dir: &PointDir) -> PathBuf {
        dir.server_metrics()
    }
    fn wanted(&self, r: &PointReport<'_>) -> bool {
        r.scrapes.is_some()
    }
    fn render(&self, r: &PointReport<'_>) -> Vec<u8> {
        let mut lines = Vec::new();
        for x in r.scrapes.unwrap_or_default() {
            if serde_json::to_writer(&mut lines, x).is_ok() {
                lines.push(b'\n');
            }
        }
        lines
    }
}

/// Every file a point writes, in the order they are written.
pub const EXPORTERS: &[&dyn Exporter] = &[
    &TrtllmOverview,
    &ServingText,
    &ServingJson,
    &GenaiPerfJson,
    &GenaiPerfCsv,
    &PerfSummary,
    &ServerMetrics,
    &VllmJson,
    &VllmText,
    &AiperfJson,
    &AiperfCsv,
    &AiperfJsonl,
    &SummaryJson,
];

/// Writes every wanted file of the point (`config.json` and `records.jsonl` are written
/// while the point runs).
///
/// # Errors
/// A file that cannot be written, named.
pub fn write_point(r: &PointReport<'_>, dir: &PointDir) -> std::io::Result<()> {
    for e in EXPORTERS.iter().filter(|e| e.wanted(r)) {
        let path = e.path(dir);
        std::fs::write(&path, e.render(r)).map_err(|err| {
            std::io::Error::new(
                err.kind(),
                format!("cannot write {}: {err}", path.display()),
            )
        })?;
    }
    Ok(())
}

/// What `--format` prints on stdout: each chosen report, rendered by its file's exporter,
/// followed by a blank line; the CSV with plain line ends.
pub fn stdout_text(r: &PointReport<'_>, format: ReportFormat) -> String {
    let chosen: &[&dyn Exporter] = match format {
        ReportFormat::Trtllm => &[&TrtllmOverview],
        ReportFormat::Serving => &[&ServingText],
        ReportFormat::GenaiPerf => &[&GenaiPerfCsv],
        ReportFormat::Vllm => &[&VllmText],
        ReportFormat::All => &[&TrtllmOverview, &ServingText, &GenaiPerfCsv],
    };
    let mut out = String::new();
    for e in chosen {
        out.push_str(&String::from_utf8_lossy(&e.render(r)).replace("\r\n", "\n"));
        out.push('\n');
    }
    out
}
