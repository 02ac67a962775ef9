//! The client at its physical limit (issue 4): a minimal reference reader written for this
//! purpose, and a harness that runs it and `llmb bench` against the same embedded engine
//! and reports CPU per token, throughput, memory and client lag side by side.
#![warn(missing_docs)]

pub mod harness;
pub mod reader;
pub mod rusage;
pub mod stats;
