//! Generated tokens → OpenAI JSON: streamed chunks (`chat.completion.chunk`,
//! `text_completion`), the final usage chunk, and whole non-streamed responses.
//! Written by hand into a reused buffer: the simulator must out-run any client.

use llmb_protocol::Endpoint;

/// Formats one request's chunks.
#[derive(Debug, Clone)]
pub struct ChunkWriter {
    endpoint: Endpoint,
    id: String,
    created: u64,
    model_json: String,
}

impl ChunkWriter {
    /// A writer for request number `n`.
    pub fn new(endpoint: Endpoint, n: u64, created: u64, model: &str) -> ChunkWriter {
        let prefix = match endpoint {
            Endpoint::Chat => "chatcmpl",
            Endpoint::Completions => "cmpl",
        };
        let mut model_json = Vec::new();
        push_json_str(&mut model_json, model);
        ChunkWriter {
            endpoint,
            id: format!("{prefix}-llmb{n:012}"),
            created,
            model_json: String::from_utf8(model_json).unwrap_or_default(),
        }
    }

    fn head(&self, out: &mut Vec<u8>, object: &str) {
        out.extend_from_slice(b"{\"id\":\"");
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(b"\",\"object\":\"");
        out.extend_from_slice(object.as_bytes());
        out.extend_from_slice(b"\",\"created\":");
        out.extend_from_slice(self.created.to_string().as_bytes());
        out.extend_from_slice(b",\"model\":");
        out.extend_from_slice(self.model_json.as_bytes());
    }

    /// Appends one SSE event carrying `text`; the first chunk of a chat names the role,
    /// the last carries the finish reason. `sent_ns` (the host's monotonic clock) goes in
    /// the `llmb_sent_ns` field, so a client on the same host can measure its own lag.
    pub fn chunk(
        &self,
        out: &mut Vec<u8>,
        text: &str,
        first: bool,
        finish: Option<&str>,
        sent_ns: u64,
    ) {
        out.extend_from_slice(b"data: ");
        match self.endpoint {
            Endpoint::Chat => {
                self.head(out, "chat.completion.chunk");
                out.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":{");
                if first {
                    out.extend_from_slice(b"\"role\":\"assistant\",");
                }
                out.extend_from_slice(b"\"content\":");
                push_json_str(out, text);
                out.extend_from_slice(b"},\"logprobs\":null,\"finish_reason\":");
            }
            Endpoint::Completions => {
                self.head(out, "text_completion");
                out.extend_from_slice(b",\"choices\":[{\"index\":0,\"text\":");
                push_json_str(out, text);
                out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
            }
        }
        push_finish(out, finish);
        out.extend_from_slice(b"}],\"llmb_sent_ns\":");
        out.extend_from_slice(sent_ns.to_string().as_bytes());
        out.extend_from_slice(b"}\n\n");
    }

    /// Appends the usage-only chunk of `stream_options.include_usage`.
    pub fn usage_chunk(&self, out: &mut Vec<u8>, prompt: u64, completion: u64) {
        out.extend_from_slice(b"data: ");
        let object = match self.endpoint {
            Endpoint::Chat => "chat.completion.chunk",
            Endpoint::Completions => "text_completion",
        };
        self.head(out, object);
        out.extend_from_slice(b",\"choices\":[],");
        push_usage(out, prompt, completion);
        out.extend_from_slice(b"}\n\n");
    }

    /// The whole response of a non-streamed request.
    pub fn full(&self, text: &str, finish: &str, prompt: u64, completion: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 256);
        match self.endpoint {
            Endpoint::Chat => {
                self.head(&mut out, "chat.completion");
                out.extend_from_slice(
                    b",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":",
                );
                push_json_str(&mut out, text);
                out.extend_from_slice(b"},\"logprobs\":null,\"finish_reason\":");
            }
            Endpoint::Completions => {
                self.head(&mut out, "text_completion");
                out.extend_from_slice(b",\"choices\":[{\"index\":0,\"text\":");
                push_json_str(&mut out, text);
                out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
            }
        }
        push_finish(&mut out, Some(finish));
        out.extend_from_slice(b"}],");
        push_usage(&mut out, prompt, completion);
        out.push(b'}');
        out
    }
}

fn push_finish(out: &mut Vec<u8>, finish: Option<&str>) {
    match finish {
        Some(f) => push_json_str(out, f),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_usage(out: &mut Vec<u8>, prompt: u64, completion: u64) {
    out.extend_from_slice(
        format!("\"usage\":{{\"prompt_tokens\":{prompt},\"completion_tokens\":{completion},\"total_tokens\":{}}}", prompt + completion)
            .as_bytes(),
    );
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmb_protocol::{parse_chunk, SseDecoder};

    fn events(bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        SseDecoder::new().push(bytes, &mut |e| {
            out.push(String::from_utf8(e.data.to_vec()).unwrap());
            true
        });
        out
    }

    #[test]
    fn chat_chunks_parse_as_openai() {
        let w = ChunkWriter::new(Endpoint::Chat, 7, 1_700_000_000, "m\"x");
        let mut buf = Vec::new();
        w.chunk(&mut buf, " hello", true, None, 5);
        w.chunk(&mut buf, " a\"b", false, Some("length"), 6);
        w.usage_chunk(&mut buf, 12, 2);
        let ev = events(&buf);
        assert_eq!(ev.len(), 3);
        let v: serde_json::Value = serde_json::from_str(&ev[0]).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["model"], "m\"x");
        assert_eq!(v["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(v["choices"][0]["delta"]["content"], " hello");
        let mut text = String::new();
        let c = parse_chunk(ev[1].as_bytes(), &mut text).unwrap();
        assert_eq!(
            (c.text_bytes, c.finished, text.as_str()),
            (4, true, " a\"b")
        );
        assert_eq!(c.sent_ns, Some(6));
        let v: serde_json::Value = serde_json::from_str(&ev[1]).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        let u = parse_chunk(ev[2].as_bytes(), &mut text).unwrap();
        assert_eq!(u.usage.unwrap().completion_tokens, Some(2));
        assert_eq!(u.text_bytes, 0);
    }

    #[test]
    fn completion_chunks_and_full_bodies() {
        let w = ChunkWriter::new(Endpoint::Completions, 1, 0, "m");
        let mut buf = Vec::new();
        w.chunk(&mut buf, " x\n", true, None, 7);
        let v: serde_json::Value = serde_json::from_str(&events(&buf)[0]).unwrap();
        assert_eq!(v["choices"][0]["text"], " x\n");
        assert_eq!(v["object"], "text_completion");
        let full: serde_json::Value =
            serde_json::from_slice(&w.full(" a b", "stop", 3, 2)).unwrap();
        assert_eq!(full["choices"][0]["text"], " a b");
        assert_eq!(full["usage"]["total_tokens"], 5);
        let chat = ChunkWriter::new(Endpoint::Chat, 1, 0, "m");
        let full: serde_json::Value =
            serde_json::from_slice(&chat.full("hi", "length", 3, 1)).unwrap();
        assert_eq!(full["choices"][0]["message"]["content"], "hi");
        assert_eq!(full["object"], "chat.completion");
    }
}
