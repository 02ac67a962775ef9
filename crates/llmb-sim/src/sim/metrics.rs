//! The simulated engine's Prometheus metrics: lock-free counters and gauges rendered as
//! text on `GET /metrics`, named like vLLM's (`llmb:` instead of `vllm:`).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// TTFT histogram bucket upper bounds, seconds (vLLM's).
const TTFT_BUCKETS: [f64; 15] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
];

/// Shared counters.
#[derive(Debug, Default)]
pub struct SimMetrics {
    running: AtomicU64,
    waiting: AtomicU64,
    kv_used: AtomicU64,
    kv_capacity: AtomicU64,
    prompt_tokens: AtomicU64,
    generation_tokens: AtomicU64,
    requests: AtomicU64,
    ttft_buckets: [AtomicU64; TTFT_BUCKETS.len()],
    ttft_count: AtomicU64,
    ttft_sum_us: AtomicU64,
}

impl SimMetrics {
    /// Counters for an engine with this KV capacity.
    pub fn new(kv_capacity: u64) -> SimMetrics {
        let m = SimMetrics::default();
        m.kv_capacity.store(kv_capacity, Relaxed);
        m
    }

    /// Sets the gauges.
    pub fn set_occupancy(&self, running: usize, waiting: usize, kv_used: u64) {
        self.running.store(running as u64, Relaxed);
        self.waiting.store(waiting as u64, Relaxed);
        self.kv_used.store(kv_used, Relaxed);
    }

    /// Adds to the running gauge and KV use (fixed-timing mode, per request).
    pub fn request_started(&self, kv_tokens: u64) {
        self.running.fetch_add(1, Relaxed);
        self.kv_used.fetch_add(kv_tokens, Relaxed);
    }

    /// Undoes [`SimMetrics::request_started`].
    pub fn request_ended(&self, kv_tokens: u64) {
        self.running.fetch_sub(1, Relaxed);
        self.kv_used.fetch_sub(kv_tokens, Relaxed);
    }

    /// Counts processed prompt and generated tokens.
    pub fn add_tokens(&self, prompt: u64, generated: u64) {
        self.prompt_tokens.fetch_add(prompt, Relaxed);
        self.generation_tokens.fetch_add(generated, Relaxed);
    }

    /// Counts a received generation request.
    pub fn request_received(&self) -> u64 {
        self.requests.fetch_add(1, Relaxed)
    }

    /// Records one TTFT.
    pub fn observe_ttft(&self, seconds: f64) {
        for (bound, bucket) in TTFT_BUCKETS.iter().zip(&self.ttft_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.ttft_count.fetch_add(1, Relaxed);
        self.ttft_sum_us.fetch_add((seconds * 1e6) as u64, Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self, model: &str) -> String {
        let mut out = String::with_capacity(2048);
        let l = format!(
            "model_name=\"{}\"",
            model.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let gauge = |out: &mut String, name: &str, help: &str, v: String| {
            let _ = writeln!(
                out,
                "# HELP llmb:{name} {help}\n# TYPE llmb:{name} gauge\nllmb:{name}{{{l}}} {v}"
            );
        };
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP llmb:{name} {help}\n# TYPE llmb:{name} counter\nllmb:{name}{{{l}}} {v}"
            );
        };
        gauge(
            &mut out,
            "num_requests_running",
            "Requests in the running batch.",
            self.running.load(Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "num_requests_waiting",
            "Requests waiting to be scheduled.",
            self.waiting.load(Relaxed).to_string(),
        );
        let cap = self.kv_capacity.load(Relaxed).max(1) as f64;
        gauge(
            &mut out,
            "kv_cache_usage_perc",
            "KV-cache usage, 0 to 1.",
            format!("{}", self.kv_used.load(Relaxed) as f64 / cap),
        );
        counter(
            &mut out,
            "prompt_tokens_total",
            "Prompt tokens processed.",
            self.prompt_tokens.load(Relaxed),
        );
        counter(
            &mut out,
            "generation_tokens_total",
            "Tokens generated.",
            self.generation_tokens.load(Relaxed),
        );
        counter(
            &mut out,
            "request_received_total",
            "Generation requests received.",
            self.requests.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP llmb:time_to_first_token_seconds Time from arrival to the first token."
        );
        let _ = writeln!(out, "# TYPE llmb:time_to_first_token_seconds histogram");
        for (bound, bucket) in TTFT_BUCKETS.iter().zip(&self.ttft_buckets) {
            let _ = writeln!(
                out,
                "llmb:time_to_first_token_seconds_bucket{{{l},le=\"{bound}\"}} {}",
                bucket.load(Relaxed)
            );
        }
        let count = self.ttft_count.load(Relaxed);
        let _ = writeln!(
            out,
            "llmb:time_to_first_token_seconds_bucket{{{l},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "llmb:time_to_first_token_seconds_sum{{{l}}} {}",
            self.ttft_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "llmb:time_to_first_token_seconds_count{{{l}}} {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_histogram_and_gauges() {
        let m = SimMetrics::new(100);
        m.set_occupancy(3, 2, 25);
        m.add_tokens(10, 4);
        m.observe_ttft(0.03);
        m.observe_ttft(0.5);
        let text = m.render("m");
        assert!(text.contains("llmb:num_requests_running{model_name=\"m\"} 3\n"));
        assert!(text.contains("llmb:kv_cache_usage_perc{model_name=\"m\"} 0.25\n"));
        assert!(text.contains("llmb:generation_tokens_total{model_name=\"m\"} 4\n"));
        assert!(text.contains("le=\"0.02\"} 0\n"));
        assert!(text.contains("le=\"0.04\"} 1\n"));
        assert!(text.contains("le=\"0.5\"} 2\n"));
        assert!(text.contains("le=\"+Inf\"} 2\n"));
        assert!(text.contains("llmb:time_to_first_token_seconds_count{model_name=\"m\"} 2\n"));
    }

    #[test]
    fn any_engine_reads_the_simulators_names() {
        use llmb_engines::telemetry::ANY_ENGINE;
        let m = SimMetrics::new(100);
        m.set_occupancy(3, 0, 0);
        m.add_tokens(0, 42);
        let s = llmb_engines::CommonSample::from_exposition(&m.render("m"), &ANY_ENGINE);
        assert_eq!(
            (s.running, s.generated_tokens_total),
            (Some(3.0), Some(42.0))
        );
    }

    #[test]
    fn the_sim_adapter_reads_the_real_renderers_names() {
        // The simulator's own renderer against the names its adapter scrapes: renaming one
        // of its metrics breaks this test.
        use llmb_engines::{telemetry::names_for, CommonSample, EngineKind};
        let m = SimMetrics::new(100);
        m.set_occupancy(3, 0, 25);
        m.add_tokens(0, 4);
        assert_eq!(
            CommonSample::from_exposition(&m.render("m"), &names_for(Some(EngineKind::Sim))),
            CommonSample {
                running: Some(3.0),
                waiting: Some(0.0),
                kv_cache_use: Some(0.25),
                generated_tokens_total: Some(4.0),
            }
        );
    }
}
