//! Engines: the embedded simulated engine (an OpenAI-compatible server that behaves like a
//! continuous-batching LLM engine, or follows fixed timings exactly) and, later, adapters
//! that start and stop real engines.
#![warn(missing_docs)]

pub mod sim;
