//! OpenAI wire format shared by the llmb client and the simulated engine: request and
//! chunk types, and a sans-IO Server-Sent-Events decoder. No I/O, no async runtime.
#![warn(missing_docs)]

pub mod chat;
pub mod clock;
pub mod completions;
pub mod disagg;
pub mod error;
pub mod sse;
pub mod stream;

pub use error::{error_chain, ProtocolError};
pub use sse::{SseDecoder, SseEvent};
pub use stream::{parse_chunk, ChunkFacts, Usage};

/// Which server family the requests are shaped for: decides which output-length knobs
/// are sent, since some servers reject fields they do not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// Any vLLM-style server: `max_tokens`, `min_tokens`, `ignore_eos`.
    Generic,
    /// The OpenAI API itself: `max_tokens` only (outputs cannot be forced).
    Openai,
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
    /// TensorRT-LLM `trtllm-serve`.
    Trtllm,
    /// llama.cpp `llama-server`.
    Llamacpp,
    /// NVIDIA NIM: also `nvext.ignore_eos`.
    Nim,
    /// NVIDIA Dynamo: also `nvext.ignore_eos`.
    Dynamo,
}

impl ServerKind {
    /// Whether `min_tokens` is sent to force output lengths.
    pub fn sends_min_tokens(self) -> bool {
        !matches!(self, ServerKind::Openai)
    }
    /// Whether `nvext.ignore_eos` is sent too.
    pub fn sends_nvext(self) -> bool {
        matches!(self, ServerKind::Nim | ServerKind::Dynamo)
    }
}

/// Which OpenAI route a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/chat/completions`
    Chat,
    /// `POST /v1/completions`
    Completions,
}

impl Endpoint {
    /// The request path below the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
        }
    }

    /// The name used on the command line and in result files.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "completions",
        }
    }
}
