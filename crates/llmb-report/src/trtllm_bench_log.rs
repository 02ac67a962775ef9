//! trtllm-bench's own report, read back: the printout of `trtllm-bench throughput` (its
//! stdout, e.g. the recipe's `<run>_<jobid>.out`) or its `--report_json` file, parsed into
//! [`TrtllmBenchReport`], and rendered again in trtllm-bench's layout.
//!
//! The printout (TensorRT-LLM `bench/dataclasses/reporting.py`) is read line by line:
//! section headers (`= PERFORMANCE OVERVIEW`, ...) switch the section, `Label:  value`
//! lines are split at the first colon followed by blanks (so label padding, TABs and
//! older builds' narrower padding do not matter), and `[TPOT] P50    : 7.6079` lines fill
//! the breakdowns. Log prefixes (`[TensorRT-LLM][INFO] `, `[08/12/2025-10:11:12] `,
//! srun's `0: `) are skipped; other prefixes (a bare timestamp) still work because a label
//! is recognised by how the key *ends*. Lines printed only with `--streaming` may be
//! absent. When a log holds several reports, the last one is read.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything the report holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrtllmBenchReport {
    /// `= PYTORCH BACKEND` or `= ENGINE DETAILS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// `= MACHINE DETAILS` (newer builds): the GPU line as printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// `= REQUEST DETAILS`.
    pub request: RequestDetails,
    /// `= WORLD + RUNTIME INFORMATION`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub world: Option<WorldInfo>,
    /// `= PERFORMANCE OVERVIEW`, the lines printed with or without streaming.
    pub performance: Performance,
    /// The lines and breakdowns printed only with `--streaming`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming: Option<Streaming>,
    /// `-- Request Latency Breakdown (ms)`: `[Latency]` rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Breakdown>,
    /// `= DATASET DETAILS` (the dataset's own length statistics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetDetails>,
}

/// Which backend block was printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// `= PYTORCH BACKEND` (also the `_autodeploy` backend).
    Pytorch,
    /// `= ENGINE DETAILS`: a TensorRT engine.
    Engine,
}

/// The backend block. Python's `None` is read as absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    /// Which block (absent when read from JSON, which does not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<BackendKind>,
    /// `Model:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `Model Path:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_path: Option<String>,
    /// `Engine Directory:` (engine backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_dir: Option<String>,
    /// `TensorRT LLM Version:` (`TensorRT-LLM Version:` in 0.21).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `Dtype:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// `KV Cache Dtype:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_cache_dtype: Option<String>,
    /// `Quantization:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
    /// `Max Input Length:` (engine backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_len: Option<u64>,
    /// `Max Sequence Length:` (engine backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_seq_len: Option<u64>,
}

/// `= REQUEST DETAILS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestDetails {
    /// `Number of requests:` (completed requests).
    pub num_requests: u64,
    /// `Number of concurrent requests:` = Σ e2e / total latency.
    pub concurrent_requests: f64,
    /// `Average Input Length (tokens):`.
    pub avg_input_tokens: f64,
    /// `Average Output Length (tokens):`.
    pub avg_output_tokens: f64,
}

/// `= WORLD + RUNTIME INFORMATION`; every line may print `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WorldInfo {
    /// `TP Size:`.
    pub tp: Option<u64>,
    /// `PP Size:`.
    pub pp: Option<u64>,
    /// `EP Size:`.
    pub ep: Option<u64>,
    /// `Max Runtime Batch Size:`.
    pub max_batch_size: Option<u64>,
    /// `Max Runtime Tokens:`.
    pub max_num_tokens: Option<u64>,
    /// `Scheduling Policy:` (e.g. `GUARANTEED_NO_EVICT`).
    pub scheduling_policy: Option<String>,
    /// `KV Memory Percentage:` in percent (`90.00%` → 90).
    pub kv_memory_percent: Option<f64>,
    /// `Issue Rate (req/sec):` as printed. trtllm-bench prints the mean gap between
    /// request starts in ns times 1e9 (not a rate), so it is kept but not interpreted.
    pub issue_rate_printed: Option<f64>,
}

impl WorldInfo {
    /// TP × PP, the world size trtllm-bench divides by for per-GPU throughput.
    pub fn world_size(&self) -> Option<u64> {
        Some(self.tp? * self.pp?)
    }
}

/// `= PERFORMANCE OVERVIEW`: the seven lines printed with or without streaming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    /// `Request Throughput (req/sec):` = N / total latency.
    pub request_throughput_req_s: f64,
    /// `Total Output Throughput (tokens/sec):` = Σ output tokens / total latency.
    pub output_throughput_tok_s: f64,
    /// `Total Token Throughput (tokens/sec):` = Σ (input + output) / total latency.
    pub total_token_throughput_tok_s: f64,
    /// `Total Latency (ms):` = max(end) - min(start).
    pub total_latency_ms: f64,
    /// `Average request latency (ms):` = mean(end - start).
    pub avg_request_latency_ms: f64,
    /// `Per User Output Throughput [w/ ctx] (tps/user):` = mean(n_out / e2e).
    pub per_user_output_throughput_tok_s: f64,
    /// `Per GPU Output Throughput (tps/gpu):` = output throughput / world size.
    pub per_gpu_output_throughput_tok_s: f64,
}

/// The lines printed only with `--streaming`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Streaming {
    /// `Average time-to-first-token [TTFT] (ms):`.
    pub avg_ttft_ms: f64,
    /// `Average time-per-output-token [TPOT] (ms):` (0 for single-token requests).
    pub avg_tpot_ms: f64,
    /// `Per User Output Speed (tps/user):` = mean((n_out - 1) / (e2e - ttft)).
    pub per_user_output_speed_tok_s: f64,
    /// `[TPOT]` rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<Breakdown>,
    /// `[TTFT]` rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<Breakdown>,
    /// `[GTPS]` rows (tokens/s per user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtps_tok_s: Option<Breakdown>,
}

/// One per-request breakdown; percentiles are `sorted[int(n p)]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// `MINIMUM`.
    pub minimum: f64,
    /// `MAXIMUM`.
    pub maximum: f64,
    /// `AVERAGE`.
    pub average: f64,
    /// `P50`.
    pub p50: f64,
    /// `P90`.
    pub p90: f64,
    /// `P95`.
    pub p95: f64,
    /// `P99`.
    pub p99: f64,
}

/// `= DATASET DETAILS`: the dataset's length statistics (all its sequences).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DatasetDetails {
    /// `Dataset Path:`.
    pub path: Option<String>,
    /// `Number of Sequences:`.
    pub sequences: Option<u64>,
    /// The `Input` column.
    pub input_tokens: Option<Breakdown>,
    /// The `Output` column.
    pub output_tokens: Option<Breakdown>,
    /// The `Seq. Length` column.
    pub sequence_tokens: Option<Breakdown>,
}

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrtllmBenchLogError {
    /// Nothing that looks like the report.
    #[error("no trtllm-bench report found (no \"= PERFORMANCE OVERVIEW\" section); pass the stdout of `trtllm-bench throughput` (the run's .out file) or its --report_json file")]
    NoReport,
    /// A value that does not parse.
    #[error("line {line}: {field}: `{value}` is not {expected}")]
    BadValue {
        /// 1-based line (0 for JSON input).
        line: usize,
        /// The label.
        field: String,
        /// The text found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A line the report always has is missing.
    #[error("{section}: \"{field}\" is missing; the log looks truncated (the whole report is printed at the end of the run)")]
    Missing {
        /// The section.
        section: &'static str,
        /// The label.
        field: &'static str,
    },
    /// A breakdown with some of its rows.
    #[error("[{tag}] breakdown has no {key} row; the log looks truncated")]
    PartialBreakdown {
        /// `TPOT`, `TTFT`, `GTPS`, `Latency` or a dataset column.
        tag: String,
        /// The missing row.
        key: &'static str,
    },
    /// `--report_json` input that is not the report.
    #[error("report JSON: {0}")]
    Json(String),
}

type Result<T> = std::result::Result<T, TrtllmBenchLogError>;

// ---- reading the printout ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Backend,
    Machine,
    Request,
    World,
    Performance,
    Dataset,
    Other,
}

/// Header names, as printed after `= `.
const HEADERS: &[(&str, Section)] = &[
    ("PYTORCH BACKEND", Section::Backend),
    ("ENGINE DETAILS", Section::Backend),
    ("MACHINE DETAILS", Section::Machine),
    ("REQUEST DETAILS", Section::Request),
    ("WORLD + RUNTIME INFORMATION", Section::World),
    ("PERFORMANCE OVERVIEW", Section::Performance),
    ("DATASET DETAILS", Section::Dataset),
];

/// Tags of breakdown rows (also never stripped as log prefixes).
const TAGS: &[&str] = &["TPOT", "TTFT", "GTPS", "Latency"];

const BACKEND_LABELS: &[&str] = &[
    "Model",
    "Model Path",
    "Engine Directory",
    "TensorRT LLM Version",
    "TensorRT-LLM Version",
    "Dtype",
    "KV Cache Dtype",
    "Quantization",
    "Max Input Length",
    "Max Sequence Length",
];
const REQUEST_LABELS: &[&str] = &[L_NUM_REQUESTS, L_CONCURRENT, L_AVG_INPUT, L_AVG_OUTPUT];
const WORLD_LABELS: &[&str] = &[
    "TP Size",
    "PP Size",
    "EP Size",
    "Max Runtime Batch Size",
    "Max Runtime Tokens",
    "Scheduling Policy",
    "KV Memory Percentage",
    "Issue Rate (req/sec)",
];
const PERF_LABELS: &[&str] = &[
    L_REQ_TPUT,
    L_OUT_TPUT,
    L_TOK_TPUT,
    L_TOTAL_LAT,
    L_AVG_LAT,
    L_USER_TPUT,
    L_GPU_TPUT,
    L_TTFT,
    L_TPOT,
    L_SPEED,
];
const DATASET_LABELS: &[&str] = &[
    "Dataset Path",
    "Number of Sequences",
    "MIN",
    "MAX",
    "AVG",
    "P50",
    "P90",
    "P95",
    "P99",
];

const L_NUM_REQUESTS: &str = "Number of requests";
const L_CONCURRENT: &str = "Number of concurrent requests";
const L_AVG_INPUT: &str = "Average Input Length (tokens)";
const L_AVG_OUTPUT: &str = "Average Output Length (tokens)";
const L_REQ_TPUT: &str = "Request Throughput (req/sec)";
const L_OUT_TPUT: &str = "Total Output Throughput (tokens/sec)";
const L_TOK_TPUT: &str = "Total Token Throughput (tokens/sec)";
const L_TOTAL_LAT: &str = "Total Latency (ms)";
const L_AVG_LAT: &str = "Average request latency (ms)";
const L_USER_TPUT: &str = "Per User Output Throughput [w/ ctx] (tps/user)";
const L_GPU_TPUT: &str = "Per GPU Output Throughput (tps/gpu)";
const L_TTFT: &str = "Average time-to-first-token [TTFT] (ms)";
const L_TPOT: &str = "Average time-per-output-token [TPOT] (ms)";
const L_SPEED: &str = "Per User Output Speed (tps/user)";

/// Breakdown row keys, in trtllm-bench's order for TPOT/TTFT/GTPS.
const ROW_KEYS: [&str; 7] = ["MINIMUM", "MAXIMUM", "AVERAGE", "P50", "P90", "P95", "P99"];
/// The dataset table's row keys, same order.
const DATASET_ROWS: [&str; 7] = ["MIN", "MAX", "AVG", "P50", "P90", "P95", "P99"];

/// Rows of one breakdown as they are found.
#[derive(Debug, Default, Clone)]
struct Rows([Option<f64>; 7]);

impl Rows {
    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    fn finish(&self, tag: &str, keys: &[&'static str; 7]) -> Result<Option<Breakdown>> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut v = [0.0; 7];
        for (i, x) in self.0.iter().enumerate() {
            v[i] = x.ok_or_else(|| TrtllmBenchLogError::PartialBreakdown {
                tag: tag.to_owned(),
                key: keys[i],
            })?;
        }
        Ok(Some(Breakdown {
            minimum: v[0],
            maximum: v[1],
            average: v[2],
            p50: v[3],
            p90: v[4],
            p95: v[5],
            p99: v[6],
        }))
    }
}

/// Values of one report as they are found, with the line each came from.
#[derive(Debug, Default, Clone)]
struct Found {
    backend_kind: Option<BackendKind>,
    machine: Option<String>,
    values: Vec<(Section, &'static str, String, usize)>,
    tags: [Rows; 4],
    dataset_rows: [Rows; 3],
    seen_performance: bool,
}

impl Found {
    fn get(&self, section: Section, label: &str) -> Option<(&str, usize)> {
        self.values
            .iter()
            .rev()
            .find(|(s, l, _, _)| *s == section && *l == label)
            .map(|(_, _, v, line)| (v.as_str(), *line))
    }

    fn has_section(&self, section: Section) -> bool {
        self.values.iter().any(|(s, ..)| *s == section)
    }
}

/// Parses trtllm-bench's printout (the last report in `text`).
pub fn parse_log(text: &str) -> Result<TrtllmBenchReport> {
    let mut found = Found::default();
    let mut section = Section::None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let content = strip_log_prefix(raw);
        let trimmed = content.trim();
        if trimmed.is_empty() || trimmed.bytes().all(|b| b == b'=' || b == b'-') {
            continue;
        }
        if let Some(next) = header(trimmed) {
            // A new report after a finished one: keep only the last.
            if found.seen_performance
                && matches!(next, Section::Backend | Section::Request | Section::Machine)
            {
                found = Found::default();
            }
            if next == Section::Backend {
                found.backend_kind = Some(if trimmed.ends_with("ENGINE DETAILS") {
                    BackendKind::Engine
                } else {
                    BackendKind::Pytorch
                });
            }
            found.seen_performance |= next == Section::Performance;
            section = next;
            continue;
        }
        if trimmed.starts_with("--") {
            continue; // a breakdown heading
        }
        if section == Section::Performance {
            // `[TPOT] P50    : 7.6079` (but not `Average ... [TTFT] (ms):  162.6706`).
            if let Some((tag, row, value)) = breakdown_row(trimmed) {
                let v = number(
                    line_no,
                    &format!("[{}] {}", TAGS[tag], ROW_KEYS[row]),
                    value,
                )?;
                found.tags[tag].0[row] = Some(v);
                continue;
            }
        }
        if section == Section::Machine {
            found.machine.get_or_insert_with(|| trimmed.to_owned());
            continue;
        }
        let labels = match section {
            Section::Backend => BACKEND_LABELS,
            Section::Request => REQUEST_LABELS,
            Section::World => WORLD_LABELS,
            Section::Performance => PERF_LABELS,
            Section::Dataset => DATASET_LABELS,
            Section::None | Section::Machine | Section::Other => continue,
        };
        let Some((key, value)) = key_value(trimmed) else {
            continue;
        };
        let Some(label) = match_label(key, labels) else {
            continue;
        };
        if section == Section::Dataset {
            if let Some(row) = DATASET_ROWS.iter().position(|k| *k == label) {
                let cols: Vec<&str> = value.split_whitespace().collect();
                if cols.len() != 3 {
                    return Err(TrtllmBenchLogError::BadValue {
                        line: line_no,
                        field: format!("DATASET DETAILS {label}"),
                        value: value.to_owned(),
                        expected: "three numbers (Input, Output, Seq. Length)",
                    });
                }
                for (c, text) in cols.iter().enumerate() {
                    let v = number(line_no, &format!("DATASET DETAILS {label}"), text)?;
                    found.dataset_rows[c].0[row] = Some(v);
                }
                if label == "P99" {
                    // The table's last row: what follows is no longer the report.
                    section = Section::Other;
                }
                continue;
            }
        }
        found
            .values
            .push((section, label, value.to_owned(), line_no));
    }
    if !found.seen_performance {
        return Err(TrtllmBenchLogError::NoReport);
    }
    build(&found)
}

/// The text after log prefixes: bracketed tags (`[TensorRT-LLM][INFO] `, timestamps in
/// brackets) and srun's `N: ` task label. Breakdown tags stay.
fn strip_log_prefix(line: &str) -> &str {
    let mut s = line.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix('[') {
            if let Some(close) = rest.find(']') {
                if !TAGS.contains(&&rest[..close]) {
                    s = rest[close + 1..].trim_start();
                    continue;
                }
            }
        }
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && s[digits..].starts_with(": ") {
            s = s[digits + 2..].trim_start();
            continue;
        }
        return s;
    }
}

fn header(trimmed: &str) -> Option<Section> {
    for (name, section) in HEADERS {
        if trimmed.ends_with(&format!("= {name}")) {
            return Some(*section);
        }
    }
    // Any other `= NAME` block (DECODING STATISTICS, newer additions) is skipped.
    (trimmed.starts_with("= ") && !trimmed.contains(':')).then_some(Section::Other)
}

/// `[TAG] KEY : value` → (tag index, row index, value).
fn breakdown_row(trimmed: &str) -> Option<(usize, usize, &str)> {
    for (i, tag) in TAGS.iter().enumerate() {
        let open = format!("[{tag}] ");
        if let Some(p) = trimmed.find(&open) {
            let (key, value) = trimmed[p + open.len()..].split_once(':')?;
            let row = ROW_KEYS.iter().position(|k| *k == key.trim())?;
            return Some((i, row, value.trim()));
        }
    }
    None
}

/// Splits at the first `:` followed by a blank (or ending the line).
fn key_value(trimmed: &str) -> Option<(&str, &str)> {
    let bytes = trimmed.as_bytes();
    let p = (0..bytes.len())
        .find(|&i| bytes[i] == b':' && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace()))?;
    Some((trimmed[..p].trim(), trimmed[p + 1..].trim()))
}

/// The longest label the key ends with (so `KV Cache Dtype` is not read as `Dtype`, and
/// a prefix before the label does not matter).
fn match_label(key: &str, labels: &[&'static str]) -> Option<&'static str> {
    labels
        .iter()
        .filter(|l| {
            key.ends_with(**l) && {
                let before = &key[..key.len() - l.len()];
                before.is_empty() || before.ends_with(|c: char| c.is_whitespace() || c == ']')
            }
        })
        .max_by_key(|l| l.len())
        .copied()
}

fn number(line: usize, field: &str, text: &str) -> Result<f64> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| TrtllmBenchLogError::BadValue {
            line,
            field: field.to_owned(),
            value: text.to_owned(),
            expected: "a number",
        })
}

fn build(f: &Found) -> Result<TrtllmBenchReport> {
    use Section as S;
    let text = |s: S, l: &'static str| -> Option<String> {
        f.get(s, l)
            .map(|(v, _)| v.to_owned())
            .filter(|v| v != "None" && !v.is_empty())
    };
    let opt_u64 = |s: S, l: &'static str| -> Result<Option<u64>> {
        match f.get(s, l) {
            None => Ok(None),
            Some(("None", _)) => Ok(None),
            Some((v, line)) => {
                v.parse::<u64>()
                    .map(Some)
                    .map_err(|_| TrtllmBenchLogError::BadValue {
                        line,
                        field: l.to_owned(),
                        value: v.to_owned(),
                        expected: "a whole number or None",
                    })
            }
        }
    };
    let opt_f64 = |s: S, l: &'static str| -> Result<Option<f64>> {
        match f.get(s, l) {
            None | Some(("None", _)) => Ok(None),
            Some((v, line)) => number(line, l, v.trim_end_matches('%')).map(Some),
        }
    };
    let need_f64 = |s: S, l: &'static str, name: &'static str| -> Result<f64> {
        opt_f64(s, l)?.ok_or(TrtllmBenchLogError::Missing {
            section: name,
            field: l,
        })
    };
    let backend = if f.has_section(S::Backend) {
        Some(Backend {
            kind: f.backend_kind,
            model: text(S::Backend, "Model"),
            model_path: text(S::Backend, "Model Path"),
            engine_dir: text(S::Backend, "Engine Directory"),
            version: text(S::Backend, "TensorRT LLM Version")
                .or_else(|| text(S::Backend, "TensorRT-LLM Version")),
            dtype: text(S::Backend, "Dtype"),
            kv_cache_dtype: text(S::Backend, "KV Cache Dtype"),
            quantization: text(S::Backend, "Quantization"),
            max_input_len: opt_u64(S::Backend, "Max Input Length")?,
            max_seq_len: opt_u64(S::Backend, "Max Sequence Length")?,
        })
    } else {
        None
    };
    let rd = "REQUEST DETAILS";
    let request = RequestDetails {
        num_requests: opt_u64(S::Request, L_NUM_REQUESTS)?.ok_or(TrtllmBenchLogError::Missing {
            section: rd,
            field: L_NUM_REQUESTS,
        })?,
        concurrent_requests: need_f64(S::Request, L_CONCURRENT, rd)?,
        avg_input_tokens: need_f64(S::Request, L_AVG_INPUT, rd)?,
        avg_output_tokens: need_f64(S::Request, L_AVG_OUTPUT, rd)?,
    };
    let world = if f.has_section(S::World) {
        Some(WorldInfo {
            tp: opt_u64(S::World, "TP Size")?,
            pp: opt_u64(S::World, "PP Size")?,
            ep: opt_u64(S::World, "EP Size")?,
            max_batch_size: opt_u64(S::World, "Max Runtime Batch Size")?,
            max_num_tokens: opt_u64(S::World, "Max Runtime Tokens")?,
            scheduling_policy: text(S::World, "Scheduling Policy"),
            kv_memory_percent: opt_f64(S::World, "KV Memory Percentage")?,
            issue_rate_printed: opt_f64(S::World, "Issue Rate (req/sec)")?,
        })
    } else {
        None
    };
    let po = "PERFORMANCE OVERVIEW";
    let performance = Performance {
        request_throughput_req_s: need_f64(S::Performance, L_REQ_TPUT, po)?,
        output_throughput_tok_s: need_f64(S::Performance, L_OUT_TPUT, po)?,
        total_token_throughput_tok_s: need_f64(S::Performance, L_TOK_TPUT, po)?,
        total_latency_ms: need_f64(S::Performance, L_TOTAL_LAT, po)?,
        avg_request_latency_ms: need_f64(S::Performance, L_AVG_LAT, po)?,
        per_user_output_throughput_tok_s: need_f64(S::Performance, L_USER_TPUT, po)?,
        per_gpu_output_throughput_tok_s: need_f64(S::Performance, L_GPU_TPUT, po)?,
    };
    let [tpot, ttft, gtps, latency] = &f.tags;
    let streaming = match opt_f64(S::Performance, L_TTFT)? {
        None if tpot.is_empty() && ttft.is_empty() && gtps.is_empty() => None,
        avg_ttft => Some(Streaming {
            avg_ttft_ms: avg_ttft.ok_or(TrtllmBenchLogError::Missing {
                section: po,
                field: L_TTFT,
            })?,
            avg_tpot_ms: need_f64(S::Performance, L_TPOT, po)?,
            per_user_output_speed_tok_s: need_f64(S::Performance, L_SPEED, po)?,
            tpot_ms: tpot.finish("TPOT", &ROW_KEYS)?,
            ttft_ms: ttft.finish("TTFT", &ROW_KEYS)?,
            gtps_tok_s: gtps.finish("GTPS", &ROW_KEYS)?,
        }),
    };
    let dataset = if f.has_section(S::Dataset) || f.dataset_rows.iter().any(|r| !r.is_empty()) {
        let [i, o, s] = &f.dataset_rows;
        Some(DatasetDetails {
            path: text(S::Dataset, "Dataset Path"),
            sequences: opt_u64(S::Dataset, "Number of Sequences")?,
            input_tokens: i.finish("Input", &DATASET_ROWS)?,
            output_tokens: o.finish("Output", &DATASET_ROWS)?,
            sequence_tokens: s.finish("Seq. Length", &DATASET_ROWS)?,
        })
    } else {
        None
    };
    Ok(TrtllmBenchReport {
        backend,
        machine: f.machine.clone(),
        request,
        world,
        performance,
        streaming,
        latency_ms: latency.finish("Latency", &ROW_KEYS)?,
        dataset,
    })
}

// ---- reading --report_json ----

/// Parses the `--report_json` file. Its keys are those trtllm-bench's report code reads
/// to print (`engine`, `world_info`, `request_info`, `performance`, `streaming_metrics`);
/// its `dataset` block is not read. `world_info.kv_cache_percentage` is taken as a
/// fraction (the printout multiplies it by 100).
pub fn parse_report_json(text: &str) -> Result<TrtllmBenchReport> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| TrtllmBenchLogError::Json(e.to_string()))?;
    if !v.is_object() || v.get("performance").is_none() {
        return Err(TrtllmBenchLogError::Json(
            "no \"performance\" object; pass the file written by trtllm-bench --report_json".into(),
        ));
    }
    let f = |path: &str| -> Result<Option<f64>> {
        match v.pointer(path) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x
                .as_f64()
                .map(Some)
                .ok_or_else(|| TrtllmBenchLogError::BadValue {
                    line: 0,
                    field: path.to_owned(),
                    value: x.to_string(),
                    expected: "a number",
                }),
        }
    };
    let need = |path: &'static str| -> Result<f64> {
        f(path)?.ok_or(TrtllmBenchLogError::Missing {
            section: "report JSON",
            field: path,
        })
    };
    let int = |path: &str| -> Result<Option<u64>> { Ok(f(path)?.map(|x| x as u64)) };
    let s = |path: &str| -> Option<String> {
        v.pointer(path).and_then(|x| match x {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
    };
    let breakdown = |path: &str| -> Result<Option<Breakdown>> {
        if v.pointer(path).is_none() {
            return Ok(None);
        }
        let k = |key: &str| -> Result<f64> {
            f(&format!("{path}/{key}"))?.ok_or_else(|| TrtllmBenchLogError::PartialBreakdown {
                tag: path.to_owned(),
                key: match key {
                    "minimum" => "minimum",
                    "maximum" => "maximum",
                    "average" => "average",
                    "p50" => "p50",
                    "p90" => "p90",
                    "p95" => "p95",
                    _ => "p99",
                },
            })
        };
        Ok(Some(Breakdown {
            minimum: k("minimum")?,
            maximum: k("maximum")?,
            average: k("average")?,
            p50: k("p50")?,
            p90: k("p90")?,
            p95: k("p95")?,
            p99: k("p99")?,
        }))
    };
    let backend = v.get("engine").map(|_| Backend {
        kind: None,
        model: s("/engine/model"),
        model_path: s("/engine/model_path"),
        engine_dir: s("/engine/engine_dir"),
        version: s("/engine/version"),
        dtype: s("/engine/dtype"),
        kv_cache_dtype: s("/engine/kv_cache_dtype"),
        quantization: s("/engine/quantization"),
        max_input_len: None,
        max_seq_len: None,
    });
    let world = match v.get("world_info") {
        Some(_) => Some(WorldInfo {
            tp: int("/world_info/tp_size")?,
            pp: int("/world_info/pp_size")?,
            ep: int("/world_info/ep_size")?,
            max_batch_size: int("/world_info/max_batch_size")?,
            max_num_tokens: int("/world_info/max_num_tokens")?,
            scheduling_policy: s("/world_info/scheduling_policy"),
            kv_memory_percent: f("/world_info/kv_cache_percentage")?.map(|x| x * 100.0),
            issue_rate_printed: f("/world_info/issue_rate")?,
        }),
        None => None,
    };
    let streaming = match v.get("streaming_metrics") {
        Some(Value::Object(_)) => Some(Streaming {
            avg_ttft_ms: need("/streaming_metrics/avg_ttft_ms")?,
            avg_tpot_ms: need("/streaming_metrics/avg_tpot_ms")?,
            per_user_output_speed_tok_s: need("/streaming_metrics/token_output_speed_tok_s")?,
            tpot_ms: breakdown("/streaming_metrics/tpot_percentiles")?,
            ttft_ms: breakdown("/streaming_metrics/ttft_percentiles")?,
            gtps_tok_s: breakdown("/streaming_metrics/gen_tps_percentiles")?,
        }),
        _ => None,
    };
    Ok(TrtllmBenchReport {
        backend,
        machine: None,
        request: RequestDetails {
            num_requests: need("/request_info/num_requests")? as u64,
            concurrent_requests: need("/request_info/avg_num_concurrent_requests")?,
            avg_input_tokens: need("/request_info/avg_input_length")?,
            avg_output_tokens: need("/request_info/avg_output_length")?,
        },
        world,
        performance: Performance {
            request_throughput_req_s: need("/performance/request_throughput_req_s")?,
            output_throughput_tok_s: need("/performance/system_output_throughput_tok_s")?,
            total_token_throughput_tok_s: need("/performance/system_total_throughput_tok_s")?,
            total_latency_ms: need("/performance/total_latency_ms")?,
            avg_request_latency_ms: need("/performance/avg_request_latency_ms")?,
            per_user_output_throughput_tok_s: need(
                "/performance/output_throughput_per_user_tok_s",
            )?,
            per_gpu_output_throughput_tok_s: need("/performance/output_throughput_per_gpu_tok_s")?,
        },
        streaming,
        latency_ms: breakdown("/performance/request_latency_percentiles_ms")?,
        dataset: None,
    })
}

/// Either input: JSON when the text starts with `{`, else the printout.
pub fn parse(text: &str) -> Result<TrtllmBenchReport> {
    if text.trim_start().starts_with('{') {
        parse_report_json(text)
    } else {
        parse_log(text)
    }
}

// ---- writing it again ----

const RULE: &str = "===========================================================";

/// The report in trtllm-bench's layout (REQUEST DETAILS, WORLD + RUNTIME INFORMATION when
/// known, PERFORMANCE OVERVIEW and the breakdowns): the `performance_overview.txt` of an
/// imported run, comparable line by line with the one `llmb bench` writes.
pub fn render(r: &TrtllmBenchReport) -> String {
    let mut o = String::new();
    let q = &r.request;
    let _ = write!(
        o,
        "{RULE}\n= REQUEST DETAILS \n{RULE}\n\
         Number of requests:             {}\n\
         Number of concurrent requests:  {:.4}\n\
         Average Input Length (tokens):  {:.4}\n\
         Average Output Length (tokens): {:.4}\n",
        q.num_requests, q.concurrent_requests, q.avg_input_tokens, q.avg_output_tokens
    );
    if let Some(w) = &r.world {
        let opt = |v: Option<u64>| v.map_or("None".to_owned(), |v| v.to_string());
        let _ = write!(
            o,
            "{RULE}\n= WORLD + RUNTIME INFORMATION \n{RULE}\n\
             TP Size:                {}\n\
             PP Size:                {}\n\
             EP Size:                {}\n\
             Max Runtime Batch Size: {}\n\
             Max Runtime Tokens:     {}\n\
             Scheduling Policy:      {}\n\
             KV Memory Percentage:   {}\n\
             Issue Rate (req/sec):   {}\n\n",
            opt(w.tp),
            opt(w.pp),
            opt(w.ep),
            opt(w.max_batch_size),
            opt(w.max_num_tokens),
            w.scheduling_policy.as_deref().unwrap_or("None"),
            w.kv_memory_percent
                .map_or("None".to_owned(), |v| format!("{v:.2}%")),
            w.issue_rate_printed.map_or("None".to_owned(), python_exp),
        );
    }
    let p = &r.performance;
    let line = |o: &mut String, label: &str, v: f64| {
        let _ = writeln!(o, "{:<50}{:.4}", format!("{label}:"), v);
    };
    let _ = write!(o, "{RULE}\n= PERFORMANCE OVERVIEW \n{RULE}\n");
    line(&mut o, L_REQ_TPUT, p.request_throughput_req_s);
    line(&mut o, L_OUT_TPUT, p.output_throughput_tok_s);
    line(&mut o, L_TOK_TPUT, p.total_token_throughput_tok_s);
    line(&mut o, L_TOTAL_LAT, p.total_latency_ms);
    line(&mut o, L_AVG_LAT, p.avg_request_latency_ms);
    line(&mut o, L_USER_TPUT, p.per_user_output_throughput_tok_s);
    line(&mut o, L_GPU_TPUT, p.per_gpu_output_throughput_tok_s);
    if let Some(s) = &r.streaming {
        line(&mut o, L_TTFT, s.avg_ttft_ms);
        line(&mut o, L_TPOT, s.avg_tpot_ms);
        line(&mut o, L_SPEED, s.per_user_output_speed_tok_s);
        let sections = [
            (
                "\n-- Per-Request Time-per-Output-Token [TPOT] Breakdown (ms)\n\n",
                "TPOT",
                &s.tpot_ms,
            ),
            (
                "\n-- Per-Request Time-to-First-Token [TTFT] Breakdown (ms) \n\n",
                "TTFT",
                &s.ttft_ms,
            ),
            (
                "\n-- Per-Request Generation Throughput [GTPS] Breakdown (tps/user)\n\n",
                "GTPS",
                &s.gtps_tok_s,
            ),
        ];
        for (heading, tag, b) in sections {
            if let Some(b) = b {
                let rows = [b.minimum, b.maximum, b.average, b.p50, b.p90, b.p95, b.p99];
                let _ = writeln!(o, "{heading}{}", rows_text(tag, &ROW_KEYS, &rows));
            }
        }
    }
    if let Some(b) = &r.latency_ms {
        // The latency rows follow the percentile dict's order: P50..P99, then the rest.
        let keys = ["P50", "P90", "P95", "P99", "MINIMUM", "MAXIMUM", "AVERAGE"];
        let rows = [b.p50, b.p90, b.p95, b.p99, b.minimum, b.maximum, b.average];
        let _ = write!(
            o,
            "\n-- Request Latency Breakdown (ms) -----------------------\n\n{}\n",
            rows_text("Latency", &keys, &rows)
        );
    }
    o
}

fn rows_text(tag: &str, keys: &[&str; 7], values: &[f64; 7]) -> String {
    keys.iter()
        .zip(values)
        .map(|(k, v)| format!("[{tag}] {k:<7}: {v:.4}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Python's `{:.4E}`: `1.0526E+15` (Rust writes `1.0526E15`).
fn python_exp(v: f64) -> String {
    let s = format!("{v:.4E}");
    match s.split_once('E') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}E{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAMING: &str = include_str!("../tests/fixtures/trtllm_bench_streaming.out");
    const VERBATIM_021: &str = include_str!("../tests/fixtures/trtllm_bench_0.21_verbatim.out");
    const FILLED_021: &str = include_str!("../tests/fixtures/trtllm_bench_0.21_filled.out");
    const NO_STREAMING: &str = include_str!("../tests/fixtures/trtllm_bench_no_streaming.out");

    fn b(v: [f64; 7]) -> Breakdown {
        Breakdown {
            minimum: v[0],
            maximum: v[1],
            average: v[2],
            p50: v[3],
            p90: v[4],
            p95: v[5],
            p99: v[6],
        }
    }

    #[test]
    fn streaming_printout_every_field() {
        let r = parse_log(STREAMING).unwrap();
        assert_eq!(
            r.backend,
            Some(Backend {
                kind: Some(BackendKind::Pytorch),
                model: Some("Llama3.3-70B".into()),
                model_path: Some("/workspace/Llama3.3_70B".into()),
                engine_dir: None,
                version: Some("1.0.0rc6".into()),
                dtype: Some("bfloat16".into()),
                kv_cache_dtype: Some("FP8".into()),
                quantization: Some("NVFP4".into()),
                max_input_len: None,
                max_seq_len: None,
            })
        );
        assert_eq!(r.machine, None);
        assert_eq!(
            r.request,
            RequestDetails {
                num_requests: 4000,
                concurrent_requests: 612.3456,
                avg_input_tokens: 1000.0,
                avg_output_tokens: 1000.0,
            }
        );
        assert_eq!(
            r.world,
            Some(WorldInfo {
                tp: Some(2),
                pp: Some(1),
                ep: None,
                max_batch_size: Some(640),
                max_num_tokens: Some(2048),
                scheduling_policy: Some("GUARANTEED_NO_EVICT".into()),
                kv_memory_percent: Some(95.0),
                issue_rate_printed: Some(2.1234e13),
            })
        );
        assert_eq!(r.world.as_ref().unwrap().world_size(), Some(2));
        assert_eq!(
            r.performance,
            Performance {
                request_throughput_req_s: 10.5,
                output_throughput_tok_s: 10500.0,
                total_token_throughput_tok_s: 21000.0,
                total_latency_ms: 380952.381,
                avg_request_latency_ms: 58319.2345,
                per_user_output_throughput_tok_s: 17.8912,
                per_gpu_output_throughput_tok_s: 5250.0,
            }
        );
        assert_eq!(
            r.streaming,
            Some(Streaming {
                avg_ttft_ms: 1234.5678,
                avg_tpot_ms: 57.1234,
                per_user_output_speed_tok_s: 17.5432,
                tpot_ms: Some(b([
                    40.0001, 80.0002, 57.1234, 56.0003, 70.0004, 75.0005, 79.0006
                ])),
                ttft_ms: Some(b([100.1, 5000.2, 1234.5678, 900.3, 3000.4, 4000.5, 4900.6])),
                gtps_tok_s: Some(b([12.5, 25.0, 17.5432, 17.8, 22.0, 23.5, 24.9])),
            })
        );
        // [Latency] rows come P50..P99, MINIMUM, MAXIMUM, AVERAGE.
        assert_eq!(
            r.latency_ms,
            Some(b([
                41000.5, 60000.6, 58319.2345, 57000.1, 59000.2, 59500.3, 59900.4
            ]))
        );
        let col = |v: f64| Some(b([v; 7]));
        assert_eq!(
            r.dataset,
            Some(DatasetDetails {
                path: Some("/workloads/dataset_reasoning_1000_1000.txt".into()),
                sequences: Some(50000),
                input_tokens: col(1000.0),
                output_tokens: col(1000.0),
                sequence_tokens: col(2000.0),
            })
        );
    }

    #[test]
    fn the_real_021_output_is_read_and_its_elisions_are_named() {
        // formats.md 1.7 as quoted: the blog elided lines, so the overview is incomplete.
        let e = parse_log(VERBATIM_021).unwrap_err();
        assert_eq!(
            e,
            TrtllmBenchLogError::Missing {
                section: "PERFORMANCE OVERVIEW",
                field: "Total Output Throughput (tokens/sec)"
            }
        );
        assert!(e.to_string().contains("truncated"), "{e}");
        // Filled in (behind Python-logging timestamps), every verbatim number is read.
        let r = parse_log(FILLED_021).unwrap();
        assert_eq!(r.request.num_requests, 100);
        assert_eq!(r.request.concurrent_requests, 94.605);
        let w = r.world.as_ref().unwrap();
        assert_eq!((w.tp, w.pp, w.ep), (Some(1), Some(1), None));
        assert_eq!(
            (w.max_batch_size, w.max_num_tokens),
            (Some(3840), Some(7680))
        );
        assert_eq!(w.kv_memory_percent, Some(90.0));
        assert_eq!(w.issue_rate_printed, Some(1.0526e15));
        assert_eq!(r.performance.request_throughput_req_s, 86.5373);
        assert_eq!(r.performance.per_gpu_output_throughput_tok_s, 11076.77);
        let s = r.streaming.as_ref().unwrap();
        // 0.21's narrower padding on these three lines.
        assert_eq!(
            (s.avg_ttft_ms, s.avg_tpot_ms, s.per_user_output_speed_tok_s),
            (162.6706, 7.3272, 137.1475)
        );
        assert_eq!(
            s.tpot_ms,
            Some(b([6.645, 8.1306, 7.3272, 7.6079, 8.1246, 8.1289, 8.1306]))
        );
        assert_eq!(
            r.latency_ms,
            Some(b([
                1050.1519, 1137.6817, 1093.2284, 1091.7905, 1130.72, 1133.0074, 1137.6817
            ]))
        );
        let d = r.dataset.as_ref().unwrap();
        assert_eq!(
            d.path.as_deref(),
            Some("/workspace/benchmark_toolkit/synthetic_data.jsonl")
        );
        assert_eq!(d.sequence_tokens, Some(b([256.0; 7])));
        assert_eq!(r.backend, None);
    }

    #[test]
    fn without_streaming_and_behind_srun_labels() {
        let r = parse_log(NO_STREAMING).unwrap();
        assert_eq!(r.streaming, None);
        assert_eq!(r.world, None);
        assert_eq!(r.dataset, None);
        let be = r.backend.as_ref().unwrap();
        assert_eq!(be.kind, Some(BackendKind::Engine));
        assert_eq!(be.model_path, None, "Python None is absent");
        assert_eq!(be.engine_dir.as_deref(), Some("/engines/llama8b"));
        assert_eq!(be.kv_cache_dtype, None);
        assert_eq!((be.max_input_len, be.max_seq_len), (Some(2048), Some(4096)));
        assert_eq!(r.request.num_requests, 8);
        assert_eq!(r.performance.total_latency_ms, 2000.0);
        assert_eq!(r.performance.per_gpu_output_throughput_tok_s, 64.0);
        assert_eq!(r.latency_ms.unwrap().p90, 1500.0);
        assert_eq!(r.latency_ms.unwrap().minimum, 500.0);
    }

    #[test]
    fn garbage_gives_typed_errors_never_a_panic() {
        for text in [
            "",
            "hello\nworld\n",
            "{",
            "= PERFORMANCE",
            "\u{0}\u{ff}::: :",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
        assert_eq!(
            parse_log("hello").unwrap_err(),
            TrtllmBenchLogError::NoReport
        );
        let bad = STREAMING.replace(
            "Total Latency (ms):                               380952.3810",
            "Total Latency (ms):                               fast",
        );
        let e = parse_log(&bad).unwrap_err();
        let line = STREAMING
            .lines()
            .position(|l| l.starts_with("Total Latency"))
            .unwrap()
            + 1;
        assert_eq!(
            e,
            TrtllmBenchLogError::BadValue {
                line,
                field: "Total Latency (ms)".into(),
                value: "fast".into(),
                expected: "a number"
            }
        );
        assert!(e
            .to_string()
            .starts_with(&format!("line {line}: Total Latency (ms)")));
        let partial = STREAMING.replace("[GTPS] P95    : 23.5000\n", "");
        assert_eq!(
            parse_log(&partial).unwrap_err(),
            TrtllmBenchLogError::PartialBreakdown {
                tag: "GTPS".into(),
                key: "P95"
            }
        );
        let bad_int = STREAMING.replace("TP Size:                2", "TP Size:                two");
        assert!(parse_log(&bad_int)
            .unwrap_err()
            .to_string()
            .contains("TP Size: `two` is not a whole number"));
        // Every truncation of a real log is an answer, never a panic.
        let lines: Vec<&str> = STREAMING.lines().collect();
        for n in 0..lines.len() {
            let _ = parse_log(&lines[..n].join("\n"));
        }
    }

    #[test]
    fn the_last_of_several_reports_wins() {
        let two = format!("{NO_STREAMING}\n{STREAMING}");
        assert_eq!(parse_log(&two).unwrap().request.num_requests, 4000);
        let two = format!("{STREAMING}\n{NO_STREAMING}");
        let r = parse_log(&two).unwrap();
        assert_eq!(r.request.num_requests, 8);
        assert_eq!(r.streaming, None);
    }

    #[test]
    fn render_reads_back_the_same() {
        for text in [STREAMING, FILLED_021, NO_STREAMING] {
            let r = parse_log(text).unwrap();
            let again = parse_log(&render(&r)).unwrap();
            assert_eq!(again.request, r.request);
            assert_eq!(again.world, r.world);
            assert_eq!(again.performance, r.performance);
            assert_eq!(again.streaming, r.streaming);
            assert_eq!(again.latency_ms, r.latency_ms);
        }
        let out = render(&parse_log(FILLED_021).unwrap());
        assert!(out.contains("= PERFORMANCE OVERVIEW \n"));
        assert!(out.contains("Issue Rate (req/sec):   1.0526E+15\n"));
        assert!(out.contains("Average time-to-first-token [TTFT] (ms):          162.6706\n"));
        assert!(out.contains("[Latency] P50    : 1091.7905\n[Latency] P90"));
    }

    #[test]
    fn python_exponent_format() {
        assert_eq!(python_exp(1.0526e15), "1.0526E+15");
        assert_eq!(python_exp(12345.0), "1.2345E+04");
        assert_eq!(python_exp(0.0), "0.0000E+00");
        assert_eq!(python_exp(1.5e-7), "1.5000E-07");
    }

    #[test]
    fn report_json_keys() {
        let pct = |base: f64| {
            serde_json::json!({"p50": base, "p90": base + 1.0, "p95": base + 2.0, "p99": base + 3.0,
                "minimum": base - 1.0, "maximum": base + 4.0, "average": base + 0.5})
        };
        let doc = serde_json::json!({
            "engine": {"model": "m", "model_path": "/p", "version": "1.0.0", "dtype": "bfloat16",
                "kv_cache_dtype": null, "quantization": "FP8"},
            "world_info": {"tp_size": 4, "pp_size": 2, "ep_size": 1, "max_batch_size": 512,
                "max_num_tokens": 8192, "scheduling_policy": "GUARANTEED_NO_EVICT",
                "kv_cache_percentage": 0.9, "issue_rate": 1.0e15},
            "request_info": {"num_requests": 50, "avg_num_concurrent_requests": 12.5,
                "avg_input_length": 128.0, "avg_output_length": 64.0},
            "performance": {"total_latency_ms": 1000.0, "avg_request_latency_ms": 250.0,
                "request_throughput_req_s": 50.0, "system_output_throughput_tok_s": 3200.0,
                "system_total_throughput_tok_s": 9600.0, "output_throughput_per_user_tok_s": 256.0,
                "output_throughput_per_gpu_tok_s": 400.0, "request_latency_percentiles_ms": pct(250.0)},
            "streaming_metrics": {"token_output_speed_tok_s": 300.0, "avg_ttft_ms": 20.0,
                "avg_tpot_ms": 3.5, "tpot_percentiles": pct(3.5), "ttft_percentiles": pct(20.0),
                "gen_tps_percentiles": pct(300.0)},
        });
        let r = parse(&doc.to_string()).unwrap();
        assert_eq!(r.request.num_requests, 50);
        assert_eq!(r.world.as_ref().unwrap().world_size(), Some(8));
        assert_eq!(r.world.as_ref().unwrap().kv_memory_percent, Some(90.0));
        assert_eq!(r.backend.as_ref().unwrap().kv_cache_dtype, None);
        assert_eq!(r.performance.output_throughput_tok_s, 3200.0);
        assert_eq!(r.latency_ms.unwrap().p99, 253.0);
        let s = r.streaming.unwrap();
        assert_eq!(
            (s.avg_ttft_ms, s.per_user_output_speed_tok_s),
            (20.0, 300.0)
        );
        assert_eq!(s.ttft_ms.unwrap().minimum, 19.0);
        let e = parse(r#"{"performance": {}}"#).unwrap_err();
        assert!(e.to_string().contains("/request_info/num_requests"), "{e}");
        assert!(parse(r#"{"other": 1}"#)
            .unwrap_err()
            .to_string()
            .contains("--report_json"));
    }

    #[test]
    fn llmb_own_overview_reads_back_with_its_numbers() {
        use llmb_metrics::{Chunk, Outcome, RequestRecord, ServerUsage, Summary};
        let ms = |m: u64| m * 1_000_000;
        let rec = |end: u64, ttft: u64| RequestRecord {
            id: 0,
            prompt_index: 0,
            worker: 0,
            warmup: false,
            scheduled_ns: 0,
            slot_ns: 0,
            sent_ns: 0,
            first_token_ns: Some(ms(ttft)),
            end_ns: ms(end),
            input_tokens: 10,
            requested_output_tokens: None,
            usage: ServerUsage {
                implausible_completion_tokens: None,
                prompt_tokens: Some(10),
                completion_tokens: Some(4),
            },
            connect_ns: None,
            chunks: (0..4)
                .map(|i| Chunk {
                    offset_ns: ms(ttft + i * (end - ttft) / 3),
                    tokens: 1,
                    text_bytes: 3,
                    client_lag_ns: None,
                })
                .collect(),
            outcome: Outcome::Completed,
        };
        let s = Summary::from_records(&[rec(100, 10), rec(200, 40)], None);
        let info = crate::RunInfo {
            gpus: 2,
            streaming: true,
            ..Default::default()
        };
        let r = parse_log(&crate::trtllm::report(&s, &info)).unwrap();
        assert_eq!(r.request.num_requests, 2);
        assert_eq!(r.performance.total_latency_ms, 200.0);
        assert_eq!(r.performance.request_throughput_req_s, 10.0);
        assert_eq!(r.performance.per_gpu_output_throughput_tok_s, 20.0);
        let st = r.streaming.unwrap();
        assert_eq!(st.avg_ttft_ms, 25.0);
        assert_eq!(st.ttft_ms.unwrap().p50, 40.0);
        assert_eq!(r.latency_ms.unwrap().average, 150.0);
    }
}
