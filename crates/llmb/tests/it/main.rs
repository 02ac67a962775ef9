//! End-to-end tests of the `llmb` binary: a real simulated engine on a free port, real
//! HTTP/SSE, real result files.

mod aiperf;
mod bench;
mod dataset;
mod disagg;
mod engine;
mod fuzz;
mod golden;
mod hostile;
mod import;
mod launch_support;
mod plan_engines;
mod signals;
mod slurm;
mod submit;
mod support;
mod tls;
mod vllm;
