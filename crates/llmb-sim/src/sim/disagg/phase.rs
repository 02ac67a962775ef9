//! The two requests the frontend derives from a client request (the prefill half and the
//! decode half) and what it reads back from the prefill answer. Pure.

use bytes::Bytes;
use llmb_protocol::disagg::{DisaggPhase, FIELD};
use serde_json::{Map, Value};

/// A client request body as a JSON object (field order kept).
pub type Body = Map<String, Value>;

/// Parses a client request body; it must be a JSON object.
pub fn parse(raw: &[u8]) -> Result<Body, String> {
    serde_json::from_slice(raw).map_err(|e| format!("invalid request body: {e}"))
}

/// The prefill half: the client's request, not streamed, one token, marked
/// `{"phase":"prefill"}`. Output-length knobs that would contradict one token go.
pub fn prefill_request(client: &Body) -> Bytes {
    let mut b = client.clone();
    for k in ["max_completion_tokens", "min_tokens", "stream_options"] {
        b.remove(k);
    }
    b.insert("stream".into(), Value::Bool(false));
    b.insert("max_tokens".into(), Value::from(1u64));
    b.insert(FIELD.into(), marker(DisaggPhase::Prefill));
    Bytes::from(serde_json::to_vec(&b).expect("a JSON object serializes"))
}

/// The decode half: the client's request as sent, marked with the prompt length the
/// prefill worker reported.
pub fn decode_request(mut client: Body, prompt_tokens: u64) -> Bytes {
    client.insert(FIELD.into(), marker(DisaggPhase::Decode { prompt_tokens }));
    Bytes::from(serde_json::to_vec(&client).expect("a JSON object serializes"))
}

fn marker(p: DisaggPhase) -> Value {
    serde_json::to_value(p).expect("the marker serializes")
}

/// `usage.prompt_tokens` of a prefill worker's (non-streamed) answer.
pub fn prompt_tokens(answer: &[u8]) -> Result<u64, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        usage: Option<Usage>,
    }
    #[derive(serde::Deserialize)]
    struct Usage {
        prompt_tokens: Option<u64>,
    }
    let a: Answer = serde_json::from_slice(answer)
        .map_err(|e| format!("the prefill answer is not JSON ({e})"))?;
    a.usage
        .and_then(|u| u.prompt_tokens)
        .ok_or_else(|| "the prefill answer has no usage.prompt_tokens".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Body {
        v.as_object().unwrap().clone()
    }

    fn back(b: &Bytes) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn prefill_half_is_one_unstreamed_token() {
        let client = obj(json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}],
            "stream": true, "stream_options": {"include_usage": true},
            "max_tokens": 64, "min_tokens": 64, "max_completion_tokens": 64,
            "ignore_eos": true
        }));
        let p = back(&prefill_request(&client));
        assert_eq!(
            p,
            json!({
                "model": "m", "messages": [{"role": "user", "content": "hi"}],
                "stream": false, "max_tokens": 1, "ignore_eos": true,
                "llmb_disagg": {"phase": "prefill"}
            })
        );
    }

    #[test]
    fn decode_half_is_the_request_as_sent_plus_the_marker() {
        let client = obj(json!({"prompt": "x", "stream": true, "max_tokens": 8}));
        let d = back(&decode_request(client, 42));
        assert_eq!(
            d,
            json!({"prompt": "x", "stream": true, "max_tokens": 8,
                   "llmb_disagg": {"phase": "decode", "prompt_tokens": 42}})
        );
    }

    #[test]
    fn prompt_tokens_come_from_usage() {
        let ok = br#"{"choices":[],"usage":{"prompt_tokens":128,"completion_tokens":1}}"#;
        assert_eq!(prompt_tokens(ok), Ok(128));
        assert!(prompt_tokens(br#"{"choices":[]}"#)
            .unwrap_err()
            .contains("usage.prompt_tokens"));
        assert!(prompt_tokens(b"data: x").unwrap_err().contains("not JSON"));
        assert!(parse(b"[1]").is_err());
    }
}
