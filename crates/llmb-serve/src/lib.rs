//! Engines: the embedded simulated engine (an OpenAI-compatible server that behaves like a
//! continuous-batching LLM engine, or follows fixed timings exactly) and the engine
//! adapters (`engine`): how to start, health-check, scrape and stop each real engine.
#![warn(missing_docs)]

pub mod engine;
pub mod sim;
