//! The Dynamo recipe's `perf_summary.txt` (reference 4.5) for disaggregated runs, with the
//! per-GPU figure over all GPUs as the recipe prints it and a second, labelled, over the
//! decode GPUs only.
//!
//! The recipe reads GenAI-Perf's averages, so the quantities here use GenAI-Perf's
//! definitions: throughputs over `max(end) - min(start)`, ITL per request as
//! `(e2e - ttft)/(n - 1)`, per-user throughput as the mean of `1/ITL`. The "Total Token
//! Throughput per GPU" line scales by the nominal `(isl + osl) / osl`, as the recipe does.

use std::fmt::Write;

use llmb_metrics::Summary;

use crate::RunInfo;

/// The lines of `perf_summary.txt`; `isl`/`osl` are the nominal lengths of the use case.
pub fn report(s: &Summary, info: &RunInfo, isl: u64, osl: u64) -> String {
    let span = s.span_s;
    let out = s.output_rate(span);
    let per_gpu = llmb_metrics::per_gpu(out, info.gpus);
    let total_per_gpu = if osl == 0 {
        0.0
    } else {
        per_gpu * (isl + osl) as f64 / osl as f64
    };
    let mut rows: Vec<(String, f64)> = vec![
        ("Request Throughput (req/sec)".into(), s.request_rate(span)),
        ("Output Token Throughput (tokens/sec)".into(), out),
        (
            "Output Token Throughput per User (tps/user)".into(),
            s.user_tput_inverse_itl.mean(),
        ),
        ("Output Token Throughput per GPU (tps/gpu)".into(), per_gpu),
    ];
    if let Some(g) = info.decode_gpus {
        rows.push((
            "Output Token Throughput per decode GPU (tps/gpu)".into(),
            out / g.max(1) as f64,
        ));
    }
    rows.extend([
        (
            "Total Token Throughput per GPU (tokens/sec)".into(),
            total_per_gpu,
        ),
        (
            "Average request latency (ms)".into(),
            s.latency.e2e_ms.mean(),
        ),
        (
            "Average time to first token [TTFT] (ms)".into(),
            s.latency.ttft_ms.mean(),
        ),
        (
            "Average time per output token [TPOT] (ms)".into(),
            s.tpot_ms.mean(),
        ),
    ]);
    let rule = "=".repeat(60);
    let mut t = format!("{rule}\nPERFORMANCE OVERVIEW\n{rule}\n");
    for (k, v) in rows {
        let _ = writeln!(t, "{k:<46}: {v:.2}");
    }
    let _ = writeln!(
        t,
        "# per GPU: over all {} GPUs (prefill and decode), as the recipe prints it{}",
        info.gpus,
        info.decode_gpus
            .map(|g| format!("; per decode GPU: over the {g} decode GPUs"))
            .unwrap_or_default()
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmb_metrics::{Chunk, Outcome, RequestRecord, ServerUsage};

    /// Two requests of 4 output tokens over a 2 s span: hand-worked figures.
    #[test]
    fn figures_worked_by_hand() {
        let rec = |send_ms: u64, ttft_ms: u64, e2e_ms: u64| {
            let ms = |m: u64| m * 1_000_000;
            // Four one-token chunks, the first at TTFT and the last at the end.
            let offsets: Vec<u64> = (0..4)
                .map(|i| ttft_ms + i * (e2e_ms - ttft_ms) / 3)
                .collect();
            RequestRecord {
                id: 0,
                prompt_index: 0,
                worker: 0,
                warmup: false,
                scheduled_ns: ms(send_ms),
                slot_ns: ms(send_ms),
                sent_ns: ms(send_ms),
                first_token_ns: Some(ms(send_ms + ttft_ms)),
                end_ns: ms(send_ms + e2e_ms),
                input_tokens: 10,
                requested_output_tokens: None,
                usage: ServerUsage {
                    implausible_completion_tokens: None,
                    prompt_tokens: Some(10),
                    completion_tokens: Some(4),
                },
                connect_ns: None,
                chunks: offsets
                    .iter()
                    .map(|&o| Chunk {
                        offset_ns: ms(o),
                        tokens: 1,
                        text_bytes: 3,
                        client_lag_ns: None,
                    })
                    .collect(),
                outcome: Outcome::Completed,
            }
        };
        // Request A: sent at 0, TTFT 100 ms, ends at 1000 ms. Request B: sent at 1000 ms,
        // TTFT 400 ms, ends 1000 ms after sending. Span = 2 s.
        let records = vec![rec(0, 100, 1000), rec(1000, 400, 1000)];
        let s = Summary::from_records(&records, None);
        let info = RunInfo {
            gpus: 32,
            decode_gpus: Some(8),
            ..RunInfo::default()
        };
        let text = report(&s, &info, 8150, 1024);
        let line = |k: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.rsplit(": ").next())
                .unwrap_or_else(|| panic!("no {k} in\n{text}"))
                .parse()
                .unwrap()
        };
        // 8 tokens / 2 s = 4 tok/s; 1 req/s.
        assert_eq!(line("Request Throughput (req/sec)"), 1.0);
        assert_eq!(line("Output Token Throughput (tokens/sec)"), 4.0);
        // 4 / 32 = 0.125 → "0.12" (Python's round-half-even on 0.125 gives 0.12 too).
        assert_eq!(line("Output Token Throughput per GPU (tps/gpu)"), 0.12);
        assert_eq!(
            line("Output Token Throughput per decode GPU (tps/gpu)"),
            0.5
        );
        // 0.125 × (8150 + 1024) / 1024 = 1.1199…
        assert_eq!(line("Total Token Throughput per GPU (tokens/sec)"), 1.12);
        assert_eq!(line("Average request latency (ms)"), 1000.0);
        assert_eq!(line("Average time to first token [TTFT] (ms)"), 250.0);
        // ITL A = (1000 - 100)/3 = 300, B = (1000 - 400)/3 = 200 → 250 ms; 1/ITL → 3.33 + 5 → 4.17.
        assert_eq!(line("Average time per output token [TPOT] (ms)"), 250.0);
        assert_eq!(line("Output Token Throughput per User (tps/user)"), 4.17);
        assert!(text.starts_with(&format!("{}\nPERFORMANCE OVERVIEW\n", "=".repeat(60))));
    }
}
