//! trtllm-bench's report: REQUEST DETAILS, PERFORMANCE OVERVIEW and the per-request
//! breakdowns, with its labels, widths and order (TensorRT-LLM
//! `bench/dataclasses/reporting.py`), and its statistics: index percentiles
//! (`sorted[int(n p)]`), throughputs over `max(end) - min(start)` of completed requests.

use std::fmt::Write;

use llmb_metrics::percentile::Method;
use llmb_metrics::{Distribution, Summary};

use crate::RunInfo;

const RULE: &str = "===========================================================";

/// The whole report as trtllm-bench logs it (streaming adds TTFT/TPOT/GTPS).
pub fn report(s: &Summary, info: &RunInfo) -> String {
    let mut o = String::new();
    let n = s.completed.max(1) as f64;
    let _ = write!(
        o,
        "{RULE}\n= REQUEST DETAILS \n{RULE}\n\
         Number of requests:             {}\n\
         Number of concurrent requests:  {:.4}\n\
         Average Input Length (tokens):  {:.4}\n\
         Average Output Length (tokens): {:.4}\n",
        s.completed,
        s.realised_concurrency(),
        s.total_input_tokens as f64 / n,
        s.total_output_tokens as f64 / n,
    );
    let span = s.span_s;
    let out_tput = s.output_rate(span);
    let line = |o: &mut String, label: &str, v: f64| {
        let _ = writeln!(o, "{:<50}{:.4}", format!("{label}:"), v);
    };
    let _ = write!(o, "{RULE}\n= PERFORMANCE OVERVIEW \n{RULE}\n");
    line(&mut o, "Request Throughput (req/sec)", s.request_rate(span));
    line(&mut o, "Total Output Throughput (tokens/sec)", out_tput);
    line(
        &mut o,
        "Total Token Throughput (tokens/sec)",
        s.total_token_rate(span),
    );
    line(&mut o, "Total Latency (ms)", span * 1000.0);
    line(
        &mut o,
        "Average request latency (ms)",
        s.latency.e2e_ms.mean(),
    );
    line(
        &mut o,
        "Per User Output Throughput [w/ ctx] (tps/user)",
        s.user_tput_with_ctx.mean(),
    );
    line(
        &mut o,
        "Per GPU Output Throughput (tps/gpu)",
        llmb_metrics::per_gpu(out_tput, info.gpus),
    );
    if info.streaming {
        line(
            &mut o,
            "Average time-to-first-token [TTFT] (ms)",
            s.latency.ttft_ms.mean(),
        );
        line(
            &mut o,
            "Average time-per-output-token [TPOT] (ms)",
            s.tpot_trtllm_ms.mean(),
        );
        line(
            &mut o,
            "Per User Output Speed (tps/user)",
            s.user_output_speed.mean(),
        );
        let _ = write!(
            o,
            "\n-- Per-Request Time-per-Output-Token [TPOT] Breakdown (ms)\n\n{}\n",
            breakdown("TPOT", &s.tpot_trtllm_ms)
        );
        let _ = write!(
            o,
            "\n-- Per-Request Time-to-First-Token [TTFT] Breakdown (ms) \n\n{}\n",
            breakdown("TTFT", &s.latency.ttft_ms)
        );
        let _ = write!(
            o,
            "\n-- Per-Request Generation Throughput [GTPS] Breakdown (tps/user)\n\n{}\n",
            breakdown("GTPS", &s.user_output_speed)
        );
    }
    let lat = &s.latency.e2e_ms;
    let rows = [
        ("P50", lat.percentile(50.0, Method::Index)),
        ("P90", lat.percentile(90.0, Method::Index)),
        ("P95", lat.percentile(95.0, Method::Index)),
        ("P99", lat.percentile(99.0, Method::Index)),
        ("MINIMUM", lat.min()),
        ("MAXIMUM", lat.max()),
        ("AVERAGE", lat.mean()),
    ];
    let lat_rows: Vec<String> = rows
        .iter()
        .map(|(k, v)| format!("[Latency] {k:<7}: {v:.4}"))
        .collect();
    let _ = write!(
        o,
        "\n-- Request Latency Breakdown (ms) -----------------------\n\n{}\n",
        lat_rows.join("\n")
    );
    o
}

fn breakdown(tag: &str, d: &Distribution) -> String {
    let rows = [
        ("MINIMUM", d.min()),
        ("MAXIMUM", d.max()),
        ("AVERAGE", d.mean()),
        ("P50", d.percentile(50.0, Method::Index)),
        ("P90", d.percentile(90.0, Method::Index)),
        ("P95", d.percentile(95.0, Method::Index)),
        ("P99", d.percentile(99.0, Method::Index)),
    ];
    rows.iter()
        .map(|(k, v)| format!("[{tag}] {k:<7}: {v:.4}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmb_metrics::{Chunk, Outcome, RequestRecord, ServerUsage};

    fn rec(sent_ms: u64, offsets: &[u64], end_ms: u64) -> RequestRecord {
        let ms = |m: u64| m * 1_000_000;
        RequestRecord {
            id: 0,
            prompt_index: 0,
            worker: 0,
            warmup: false,
            scheduled_ns: ms(sent_ms),
            slot_ns: ms(sent_ms),
            sent_ns: ms(sent_ms),
            first_token_ns: Some(ms(sent_ms + offsets[0])),
            end_ns: ms(end_ms),
            input_tokens: 10,
            requested_output_tokens: None,
            usage: ServerUsage {
                implausible_completion_tokens: None,
                prompt_tokens: Some(10),
                completion_tokens: Some(offsets.len() as u64),
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
    }

    #[test]
    fn overview_labels_values_and_index_percentiles() {
        // two requests: e2e 100 ms (ttft 20, 5 tokens) and 200 ms (ttft 40, 5 tokens); span 200 ms
        let recs = vec![
            rec(0, &[20, 40, 60, 80, 100], 100),
            rec(0, &[40, 80, 120, 160, 200], 200),
        ];
        let s = Summary::from_records(&recs, None);
        let info = RunInfo {
            gpus: 2,
            streaming: true,
            ..Default::default()
        };
        let r = report(&s, &info);
        assert!(r.contains("= PERFORMANCE OVERVIEW \n"));
        assert!(
            r.contains("Request Throughput (req/sec):                     10.0000\n"),
            "{r}"
        );
        assert!(r.contains("Total Output Throughput (tokens/sec):             50.0000\n"));
        assert!(r.contains("Total Token Throughput (tokens/sec):              150.0000\n"));
        assert!(r.contains("Total Latency (ms):                               200.0000\n"));
        assert!(r.contains("Average request latency (ms):                     150.0000\n"));
        // per user [w/ ctx]: mean(5/0.1, 5/0.2) = 37.5
        assert!(r.contains("Per User Output Throughput [w/ ctx] (tps/user):   37.5000\n"));
        assert!(r.contains("Per GPU Output Throughput (tps/gpu):              25.0000\n"));
        assert!(r.contains("Average time-to-first-token [TTFT] (ms):          30.0000\n"));
        // TPOT: 80/4 = 20, 160/4 = 40 -> 30; speed: 50 and 25 -> 37.5
        assert!(r.contains("Average time-per-output-token [TPOT] (ms):        30.0000\n"));
        assert!(r.contains("Per User Output Speed (tps/user):                 37.5000\n"));
        // index percentiles over [20, 40]: P50 = sorted[1] = 40
        assert!(r.contains("[TPOT] P50    : 40.0000\n"));
        assert!(r.contains("[TTFT] MINIMUM: 20.0000\n"));
        assert!(r.contains("[Latency] P50    : 200.0000\n[Latency] P90"));
        assert!(r.contains("[Latency] AVERAGE: 150.0000\n"));
        assert!(r.contains("Number of concurrent requests:  1.5000\n"));
    }
}
