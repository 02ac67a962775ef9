//! AIPerf's figures (`aiperf profile` 0.13.0, aiperf/metrics/types; Apache-2.0), by its own
//! definitions: a request is valid when it answered 200 with at least one content chunk;
//! `request_latency` ends at the last content chunk; `inter_token_latency` is
//! `(request_latency - ttft) / (OSL - 1)` for OSL >= 2; `output_token_throughput_per_user`
//! is its inverse; `inter_chunk_latency` pools the gaps between chunks;
//! `benchmark_duration` runs from the first valid request's start to the last response's
//! end;
//! statistics are numpy's (linear percentiles, population std). Token counts are the
//! server's `usage` where it gave them (AIPerf's `--use-server-token-count`), else the
//! client's count of the streamed text.

use crate::percentile::Method;
use crate::{Distribution, RequestRecord};

/// One AIPerf per-request metric: tag, display unit, and whether larger is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// The tag (`time_to_first_token`).
    pub tag: &'static str,
    /// The CSV header without its unit (`Time to First Token`).
    pub header: &'static str,
    /// Display unit.
    pub unit: &'static str,
    /// For goodput: a request is good at or above the SLO.
    pub larger_is_better: bool,
}

const fn tag(tag: &'static str, header: &'static str, unit: &'static str, larger: bool) -> Tag {
    Tag {
        tag,
        header,
        unit,
        larger_is_better: larger,
    }
}

/// Per-request metrics, in the order AIPerf writes them (its JSON's declared fields first).
pub const RECORD_TAGS: [Tag; 14] = [
    tag("request_latency", "Request Latency", "ms", false),
    tag("time_to_first_token", "Time to First Token", "ms", false),
    tag("time_to_second_token", "Time to Second Token", "ms", false),
    tag("inter_token_latency", "Inter Token Latency", "ms", false),
    tag(
        "output_token_throughput_per_user",
        "Output Token Throughput Per User",
        "tokens/sec/user",
        true,
    ),
    tag(
        "output_sequence_length",
        "Output Sequence Length",
        "tokens",
        true,
    ),
    tag(
        "input_sequence_length",
        "Input Sequence Length",
        "tokens",
        false,
    ),
    tag("output_token_count", "Output Token Count", "tokens", true),
    tag("inter_chunk_latency", "Inter Chunk Latency", "ms", false),
    tag(
        "time_to_first_output_token",
        "Time to First Output Token",
        "ms",
        false,
    ),
    tag("decode_duration", "Decode Duration", "ms", false),
    tag(
        "e2e_output_token_throughput",
        "E2E Output Token Throughput",
        "tokens/sec/user",
        true,
    ),
    tag(
        "prefill_throughput_per_user",
        "Prefill Throughput Per User",
        "tokens/sec/user",
        true,
    ),
    tag(
        "usage_completion_tokens",
        "Usage Completion Tokens",
        "tokens",
        true,
    ),
];

/// Indexes into [`RECORD_TAGS`] of the metrics AIPerf computes only for streamed responses:
/// TTFT, TTST, ITL, per-user throughput, inter-chunk latency, TTFO, decode duration,
/// prefill throughput.
const STREAMING_ONLY: [usize; 8] = [1, 2, 3, 4, 8, 9, 10, 12];

/// A metric's value on one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// One number.
    One(f64),
    /// Integral count.
    Count(u64),
    /// A list (inter_chunk_latency).
    List(Vec<f64>),
}

/// One request as AIPerf sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AiperfRequest {
    /// Valid (200 and at least one content chunk).
    pub valid: bool,
    /// Start and end, ns since the run origin.
    pub start_ns: u64,
    /// End of the last content chunk (or of the failure).
    pub end_ns: u64,
    /// Prompt tokens.
    pub isl: u64,
    /// The metrics that exist for it, in [`RECORD_TAGS`] order (tag index, value).
    pub metrics: Vec<(usize, Value)>,
    /// Why it failed: HTTP status (if any), kind, message.
    pub error: Option<ErrorDetails>,
}

/// AIPerf's `ErrorDetails`: `code` (the HTTP status, when there was one), `type`, `message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ErrorDetails {
    /// HTTP status.
    pub code: Option<u16>,
    /// The kind (`http_status`, `timeout`, `reset`, ...).
    pub kind: String,
    /// What happened (the response body's excerpt, or llmb's outcome label).
    pub message: String,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

impl AiperfRequest {
    /// From a record; without `streaming` the metrics that need a stream (TTFT, ITL and
    /// the others AIPerf flags streaming-only) are left out, as AIPerf does.
    pub fn of(r: &RequestRecord, streaming: bool) -> AiperfRequest {
        let valid = r.is_completed() && !r.chunks.is_empty();
        let isl = r.input_tokens;
        let mut m = Vec::new();
        let end_ns = r.sent_ns + r.chunks.last().map_or(0, |c| c.offset_ns);
        if valid {
            let first = r.chunks[0].offset_ns;
            let last = r.chunks[r.chunks.len() - 1].offset_ns;
            let osl = r.output_tokens();
            let latency = ms(last);
            let ttft = ms(first);
            m.push((0, Value::One(latency)));
            m.push((1, Value::One(ttft)));
            if let Some(second) = r.chunks.get(1) {
                m.push((2, Value::One(ms(second.offset_ns - first))));
            }
            if osl >= 2 {
                let itl = (latency - ttft) / (osl - 1) as f64;
                m.push((3, Value::One(itl)));
                if itl > 0.0 {
                    m.push((4, Value::One(1000.0 / itl)));
                }
            }
            m.push((5, Value::Count(osl)));
            m.push((6, Value::Count(isl)));
            m.push((7, Value::Count(osl)));
            if r.chunks.len() >= 2 {
                let gaps = r
                    .chunks
                    .windows(2)
                    .map(|w| ms(w[1].offset_ns - w[0].offset_ns));
                m.push((8, Value::List(gaps.collect())));
            }
            m.push((9, Value::One(ttft)));
            m.push((10, Value::One(latency - ttft)));
            if latency > 0.0 {
                m.push((11, Value::One(osl as f64 / (latency / 1000.0))));
            }
            if ttft > 0.0 {
                m.push((12, Value::One(isl as f64 / (ttft / 1000.0))));
            }
            if let Some(u) = r.usage.completion_tokens {
                m.push((13, Value::Count(u)));
            }
            if !streaming {
                m.retain(|(i, _)| !STREAMING_ONLY.contains(i));
            }
        }
        let error = (!valid).then(|| match &r.outcome {
            crate::Outcome::HttpStatus { status, body } => ErrorDetails {
                code: Some(*status),
                kind: r.outcome.kind().as_str().to_owned(),
                message: body.clone(),
            },
            crate::Outcome::Completed => ErrorDetails {
                code: None,
                kind: "no_content".to_owned(),
                message: "the response carried no content".to_owned(),
            },
            other => ErrorDetails {
                code: None,
                kind: other.kind().as_str().to_owned(),
                message: other.label(),
            },
        });
        AiperfRequest {
            error,
            valid,
            start_ns: r.sent_ns,
            end_ns: if valid { end_ns } else { r.end_ns },
            isl,
            metrics: m,
        }
    }

    /// The value of tag number `i`, when it exists.
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.metrics.iter().find(|(t, _)| *t == i).map(|(_, v)| v)
    }
}

/// Statistics of one metric as AIPerf exports them.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Mean.
    pub avg: f64,
    /// p1, p5, p10, p25, p50, p75, p90, p95, p99.
    pub percentiles: [f64; 9],
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Values.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

/// The percentiles AIPerf exports.
pub const PERCENTILES: [f64; 9] = [1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0];

impl Stats {
    /// Of a distribution; `None` when empty.
    pub fn of(d: &Distribution) -> Option<Stats> {
        (!d.is_empty()).then(|| Stats {
            avg: d.mean(),
            percentiles: PERCENTILES.map(|p| d.percentile(p, Method::Linear)),
            min: d.min(),
            max: d.max(),
            std: d.std(),
            count: d.len() as u64,
            sum: d.sum(),
        })
    }
}

/// The run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct AiperfMetrics {
    /// Measured requests, by id.
    pub requests: Vec<AiperfRequest>,
    /// Statistics per record metric (index into [`RECORD_TAGS`]), `None` when no request
    /// has it.
    pub stats: Vec<Option<Stats>>,
    /// Valid requests.
    pub request_count: u64,
    /// Failed requests.
    pub error_count: u64,
    /// First start to last end, seconds.
    pub duration_s: f64,
    /// Sum of output sequence lengths.
    pub total_osl: u64,
    /// Sum of input sequence lengths.
    pub total_isl: u64,
    /// Sum of prompt lengths of failed requests.
    pub total_error_isl: u64,
    /// Valid requests meeting every SLO (`None` without SLOs).
    pub good: Option<u64>,
}

impl AiperfMetrics {
    /// From the run's records (warm-up left out), whether responses were streamed, and the
    /// `--goodput` SLOs (tag, value in display units).
    pub fn compute(
        records: &[RequestRecord],
        streaming: bool,
        slos: &[(String, f64)],
    ) -> AiperfMetrics {
        let mut measured: Vec<&RequestRecord> = records.iter().filter(|r| !r.warmup).collect();
        measured.sort_by_key(|r| r.id);
        let requests: Vec<AiperfRequest> = measured
            .iter()
            .map(|r| AiperfRequest::of(r, streaming))
            .collect();
        let valid: Vec<&AiperfRequest> = requests.iter().filter(|r| r.valid).collect();
        let stats = (0..RECORD_TAGS.len())
            .map(|i| {
                let values: Vec<f64> = valid
                    .iter()
                    .filter_map(|r| r.get(i))
                    .flat_map(|v| match v {
                        Value::One(x) => vec![*x],
                        Value::Count(n) => vec![*n as f64],
                        Value::List(l) => l.clone(),
                    })
                    .collect();
                Stats::of(&Distribution::new(values))
            })
            .collect();
        // Over valid requests (a failed one has no request_latency).
        let first = valid.iter().map(|r| r.start_ns).min().unwrap_or(0);
        let last = valid.iter().map(|r| r.end_ns).max().unwrap_or(0);
        let count = |i: usize, r: &AiperfRequest| match r.get(i) {
            Some(Value::Count(n)) => *n,
            _ => 0,
        };
        let good = (!slos.is_empty()).then(|| {
            valid
                .iter()
                .filter(|r| {
                    slos.iter().all(|(tag, limit)| {
                        let Some(i) = RECORD_TAGS.iter().position(|t| t.tag == tag) else {
                            return false;
                        };
                        let value = match r.get(i) {
                            Some(Value::One(x)) => *x,
                            Some(Value::Count(n)) => *n as f64,
                            _ => return false,
                        };
                        if RECORD_TAGS[i].larger_is_better {
                            value >= *limit
                        } else {
                            value <= *limit
                        }
                    })
                })
                .count() as u64
        });
        AiperfMetrics {
            request_count: valid.len() as u64,
            error_count: (requests.len() - valid.len()) as u64,
            duration_s: last.saturating_sub(first) as f64 / 1e9,
            total_osl: valid.iter().map(|r| count(5, r)).sum(),
            total_isl: valid.iter().map(|r| r.isl).sum(),
            total_error_isl: requests.iter().filter(|r| !r.valid).map(|r| r.isl).sum(),
            good,
            stats,
            requests,
        }
    }

    /// `n` per second of the benchmark duration (0 for an empty run).
    pub fn per_s(&self, n: f64) -> f64 {
        if self.duration_s > 0.0 {
            n / self.duration_s
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::tests::record;
    use crate::Outcome;

    #[test]
    fn figures_follow_aiperf_by_hand() {
        // Sent at 0: chunks at 100, 150, 250 ms, 3 tokens, 100 prompt tokens.
        // Sent at 50: chunks at 80, 180 ms (ends 230 ms absolute), 2 tokens.
        let a = record(0, &[(100, 1), (150, 1), (250, 1)], 300);
        let mut b = record(50, &[(80, 1), (180, 1)], 260);
        b.id = 1;
        let mut c = record(60, &[], 400);
        c.id = 2;
        c.outcome = Outcome::HttpStatus {
            status: 500,
            body: String::new(),
        };
        let m = AiperfMetrics::compute(&[a, b, c], true, &[]);
        assert_eq!((m.request_count, m.error_count), (2, 1));
        let s = |i: usize| m.stats[i].clone().unwrap();
        let near = |x: f64, y: f64| assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        // request_latency 250 and 180; ttft 100 and 80; ttst 50 and 100.
        near(s(0).avg, 215.0);
        near(s(1).sum, 180.0);
        near(s(2).max, 100.0);
        // ITL (250-100)/2 = 75 and (180-80)/1 = 100; per user 1000/75 and 10.
        near(s(3).avg, 87.5);
        near(s(4).min, 10.0);
        // Chunk gaps pooled: 50, 100, 100.
        assert_eq!(s(8).count, 3);
        // Duration: first start (0) to the last valid response's end (250 ms); the failed
        // request, ended at 400 ms, has no latency and does not count.
        near(m.duration_s, 0.25);
        assert_eq!((m.total_osl, m.total_isl, m.total_error_isl), (5, 200, 100));
        // Goodput: TTFT <= 90 ms keeps request 1 only; per-user >= 12 keeps request 0.
        let g = |tag: &str, v: f64| {
            AiperfMetrics::compute(&m_records(), true, &[(tag.to_owned(), v)]).good
        };
        assert_eq!(g("time_to_first_token", 90.0), Some(1));
        assert_eq!(g("output_token_throughput_per_user", 12.0), Some(1));
        assert_eq!(g("no_such_metric", 1.0), Some(0));
        // Not streamed: no TTFT, ITL or chunk gaps, latency and lengths still.
        let n = AiperfMetrics::compute(&m_records(), false, &[]);
        assert!(n.stats[1].is_none() && n.stats[3].is_none() && n.stats[8].is_none());
        assert!(n.stats[0].is_some() && n.stats[5].is_some());
    }

    fn m_records() -> Vec<RequestRecord> {
        let a = record(0, &[(100, 1), (150, 1), (250, 1)], 300);
        let mut b = record(50, &[(80, 1), (180, 1)], 260);
        b.id = 1;
        vec![a, b]
    }
}
