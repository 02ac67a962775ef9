//! Borrowed views of what a server streams back: one chunk (chat or text completion),
//! the usage block and in-stream errors. Parsing borrows from the SSE payload, so the
//! client's hot path allocates nothing for a chunk whose text has no escapes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::ProtocolError;

/// Token counts as the server reports them (`usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens the server saw in the prompt (after any chat template).
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    /// Tokens the server generated.
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    /// Their sum.
    #[serde(default)]
    pub total_tokens: Option<u64>,
}

/// One streamed chunk (`chat.completion.chunk` or `text_completion`), or a whole
/// non-streamed response: only the fields a load generator needs.
#[derive(Debug, Default, Deserialize)]
pub struct ChunkView<'a> {
    /// The first choice (load generators send `n = 1`).
    #[serde(borrow, default)]
    pub choices: FirstChoice<'a>,
    /// Present in the final chunk with `stream_options.include_usage`, and in whole responses.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Some servers report failures inside the stream.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    /// The send time an llmb engine stamps on each chunk ([`crate::clock::SENT_NS_FIELD`]).
    #[serde(default, rename = "llmb_sent_ns")]
    pub sent_ns: Option<u64>,
}

/// The first element of `choices`, if any; later ones are skipped.
#[derive(Debug, Default)]
pub struct FirstChoice<'a>(pub Option<ChoiceView<'a>>);

/// One choice of a chunk or response.
#[derive(Debug, Default, Deserialize)]
pub struct ChoiceView<'a> {
    /// Chat streaming: the new text.
    #[serde(borrow, default)]
    pub delta: Option<MessageView<'a>>,
    /// Chat, not streamed: the whole message.
    #[serde(borrow, default)]
    pub message: Option<MessageView<'a>>,
    /// Text completions: the new (or whole) text.
    #[serde(borrow, default)]
    pub text: Option<Text<'a>>,
    /// Why generation stopped (`length`, `stop`), on the last chunk.
    #[serde(borrow, default)]
    pub finish_reason: Option<Text<'a>>,
}

/// The text-bearing part of a chat delta or message.
#[derive(Debug, Default, Deserialize)]
pub struct MessageView<'a> {
    /// The visible answer text.
    #[serde(borrow, default)]
    pub content: Option<Text<'a>>,
    /// Reasoning text (vLLM and SGLang with a reasoning parser).
    #[serde(borrow, default)]
    pub reasoning_content: Option<Text<'a>>,
    /// Reasoning text under the newer field name.
    #[serde(borrow, default)]
    pub reasoning: Option<Text<'a>>,
}

/// A JSON string borrowed from the payload when it has no escapes, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl ChoiceView<'_> {
    /// Every piece of generated text this choice carries (reasoning first, then content).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        let msg = self.delta.as_ref().or(self.message.as_ref());
        let parts = msg.map(|m| {
            [
                m.reasoning_content.as_deref(),
                m.reasoning.as_deref(),
                m.content.as_deref(),
            ]
        });
        parts
            .into_iter()
            .flatten()
            .flatten()
            .chain(self.text.as_deref())
            .filter(|t| !t.is_empty())
    }
}

impl ChunkView<'_> {
    /// Parses one SSE `data:` payload or a whole JSON response.
    pub fn parse(data: &[u8]) -> Result<ChunkView<'_>, ProtocolError> {
        let view: ChunkView<'_> =
            serde_json::from_slice(data).map_err(|e| ProtocolError::malformed(e, data))?;
        if let Some(err) = &view.error {
            if !err.is_null() {
                return Err(ProtocolError::ServerError(error_message(err)));
            }
        }
        Ok(view)
    }

    /// Total bytes of generated text in this chunk.
    pub fn text_len(&self) -> usize {
        self.choices
            .0
            .as_ref()
            .map_or(0, |c| c.texts().map(str::len).sum())
    }

    /// The stop reason, if this chunk carries one.
    pub fn finish_reason(&self) -> Option<&str> {
        self.choices
            .0
            .as_ref()
            .and_then(|c| c.finish_reason.as_deref())
    }
}

fn error_message(err: &serde_json::Value) -> String {
    match err {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => m
            .get("message")
            .and_then(|v| v.as_str())
            .map_or_else(|| err.to_string(), str::to_owned),
        other => other.to_string(),
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstChoice<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of choices or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FirstChoice(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FirstChoice(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<ChoiceView<'a>>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstChoice(first))
            }
        }
        d.deserialize_option(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_delta_borrows_text() {
        let raw = br#"{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":" hello"},"finish_reason":null}]}"#;
        let c = ChunkView::parse(raw).unwrap();
        let choice = c.choices.0.as_ref().unwrap();
        let content = choice.delta.as_ref().unwrap().content.as_ref().unwrap();
        assert!(matches!(content.0, Cow::Borrowed(" hello")));
        assert_eq!(c.text_len(), 6);
        assert_eq!(c.finish_reason(), None);
    }

    #[test]
    fn completion_text_with_escape_and_finish() {
        let raw = br#"{"choices":[{"text":"a\"b","finish_reason":"length"},{"text":"ignored"}]}"#;
        let c = ChunkView::parse(raw).unwrap();
        assert_eq!(c.text_len(), 3);
        assert_eq!(c.finish_reason(), Some("length"));
    }

    #[test]
    fn usage_only_chunk() {
        let raw = br#"{"choices":[],"usage":{"prompt_tokens":128,"completion_tokens":64,"total_tokens":192}}"#;
        let c = ChunkView::parse(raw).unwrap();
        assert_eq!(c.text_len(), 0);
        assert_eq!(c.usage.unwrap().completion_tokens, Some(64));
    }

    #[test]
    fn null_choices_and_reasoning() {
        let c = ChunkView::parse(br#"{"choices":null}"#).unwrap();
        assert!(c.choices.0.is_none());
        let c = ChunkView::parse(
            br#"{"choices":[{"delta":{"reasoning_content":"ab","content":"c"}}]}"#,
        )
        .unwrap();
        assert_eq!(c.text_len(), 3);
    }

    #[test]
    fn whole_chat_response() {
        let raw = br#"{"choices":[{"message":{"role":"assistant","content":"four"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let c = ChunkView::parse(raw).unwrap();
        assert_eq!(c.text_len(), 4);
        assert_eq!(c.usage.unwrap().prompt_tokens, Some(3));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            ChunkView::parse(b"{not json"),
            Err(ProtocolError::MalformedChunk { .. })
        ));
        let e = ChunkView::parse(br#"{"error":{"message":"overloaded","code":503}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "server reported an error in the stream: overloaded"
        );
    }
}
