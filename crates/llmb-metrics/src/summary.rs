//! A run's metrics, computed once from its records: every distribution and rate under
//! each tool's own definition, so each exporter only formats.

use std::collections::BTreeMap;

use crate::definitions::{self as def, LatencyOrigin};
use crate::{Distribution, RequestRecord};

/// The run's time frame, measured by the driver (ns since the run origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunWindow {
    /// When the first measured request was due (warm-up excluded).
    pub start_ns: u64,
    /// When the last request ended.
    pub end_ns: u64,
}

impl RunWindow {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e9
    }
}

/// Latency distributions measured from one origin.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    /// TTFT (ms), completed requests with a text chunk.
    pub ttft_ms: Distribution,
    /// End-to-end latency (ms), completed requests.
    pub e2e_ms: Distribution,
}

/// All metrics of one run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Measured requests (warm-up excluded), whatever their outcome.
    pub requests: u64,
    /// Completed ones.
    pub completed: u64,
    /// Failed ones by outcome label (`http_500`, `timeout`, ...).
    pub failures: BTreeMap<String, u64>,
    /// From the actual send.
    pub latency: Latencies,
    /// From the intended send of the schedule.
    pub latency_from_schedule: Latencies,
    /// Per-request TPOT (ms), `n > 1` only (benchmark_serving TPOT, GenAI-Perf ITL).
    pub tpot_ms: Distribution,
    /// trtllm-bench's per-request TPOT (0 for `n <= 1`).
    pub tpot_trtllm_ms: Distribution,
    /// Pooled gaps between chunks (ms), vLLM's ITL.
    pub itl_chunk_ms: Distribution,
    /// Pooled token-weighted gaps (ms), SGLang's ITL.
    pub itl_token_ms: Distribution,
    /// `n / e2e` per request (tokens/s).
    pub user_tput_with_ctx: Distribution,
    /// `(n - 1) / (e2e - ttft)` per request (tokens/s), trtllm-bench GTPS.
    pub user_output_speed: Distribution,
    /// `1 / ITL` per request (tokens/s), GenAI-Perf.
    pub user_tput_inverse_itl: Distribution,
    /// Time to second token (ms), completed requests with two chunks or more (GenAI-Perf).
    pub ttst_ms: Distribution,
    /// Client-side prompt lengths of completed requests.
    pub input_tokens: Distribution,
    /// Output lengths of completed requests.
    pub output_tokens: Distribution,
    /// Sum of input tokens over completed requests.
    pub total_input_tokens: u64,
    /// Sum of output tokens over completed requests.
    pub total_output_tokens: u64,
    /// Send lag (ms): actual send minus the later of the intended send and a free slot.
    pub send_lag_ms: Distribution,
    /// Wait for a concurrency slot (ms) past the intended send.
    pub slot_wait_ms: Distribution,
    /// Time spent opening connections (ms), measured requests that opened one.
    pub connect_wait_ms: Distribution,
    /// The client's lag per chunk (ms) behind the engine's send stamps, every measured
    /// request; empty unless the engine stamps its chunks (the embedded one does).
    pub client_lag_ms: Distribution,
    /// The driver's window (benchmark_serving's duration).
    pub window: Option<RunWindow>,
    /// `max(end) - min(start)` over completed requests, seconds (trtllm-bench "Total
    /// Latency", GenAI-Perf's benchmark duration).
    pub span_s: f64,
    /// Completed requests whose server-counted prompt differs from the client's count.
    pub input_mismatches: u64,
    /// Completed requests whose output length differs from the requested length.
    pub output_mismatches: u64,
}

impl Summary {
    /// Computes every metric from the records; warm-up records are skipped.
    pub fn from_records(records: &[RequestRecord], window: Option<RunWindow>) -> Summary {
        let measured: Vec<&RequestRecord> = records.iter().filter(|r| !r.warmup).collect();
        let done: Vec<&RequestRecord> = measured
            .iter()
            .copied()
            .filter(|r| r.is_completed())
            .collect();
        let mut failures = BTreeMap::new();
        for r in measured.iter().filter(|r| !r.is_completed()) {
            *failures.entry(r.outcome.label()).or_insert(0) += 1;
        }
        let dist = |f: &dyn Fn(&RequestRecord) -> Option<f64>| {
            Distribution::new(done.iter().filter_map(|r| f(r)).collect())
        };
        let latencies = |o: LatencyOrigin| Latencies {
            ttft_ms: dist(&|r| def::ttft_ms(r, o)),
            e2e_ms: dist(&|r| Some(def::e2e_ms(r, o))),
        };
        let span_s = match (
            done.iter().map(|r| r.sent_ns).min(),
            done.iter().map(|r| r.end_ns).max(),
        ) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9,
            _ => 0.0,
        };
        Summary {
            requests: measured.len() as u64,
            completed: done.len() as u64,
            failures,
            latency: latencies(LatencyOrigin::Sent),
            latency_from_schedule: latencies(LatencyOrigin::Scheduled),
            tpot_ms: dist(&def::tpot_ms),
            tpot_trtllm_ms: dist(&|r| Some(def::tpot_ms_trtllm(r))),
            itl_chunk_ms: Distribution::new(
                done.iter().flat_map(|r| def::chunk_gaps_ms(r)).collect(),
            ),
            itl_token_ms: Distribution::new(
                done.iter().flat_map(|r| def::token_gaps_ms(r)).collect(),
            ),
            user_tput_with_ctx: dist(&def::user_throughput_with_ctx),
            user_output_speed: dist(&|r| Some(def::user_output_speed(r))),
            user_tput_inverse_itl: dist(&def::user_throughput_inverse_itl),
            ttst_ms: dist(&def::time_to_second_token_ms),
            input_tokens: dist(&|r| Some(r.input_tokens as f64)),
            output_tokens: dist(&|r| Some(r.output_tokens() as f64)),
            total_input_tokens: done.iter().map(|r| r.input_tokens).sum(),
            total_output_tokens: done.iter().map(|r| r.output_tokens()).sum(),
            send_lag_ms: Distribution::new(
                measured
                    .iter()
                    .map(|r| r.sent_ns.saturating_sub(r.scheduled_ns.max(r.slot_ns)) as f64 / 1e6)
                    .collect(),
            ),
            slot_wait_ms: Distribution::new(
                measured
                    .iter()
                    .map(|r| r.slot_ns.saturating_sub(r.scheduled_ns) as f64 / 1e6)
                    .collect(),
            ),
            connect_wait_ms: Distribution::new(
                measured
                    .iter()
                    .filter_map(|r| r.connect_ns.map(|n| n as f64 / 1e6))
                    .collect(),
            ),
            client_lag_ms: Distribution::new(
                measured
                    .iter()
                    .flat_map(|r| def::client_lag_ms(r))
                    .collect(),
            ),
            window,
            span_s,
            input_mismatches: done
                .iter()
                .filter(|r| r.usage.prompt_tokens.is_some_and(|p| p != r.input_tokens))
                .count() as u64,
            output_mismatches: done
                .iter()
                .filter(|r| {
                    r.requested_output_tokens
                        .is_some_and(|want| r.output_tokens() != want)
                })
                .count() as u64,
        }
    }

    /// Failed measured requests.
    pub fn failed(&self) -> u64 {
        self.requests - self.completed
    }

    /// Failed share of measured requests (0 when none ran).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failed() as f64 / self.requests as f64
        }
    }

    /// benchmark_serving's duration: the driver's window, else the span.
    pub fn duration_s(&self) -> f64 {
        self.window.map_or(self.span_s, |w| w.seconds())
    }

    /// Completed requests per second over `seconds`.
    pub fn request_rate(&self, seconds: f64) -> f64 {
        per_second(self.completed as f64, seconds)
    }

    /// Output tokens per second over `seconds`.
    pub fn output_rate(&self, seconds: f64) -> f64 {
        per_second(self.total_output_tokens as f64, seconds)
    }

    /// Input plus output tokens per second over `seconds`.
    pub fn total_token_rate(&self, seconds: f64) -> f64 {
        per_second(
            (self.total_input_tokens + self.total_output_tokens) as f64,
            seconds,
        )
    }

    /// trtllm-bench "Number of concurrent requests": `sum(e2e) / span`.
    pub fn realised_concurrency(&self) -> f64 {
        per_second(self.latency.e2e_ms.sum() / 1000.0, self.span_s)
    }
}

/// A throughput shared over `gpus` (at least one): trtllm-bench's "per GPU" figures, the
/// Dynamo recipe's per-decode-GPU figure and the Pareto axis "tokens/s per GPU".
pub fn per_gpu(rate: f64, gpus: u64) -> f64 {
    rate / gpus.max(1) as f64
}

/// Goodput: requests that met every SLO per second over `seconds` (0 over an empty window),
/// as benchmark_serving and GenAI-Perf define it.
pub fn goodput_rate(good_requests: u64, seconds: f64) -> f64 {
    per_second(good_requests as f64, seconds)
}

fn per_second(amount: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        amount / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::tests::record;
    use crate::percentile::Method;
    use crate::Outcome;

    fn run() -> Vec<RequestRecord> {
        let mut a = record(0, &[(50, 1), (60, 1), (70, 1), (80, 1)], 80); // n=4, e2e 80
        a.id = 0;
        let mut b = record(20, &[(30, 2), (50, 2)], 70); // n=4, e2e 50, ttft 30
        b.id = 1;
        let mut c = record(40, &[(20, 1)], 60); // n=1, e2e 20, ttft 20
        c.id = 2;
        let mut failed = record(50, &[], 100);
        failed.outcome = Outcome::HttpStatus {
            status: 503,
            body: String::new(),
        };
        let mut warm = record(0, &[(1, 1)], 1);
        warm.warmup = true;
        vec![a, b, c, failed, warm]
    }

    #[test]
    fn derived_figures_worked_by_hand() {
        let s = Summary::from_records(&run(), None);
        // Second chunk - first: a 60 - 50 = 10 ms, b 50 - 30 = 20 ms, c has one chunk.
        assert_eq!(s.ttst_ms.len(), 2);
        assert!((s.ttst_ms.mean() - 15.0).abs() < 1e-9);
        // Completed a, b, c: first send 0 ms, last end 80 ms; 4 + 4 + 1 = 9 output tokens.
        assert!((s.span_s - 0.08).abs() < 1e-12);
        let rate = s.output_rate(s.span_s);
        assert!((rate - 112.5).abs() < 1e-9);
        assert!((per_gpu(rate, 4) - 28.125).abs() < 1e-9);
        assert!(
            (per_gpu(rate, 0) - 112.5).abs() < 1e-9,
            "0 GPUs counts as 1"
        );
        assert!((goodput_rate(3, 0.08) - 37.5).abs() < 1e-9);
        assert_eq!(goodput_rate(1, 0.0), 0.0);
    }

    #[test]
    fn counts_and_failures() {
        let s = Summary::from_records(&run(), None);
        assert_eq!((s.requests, s.completed, s.failed()), (4, 3, 1));
        assert_eq!(s.failures.get("http_503"), Some(&1));
        assert_eq!(s.error_rate(), 0.25);
        assert_eq!(s.total_output_tokens, 9);
        assert_eq!(s.total_input_tokens, 300);
    }

    #[test]
    fn hand_worked_distributions() {
        let s = Summary::from_records(&run(), None);
        // TTFT: 50, 30, 20 -> mean 33.333, median 30
        assert!((s.latency.ttft_ms.mean() - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.latency.ttft_ms.median(), 30.0);
        // E2E: 80, 50, 20
        assert_eq!(s.latency.e2e_ms.mean(), 50.0);
        // TPOT (n>1): a = 30/3 = 10, b = (70 - 50)/3 = 6.667; c excluded
        assert_eq!(s.tpot_ms.len(), 2);
        assert!((s.tpot_ms.mean() - (10.0 + 20.0 / 3.0) / 2.0).abs() < 1e-9);
        // trtllm TPOT counts c as 0
        assert_eq!(s.tpot_trtllm_ms.len(), 3);
        // chunk gaps: a 10,10,10; b 20 -> pooled mean 12.5
        assert_eq!(s.itl_chunk_ms.mean(), 12.5);
        // token-weighted: a 10,10,10; b 10,10 -> 10
        assert_eq!(s.itl_token_ms.mean(), 10.0);
        // span: min sent 0, max end 80 ms (completed only)
        assert!((s.span_s - 0.080).abs() < 1e-12);
        // concurrency = (80 + 50 + 20) / 80
        assert!((s.realised_concurrency() - 150.0 / 80.0).abs() < 1e-9);
        assert_eq!(s.tpot_trtllm_ms.percentile(50.0, Method::Index), 20.0 / 3.0);
    }

    #[test]
    fn rates_use_the_given_window() {
        let s = Summary::from_records(
            &run(),
            Some(RunWindow {
                start_ns: 0,
                end_ns: 2_000_000_000,
            }),
        );
        assert_eq!(s.duration_s(), 2.0);
        assert_eq!(s.request_rate(s.duration_s()), 1.5);
        assert_eq!(s.output_rate(s.duration_s()), 4.5);
        assert_eq!(s.total_token_rate(s.duration_s()), 154.5);
    }

    #[test]
    fn mismatches() {
        let mut recs = run();
        recs[0].usage.prompt_tokens = Some(101);
        recs[1].requested_output_tokens = Some(8);
        recs[2].requested_output_tokens = Some(1);
        let s = Summary::from_records(&recs, None);
        assert_eq!((s.input_mismatches, s.output_mismatches), (1, 1));
    }

    #[test]
    fn send_lag_and_slot_wait() {
        let mut recs = run();
        recs[0].scheduled_ns = 0;
        recs[0].slot_ns = 3_000_000;
        recs[0].sent_ns = 4_000_000;
        let s = Summary::from_records(&recs[..1], None);
        assert_eq!(s.slot_wait_ms.max(), 3.0);
        assert_eq!(s.send_lag_ms.max(), 1.0);
    }

    #[test]
    fn client_lag_pools_stamped_chunks_of_measured_requests() {
        let mut recs = run();
        // a: lags 1, 3 ms on two chunks, none on the others; the failed one: 8 ms;
        // the warm-up one: 100 ms (left out).
        recs[0].chunks[0].client_lag_ns = crate::Chunk::lag(1_000_000);
        recs[0].chunks[2].client_lag_ns = crate::Chunk::lag(3_000_000);
        recs[3].chunks.push(crate::Chunk {
            offset_ns: 0,
            tokens: 1,
            text_bytes: 1,
            client_lag_ns: crate::Chunk::lag(8_000_000),
        });
        recs[4].chunks[0].client_lag_ns = crate::Chunk::lag(100_000_000);
        let s = Summary::from_records(&recs, None);
        assert_eq!(s.client_lag_ms.len(), 3);
        assert_eq!(s.client_lag_ms.mean(), 4.0);
        assert_eq!(s.client_lag_ms.max(), 8.0);
        assert!(Summary::from_records(&run(), None).client_lag_ms.is_empty());
    }
}
