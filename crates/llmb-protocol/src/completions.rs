//! `POST /v1/completions`: the request as the simulated engine reads it, and the
//! output-length knobs both routes share.

use serde::Deserialize;

/// A text-completion request.
#[derive(Debug, Clone, Deserialize)]
pub struct CompletionRequest {
    /// The served model name.
    #[serde(default)]
    pub model: Option<String>,
    /// A string, a list of token ids, or a one-element list of either.
    pub prompt: Prompt,
    /// Output-length and streaming knobs.
    #[serde(flatten)]
    pub sampling: Sampling,
}

/// The `prompt` field in its accepted shapes.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Prompt {
    /// `"prompt": "text"`
    Text(String),
    /// `"prompt": [1, 2, 3]`
    Ids(Vec<u32>),
    /// `"prompt": ["text", ...]` (batched; the simulator takes one)
    Texts(Vec<String>),
    /// `"prompt": [[1, 2], ...]` (batched; the simulator takes one)
    IdLists(Vec<Vec<u32>>),
}

/// Knobs on output length and streaming, as vLLM, SGLang, TensorRT-LLM and NIM read them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sampling {
    /// Most tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Fewest tokens to generate before a stop may end the output.
    #[serde(default)]
    pub min_tokens: Option<u64>,
    /// Generate up to `max_tokens` whatever the model would say.
    #[serde(default)]
    pub ignore_eos: Option<bool>,
    /// NVIDIA's extension block (NIM, Dynamo).
    #[serde(default)]
    pub nvext: Option<NvExt>,
    /// Stream chunks as Server-Sent Events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// `{"include_usage": true}` adds a final usage chunk.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Tokens per streamed chunk (TensorRT-LLM's `stream_interval`).
    #[serde(default)]
    pub stream_interval: Option<u32>,
    /// llmb's disaggregation marker (`llmb_disagg`), set by the simulated frontend.
    #[serde(default)]
    pub llmb_disagg: Option<crate::disagg::DisaggPhase>,
}

/// `nvext` fields the simulator honours.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NvExt {
    /// Same as the top-level `ignore_eos`.
    #[serde(default)]
    pub ignore_eos: Option<bool>,
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` and no choices.
    #[serde(default)]
    pub include_usage: Option<bool>,
}

impl Sampling {
    /// `ignore_eos` or `nvext.ignore_eos`.
    pub fn ignores_eos(&self) -> bool {
        self.ignore_eos.unwrap_or(false)
            || self
                .nvext
                .as_ref()
                .and_then(|n| n.ignore_eos)
                .unwrap_or(false)
    }

    /// Whether the final usage chunk was asked for.
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// Whether the response is streamed.
    pub fn streams(&self) -> bool {
        self.stream.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_shapes() {
        let ids: CompletionRequest =
            serde_json::from_str(r#"{"prompt":[1,2,3],"max_tokens":4}"#).unwrap();
        assert!(matches!(ids.prompt, Prompt::Ids(ref v) if v.len() == 3));
        let text: CompletionRequest =
            serde_json::from_str(r#"{"prompt":"hi","nvext":{"ignore_eos":true}}"#).unwrap();
        assert!(matches!(text.prompt, Prompt::Text(_)));
        assert!(text.sampling.ignores_eos());
        assert!(!text.sampling.streams());
        let batch: CompletionRequest = serde_json::from_str(r#"{"prompt":[[1],[2]]}"#).unwrap();
        assert!(matches!(batch.prompt, Prompt::IdLists(_)));
    }
}
