//! `vllm bench serve`'s figures, by its own definitions (vllm/benchmarks/serve.py,
//! `calculate_metrics`; Apache-2.0): a request succeeded when it answered 200 and streamed
//! at least one chunk; its latency ends at the last chunk (the usage chunk and `[DONE]` do
//! not count); TPOT is `(latency - ttft) / (n - 1)` for `n > 1`; ITL pools the gaps
//! between chunks; goodput counts successful requests at or under every SLO; the peak
//! output rate counts chunks per one-second bin from the earliest start; the peak
//! concurrency sweeps `[start, start + latency)` with ends before starts at equal times.

use crate::{Distribution, RequestRecord};

/// Seconds from nanoseconds.
fn s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// One measured request as vLLM sees it (times in seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct VllmRequest {
    /// Answered 200 with at least one chunk.
    pub success: bool,
    /// The server's prompt token count, else the client's.
    pub prompt_len: u64,
    /// Output tokens (0 for a failed request).
    pub output_len: u64,
    /// Time to the first chunk (0 for a failed request).
    pub ttft: f64,
    /// Gaps between chunks.
    pub itls: Vec<f64>,
    /// Send to the last chunk.
    pub latency: f64,
    /// Send time, from the run origin.
    pub start: f64,
    /// Wait for a concurrency slot.
    pub queue_time: f64,
    /// Why it failed (`""` on success).
    pub error: String,
}

impl VllmRequest {
    /// From a record.
    pub fn of(r: &RequestRecord) -> VllmRequest {
        let success = r.is_completed() && !r.chunks.is_empty();
        let first = r.chunks.first().map_or(0, |c| c.offset_ns);
        let last = r.chunks.last().map_or(0, |c| c.offset_ns);
        VllmRequest {
            success,
            prompt_len: r.usage.prompt_tokens.unwrap_or(r.input_tokens),
            output_len: if success { r.output_tokens() } else { 0 },
            ttft: if success { s(first) } else { 0.0 },
            itls: if success {
                r.chunks
                    .windows(2)
                    .map(|w| s(w[1].offset_ns.saturating_sub(w[0].offset_ns)))
                    .collect()
            } else {
                Vec::new()
            },
            latency: if success { s(last) } else { 0.0 },
            start: s(r.sent_ns),
            queue_time: s(r.slot_ns.saturating_sub(r.scheduled_ns)),
            error: if success {
                String::new()
            } else if r.is_completed() {
                "Never received a valid chunk to calculate TTFT.".to_owned()
            } else {
                r.outcome.label()
            },
        }
    }

    /// TPOT in seconds, for `n > 1`.
    pub fn tpot(&self) -> Option<f64> {
        (self.success && self.output_len > 1)
            .then(|| (self.latency - self.ttft) / (self.output_len - 1) as f64)
    }
}

/// `--goodput` limits in ms (`None`: not set).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GoodputSlos {
    /// TTFT limit.
    pub ttft_ms: Option<f64>,
    /// TPOT limit (a request with one output token counts 0).
    pub tpot_ms: Option<f64>,
    /// End-to-end latency limit.
    pub e2el_ms: Option<f64>,
}

/// The run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct VllmMetrics {
    /// Measured requests, by id.
    pub requests: Vec<VllmRequest>,
    /// Successful ones.
    pub completed: u64,
    /// The others.
    pub failed: u64,
    /// Prompt tokens of successful requests.
    pub total_input: u64,
    /// Output tokens of successful requests.
    pub total_output: u64,
    /// Successful requests within every SLO (`None` without SLOs).
    pub good: Option<u64>,
    /// Most chunks in one second.
    pub max_output_tokens_per_s: f64,
    /// Most requests in flight at once.
    pub max_concurrent_requests: u64,
    /// TTFT over successful requests, ms.
    pub ttft_ms: Distribution,
    /// TPOT over successful requests with more than one output token, ms.
    pub tpot_ms: Distribution,
    /// Every gap of every successful request, ms.
    pub itl_ms: Distribution,
    /// Latency of successful requests, ms.
    pub e2el_ms: Distribution,
}

impl VllmMetrics {
    /// From the run's records (warm-up left out) and the SLOs.
    pub fn compute(records: &[RequestRecord], slos: Option<GoodputSlos>) -> VllmMetrics {
        let mut measured: Vec<&RequestRecord> = records.iter().filter(|r| !r.warmup).collect();
        measured.sort_by_key(|r| r.id);
        let requests: Vec<VllmRequest> = measured.iter().map(|r| VllmRequest::of(r)).collect();
        let ok: Vec<&VllmRequest> = requests.iter().filter(|r| r.success).collect();
        let ms = |v: Vec<f64>| Distribution::new(v.into_iter().map(|x| x * 1000.0).collect());
        let good = slos.map(|slo| {
            ok.iter()
                .filter(|r| {
                    let within =
                        |limit: Option<f64>, value: f64| limit.is_none_or(|l| l / 1000.0 >= value);
                    within(slo.ttft_ms, r.ttft)
                        && within(slo.tpot_ms, r.tpot().unwrap_or(0.0))
                        && within(slo.e2el_ms, r.latency)
                })
                .count() as u64
        });
        VllmMetrics {
            completed: ok.len() as u64,
            failed: (requests.len() - ok.len()) as u64,
            total_input: ok.iter().map(|r| r.prompt_len).sum(),
            total_output: ok.iter().map(|r| r.output_len).sum(),
            good,
            max_output_tokens_per_s: peak_chunks_per_second(&ok),
            max_concurrent_requests: peak_concurrency(&ok),
            ttft_ms: ms(ok.iter().map(|r| r.ttft).collect()),
            tpot_ms: ms(ok.iter().filter_map(|r| r.tpot()).collect()),
            itl_ms: ms(ok.iter().flat_map(|r| r.itls.iter().copied()).collect()),
            e2el_ms: ms(ok.iter().map(|r| r.latency).collect()),
            requests,
        }
    }
}

/// Chunks per one-second bin counted from the earliest start; the fullest bin.
fn peak_chunks_per_second(ok: &[&VllmRequest]) -> f64 {
    let Some(t0) = ok.iter().map(|r| r.start).min_by(f64::total_cmp) else {
        return 0.0;
    };
    let mut bins: Vec<u64> = Vec::new();
    for r in ok {
        let mut t = r.start + r.ttft;
        let mut add = |t: f64| {
            let i = ((t - t0).max(0.0)) as usize;
            if bins.len() <= i {
                bins.resize(i + 1, 0);
            }
            bins[i] += 1;
        };
        add(t);
        for gap in &r.itls {
            t += gap;
            add(t);
        }
    }
    bins.into_iter().max().unwrap_or(0) as f64
}

/// The most requests in flight at once over `[start, start + latency)`.
fn peak_concurrency(ok: &[&VllmRequest]) -> u64 {
    // (time, +1 start / -1 end); at equal times ends come first.
    let mut events: Vec<(f64, i8)> = ok
        .iter()
        .flat_map(|r| [(r.start, 1), (r.start + r.latency, -1)])
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut peak) = (0i64, 0i64);
    for (_, d) in events {
        now += i64::from(d);
        peak = peak.max(now);
    }
    peak as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::tests::record;
    use crate::Outcome;

    #[test]
    fn figures_follow_vllm_by_hand() {
        // Request 0: sent at 0, chunks at 100, 150, 250 ms (3 tokens), ends at 300 ms.
        // Request 1: sent at 50, chunks at 130, 230 ms (2 tokens).
        // Request 2: failed.
        let a = record(0, &[(100, 1), (150, 1), (250, 1)], 300);
        let mut b = record(50, &[(80, 1), (180, 1)], 260);
        b.id = 1;
        let mut c = record(60, &[], 70);
        c.id = 2;
        c.outcome = Outcome::HttpStatus {
            status: 500,
            body: String::new(),
        };
        let m = VllmMetrics::compute(&[a, b, c], None);
        assert_eq!((m.completed, m.failed), (2, 1));
        let same = |d: &Distribution, want: &[f64]| {
            assert_eq!(d.len(), want.len(), "{:?}", d.values());
            for (x, w) in d.values().iter().zip(want) {
                assert!((x - w).abs() < 1e-9, "{:?} vs {want:?}", d.values());
            }
        };
        // TTFT 100 and 80 ms; latency to the last chunk 250 and 180 ms (not 300/210).
        same(&m.ttft_ms, &[80.0, 100.0]);
        same(&m.e2el_ms, &[180.0, 250.0]);
        // TPOT (250-100)/2 = 75 and (180-80)/1 = 100.
        same(&m.tpot_ms, &[75.0, 100.0]);
        // Gaps 50, 100 and 100.
        same(&m.itl_ms, &[50.0, 100.0, 100.0]);
        // All five chunks fall in the first second; both were in flight at 100 ms.
        assert_eq!(m.max_output_tokens_per_s, 5.0);
        assert_eq!(m.max_concurrent_requests, 2);
        assert_eq!(m.requests[2].error, "http_500");
        assert_eq!(m.good, None);
        // TTFT <= 90 ms keeps only request 1; TPOT <= 80 keeps only request 0.
        let slo = |t, p| GoodputSlos {
            ttft_ms: t,
            tpot_ms: p,
            e2el_ms: None,
        };
        assert_eq!(
            VllmMetrics::compute(&m_records(), Some(slo(Some(90.0), None))).good,
            Some(1)
        );
        assert_eq!(
            VllmMetrics::compute(&m_records(), Some(slo(None, Some(80.0)))).good,
            Some(1)
        );
        assert_eq!(
            VllmMetrics::compute(&m_records(), Some(slo(None, None))).good,
            Some(2)
        );
    }

    fn m_records() -> Vec<RequestRecord> {
        let a = record(0, &[(100, 1), (150, 1), (250, 1)], 300);
        let mut b = record(50, &[(80, 1), (180, 1)], 260);
        b.id = 1;
        vec![a, b]
    }

    #[test]
    fn back_to_back_requests_are_not_concurrent() {
        // The second starts exactly when the first's last chunk arrives.
        let a = record(0, &[(100, 1)], 120);
        let mut b = record(100, &[(50, 1)], 160);
        b.id = 1;
        assert_eq!(
            VllmMetrics::compute(&[a, b], None).max_concurrent_requests,
            1
        );
    }
}
