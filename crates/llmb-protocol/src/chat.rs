//! `POST /v1/chat/completions`: the request as the simulated engine reads it.

use serde::Deserialize;

use crate::completions::Sampling;

/// A chat request; unknown fields are accepted and ignored, as real servers do.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRequest {
    /// The served model name.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Output-length and streaming knobs shared with text completions.
    #[serde(flatten)]
    pub sampling: Sampling,
    /// Newer name for `max_tokens`.
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
}

/// One message of a conversation.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, ...
    pub role: String,
    /// A string, or a list of typed parts of which only text parts count.
    #[serde(default)]
    pub content: Option<MessageContent>,
}

/// Message content: plain text or typed parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// `"content": "..."`
    Text(String),
    /// `"content": [{"type": "text", "text": "..."}]`
    Parts(Vec<ContentPart>),
}

/// One typed part of a message.
#[derive(Debug, Clone, Deserialize)]
pub struct ContentPart {
    /// The text of a `text` part.
    #[serde(default)]
    pub text: Option<String>,
}

impl ChatRequest {
    /// The text of every message, in order, for counting prompt tokens.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.messages
            .iter()
            .filter_map(|m| m.content.as_ref())
            .flat_map(|c| {
                let parts: Vec<&str> = match c {
                    MessageContent::Text(t) => vec![t.as_str()],
                    MessageContent::Parts(p) => {
                        p.iter().filter_map(|p| p.text.as_deref()).collect()
                    }
                };
                parts
            })
    }

    /// `max_completion_tokens`, else `max_tokens`.
    pub fn max_tokens(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.sampling.max_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parts_and_knobs() {
        let r: ChatRequest = serde_json::from_str(
            r#"{"model":"m","messages":[{"role":"system","content":"a"},{"role":"user","content":[{"type":"text","text":"b"},{"type":"image_url"}]}],
                "max_completion_tokens":5,"max_tokens":9,"min_tokens":5,"ignore_eos":true,"stream":true,
                "stream_options":{"include_usage":true},"temperature":0.1}"#,
        )
        .unwrap();
        assert_eq!(r.texts().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(r.max_tokens(), Some(5));
        assert!(r.sampling.ignores_eos());
        assert!(r.sampling.include_usage());
    }
}
