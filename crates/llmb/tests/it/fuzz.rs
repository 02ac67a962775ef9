//! Fuzzing of every parser a server or a user feeds: the SSE framer, the chunked-transfer
//! decoder, the JSON chunk parser, the recipe and cluster-config readers and the dataset
//! reader. Inputs are seeded mutations of valid documents and random splits of valid
//! streams: no input may panic, and a valid stream must decode the same however it is cut.
//! `LLMB_FUZZ_CASES=N` runs N cases per target (default 1,000; set 1000000 for a long run),
//! `LLMB_FUZZ_SEED=S` another sequence.

use llmb_load::client::ChunkedDecoder;
use llmb_protocol::{parse_chunk, SseDecoder};
use llmb_rand::Rng;

fn cases() -> u64 {
    std::env::var("LLMB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

fn rng(target: u64) -> Rng {
    let seed = std::env::var("LLMB_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0u64);
    Rng::new(seed ^ target.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Bytes a parser finds interesting.
const SPICE: &[u8] = b"{}[]\":,\\\n\r\t 0123456789-.eE:datnulfrsDONE\xff\xc3\x80\x00";

/// One to four random edits of `base`: flip, insert, delete, duplicate or cut.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..=rng.below(4) {
        let len = v.len() as u64;
        let at = rng.below(len + 1) as usize;
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = SPICE[rng.below(SPICE.len() as u64) as usize];
            }
            1 => v.insert(at, SPICE[rng.below(SPICE.len() as u64) as usize]),
            2 if at < v.len() => {
                let end = (at + 1 + rng.below(16) as usize).min(v.len());
                v.drain(at..end);
            }
            3 if at < v.len() => {
                let end = (at + 1 + rng.below(32) as usize).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            4 => v.truncate(at),
            _ => v.insert(at, rng.below(256) as u8),
        }
    }
    v
}

/// `data` cut into random pieces (empty ones included).
fn pieces(rng: &mut Rng, data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let n = (rng.below(24) as usize).min(data.len() - i);
        out.push(data[i..i + n].to_vec());
        i += n;
    }
    out
}

fn sse_events(parts: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut dec = SseDecoder::new();
    let mut got = Vec::new();
    for p in parts {
        dec.push(p, &mut |ev| {
            got.push(ev.data.to_vec());
            true
        });
    }
    got
}

#[test]
fn sse_framing_is_the_same_however_the_stream_is_cut() {
    let mut rng = rng(1);
    for _ in 0..cases() {
        // A valid stream: events of random text, comments, other fields, LF or CRLF.
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for _ in 0..=rng.below(6) {
            let eol: &[u8] = if rng.below(2) == 0 { b"\n" } else { b"\r\n" };
            if rng.below(4) == 0 {
                stream.extend_from_slice(b": keep-alive");
                stream.extend_from_slice(eol);
            }
            let text: Vec<u8> = (0..rng.below(40))
                .map(|_| b'a' + rng.below(26) as u8)
                .collect();
            if rng.below(3) == 0 {
                stream.extend_from_slice(b"event: message");
                stream.extend_from_slice(eol);
            }
            stream.extend_from_slice(b"data: ");
            stream.extend_from_slice(&text);
            stream.extend_from_slice(eol);
            stream.extend_from_slice(eol);
            want.push(text);
        }
        let whole = sse_events(&[stream.clone()]);
        assert_eq!(whole, want, "{}", String::from_utf8_lossy(&stream));
        assert_eq!(sse_events(&pieces(&mut rng, &stream)), want);
        // Any damage: no panic, and what is held back stays within the input.
        let bad = mutate(&mut rng, &stream);
        let mut dec = SseDecoder::new();
        for p in pieces(&mut rng, &bad) {
            dec.push(&p, &mut |_| true);
        }
        assert!(dec.pending_len() <= bad.len());
    }
}

fn chunked(rng: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let n = (1 + rng.below(40) as usize).min(body.len() - i);
        out.extend_from_slice(format!("{n:x}").as_bytes());
        if rng.below(4) == 0 {
            out.extend_from_slice(b";ext=1");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body[i..i + n]);
        out.extend_from_slice(b"\r\n");
        i += n;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[test]
fn chunked_bodies_decode_the_same_however_they_are_cut() {
    let mut rng = rng(2);
    for _ in 0..cases() {
        let body: Vec<u8> = (0..rng.below(300)).map(|_| rng.below(256) as u8).collect();
        let wire = chunked(&mut rng, &body);
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        for p in pieces(&mut rng, &wire) {
            let used = dec.decode(&p, &mut out).unwrap();
            assert_eq!(used, p.len());
        }
        assert!(dec.is_done());
        assert_eq!(out, body);
        // Damaged framing: an error or a shorter body, never a panic or a runaway.
        let bad = mutate(&mut rng, &wire);
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        for p in pieces(&mut rng, &bad) {
            if dec.decode(&p, &mut out).is_err() {
                break;
            }
        }
        assert!(out.len() <= bad.len());
    }
}

#[test]
fn damaged_chunks_are_errors_that_leave_the_text_alone() {
    let mut rng = rng(3);
    let valid: [&[u8]; 4] = [
        br#"{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":" he\"llo"},"finish_reason":null}],"llmb_sent_ns":42}"#,
        br#"{"choices":[{"text":"a\u00e9b","finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":9}}"#,
        br#"{"choices":[{"delta":{"reasoning_content":"r","content":"c"}}],"error":null}"#,
        br#"{"choices":[],"usage":{"prompt_tokens":128,"completion_tokens":64,"total_tokens":192}}"#,
    ];
    for _ in 0..cases() {
        let base = valid[rng.below(valid.len() as u64) as usize];
        let bad = mutate(&mut rng, base);
        let mut text = String::from("kept|");
        match parse_chunk(&bad, &mut text) {
            Ok(f) => assert_eq!(text.len(), 5 + f.text_bytes),
            Err(_) => assert_eq!(text, "kept|"),
        }
    }
}

#[test]
fn damaged_recipes_and_cluster_configs_are_errors_not_panics() {
    let mut rng = rng(4);
    let cluster = "schema_version: 2\nllmb_repo: /repo\nllmb_install: /install\ngpu_type: h100\nslurm:\n  account: a\n  gpu_partition: batch\n";
    for _ in 0..cases() {
        let (name, text) = llmb_recipe::workload::BUILTIN_SOURCES[rng.below(6) as usize];
        let bad = String::from_utf8_lossy(&mutate(&mut rng, text.as_bytes())).into_owned();
        let _ = llmb_recipe::Recipe::from_yaml(&bad, name);
        let bad = String::from_utf8_lossy(&mutate(&mut rng, cluster.as_bytes())).into_owned();
        let _ = llmb_recipe::ClusterConfig::from_yaml(&bad, "cluster_config.yaml");
    }
}

#[test]
fn damaged_datasets_are_errors_that_name_the_line() {
    let mut rng = rng(5);
    let tok = llmb_tokenizer::Tokenizer::builtin().unwrap();
    let dir = crate::support::tempdir("fuzz-dataset");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("d.jsonl");
    let valid = "{\"task_id\":0,\"input_ids\":[1,2,3],\"output_tokens\":5}\n{\"prompt\":\"hello world\",\"max_tokens\":4}\n\"just text\"\n";
    // Fewer cases: each one writes a file.
    for _ in 0..cases() / 4 {
        let bad = mutate(&mut rng, valid.as_bytes());
        std::fs::write(&file, &bad).unwrap();
        match llmb_load::dataset::from_file(&file, &tok, Some(8)) {
            Ok(entries) => assert!(entries.iter().all(|e| e.tokens > 0)),
            Err(e) => {
                let m = e.to_string();
                assert!(m.contains("d.jsonl"), "{m}");
            }
        }
    }
}
