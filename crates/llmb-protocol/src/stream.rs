//! What a server streams back, read in one pass: one chunk (chat or text completion) or a
//! whole response is parsed straight into the caller's text buffer and a few facts (usage,
//! finish, in-stream error, the engine's send stamp). Nothing is built per chunk: serde
//! seeds carry the buffer down to the strings, which are borrowed from the payload unless
//! they hold escapes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// What one streamed chunk (`chat.completion.chunk`, `text_completion`) or one whole
/// response says, besides its text. Only the first choice counts (load generators send
/// `n = 1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkFacts {
    /// Bytes of generated text appended to the caller's buffer.
    pub text_bytes: usize,
    /// The first choice carries a `finish_reason` (`length`, `stop`, ...).
    pub finished: bool,
    /// Present in the final chunk with `stream_options.include_usage`, and in whole responses.
    pub usage: Option<Usage>,
    /// The send time an llmb engine stamps on each chunk ([`crate::clock::SENT_NS_FIELD`]).
    pub sent_ns: Option<u64>,
}

/// Parses one SSE `data:` payload or a whole JSON response, appending its generated text
/// to `text`: reasoning first (`reasoning`, or the older `reasoning_content` when that is
/// all there is: servers in transition send both with the same text), then the content of
/// a chat delta or message, or a completion's `text`. On an error `text` is left as it was.
pub fn parse_chunk(data: &[u8], text: &mut String) -> Result<ChunkFacts, ProtocolError> {
    let start = text.len();
    let mut de = serde_json::Deserializer::from_slice(data);
    let parsed = TopSeed { text: &mut *text }
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top));
    match parsed {
        Ok(top) => match top.error {
            Some(err) if !err.is_null() => {
                text.truncate(start);
                Err(ProtocolError::ServerError(error_message(&err)))
            }
            _ => Ok(ChunkFacts {
                text_bytes: text.len() - start,
                ..top.facts
            }),
        },
        Err(e) => {
            text.truncate(start);
            Err(ProtocolError::malformed(e, data))
        }
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

/// The top-level object's facts and its `error` member, if any.
struct Top {
    facts: ChunkFacts,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum TopField {
    Choices,
    Usage,
    Error,
    LlmbSentNs,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChoiceField {
    Delta,
    Message,
    Text,
    FinishReason,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum MessageField {
    Content,
    Reasoning,
    ReasoningContent,
    #[serde(other)]
    Other,
}

/// A JSON string borrowed from the payload when it has no escapes, owned otherwise.
struct Text<'a>(Cow<'a, str>);

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

/// The whole chunk.
struct TopSeed<'t> {
    text: &'t mut String,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chunk object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut top = Top {
            facts: ChunkFacts::default(),
            error: None,
        };
        while let Some(key) = map.next_key::<TopField>()? {
            match key {
                TopField::Choices => {
                    top.facts.finished = map.next_value_seed(ChoicesSeed {
                        text: &mut *self.text,
                    })?;
                }
                TopField::Usage => top.facts.usage = map.next_value()?,
                TopField::Error => top.error = map.next_value()?,
                TopField::LlmbSentNs => top.facts.sent_ns = map.next_value()?,
                TopField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// `choices`: a list (or null) whose first element is read, the rest skipped. Yields
/// whether that choice finished.
struct ChoicesSeed<'t> {
    text: &'t mut String,
}

impl<'de> DeserializeSeed<'de> for ChoicesSeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ChoicesSeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of choices or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let finished = seq
            .next_element_seed(ChoiceSeed { text: self.text })?
            .unwrap_or(false);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(finished)
    }
}

/// One choice: its text goes to the buffer; yields whether it carries a finish reason.
struct ChoiceSeed<'t> {
    text: &'t mut String,
}

impl<'de> DeserializeSeed<'de> for ChoiceSeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChoiceSeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a choice object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut finished = false;
        while let Some(key) = map.next_key::<ChoiceField>()? {
            match key {
                ChoiceField::Delta | ChoiceField::Message => map.next_value_seed(MessageSeed {
                    text: &mut *self.text,
                })?,
                ChoiceField::Text => {
                    if let Some(t) = map.next_value::<Option<Text<'de>>>()? {
                        self.text.push_str(&t.0);
                    }
                }
                ChoiceField::FinishReason => {
                    finished = map.next_value::<Option<IgnoredAny>>()?.is_some();
                }
                ChoiceField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(finished)
    }
}

/// A chat delta or message (or null): reasoning text first, then the content.
struct MessageSeed<'t> {
    text: &'t mut String,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message object or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut content: Option<Text<'de>> = None;
        let mut reasoning: Option<Text<'de>> = None;
        let mut reasoning_content: Option<Text<'de>> = None;
        while let Some(key) = map.next_key::<MessageField>()? {
            match key {
                MessageField::Content => content = map.next_value()?,
                MessageField::Reasoning => reasoning = map.next_value()?,
                MessageField::ReasoningContent => reasoning_content = map.next_value()?,
                MessageField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let reasoning = reasoning.filter(|t| !t.0.is_empty()).or(reasoning_content);
        for t in [reasoning, content].into_iter().flatten() {
            self.text.push_str(&t.0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> (Result<ChunkFacts, ProtocolError>, String) {
        let mut text = String::from("before|");
        let r = parse_chunk(raw, &mut text);
        (r, text)
    }

    #[test]
    fn chat_delta_appends_its_text() {
        let raw = br#"{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":" hello"},"finish_reason":null}],"llmb_sent_ns":42}"#;
        let (r, text) = parse(raw);
        let f = r.unwrap();
        assert_eq!(text, "before| hello");
        assert_eq!(f.text_bytes, 6);
        assert!(!f.finished);
        assert_eq!(f.sent_ns, Some(42));
        assert_eq!(f.usage, None);
    }

    #[test]
    fn completion_text_with_escape_and_finish() {
        let raw = br#"{"choices":[{"text":"a\"b","finish_reason":"length"},{"text":"ignored"}]}"#;
        let (r, text) = parse(raw);
        let f = r.unwrap();
        assert_eq!(text, "before|a\"b");
        assert_eq!(f.text_bytes, 3);
        assert!(f.finished);
    }

    #[test]
    fn usage_only_chunk() {
        let raw = br#"{"choices":[],"usage":{"prompt_tokens":128,"completion_tokens":64,"total_tokens":192}}"#;
        let (r, _) = parse(raw);
        let f = r.unwrap();
        assert_eq!(f.text_bytes, 0);
        assert_eq!(f.usage.unwrap().completion_tokens, Some(64));
    }

    #[test]
    fn null_choices_and_reasoning() {
        let (r, _) = parse(br#"{"choices":null,"llmb_sent_ns":null}"#);
        assert_eq!(r.unwrap(), ChunkFacts::default());
        // Content after reasoning whatever the key order; the same reasoning under both
        // names (servers in transition send both) counts once.
        let (r, text) = parse(
            br#"{"choices":[{"delta":{"content":"c","reasoning_content":"ab","reasoning":"ab"}}]}"#,
        );
        assert_eq!(r.unwrap().text_bytes, 3);
        assert_eq!(text, "before|abc");
        let (r, text) = parse(br#"{"choices":[{"delta":{"reasoning_content":"ab","reasoning":null,"content":null}}]}"#);
        assert_eq!(r.unwrap().text_bytes, 2);
        assert_eq!(text, "before|ab");
        let (r, _) = parse(br#"{"choices":[{"delta":null,"finish_reason":"stop"}]}"#);
        assert!(r.unwrap().finished);
    }

    #[test]
    fn whole_chat_response() {
        let raw = br#"{"choices":[{"message":{"role":"assistant","content":"four"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let (r, text) = parse(raw);
        let f = r.unwrap();
        assert_eq!((f.text_bytes, text.as_str()), (4, "before|four"));
        assert_eq!(f.usage.unwrap().prompt_tokens, Some(3));
    }

    #[test]
    fn errors_leave_the_text_as_it_was() {
        let (r, text) = parse(b"{not json");
        assert!(matches!(r, Err(ProtocolError::MalformedChunk { .. })));
        assert_eq!(text, "before|");
        // Text before the fault is taken back too.
        let (r, text) = parse(br#"{"choices":[{"text":"half"}],"usage":"many"}"#);
        assert!(matches!(r, Err(ProtocolError::MalformedChunk { .. })));
        assert_eq!(text, "before|");
        let (r, text) =
            parse(br#"{"choices":[{"text":"x"}],"error":{"message":"overloaded","code":503}}"#);
        assert_eq!(
            r.unwrap_err().to_string(),
            "server reported an error in the stream: overloaded"
        );
        assert_eq!(text, "before|");
        let (r, _) = parse(br#"{"choices":[{"text":"x"}],"error":null}"#);
        assert_eq!(r.unwrap().text_bytes, 1);
        let (r, _) = parse(br#"{"choices":[]} trailing"#);
        assert!(r.is_err());
    }
}
