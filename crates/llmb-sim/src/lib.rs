//! The embedded simulated engine: an OpenAI-compatible server that behaves like a
//! continuous-batching LLM engine, or follows fixed timings exactly, aggregated or split
//! into prefill and decode workers behind a frontend. Real engines' adapters are
//! `llmb-engines`.
#![warn(missing_docs)]

pub mod sim;
