//! What the load sends, with no async runtime: prompts (synthetic of exact lengths, or a
//! user's JSONL), the request bodies prepared from them before the clock starts, the
//! dataset files written for offline engines (`llmb dataset`, a plan's trtllm-bench step),
//! and the live counters a progress line reads.
#![warn(missing_docs)]

pub mod dataset;
pub mod dataset_writer;
pub mod progress;

pub use dataset::{PreparedRequest, RequestShape, ServerKind};
