//! Per-request metric definitions, each with the tool that uses it.
//! docs/METRICS.md explains them side by side; every function here is pure.
//!
//! Notation for a request: `start` (actual send, or the intended send when latency is
//! measured from the schedule), `first` (arrival of the first chunk with text), `end`
//! (end of the response), `n` (output tokens).

use crate::{ns_to_ms as ms, RequestRecord};

/// Where a request's latency is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyOrigin {
    /// The actual send (what every listed tool reports).
    Sent,
    /// The intended send of the arrival schedule (coordinated-omission safe).
    Scheduled,
}

/// The instant latency is measured from, ns since the run origin.
pub fn start_ns(r: &RequestRecord, origin: LatencyOrigin) -> u64 {
    match origin {
        LatencyOrigin::Sent => r.sent_ns,
        LatencyOrigin::Scheduled => r.scheduled_ns.min(r.sent_ns),
    }
}

/// TTFT = `first - start` in ms (all tools). `None` without a text chunk.
pub fn ttft_ms(r: &RequestRecord, origin: LatencyOrigin) -> Option<f64> {
    r.first_token_ns
        .map(|f| ms(f.saturating_sub(start_ns(r, origin))))
}

/// End-to-end latency = `end - start` in ms (trtllm-bench "request latency",
/// benchmark_serving E2EL, GenAI-Perf `request_latency`).
pub fn e2e_ms(r: &RequestRecord, origin: LatencyOrigin) -> f64 {
    ms(r.end_ns.saturating_sub(start_ns(r, origin)))
}

/// TPOT = `(end - first) / (n - 1)` in ms; `None` when `n <= 1`.
///
/// The same formula is trtllm-bench's TPOT, benchmark_serving's TPOT and GenAI-Perf's
/// per-request `inter_token_latency`. For `n <= 1` trtllm-bench counts 0, the others
/// leave the request out (see [`tpot_ms_trtllm`]).
pub fn tpot_ms(r: &RequestRecord) -> Option<f64> {
    let n = r.output_tokens();
    let first = r.first_token_ns?;
    (n > 1).then(|| ms(r.end_ns.saturating_sub(first)) / (n - 1) as f64)
}

/// trtllm-bench's TPOT: as [`tpot_ms`] but 0 when `n <= 1`.
pub fn tpot_ms_trtllm(r: &RequestRecord) -> f64 {
    tpot_ms(r).unwrap_or(0.0)
}

/// Time to second token = second text chunk - first, in ms (GenAI-Perf/AIPerf
/// `time_to_second_token`); `None` with fewer than two chunks.
pub fn time_to_second_token_ms(r: &RequestRecord) -> Option<f64> {
    match r.chunks.as_slice() {
        [a, b, ..] => Some(ms(b.offset_ns.saturating_sub(a.offset_ns))),
        _ => None,
    }
}

/// Gaps between consecutive text chunks in ms, one per chunk after the first
/// (vLLM's and TensorRT-LLM's benchmark_serving ITL: pooled over all requests, so each
/// chunk weighs the same whatever number of tokens it carried).
pub fn chunk_gaps_ms(r: &RequestRecord) -> impl Iterator<Item = f64> + '_ {
    r.chunks
        .windows(2)
        .map(|w| ms(w[1].offset_ns.saturating_sub(w[0].offset_ns)))
}

/// The client's own lag per chunk in ms: its arrival stamp minus the engine's send stamp
/// (`llmb_sent_ns`, embedded engine only; an llmb measure, no other tool has it).
pub fn client_lag_ms(r: &RequestRecord) -> impl Iterator<Item = f64> + '_ {
    r.chunks
        .iter()
        .filter_map(|c| c.client_lag_ns.map(|l| ms(l.get())))
}

/// Token-weighted gaps (SGLang bench_serving): a gap before a chunk of `k` tokens counts
/// as `k` gaps of `gap / k`, so the pooled mean is the mean time per token.
pub fn token_gaps_ms(r: &RequestRecord) -> impl Iterator<Item = f64> + '_ {
    r.chunks.windows(2).flat_map(|w| {
        let k = w[1].tokens.max(1);
        let gap = ms(w[1].offset_ns.saturating_sub(w[0].offset_ns)) / f64::from(k);
        std::iter::repeat_n(gap, k as usize)
    })
}

/// Output tokens per second per user including the first token: `n / (end - start)`
/// (trtllm-bench "Per User Output Throughput [w/ ctx]", benchmark_serving "User throughput").
pub fn user_throughput_with_ctx(r: &RequestRecord) -> Option<f64> {
    let e2e = e2e_ms(r, LatencyOrigin::Sent);
    (e2e > 0.0).then(|| r.output_tokens() as f64 / (e2e / 1000.0))
}

/// Generation speed per user: `(n - 1) / (end - first)` tokens/s (trtllm-bench
/// "Per User Output Speed", its GTPS breakdown). 0 when `n <= 1` (as trtllm-bench).
pub fn user_output_speed(r: &RequestRecord) -> f64 {
    match tpot_ms(r) {
        Some(t) if t > 0.0 => 1000.0 / t,
        _ => 0.0,
    }
}

/// GenAI-Perf/AIPerf `output_token_throughput_per_user`: `1 / inter_token_latency` in
/// tokens/s; `None` when ITL is undefined (`n <= 1`) or zero.
pub fn user_throughput_inverse_itl(r: &RequestRecord) -> Option<f64> {
    tpot_ms(r).filter(|t| *t > 0.0).map(|t| 1000.0 / t)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{Chunk, Outcome, ServerUsage};

    /// A completed record sent at `sent` ms, with chunks at the given (offset ms, tokens).
    pub(crate) fn record(sent_ms: u64, chunks: &[(u64, u32)], end_ms: u64) -> RequestRecord {
        let ns = |m: u64| m * 1_000_000;
        let chunks: Vec<Chunk> = chunks
            .iter()
            .map(|&(o, t)| Chunk {
                offset_ns: ns(o),
                tokens: t,
                text_bytes: 4 * t,
                client_lag_ns: None,
            })
            .collect();
        RequestRecord {
            id: 0,
            prompt_index: 0,
            worker: 0,
            warmup: false,
            scheduled_ns: ns(sent_ms),
            slot_ns: ns(sent_ms),
            sent_ns: ns(sent_ms),
            first_token_ns: chunks.first().map(|c| ns(sent_ms) + c.offset_ns),
            end_ns: ns(end_ms),
            input_tokens: 100,
            requested_output_tokens: None,
            usage: ServerUsage {
                implausible_completion_tokens: None,
                prompt_tokens: Some(100),
                completion_tokens: Some(chunks.iter().map(|c| u64::from(c.tokens)).sum()),
            },
            connect_ns: None,
            chunks,
            outcome: Outcome::Completed,
        }
    }

    #[test]
    fn single_token_chunks() {
        // sent at 0, tokens at 50, 60, 70, 80 ms, ends at 80 ms: n = 4
        let r = record(0, &[(50, 1), (60, 1), (70, 1), (80, 1)], 80);
        assert_eq!(ttft_ms(&r, LatencyOrigin::Sent), Some(50.0));
        assert_eq!(e2e_ms(&r, LatencyOrigin::Sent), 80.0);
        assert_eq!(tpot_ms(&r), Some(10.0)); // (80 - 50) / 3
        assert_eq!(
            chunk_gaps_ms(&r).collect::<Vec<_>>(),
            vec![10.0, 10.0, 10.0]
        );
        assert_eq!(user_throughput_with_ctx(&r), Some(50.0)); // 4 / 0.080 s
        assert_eq!(user_output_speed(&r), 100.0); // 3 / 0.030 s
        assert_eq!(user_throughput_inverse_itl(&r), Some(100.0));
    }

    #[test]
    fn multi_token_chunks() {
        // sent at 10 ms; chunk of 4 tokens at +40, then 4 at +80, then 2 at +100; end at 110 ms
        let r = record(10, &[(40, 4), (80, 4), (100, 2)], 110);
        assert_eq!(r.output_tokens(), 10);
        assert_eq!(ttft_ms(&r, LatencyOrigin::Sent), Some(40.0));
        // TPOT = (110 - 50) / 9
        assert!((tpot_ms(&r).unwrap() - 60.0 / 9.0).abs() < 1e-12);
        // pooled chunk gaps: one per chunk
        assert_eq!(chunk_gaps_ms(&r).collect::<Vec<_>>(), vec![40.0, 20.0]);
        // token-weighted: 4 gaps of 10 ms, then 2 gaps of 10 ms
        assert_eq!(token_gaps_ms(&r).collect::<Vec<_>>(), vec![10.0; 6]);
        assert_eq!(user_throughput_with_ctx(&r), Some(100.0)); // 10 / 0.1 s
    }

    #[test]
    fn one_token_output() {
        let r = record(0, &[(30, 1)], 30);
        assert_eq!(tpot_ms(&r), None);
        assert_eq!(tpot_ms_trtllm(&r), 0.0);
        assert_eq!(user_output_speed(&r), 0.0);
        assert_eq!(user_throughput_inverse_itl(&r), None);
        assert_eq!(chunk_gaps_ms(&r).count(), 0);
        assert_eq!(user_throughput_with_ctx(&r), Some(1000.0 / 30.0));
    }

    #[test]
    fn scheduled_origin_adds_the_lag() {
        let mut r = record(20, &[(50, 1), (60, 1)], 80);
        r.scheduled_ns = 5_000_000;
        assert_eq!(ttft_ms(&r, LatencyOrigin::Scheduled), Some(65.0));
        assert_eq!(e2e_ms(&r, LatencyOrigin::Scheduled), 75.0);
        assert_eq!(ttft_ms(&r, LatencyOrigin::Sent), Some(50.0));
    }
}
