//! The frontend's Prometheus metrics, named like Dynamo's frontend (the names llmb's
//! Dynamo adapter scrapes): in-flight and queued requests, output tokens, finished
//! requests by status. Lock-free counters; `RequestGuard` keeps them true for one request.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Shared counters.
#[derive(Debug, Default)]
pub struct FrontendMetrics {
    inflight: AtomicU64,
    queued: AtomicU64,
    output_tokens: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
}

impl FrontendMetrics {
    /// Counts output tokens delivered in full.
    pub fn add_output_tokens(&self, n: u64) {
        self.output_tokens.fetch_add(n, Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self, model: &str) -> String {
        let l = format!(
            "model=\"{}\"",
            model.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let mut out = String::with_capacity(1024);
        let mut one = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{l}}} {v}"
            );
        };
        one(
            "dynamo_frontend_inflight_requests",
            "gauge",
            "Requests in the frontend, queued ones included.",
            self.inflight.load(Relaxed),
        );
        one(
            "dynamo_frontend_queued_requests",
            "gauge",
            "Requests not streaming yet: in prefill or waiting for the decode worker's answer.",
            self.queued.load(Relaxed),
        );
        one(
            "dynamo_frontend_output_tokens_total",
            "counter",
            "Output tokens of responses relayed to their end.",
            self.output_tokens.load(Relaxed),
        );
        let name = "dynamo_frontend_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Generation requests finished, by status.\n# TYPE {name} counter"
        );
        for (status, v) in [("success", &self.succeeded), ("error", &self.failed)] {
            let _ = writeln!(out, "{name}{{{l},status=\"{status}\"}} {}", v.load(Relaxed));
        }
        out
    }
}

/// One generation request's mark on the counters: in flight and queued from creation,
/// dequeued when its decode answer arrives, counted as a success only if `succeed` was
/// called before it is dropped.
#[derive(Debug)]
pub struct RequestGuard {
    metrics: Arc<FrontendMetrics>,
    queued: bool,
    succeeded: bool,
}

impl RequestGuard {
    /// A request entering the frontend.
    pub fn new(metrics: Arc<FrontendMetrics>) -> RequestGuard {
        metrics.inflight.fetch_add(1, Relaxed);
        metrics.queued.fetch_add(1, Relaxed);
        RequestGuard {
            metrics,
            queued: true,
            succeeded: false,
        }
    }

    /// The decode answer started: no longer queued.
    pub fn dequeue(&mut self) {
        if std::mem::take(&mut self.queued) {
            self.metrics.queued.fetch_sub(1, Relaxed);
        }
    }

    /// The response was delivered in full; `output_tokens` go to the counter.
    pub fn succeed(&mut self, output_tokens: u64) {
        self.dequeue();
        self.succeeded = true;
        self.metrics.add_output_tokens(output_tokens);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.dequeue();
        self.metrics.inflight.fetch_sub(1, Relaxed);
        let c = if self.succeeded {
            &self.metrics.succeeded
        } else {
            &self.metrics.failed
        };
        c.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_keep_gauges_and_counters_true() {
        let m = Arc::new(FrontendMetrics::default());
        let mut a = RequestGuard::new(m.clone());
        let b = RequestGuard::new(m.clone());
        a.dequeue();
        let text = m.render("m\"1");
        assert!(text.contains("dynamo_frontend_inflight_requests{model=\"m\\\"1\"} 2\n"));
        assert!(text.contains("dynamo_frontend_queued_requests{model=\"m\\\"1\"} 1\n"));
        a.succeed(64);
        drop((a, b));
        let text = m.render("m");
        assert!(text.contains("# TYPE dynamo_frontend_output_tokens_total counter\n"));
        assert!(text.contains("dynamo_frontend_output_tokens_total{model=\"m\"} 64\n"));
        assert!(text.contains("dynamo_frontend_inflight_requests{model=\"m\"} 0\n"));
        assert!(text.contains("dynamo_frontend_queued_requests{model=\"m\"} 0\n"));
        assert!(text.contains("dynamo_frontend_requests_total{model=\"m\",status=\"success\"} 1\n"));
        assert!(text.contains("dynamo_frontend_requests_total{model=\"m\",status=\"error\"} 1\n"));
    }
}
