//! A disaggregated deployment of the simulated engine, in-process on port 0 (prefill
//! workers, decode workers, the frontend), loaded by the real `llmb bench` binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use llmb_engines::{self as engine, CommonSample, DynamoSettings, EngineKind, EngineSettings};
use llmb_sim::sim::disagg::{spawn_frontend, Deadlines, FrontendConfig, WorkerUrl};
use llmb_sim::sim::{self, SimConfig, SimHandle, Timing, WorkerRole};
use llmb_tokenizer::Tokenizer;

use crate::support::{llmb, read_json, records, run, tempdir, wait_for};

fn tokenizer() -> Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| Tokenizer::builtin().unwrap()).clone()
}

/// A worker with fixed timing.
fn fixed(role: WorkerRole, ttft_ms: u64, itl_ms: u64) -> SimConfig {
    SimConfig {
        role,
        timing: Timing::Fixed {
            ttft: Duration::from_millis(ttft_ms),
            itl: Duration::from_millis(itl_ms),
        },
        ..SimConfig::default()
    }
}

/// Engines and a frontend on a runtime of their own; the test thread stays free to run
/// `llmb bench` and to read `/metrics`.
struct Deployment {
    rt: tokio::runtime::Runtime,
    prefill: Vec<SimHandle>,
    decode: Vec<Option<SimHandle>>,
    frontend: SimHandle,
}

impl Deployment {
    fn start(prefill: &[SimConfig], decode: &[SimConfig]) -> Deployment {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let spawn = |cfg: &SimConfig| {
            rt.block_on(sim::spawn(cfg.clone(), tokenizer(), any))
                .unwrap()
        };
        let prefill: Vec<SimHandle> = prefill.iter().map(spawn).collect();
        let decode: Vec<Option<SimHandle>> = decode.iter().map(|c| Some(spawn(c))).collect();
        let urls = |hs: Vec<String>| hs.iter().map(|u| u.parse().unwrap()).collect();
        let cfg = FrontendConfig {
            model: "llmb-sim".into(),
            prefill: urls(prefill.iter().map(SimHandle::base_url).collect()),
            decode: urls(decode.iter().flatten().map(SimHandle::base_url).collect()),
            deadlines: Deadlines::default(),
        };
        let frontend = {
            let _in_rt = rt.enter();
            spawn_frontend(cfg, any).unwrap()
        };
        Deployment {
            rt,
            prefill,
            decode,
            frontend,
        }
    }

    fn url(&self) -> String {
        self.frontend.base_url()
    }

    fn decode_url(&self, i: usize) -> String {
        self.decode[i].as_ref().unwrap().base_url()
    }

    fn stop_decode(&mut self, i: usize) {
        let h = self.decode[i].take().unwrap();
        self.rt.block_on(h.stop());
    }
}

/// `GET url+path` on a fresh connection: (status, body).
fn get(url: &str, path: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// One sample of an engine's `/metrics`, by name (first label set).
fn metric(url: &str, name: &str) -> f64 {
    let (_, text) = get(url, "/metrics");
    engine::parse_exposition(&text)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
        .value
}

/// Waits for `cond`, checking every 10 ms, failing after `limit`.
fn frontend_spec(expected_workers: u32) -> engine::EngineSpec {
    let settings = EngineSettings {
        dynamo: DynamoSettings {
            expected_workers: Some(expected_workers),
            ..DynamoSettings::default()
        },
        ..EngineSettings::default()
    };
    engine::spec(EngineKind::DynamoFrontend, &settings).unwrap()
}

#[test]
fn each_request_is_prefilled_then_decoded_with_the_documented_timing() {
    // Truth through the frontend: TTFT = prefill TTFT (40) + one decode ITL (10) = 50 ms,
    // ITL = decode ITL (10 ms). The decode worker's own 1 s TTFT must never show.
    let p = fixed(WorkerRole::Prefill, 40, 5);
    let dep = Deployment::start(&[p.clone(), p], &[fixed(WorkerRole::Decode, 1000, 10)]);
    let (n, isl, osl) = (48u64, 128u64, 32u64);
    let out = tempdir("disagg-fixed");
    let o = run(&[
        "bench",
        "--url",
        &dep.url(),
        "--server",
        "dynamo",
        "--isl",
        &isl.to_string(),
        "--osl",
        &osl.to_string(),
        "--concurrency",
        "8",
        "--num-requests",
        &n.to_string(),
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    crate::support::assert_ran(&o);
    let recs = records(&out);
    assert_eq!(recs.len() as u64, n);
    for r in &recs {
        assert_eq!(r["outcome"]["kind"], "completed", "{r}");
        assert_eq!(r["usage"]["prompt_tokens"], isl);
        assert_eq!(r["usage"]["completion_tokens"], osl);
        let chunks = r["chunks"].as_array().unwrap();
        assert_eq!(chunks.len() as u64, osl);
        // The decode worker's llmb_sent_ns stamps came through the frontend untouched.
        assert!(chunks.iter().all(|c| c[3].is_u64()), "{r}");
    }
    let g = read_json(out.join("profile_export_genai_perf.json"));
    let ttft = g["time_to_first_token"]["avg"].as_f64().unwrap();
    let itl = g["inter_token_latency"]["avg"].as_f64().unwrap();
    // Loose bounds: two extra HTTP hops on a shared 2-core machine.
    assert!((48.0..75.0).contains(&ttft), "ttft {ttft}");
    assert!((itl - 10.0).abs() < 1.0, "itl {itl}");

    // Every prompt was processed once, by the prefill workers, and both took a share.
    let prompts: Vec<f64> = dep
        .prefill
        .iter()
        .map(|h| metric(&h.base_url(), "llmb:prompt_tokens_total"))
        .collect();
    assert!(prompts.iter().all(|&p| p > 0.0), "{prompts:?}");
    assert_eq!(prompts.iter().sum::<f64>(), (n * isl) as f64);
    let firsts: f64 = dep
        .prefill
        .iter()
        .map(|h| metric(&h.base_url(), "llmb:generation_tokens_total"))
        .sum();
    assert_eq!(firsts, n as f64);
    // The decode worker generated every output token and prefilled nothing.
    let d = dep.decode_url(0);
    assert_eq!(metric(&d, "llmb:generation_tokens_total"), (n * osl) as f64);
    assert_eq!(metric(&d, "llmb:prompt_tokens_total"), 0.0);
    assert_eq!(metric(&d, "llmb:request_received_total"), n as f64);

    // The frontend speaks Dynamo's metric names, as llmb's Dynamo adapter reads them.
    let (_, text) = get(&dep.url(), "/metrics");
    let c = CommonSample::from_exposition(&text, &frontend_spec(3).metric_names);
    assert_eq!(c.running, Some(0.0), "{text}");
    assert_eq!(c.waiting, Some(0.0), "{text}");
    assert_eq!(c.generated_tokens_total, Some((n * osl) as f64), "{text}");
    assert!(text.contains(&format!(
        "dynamo_frontend_requests_total{{model=\"llmb-sim\",status=\"success\"}} {n}\n"
    )));
    // llmb bench scraped them during the run and agrees with its own count.
    let s = read_json(out.join("summary.json"));
    assert_eq!(
        s["server"]["view"]["generated_tokens"].as_f64(),
        Some((n * osl) as f64),
        "{}",
        s["server"]
    );
}

#[test]
fn health_names_a_missing_worker_until_it_is_up() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let prefill = rt
        .block_on(sim::spawn(
            fixed(WorkerRole::Prefill, 1, 1),
            tokenizer(),
            any,
        ))
        .unwrap();
    // A free port for the decode worker, which starts later.
    let decode_addr = std::net::TcpListener::bind(any)
        .unwrap()
        .local_addr()
        .unwrap();
    let decode_url: WorkerUrl = format!("http://{decode_addr}").parse().unwrap();
    let fe = {
        let _in_rt = rt.enter();
        spawn_frontend(
            FrontendConfig {
                model: "llmb-sim".into(),
                prefill: vec![prefill.base_url().parse().unwrap()],
                decode: vec![decode_url.clone()],
                deadlines: Deadlines::default(),
            },
            any,
        )
        .unwrap()
    };
    let ready = frontend_spec(2).health.unwrap();
    let (status, body) = get(&fe.base_url(), "/health");
    assert_eq!(status, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "unhealthy");
    let missing: Vec<&serde_json::Value> = v["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["healthy"] == false)
        .collect();
    assert_eq!(missing.len(), 1, "{body}");
    assert_eq!(missing[0]["url"], decode_url.as_str());
    assert_eq!(missing[0]["role"], "decode");
    assert!(
        !body.contains("dyn://dynamo.tensorrt_llm.generate"),
        "{body}"
    );
    assert!(!ready.is_ready(status, &body));

    let decode = rt
        .block_on(sim::spawn(
            fixed(WorkerRole::Decode, 1, 1),
            tokenizer(),
            decode_addr,
        ))
        .unwrap();
    let (status, body) = get(&fe.base_url(), "/health");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""status":"healthy""#), "{body}");
    assert!(
        body.contains(r#""dyn://dynamo.tensorrt_llm.generate""#),
        "{body}"
    );
    // llmb's own readiness rule for a real Dynamo frontend (reference 4.4) accepts it.
    assert!(ready.is_ready(status, &body), "{body}");
    rt.block_on(async {
        fe.stop().await;
        decode.stop().await;
        prefill.stop().await;
    });
}

/// `llmb bench` as a child, for tests that act while it runs.
fn bench_child(url: &str, out: &std::path::Path, args: &[&str]) -> Child {
    llmb()
        .args(["bench", "--url", url, "--quiet", "--output-dir"])
        .arg(out)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start llmb bench")
}

fn wait_child(child: &mut Child, limit: Duration) {
    let end = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("llmb bench hung: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_decode_worker_stopped_mid_run_fails_the_remaining_requests_clearly() {
    let mut dep = Deployment::start(
        &[fixed(WorkerRole::Prefill, 1, 1)],
        &[fixed(WorkerRole::Decode, 1, 5)],
    );
    let d = dep.decode_url(0);
    let out = tempdir("disagg-decode-stops");
    // 40 requests of 64 tokens at 5 ms, 4 at a time: about 3.5 s if nothing failed.
    let mut child = bench_child(
        &dep.url(),
        &out,
        &[
            "--isl",
            "16",
            "--osl",
            "64",
            "--concurrency",
            "4",
            "--num-requests",
            "40",
        ],
    );
    wait_for(
        "8 requests at the decode worker",
        Duration::from_secs(30),
        || metric(&d, "llmb:request_received_total") >= 8.0,
    );
    dep.stop_decode(0);
    wait_child(&mut child, Duration::from_secs(60));
    let recs = records(&out);
    assert_eq!(recs.len(), 40);
    let kinds = |k: &str| recs.iter().filter(|r| r["outcome"]["kind"] == k).count();
    let (done, broken, refused) = (
        kinds("completed"),
        kinds("stream_error"),
        kinds("http_status"),
    );
    assert_eq!(done + broken + refused, 40, "{recs:?}");
    assert!(done >= 4 && refused > 0, "{done} {broken} {refused}");
    for r in recs
        .iter()
        .filter(|r| r["outcome"]["kind"] == "http_status")
    {
        // 503 when the worker is gone (cannot connect); 502 for a request that reached it as
        // it went down (connection reset). Both name the worker.
        let status = r["outcome"]["status"].as_u64().unwrap();
        let body = r["outcome"]["body"].as_str().unwrap();
        match status {
            503 => assert!(
                body.contains(&format!("decode worker {d} failed: cannot connect")),
                "{body}"
            ),
            502 => assert!(
                body.contains(&format!("decode worker {d} failed:"))
                    && body.contains("worker_error"),
                "{body}"
            ),
            other => panic!("status {other}: {r}"),
        }
    }
    assert_eq!(metric(&dep.url(), "dynamo_frontend_inflight_requests"), 0.0);
}

/// Sends a streamed completion request on a raw socket and returns it.
fn raw_stream_request(url: &str, max_tokens: u64) -> TcpStream {
    let addr = url.trim_start_matches("http://");
    let body = format!(
        r#"{{"prompt":"a b c","max_tokens":{max_tokens},"ignore_eos":true,"stream":true}}"#
    );
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /v1/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    s
}

#[test]
fn a_client_that_leaves_stops_the_work_upstream() {
    // Long enough that only a cancellation can end these requests during the test.
    let dep = Deployment::start(
        &[fixed(WorkerRole::Prefill, 300, 1)],
        &[fixed(WorkerRole::Decode, 1, 5)],
    );
    let (fe, p, d) = (dep.url(), dep.prefill[0].base_url(), dep.decode_url(0));
    // Leaves mid-stream: the decode worker stops generating.
    let mut s = raw_stream_request(&fe, 100_000);
    let mut first = [0u8; 256];
    let got = s.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..got]).starts_with("HTTP/1.1 200"));
    wait_for("tokens flowing", Duration::from_secs(10), || {
        metric(&d, "llmb:generation_tokens_total") >= 3.0
    });
    assert_eq!(metric(&d, "llmb:num_requests_running"), 1.0);
    drop(s);
    wait_for(
        "the decode worker to drop it",
        Duration::from_secs(10),
        || metric(&d, "llmb:num_requests_running") == 0.0,
    );
    wait_for("the frontend to let it go", Duration::from_secs(10), || {
        metric(&fe, "dynamo_frontend_inflight_requests") == 0.0
    });
    // Leaves during prefill: the request never reaches the decode worker.
    let s = raw_stream_request(&fe, 8);
    wait_for("the prefill to start", Duration::from_secs(10), || {
        metric(&p, "llmb:request_received_total") == 2.0
    });
    drop(s);
    wait_for("the frontend to drop it", Duration::from_secs(10), || {
        metric(&fe, "dynamo_frontend_inflight_requests") == 0.0
    });
    assert_eq!(metric(&d, "llmb:request_received_total"), 1.0);
}
