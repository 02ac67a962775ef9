//! llmb's own `summary.json` as one typed, versioned value: every metric labelled with
//! its definition and the tools that use it, both latency origins, the client verdict and
//! the warnings. Online runs fill it from their records ([`RunSummary::online`]); offline
//! trtllm-bench runs from their own report ([`RunSummary::from_trtllm_bench`]), with only
//! what that report gives: a number that is not known is absent (or `null`), never 0.
//! [`RunSummary::read`] reads a finished run back for reports and comparisons.

use std::collections::BTreeMap;
use std::path::Path;

use llmb_engines::telemetry::ServerView;
use llmb_metrics::client::ClientBound;
use llmb_metrics::percentile::Method;
use llmb_metrics::{per_gpu, Distribution, Summary, Warning};
use serde::{Deserialize, Serialize};

use crate::trtllm_bench_log::{Breakdown, TrtllmBenchReport};
use crate::RunInfo;

/// What the `server` block of an online summary is.
pub const SERVER_DEFINITION: &str = "the engine's own Prometheus metrics, scraped every second from before the first request to after the last (server_metrics.jsonl); generated_tokens = counter at the last scrape - at the first";

/// Schema identifier written into every summary.
pub const SCHEMA: &str = "llmb.summary/1";

/// What an imported trtllm-bench report's numbers mean (its own definitions).
pub const TRTLLM_BENCH_DEFINITIONS: &str = "trtllm-bench's own (TensorRT-LLM bench/dataclasses/statistics.py): per request start = handed to the LLM API (after the --concurrency slot), first token = first streamed response, end = final response; completed requests only (failures are not reported); percentiles sorted[int(n p)]; throughputs over max(end) - min(start)";

/// Who measured the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// `llmb bench`, from its own records.
    #[serde(rename = "llmb")]
    Llmb,
    /// An offline trtllm-bench run, from its report.
    #[serde(rename = "trtllm-bench")]
    TrtllmBench,
}

/// The whole `summary.json`. Field order is the file's key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// [`SCHEMA`].
    pub schema: String,
    /// Who measured it.
    pub source: Source,
    /// The log or JSON an imported report was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
    /// What an imported report's numbers mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definitions: Option<String>,
    /// False when the run stopped before its end.
    pub complete: bool,
    /// Why the run stopped by itself before its end (the server is gone, too many errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Served model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tokenizer of the prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// How many requests and how they ended.
    pub requests: Requests,
    /// Which percentile keys mean what.
    pub percentiles: String,
    /// Latency measured from the actual send.
    pub latency_from_send: Latency,
    /// Latency measured from the intended send (online runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_from_schedule: Option<Latency>,
    /// Per-token latencies (streamed runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_token: Option<PerToken>,
    /// Tokens per second as one user sees them.
    pub per_user_tokens_per_s: PerUser,
    /// Input and output lengths.
    pub lengths: Lengths,
    /// Throughputs over the run window and the span.
    pub throughput: Throughput,
    /// How well the client kept to its schedule (online runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// The client's own figures and verdict (online runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientSummary>,
    /// Warnings about the data (online runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<Warning>>,
    /// The engine's own view (online runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerBlock>,
    /// The imported report as parsed, and figures worked out from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trtllm_bench: Option<TrtllmBenchBlock>,
}

/// Request counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Requests of the measured phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<u64>,
    /// Requests that completed.
    pub completed: u64,
    /// Requests that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// failed / measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Failures by outcome kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_by_kind: Option<BTreeMap<String, u64>>,
    /// Completed requests whose prompt length the server counted otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_length_mismatches: Option<u64>,
    /// Completed requests whose output was not the requested length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_length_mismatches: Option<u64>,
}

/// Statistics of one quantity. What a source does not give is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Values.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    /// Smallest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Linear-interpolated percentiles (numpy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    /// See `p50`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    /// See `p50`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    /// See `p50`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    /// Index percentiles, `sorted[floor(n p)]` (trtllm-bench).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_index: Option<f64>,
    /// See `p50_index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_index: Option<f64>,
    /// See `p50_index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_index: Option<f64>,
    /// See `p50_index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_index: Option<f64>,
}

impl Stats {
    /// Every statistic of a distribution.
    pub fn of(d: &Distribution) -> Stats {
        let lin = |p| Some(d.percentile(p, Method::Linear));
        let idx = |p| Some(d.percentile(p, Method::Index));
        Stats {
            count: d.len() as u64,
            mean: d.mean(),
            std: Some(d.std()),
            min: Some(d.min()),
            max: Some(d.max()),
            p50: lin(50.0),
            p90: lin(90.0),
            p95: lin(95.0),
            p99: lin(99.0),
            p50_index: idx(50.0),
            p90_index: idx(90.0),
            p95_index: idx(95.0),
            p99_index: idx(99.0),
        }
    }

    /// What trtllm-bench prints for one quantity: `count`, `mean`, and with a breakdown
    /// `min`, `max`, `pNN_index`.
    fn trtllm_bench(count: u64, mean: f64, b: Option<&Breakdown>) -> Stats {
        Stats {
            count,
            mean,
            std: None,
            min: b.map(|b| b.minimum),
            max: b.map(|b| b.maximum),
            p50: None,
            p90: None,
            p95: None,
            p99: None,
            p50_index: b.map(|b| b.p50),
            p90_index: b.map(|b| b.p90),
            p95_index: b.map(|b| b.p95),
            p99_index: b.map(|b| b.p99),
        }
    }
}

/// One metric: what it is, which tools call it that, and its statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// How it is computed.
    pub definition: String,
    /// The tools that report it under this definition.
    pub used_by: String,
    /// Its statistics.
    pub stats: Stats,
}

impl Metric {
    fn new(definition: &str, used_by: &str, stats: Stats) -> Metric {
        Metric {
            definition: definition.into(),
            used_by: used_by.into(),
            stats,
        }
    }

    fn of(definition: &str, used_by: &str, d: &Distribution) -> Metric {
        Metric::new(definition, used_by, Stats::of(d))
    }
}

/// Time to first token and end-to-end latency from one origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Time to first token (streamed runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<Metric>,
    /// End-to-end latency.
    pub e2e_ms: Metric,
}

/// Per-token latencies under each tool's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerToken {
    /// benchmark_serving TPOT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<Metric>,
    /// trtllm-bench TPOT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_trtllm_ms: Option<Metric>,
    /// benchmark_serving ITL (chunk gaps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_chunk_gaps_ms: Option<Metric>,
    /// SGLang ITL (token-weighted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_token_weighted_ms: Option<Metric>,
}

/// Tokens per second one user sees, under each tool's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerUser {
    /// `n / e2e`.
    pub with_first_token: Metric,
    /// `(n - 1) / (e2e - ttft)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_speed: Option<Metric>,
    /// `1 / inter_token_latency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse_itl: Option<Metric>,
}

/// Prompt and output lengths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lengths {
    /// Prompt tokens.
    pub input_tokens: Metric,
    /// Output tokens.
    pub output_tokens: Metric,
}

/// Throughputs. `None` members that are written as `null` say "does not apply".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// benchmark_serving's duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_window_s: Option<f64>,
    /// What `run_window_s` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_window_definition: Option<String>,
    /// trtllm-bench's Total Latency, GenAI-Perf's duration.
    pub span_s: f64,
    /// What `span_s` is.
    pub span_definition: String,
    /// Over the run window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_per_s_run_window: Option<f64>,
    /// Over the run window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_per_s_run_window: Option<f64>,
    /// Over the run window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens_per_s_run_window: Option<f64>,
    /// Over the span.
    pub request_per_s_span: f64,
    /// Over the span.
    pub output_tokens_per_s_span: f64,
    /// Over the span.
    pub total_tokens_per_s_span: f64,
    /// Over the span, per GPU.
    pub output_tokens_per_s_per_gpu_span: f64,
    /// GPUs behind the server, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u64>,
    /// Which GPUs the per-GPU figure is over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_gpu_definition: Option<String>,
    /// Disaggregated runs: over the decode GPUs.
    pub output_tokens_per_s_per_decode_gpu_span: Option<f64>,
    /// Disaggregated runs: the decode GPUs.
    pub decode_gpus: Option<u64>,
    /// trtllm-bench's "Number of concurrent requests".
    pub realised_concurrency: f64,
    /// Requests that met every SLO, when SLOs were given.
    pub goodput_requests: Option<u64>,
}

/// How well the client kept to its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Actual send - intended send.
    pub send_lag_ms: Stats,
    /// Time waiting for a concurrency slot.
    pub slot_wait_ms: Stats,
    /// Time to open a connection.
    pub connect_wait_ms: Metric,
    /// Client arrival stamp - engine send stamp, for engines that stamp chunks.
    pub client_lag_ms: Option<Metric>,
}

/// Mean, p99 and max of one of the client's own figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    /// Mean.
    pub mean: f64,
    /// p99 (linear).
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Brief {
    /// The brief of a distribution.
    pub fn of(d: &Distribution) -> Brief {
        Brief {
            mean: d.mean(),
            p99: d.percentile(99.0, Method::Linear),
            max: d.max(),
        }
    }
}

/// The client's own figures and its verdict on itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSummary {
    /// CPU seconds the client used.
    pub cpu_s: f64,
    /// Wall seconds of the measured phase.
    pub wall_s: f64,
    /// Runtime worker threads.
    pub threads: usize,
    /// CPU use as a share of the threads.
    pub cpu_busy: f64,
    /// Lateness of a 10 ms timer on the runtime.
    pub timer_lag_ms: Brief,
    /// Lag behind the engine's send stamps, where it stamps chunks.
    pub client_lag_ms: Option<Brief>,
    /// Why the results cannot be trusted (empty: they can).
    pub client_bound: Vec<ClientBound>,
    /// `client_bound` is empty.
    pub valid: bool,
}

/// The engine's own view of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerBlock {
    /// [`SERVER_DEFINITION`].
    pub definition: String,
    /// What the scrapes say (`null`: not scraped).
    pub view: Option<ServerView>,
}

/// An imported trtllm-bench report and what follows from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrtllmBenchBlock {
    /// The report as parsed.
    pub report: TrtllmBenchReport,
    /// Figures worked out from the printed values.
    pub derived: Derived,
}

/// Totals and cross-checks worked out from a trtllm-bench report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// How.
    pub definition: String,
    /// Average input x requests.
    pub total_input_tokens: f64,
    /// Average output x requests.
    pub total_output_tokens: f64,
    /// Requests / span (equals the printed value up to print rounding).
    pub check_request_per_s: Option<f64>,
    /// Output tokens / span.
    pub check_output_tokens_per_s: Option<f64>,
    /// Mean latency x requests / span.
    pub check_concurrency: Option<f64>,
}

/// What an online point adds to its metrics in the summary.
#[derive(Debug, Clone, Copy)]
pub struct OnlineExtras<'a> {
    /// The client's figures and verdict.
    pub client: &'a ClientSummary,
    /// Warnings about the data.
    pub warnings: &'a [Warning],
    /// The run stopped before its end.
    pub interrupted: bool,
    /// Why it stopped by itself.
    pub stopped: Option<&'a str>,
    /// What the server's scrapes say, when taken.
    pub server: Option<&'a ServerView>,
}

/// Why a summary cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a summary of a schema this version reads.
    #[error("{path} is not an llmb summary this version reads ({why}); it was written by another llmb version or another tool")]
    Format {
        /// The file.
        path: String,
        /// What did not fit.
        why: String,
    },
}

impl RunSummary {
    /// An online run's summary, from its metrics.
    pub fn online(s: &Summary, info: &RunInfo, x: OnlineExtras<'_>) -> RunSummary {
        let dur = s.duration_s();
        let span = s.span_s;
        let m = Metric::of;
        RunSummary {
            schema: SCHEMA.into(),
            source: Source::Llmb,
            source_file: None,
            definitions: None,
            complete: !x.interrupted,
            stopped: x.stopped.map(str::to_owned),
            model: Some(info.model.clone()),
            tokenizer: Some(info.tokenizer.clone()),
            requests: Requests {
                measured: Some(s.requests),
                completed: s.completed,
                failed: Some(s.failed()),
                error_rate: Some(s.error_rate()),
                failures_by_kind: Some(s.failures.clone()),
                input_length_mismatches: Some(s.input_mismatches),
                output_length_mismatches: Some(s.output_mismatches),
            },
            percentiles: "pNN: linear interpolation (numpy); pNN_index: sorted[floor(n p)] (trtllm-bench)".into(),
            latency_from_send: Latency {
                ttft_ms: Some(m("first text chunk - send", "all tools", &s.latency.ttft_ms)),
                e2e_ms: m("end - send", "all tools (trtllm-bench request latency, benchmark_serving E2EL, GenAI-Perf request_latency)", &s.latency.e2e_ms),
            },
            latency_from_schedule: Some(Latency {
                ttft_ms: Some(m("first text chunk - intended send (coordinated-omission safe)", "llmb", &s.latency_from_schedule.ttft_ms)),
                e2e_ms: m("end - intended send", "llmb", &s.latency_from_schedule.e2e_ms),
            }),
            per_token: Some(PerToken {
                tpot_ms: Some(m("(end - first) / (n - 1), requests with n > 1", "benchmark_serving TPOT, GenAI-Perf/AIPerf inter_token_latency", &s.tpot_ms)),
                tpot_trtllm_ms: Some(m("(end - first) / (n - 1), 0 when n <= 1", "trtllm-bench TPOT", &s.tpot_trtllm_ms)),
                itl_chunk_gaps_ms: Some(m("gaps between consecutive chunks, pooled over requests", "vLLM / TensorRT-LLM benchmark_serving ITL", &s.itl_chunk_ms)),
                itl_token_weighted_ms: Some(m("chunk gap / tokens in the chunk, once per token, pooled", "SGLang bench_serving (native backend) ITL", &s.itl_token_ms)),
            }),
            per_user_tokens_per_s: PerUser {
                with_first_token: m("n / e2e", "trtllm-bench Per User Output Throughput [w/ ctx], benchmark_serving User throughput", &s.user_tput_with_ctx),
                generation_speed: Some(m("(n - 1) / (e2e - ttft)", "trtllm-bench Per User Output Speed (GTPS)", &s.user_output_speed)),
                inverse_itl: Some(m("1 / inter_token_latency", "GenAI-Perf/AIPerf output_token_throughput_per_user", &s.user_tput_inverse_itl)),
            },
            lengths: Lengths {
                input_tokens: m("prompt tokens under the client's tokenizer", "all tools", &s.input_tokens),
                output_tokens: m("usage.completion_tokens, else tokens counted over chunks", "all tools", &s.output_tokens),
            },
            throughput: Throughput {
                run_window_s: Some(dur),
                run_window_definition: Some("first intended send of the measured phase to the last end (benchmark_serving duration)".into()),
                span_s: span,
                span_definition: "max(end) - min(send) over completed requests (trtllm-bench Total Latency, GenAI-Perf duration)".into(),
                request_per_s_run_window: Some(s.request_rate(dur)),
                output_tokens_per_s_run_window: Some(s.output_rate(dur)),
                total_tokens_per_s_run_window: Some(s.total_token_rate(dur)),
                request_per_s_span: s.request_rate(span),
                output_tokens_per_s_span: s.output_rate(span),
                total_tokens_per_s_span: s.total_token_rate(span),
                output_tokens_per_s_per_gpu_span: per_gpu(s.output_rate(span), info.gpus),
                gpus: Some(info.gpus),
                per_gpu_definition: Some(if info.decode_gpus.is_some() { "over all GPUs, prefill and decode (the Dynamo recipe's perf_summary.txt)" } else { "over all GPUs behind the server" }.into()),
                output_tokens_per_s_per_decode_gpu_span: info.decode_gpus.map(|g| per_gpu(s.output_rate(span), g)),
                decode_gpus: info.decode_gpus,
                realised_concurrency: s.realised_concurrency(),
                goodput_requests: info.good_requests,
            },
            schedule: Some(Schedule {
                send_lag_ms: Stats::of(&s.send_lag_ms),
                slot_wait_ms: Stats::of(&s.slot_wait_ms),
                connect_wait_ms: m("time to open a connection (handshake slot + TCP handshake), requests that opened one", "llmb", &s.connect_wait_ms),
                client_lag_ms: (!s.client_lag_ms.is_empty()).then(|| m("client arrival stamp - engine send stamp (llmb_sent_ns), per chunk; engines that stamp chunks only", "llmb", &s.client_lag_ms)),
            }),
            client: Some(x.client.clone()),
            warnings: Some(x.warnings.to_vec()),
            server: Some(ServerBlock {
                definition: SERVER_DEFINITION.into(),
                view: x.server.copied(),
            }),
            trtllm_bench: None,
        }
    }

    /// The summary of an offline trtllm-bench run, from its own report: the members of an
    /// online summary wherever trtllm-bench gives the number (same meaning, its
    /// definitions), so offline and online runs compare field by field. What it cannot give
    /// (failures, the schedule origin, linear percentiles, the client) is absent, never 0.
    /// `source_file` is the log or JSON it was read from.
    pub fn from_trtllm_bench(r: &TrtllmBenchReport, source_file: &str) -> RunSummary {
        let n = r.request.num_requests;
        let p = &r.performance;
        let span_s = p.total_latency_ms / 1000.0;
        let total_out = r.request.avg_output_tokens * n as f64;
        let over_span = |x: f64| (span_s > 0.0).then(|| x / span_s);
        let m = Metric::new;
        let st = Stats::trtllm_bench;
        let streaming = r.streaming.as_ref();
        RunSummary {
            schema: SCHEMA.into(),
            source: Source::TrtllmBench,
            source_file: Some(source_file.into()),
            definitions: Some(TRTLLM_BENCH_DEFINITIONS.into()),
            complete: true,
            stopped: None,
            model: r.backend.as_ref().and_then(|b| b.model.clone()),
            tokenizer: None,
            // trtllm-bench counts completed requests only: how many were sent is not known.
            requests: Requests {
                measured: None,
                completed: n,
                failed: None,
                error_rate: None,
                failures_by_kind: None,
                input_length_mismatches: None,
                output_length_mismatches: None,
            },
            percentiles: "pNN_index: sorted[floor(n p)] (trtllm-bench); trtllm-bench prints no interpolated percentiles".into(),
            latency_from_send: Latency {
                ttft_ms: streaming.map(|s| m("first streamed response - start", "all tools", st(n, s.avg_ttft_ms, s.ttft_ms.as_ref()))),
                e2e_ms: m("end - start", "all tools (trtllm-bench request latency, benchmark_serving E2EL, GenAI-Perf request_latency)", st(n, p.avg_request_latency_ms, r.latency_ms.as_ref())),
            },
            latency_from_schedule: None,
            per_token: streaming.map(|s| PerToken {
                tpot_ms: None,
                tpot_trtllm_ms: Some(m("(end - first) / (n - 1), 0 when n <= 1", "trtllm-bench TPOT", st(n, s.avg_tpot_ms, s.tpot_ms.as_ref()))),
                itl_chunk_gaps_ms: None,
                itl_token_weighted_ms: None,
            }),
            per_user_tokens_per_s: PerUser {
                with_first_token: m("n / e2e", "trtllm-bench Per User Output Throughput [w/ ctx], benchmark_serving User throughput", st(n, p.per_user_output_throughput_tok_s, None)),
                generation_speed: streaming.map(|s| m("(n - 1) / (e2e - ttft)", "trtllm-bench Per User Output Speed (GTPS)", st(n, s.per_user_output_speed_tok_s, s.gtps_tok_s.as_ref()))),
                inverse_itl: None,
            },
            lengths: Lengths {
                input_tokens: m("prompt tokens (trtllm-bench: the dataset's input_ids)", "all tools", st(n, r.request.avg_input_tokens, None)),
                output_tokens: m("output token ids generated", "all tools", st(n, r.request.avg_output_tokens, None)),
            },
            throughput: Throughput {
                run_window_s: None,
                run_window_definition: None,
                span_s,
                span_definition: "max(end) - min(start) over completed requests (trtllm-bench Total Latency)".into(),
                request_per_s_run_window: None,
                output_tokens_per_s_run_window: None,
                total_tokens_per_s_run_window: None,
                request_per_s_span: p.request_throughput_req_s,
                output_tokens_per_s_span: p.output_throughput_tok_s,
                total_tokens_per_s_span: p.total_token_throughput_tok_s,
                output_tokens_per_s_per_gpu_span: p.per_gpu_output_throughput_tok_s,
                gpus: trtllm_bench_gpus(r),
                per_gpu_definition: None,
                output_tokens_per_s_per_decode_gpu_span: None,
                decode_gpus: None,
                realised_concurrency: r.request.concurrent_requests,
                goodput_requests: None,
            },
            schedule: None,
            client: None,
            warnings: None,
            server: None,
            trtllm_bench: Some(TrtllmBenchBlock {
                report: r.clone(),
                derived: Derived {
                    definition: "worked out from the printed values: totals = average x requests; check_* recompute printed values from others (equal up to print rounding)".into(),
                    total_input_tokens: r.request.avg_input_tokens * n as f64,
                    total_output_tokens: total_out,
                    check_request_per_s: over_span(n as f64),
                    check_output_tokens_per_s: over_span(total_out),
                    check_concurrency: (span_s > 0.0).then(|| p.avg_request_latency_ms * n as f64 / p.total_latency_ms),
                },
            }),
        }
    }

    /// The file's bytes (pretty JSON).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Reads a `summary.json` back.
    ///
    /// # Errors
    /// A missing or unreadable file, or one that is not a summary of [`SCHEMA`], named.
    pub fn read(path: &Path) -> Result<RunSummary, ReadError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
            path: name.clone(),
            source,
        })?;
        let doc: RunSummary = serde_json::from_slice(&bytes).map_err(|e| ReadError::Format {
            path: name.clone(),
            why: e.to_string(),
        })?;
        if doc.schema != SCHEMA {
            return Err(ReadError::Format {
                path: name,
                why: format!("schema {:?}, expected {SCHEMA:?}", doc.schema),
            });
        }
        Ok(doc)
    }
}

/// The GPUs trtllm-bench divided by: TP × PP from its world block, else the ratio of its
/// output throughput to its per-GPU throughput (rounded).
pub fn trtllm_bench_gpus(r: &TrtllmBenchReport) -> Option<u64> {
    if let Some(n) = r.world.as_ref().and_then(|w| w.world_size()) {
        return Some(n);
    }
    let p = &r.performance;
    (p.per_gpu_output_throughput_tok_s > 0.0)
        .then(|| (p.output_throughput_tok_s / p.per_gpu_output_throughput_tok_s).round() as u64)
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trtllm_bench_log::parse_log;
    use serde_json::{json, Value};

    fn from_trtllm_bench(r: &TrtllmBenchReport, file: &str) -> Value {
        serde_json::to_value(RunSummary::from_trtllm_bench(r, file)).unwrap()
    }

    fn client() -> ClientSummary {
        ClientSummary {
            cpu_s: 0.5,
            wall_s: 2.0,
            threads: 2,
            cpu_busy: 0.125,
            timer_lag_ms: Brief::of(&Distribution::new(vec![0.1, 0.3])),
            client_lag_ms: None,
            client_bound: vec![ClientBound::FellBehind { p99_ms: 12.5 }],
            valid: false,
        }
    }

    const FILLED_021: &str = include_str!("../tests/fixtures/trtllm_bench_0.21_filled.out");
    const NO_STREAMING: &str = include_str!("../tests/fixtures/trtllm_bench_no_streaming.out");

    fn close(a: &Value, b: f64) -> bool {
        (a.as_f64().unwrap() - b).abs() <= 1e-6 * b.abs().max(1.0)
    }

    fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, v) in m {
                let p = format!("{prefix}/{k}");
                out.push(p.clone());
                key_paths(v, &p, out);
            }
        }
    }

    #[test]
    fn offline_summary_from_the_021_report() {
        let d = from_trtllm_bench(&parse_log(FILLED_021).unwrap(), "run.out");
        assert_eq!(d["source"], "trtllm-bench");
        assert_eq!(d["source_file"], "run.out");
        assert_eq!(d["schema"], SCHEMA);
        assert_eq!(d["requests"], json!({"completed": 100}));
        let t = &d["throughput"];
        // Total Latency 1155.5715 ms
        assert!(close(&t["span_s"], 1.155_571_5));
        assert_eq!(t["request_per_s_span"], 86.5373);
        assert_eq!(t["output_tokens_per_s_span"], 11076.77);
        assert_eq!(t["total_tokens_per_s_span"], 22153.54);
        assert_eq!(t["output_tokens_per_s_per_gpu_span"], 11076.77);
        assert_eq!(t["realised_concurrency"], 94.605);
        assert_eq!(t["gpus"], 1, "TP 1 x PP 1");
        let der = &d["trtllm_bench"]["derived"];
        // 100 requests x 128 tokens each way
        assert_eq!(der["total_input_tokens"], 12800.0);
        assert_eq!(der["total_output_tokens"], 12800.0);
        // 100 / 1.1555715 s = 86.53727; 12800 / 1.1555715 = 11076.7693;
        // 1093.2284 ms x 100 / 1155.5715 ms = 94.60500: the printed values, to print rounding.
        assert!(close(&der["check_request_per_s"], 86.537_266));
        assert!((der["check_request_per_s"].as_f64().unwrap() - 86.5373).abs() < 1e-4);
        assert!((der["check_output_tokens_per_s"].as_f64().unwrap() - 11076.77).abs() < 1e-2);
        assert!((der["check_concurrency"].as_f64().unwrap() - 94.605).abs() < 1e-4);
        let e2e = &d["latency_from_send"]["e2e_ms"]["stats"];
        assert_eq!(
            *e2e,
            json!({"count": 100, "mean": 1093.2284, "min": 1050.1519, "max": 1137.6817,
                "p50_index": 1091.7905, "p90_index": 1130.72, "p95_index": 1133.0074, "p99_index": 1137.6817})
        );
        assert_eq!(d["latency_from_send"]["ttft_ms"]["stats"]["mean"], 162.6706);
        assert_eq!(
            d["per_token"]["tpot_trtllm_ms"]["stats"]["p50_index"],
            7.6079
        );
        assert_eq!(
            d["per_user_tokens_per_s"]["generation_speed"]["stats"]["mean"],
            137.1475
        );
        assert_eq!(
            d["per_user_tokens_per_s"]["with_first_token"]["stats"],
            json!({"count": 100, "mean": 117.1553})
        );
        assert_eq!(d["lengths"]["input_tokens"]["stats"]["mean"], 128.0);
        // What trtllm-bench does not report is absent, not zero.
        for absent in [
            "client",
            "warnings",
            "server",
            "latency_from_schedule",
            "schedule",
            "model",
        ] {
            assert!(d.get(absent).is_none(), "{absent}");
        }
        assert!(d["requests"].get("failed").is_none());
        assert!(d["throughput"].get("run_window_s").is_none());
        assert!(e2e.get("std").is_none() && e2e.get("p99").is_none());
    }

    #[test]
    fn offline_without_streaming_and_without_world_block() {
        let d = from_trtllm_bench(&parse_log(NO_STREAMING).unwrap(), "x.log");
        assert!(d["latency_from_send"].get("ttft_ms").is_none());
        assert!(d.get("per_token").is_none());
        assert!(d["per_user_tokens_per_s"].get("generation_speed").is_none());
        // 128 tok/s overall / 64 tok/s per GPU
        assert_eq!(d["throughput"]["gpus"], 2);
        assert_eq!(d["model"], "meta-llama/Llama-3.1-8B");
        assert!(close(&d["throughput"]["span_s"], 2.0));
    }

    #[test]
    fn offline_keys_are_a_subset_of_online_keys() {
        use llmb_metrics::{Chunk, Outcome, RequestRecord, ServerUsage};
        let r = RequestRecord {
            id: 0,
            prompt_index: 0,
            worker: 0,
            warmup: false,
            scheduled_ns: 0,
            slot_ns: 0,
            sent_ns: 0,
            first_token_ns: Some(1_000_000),
            end_ns: 9_000_000,
            input_tokens: 4,
            requested_output_tokens: None,
            usage: ServerUsage {
                implausible_completion_tokens: None,
                prompt_tokens: Some(4),
                completion_tokens: Some(2),
            },
            connect_ns: None,
            chunks: vec![
                Chunk {
                    offset_ns: 1_000_000,
                    tokens: 1,
                    text_bytes: 1,
                    client_lag_ns: None,
                },
                Chunk {
                    offset_ns: 9_000_000,
                    tokens: 1,
                    text_bytes: 1,
                    client_lag_ns: None,
                },
            ],
            outcome: Outcome::Completed,
        };
        let s = Summary::from_records(&[r], None);
        let c = client();
        let x = OnlineExtras {
            client: &c,
            warnings: &[Warning::Interrupted],
            interrupted: true,
            stopped: None,
            server: None,
        };
        let online = serde_json::to_value(RunSummary::online(&s, &RunInfo::default(), x)).unwrap();
        let offline = from_trtllm_bench(&parse_log(FILLED_021).unwrap(), "run.out");
        let (mut on, mut off) = (Vec::new(), Vec::new());
        key_paths(&online, "", &mut on);
        key_paths(&offline, "", &mut off);
        let extra: Vec<&String> = off
            .iter()
            .filter(|p| !on.contains(p))
            .filter(|p| !["/source_file", "/definitions"].contains(&p.as_str()))
            .filter(|p| !p.starts_with("/trtllm_bench"))
            .collect();
        assert!(extra.is_empty(), "offline-only keys: {extra:?}");
        assert_eq!(online["source"], "llmb");
        assert_eq!(online["complete"], false);
        // Not applicable is written as null, so scripts find every online key.
        assert_eq!(online["throughput"]["decode_gpus"], Value::Null);
        assert_eq!(online["server"]["view"], Value::Null);
        assert_eq!(online["client"]["client_bound"][0]["kind"], "fell_behind");
        assert_eq!(online["warnings"], json!([{"kind": "interrupted"}]));
        // 2 chunks 8 ms apart: TPOT (9 - 1) ms / (2 - 1) = 8 ms; e2e 9 ms.
        assert_eq!(online["per_token"]["tpot_ms"]["stats"]["mean"], 8.0);
        assert_eq!(online["latency_from_send"]["e2e_ms"]["stats"]["max"], 9.0);
    }

    #[test]
    fn both_sources_read_back_unchanged() {
        let dir = std::env::temp_dir().join(format!("llmb-summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("summary.json");
        let offline = RunSummary::from_trtllm_bench(&parse_log(FILLED_021).unwrap(), "run.out");
        std::fs::write(&path, offline.to_json()).unwrap();
        assert_eq!(RunSummary::read(&path).unwrap(), offline);
        let d = Distribution::new(vec![1.0, 2.0, 4.0]);
        let s = Summary {
            requests: 3,
            completed: 3,
            ..Summary::default()
        };
        let mut online = RunSummary::online(
            &s,
            &RunInfo {
                gpus: 4,
                decode_gpus: Some(2),
                good_requests: Some(2),
                ..RunInfo::default()
            },
            OnlineExtras {
                client: &client(),
                warnings: &[Warning::RequestsFailed {
                    failed: 1,
                    total: 3,
                }],
                interrupted: false,
                stopped: Some("the server is gone"),
                server: Some(&ServerView {
                    samples: 3,
                    mean_running: Some(1.5),
                    ..ServerView::default()
                }),
            },
        );
        online.latency_from_send.e2e_ms.stats = Stats::of(&d);
        std::fs::write(&path, online.to_json()).unwrap();
        let back = RunSummary::read(&path).unwrap();
        assert_eq!(back, online);
        assert_eq!(back.throughput.decode_gpus, Some(2));
        // mean of 1, 2, 4 = 7/3; linear p50 = 2
        assert_eq!(back.latency_from_send.e2e_ms.stats.p50, Some(2.0));
        assert!((back.latency_from_send.e2e_ms.stats.mean - 7.0 / 3.0).abs() < 1e-12);

        let mut other: Value = serde_json::to_value(&online).unwrap();
        other["schema"] = json!("llmb.summary/0");
        std::fs::write(&path, serde_json::to_vec(&other).unwrap()).unwrap();
        let e = RunSummary::read(&path).unwrap_err().to_string();
        assert!(
            e.contains("summary.json") && e.contains("llmb.summary/0"),
            "{e}"
        );
        std::fs::write(&path, b"{\"schema\": 3}").unwrap();
        assert!(matches!(
            RunSummary::read(&path),
            Err(ReadError::Format { .. })
        ));
        assert!(matches!(
            RunSummary::read(&dir.join("missing.json")),
            Err(ReadError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
