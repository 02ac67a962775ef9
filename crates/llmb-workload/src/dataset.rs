//! Prompt sources and request bodies, all built before the clock starts: synthetic
//! exact-length prompts, trtllm-bench JSONL datasets and plain JSONL prompt files.

use std::path::Path;

use bytes::Bytes;
use llmb_protocol::Endpoint;
use llmb_tokenizer::{LengthSpec, PromptSet, Tokenizer};
use serde_json::{json, Map, Value};

pub use llmb_protocol::ServerKind;

/// How each request body is shaped.
#[derive(Debug, Clone)]
pub struct RequestShape {
    /// Route.
    pub endpoint: Endpoint,
    /// Served model name.
    pub model: String,
    /// Stream with SSE.
    pub stream: bool,
    /// Force output lengths (`ignore_eos`, `min_tokens`).
    pub ignore_eos: bool,
    /// Server family.
    pub server: ServerKind,
    /// Send token ids instead of text (completions only).
    pub prompt_token_ids: bool,
    /// Extra fields merged into every body (they win).
    pub extra_body: Map<String, Value>,
}

/// A request body ready to send, with what the client knows about it.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The JSON body.
    pub body: Bytes,
    /// Prompt tokens under the client's tokenizer.
    pub input_tokens: u64,
    /// Output tokens asked for.
    pub output_tokens: Option<u64>,
    /// Index in the dataset.
    pub prompt_index: u64,
}

/// One prompt before it becomes a body.
#[derive(Debug, Clone)]
pub struct PromptEntry {
    /// Text, if known.
    pub text: Option<String>,
    /// Token ids, if known.
    pub ids: Option<Vec<u32>>,
    /// Prompt tokens.
    pub tokens: u64,
    /// Requested output length.
    pub output_tokens: Option<u64>,
}

/// Why a dataset could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Could not read the file.
    #[error("cannot read dataset {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not in a known format.
    #[error("dataset {path} line {line}: {message}; expected trtllm-bench JSONL ({{\"task_id\", \"input_ids\" or \"prompt\", \"output_tokens\"}}) or {{\"prompt\": \"...\"}} per line")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has no prompts.
    #[error("dataset {0} has no prompts")]
    Empty(String),
    /// A tokenizer problem.
    #[error(transparent)]
    Tokenizer(#[from] llmb_tokenizer::TokenizerError),
}

/// Sub-seed of output lengths, so they are independent of prompt lengths and words.
pub(crate) const OUTPUT_LENGTH_STREAM: u64 = 0x4F53_4C00;

/// Synthetic prompts of exact lengths with output lengths drawn per request.
pub fn synthetic(
    tok: &Tokenizer,
    count: usize,
    isl: LengthSpec,
    osl: LengthSpec,
    seed: u64,
) -> Result<Vec<PromptEntry>, DatasetError> {
    let set = PromptSet::synthetic(tok, count, isl, seed)?;
    Ok(set
        .prompts
        .into_iter()
        .enumerate()
        .map(|(i, p)| PromptEntry {
            tokens: p.tokens,
            text: Some(p.text),
            ids: None,
            output_tokens: Some(osl.draw(seed ^ OUTPUT_LENGTH_STREAM, i as u64)),
        })
        .collect())
}

/// Largest output length a dataset line may ask for (10 Mi tokens).
pub const MAX_OUTPUT_TOKENS: u64 = 10 << 20;

/// Reads a JSONL dataset: trtllm-bench's format or plain prompts. Each line is checked:
/// an error names the file, the line and the field.
pub fn from_file(
    path: &Path,
    tok: &Tokenizer,
    default_osl: Option<u64>,
) -> Result<Vec<PromptEntry>, DatasetError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
        path: name.clone(),
        source,
    })?;
    let mut out = Vec::new();
    let vocab = tok.vocab_size();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |message: String| DatasetError::Line {
            path: name.clone(),
            line: i + 1,
            message,
        };
        let v: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON ({e})")))?;
        let (text, ids, osl) = match &v {
            Value::String(s) => (Some(s.clone()), None, None),
            Value::Object(m) => {
                let ids = match m.get("input_ids") {
                    Some(Value::Array(a)) => Some(
                        a.iter()
                            .map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok()))
                            .collect::<Option<Vec<u32>>>()
                            .ok_or_else(|| bad("input_ids must be token ids".into()))?,
                    ),
                    Some(_) => return Err(bad("input_ids must be a list".into())),
                    None => None,
                };
                let text = ["prompt", "text", "input"]
                    .iter()
                    .find_map(|k| m.get(*k).and_then(Value::as_str))
                    .map(str::to_owned);
                if ids.is_none() && text.is_none() {
                    return Err(bad("no \"input_ids\" or \"prompt\"".into()));
                }
                if let Some(id) = ids.iter().flatten().find(|id| **id >= vocab) {
                    return Err(bad(format!(
                        "field \"input_ids\": token id {id} is outside the vocabulary of {} ({vocab} ids); pass --tokenizer with the model's tokenizer",
                        tok.name()
                    )));
                }
                let osl = match ["output_tokens", "max_tokens"]
                    .iter()
                    .find_map(|k| m.get(*k).map(|v| (*k, v)))
                {
                    Some((_, Value::Null)) | None => None,
                    Some((k, v)) => match v.as_u64() {
                        Some(n) if (1..=MAX_OUTPUT_TOKENS).contains(&n) => Some(n),
                        _ => {
                            return Err(bad(format!(
                                "field \"{k}\": {v} is not a number of tokens from 1 to {MAX_OUTPUT_TOKENS}"
                            )))
                        }
                    },
                };
                (text, ids, osl)
            }
            _ => return Err(bad("each line must be an object or a string".into())),
        };
        if ids.as_ref().is_some_and(Vec::is_empty)
            || (ids.is_none() && text.as_deref().is_some_and(|t| t.trim().is_empty()))
        {
            return Err(bad(
                "empty prompt: every line needs at least one token".into()
            ));
        }
        let tokens = match (&ids, &text) {
            (Some(ids), _) => ids.len() as u64,
            (None, Some(t)) => tok.count(t) as u64,
            (None, None) => 0,
        };
        out.push(PromptEntry {
            text,
            ids,
            tokens,
            output_tokens: osl.or(default_osl),
        });
    }
    if out.is_empty() {
        return Err(DatasetError::Empty(name));
    }
    Ok(out)
}

/// Turns prompts into request bodies.
pub fn prepare(
    entries: &[PromptEntry],
    shape: &RequestShape,
    tok: &Tokenizer,
) -> Vec<PreparedRequest> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let body = body(e, shape, tok);
            PreparedRequest {
                body: Bytes::from(serde_json::to_vec(&body).expect("JSON body")),
                input_tokens: e.tokens,
                output_tokens: e.output_tokens,
                prompt_index: i as u64,
            }
        })
        .collect()
}

fn body(e: &PromptEntry, shape: &RequestShape, tok: &Tokenizer) -> Value {
    let mut b = Map::new();
    b.insert("model".into(), json!(shape.model));
    let text = || {
        e.text
            .clone()
            .unwrap_or_else(|| tok.decode(e.ids.as_deref().unwrap_or_default()))
    };
    match shape.endpoint {
        Endpoint::Chat => {
            b.insert(
                "messages".into(),
                json!([{"role": "user", "content": text()}]),
            );
        }
        Endpoint::Completions => {
            let ids = if shape.prompt_token_ids {
                Some(
                    e.ids
                        .clone()
                        .unwrap_or_else(|| tok.encode(e.text.as_deref().unwrap_or_default())),
                )
            } else {
                e.ids.clone().filter(|_| e.text.is_none())
            };
            match ids {
                Some(ids) => b.insert("prompt".into(), json!(ids)),
                None => b.insert("prompt".into(), json!(text())),
            };
        }
    }
    if let Some(n) = e.output_tokens {
        b.insert("max_tokens".into(), json!(n));
        if shape.ignore_eos && shape.server.sends_min_tokens() {
            b.insert("min_tokens".into(), json!(n));
            b.insert("ignore_eos".into(), json!(true));
        }
        if shape.ignore_eos && shape.server.sends_nvext() {
            b.insert("nvext".into(), json!({"ignore_eos": true}));
        }
    }
    b.insert("stream".into(), json!(shape.stream));
    if shape.stream {
        b.insert("stream_options".into(), json!({"include_usage": true}));
    }
    for (k, v) in &shape.extra_body {
        b.insert(k.clone(), v.clone());
    }
    Value::Object(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(endpoint: Endpoint, server: ServerKind) -> RequestShape {
        RequestShape {
            endpoint,
            model: "m".into(),
            stream: true,
            ignore_eos: true,
            server,
            prompt_token_ids: false,
            extra_body: Map::new(),
        }
    }

    fn parse(p: &PreparedRequest) -> Value {
        serde_json::from_slice(&p.body).unwrap()
    }

    #[test]
    fn chat_body_forces_length() {
        let tok = Tokenizer::builtin().unwrap();
        let e = synthetic(&tok, 2, LengthSpec::fixed(16), LengthSpec::fixed(8), 1).unwrap();
        let p = prepare(&e, &shape(Endpoint::Chat, ServerKind::Generic), &tok);
        let v = parse(&p[0]);
        assert_eq!(v["max_tokens"], 8);
        assert_eq!(v["min_tokens"], 8);
        assert_eq!(v["ignore_eos"], true);
        assert!(v.get("nvext").is_none());
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(tok.count(v["messages"][0]["content"].as_str().unwrap()), 16);
        assert_eq!(p[0].input_tokens, 16);
    }

    #[test]
    fn nim_gets_nvext_openai_gets_no_unknown_fields() {
        let tok = Tokenizer::builtin().unwrap();
        let e = synthetic(&tok, 1, LengthSpec::fixed(4), LengthSpec::fixed(3), 1).unwrap();
        let v = parse(&prepare(&e, &shape(Endpoint::Chat, ServerKind::Nim), &tok)[0]);
        assert_eq!(v["nvext"]["ignore_eos"], true);
        let v = parse(&prepare(&e, &shape(Endpoint::Chat, ServerKind::Openai), &tok)[0]);
        assert!(v.get("ignore_eos").is_none() && v.get("min_tokens").is_none());
    }

    #[test]
    fn completions_with_token_ids_and_extra_body() {
        let tok = Tokenizer::builtin().unwrap();
        let e = synthetic(&tok, 1, LengthSpec::fixed(10), LengthSpec::fixed(3), 1).unwrap();
        let mut s = shape(Endpoint::Completions, ServerKind::Generic);
        s.prompt_token_ids = true;
        s.extra_body.insert("temperature".into(), json!(0.5));
        s.extra_body.insert("max_tokens".into(), json!(99));
        let v = parse(&prepare(&e, &s, &tok)[0]);
        assert_eq!(v["prompt"].as_array().unwrap().len(), 10);
        assert_eq!(v["temperature"], 0.5);
        assert_eq!(v["max_tokens"], 99);
    }

    #[test]
    fn reads_trtllm_and_plain_jsonl() {
        let tok = Tokenizer::builtin().unwrap();
        let dir = std::env::temp_dir().join(format!("llmb-ds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("d.jsonl");
        std::fs::write(&f, "{\"task_id\":0,\"input_ids\":[1,2,3],\"output_tokens\":5}\n\n{\"prompt\":\"hello world\"}\n\"just text\"\n").unwrap();
        let e = from_file(&f, &tok, Some(7)).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].tokens, e[0].output_tokens), (3, Some(5)));
        assert_eq!((e[1].tokens, e[1].output_tokens), (2, Some(7)));
        std::fs::write(&f, "{\"task_id\":0}\n").unwrap();
        let err = from_file(&f, &tok, None).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("input_ids"), "{err}");
        // Each bad field is named with its line; the first good line does not hide it.
        let ok = "{\"prompt\":\"hi\",\"output_tokens\":4}\n";
        for (line, says) in [
            (
                "{\"prompt\":\"hi\",\"output_tokens\":-4}",
                "field \"output_tokens\": -4",
            ),
            (
                "{\"prompt\":\"hi\",\"output_tokens\":0}",
                "field \"output_tokens\": 0",
            ),
            (
                "{\"prompt\":\"hi\",\"max_tokens\":\"many\"}",
                "field \"max_tokens\"",
            ),
            ("{\"prompt\":\"  \"}", "empty prompt"),
            ("{\"input_ids\":[]}", "empty prompt"),
            ("{\"input_ids\":[5,4000000000]}", "outside the vocabulary"),
            ("{\"input_ids\":[5,100277]}", "token id 100277"),
        ] {
            std::fs::write(&f, format!("{ok}{line}\n")).unwrap();
            let err = from_file(&f, &tok, None).unwrap_err().to_string();
            assert!(
                err.contains("line 2") && err.contains(says),
                "{line}: {err}"
            );
        }
        // The last special id of cl100k_base (100276) is in the vocabulary.
        std::fs::write(&f, "{\"input_ids\":[100276],\"output_tokens\":null}\n").unwrap();
        assert_eq!(
            from_file(&f, &tok, Some(3)).unwrap()[0].output_tokens,
            Some(3)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
