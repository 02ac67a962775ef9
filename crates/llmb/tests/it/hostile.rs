//! Servers that misbehave on purpose (a small local server per test): every request must
//! end in bounded time and bounded memory, with an outcome that says what happened, and
//! the run must stop when the server is gone. Peak memory is the child's `ru_maxrss`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{llmb, read_json, records, tempdir};

/// How the server misbehaves on completions.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Streams 4 tokens, then claims 10^12 completion tokens.
    LyingUsage,
    /// Streams chunks until the client hangs up.
    Endless,
    /// Streams 2 tokens, then keeps the connection open and sends nothing.
    Stall,
    /// Answers 200 with an HTML page.
    Html,
    /// Answers 401 everywhere, echoing the Authorization header.
    Unauthorized,
    /// Answers 401 on completions only, echoing the Authorization header in the body.
    EchoAuth,
    /// Completes `n` requests, then stops listening.
    DiesAfter(usize),
}

struct Hostile {
    url: String,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn chunk(text: &str) -> String {
    format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n")
}

/// Reads one request head and body; returns the head.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(head)
}

fn serve(stream: TcpStream, mode: Mode, served: &AtomicUsize, stop: &AtomicBool) {
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let Some(head) = read_request(&mut r) else {
        return;
    };
    let auth = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Authorization: ")
                .or_else(|| l.strip_prefix("authorization: "))
        })
        .unwrap_or("")
        .to_owned();
    if head.starts_with("GET /v1/models") {
        let (status, body) = if mode == Mode::Unauthorized {
            (
                "401 Unauthorized",
                format!("{{\"error\":\"bad key {auth}\"}}"),
            )
        } else {
            (
                "200 OK",
                r#"{"object":"list","data":[{"id":"m","object":"model"}]}"#.to_owned(),
            )
        };
        let _ = write!(w, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        return;
    }
    if head.starts_with("GET ") {
        let _ = w
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let sse = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
    match mode {
        Mode::LyingUsage => {
            let mut out = sse.to_owned();
            for _ in 0..4 {
                out.push_str(&chunk("ab"));
            }
            out.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":1000000000000}}\n\ndata: [DONE]\n\n");
            let _ = w.write_all(out.as_bytes());
        }
        Mode::Endless => {
            let _ = w.write_all(sse.as_bytes());
            let piece = chunk("x").repeat(64);
            while !stop.load(Ordering::SeqCst) && w.write_all(piece.as_bytes()).is_ok() {}
        }
        Mode::Stall => {
            let _ = w.write_all(format!("{sse}{}{}", chunk("a"), chunk("b")).as_bytes());
            // Hold the connection open until the client gives up on it.
            let mut sink = [0u8; 64];
            let _ = r.get_mut().set_read_timeout(Some(Duration::from_secs(120)));
            while !stop.load(Ordering::SeqCst) {
                match r.get_mut().read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        Mode::Html => {
            let body = "<html><body><h1>502 Bad Gateway</h1></body></html>";
            let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
        Mode::Unauthorized | Mode::EchoAuth => {
            let body = format!("{{\"error\":\"unauthorized, you sent: {auth}\"}}");
            let _ = write!(w, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
        Mode::DiesAfter(_) => {
            let _ = w.write_all(format!("{sse}{}data: [DONE]\n\n", chunk("a")).as_bytes());
        }
    }
    served.fetch_add(1, Ordering::SeqCst);
}

impl Hostile {
    fn start(mode: Mode) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                if let Mode::DiesAfter(n) = mode {
                    if served.load(Ordering::SeqCst) >= n {
                        // Gone: the listener closes and every later connect is refused.
                        return;
                    }
                }
                let (served, flag) = (served.clone(), flag.clone());
                std::thread::spawn(move || serve(conn, mode, &served, &flag));
            }
        });
        Hostile { url, stop }
    }
}

/// Runs `llmb bench` against `url`; returns exit code, stderr, wall time and peak RSS (KiB).
/// The child is reaped by `wait4`, which also gives its peak RSS.
#[allow(clippy::zombie_processes)]
fn bench(url: &str, out: &std::path::Path, extra: &[&str]) -> (i32, String, Duration, i64) {
    let t0 = Instant::now();
    let child = llmb()
        .args(["bench", "--url", url, "--quiet", "--output-dir"])
        .arg(out)
        .args([
            "--osl",
            "16",
            "--isl",
            "16",
            "--idle-timeout",
            "1s",
            "--timeout",
            "60s",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut stderr = String::new();
    let mut err = child.stderr.unwrap();
    let reader = std::thread::spawn(move || {
        let _ = err.read_to_string(&mut stderr);
        stderr
    });
    let mut status = 0;
    // SAFETY: plain syscall on our own child; `ru` is a zeroed out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(rc, pid);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, reader.join().unwrap(), t0.elapsed(), ru.ru_maxrss)
}

fn kinds(out: &std::path::Path) -> Vec<String> {
    records(out)
        .iter()
        .map(|r| r["outcome"]["kind"].as_str().unwrap().to_owned())
        .collect()
}

const RSS_LIMIT_KIB: i64 = 200 * 1024;
const BOUND: Duration = Duration::from_secs(60);

#[test]
fn lying_usage_is_set_aside_and_costs_nothing() {
    let srv = Hostile::start(Mode::LyingUsage);
    let out = tempdir("hostile-usage");
    let (code, stderr, took, rss) = bench(
        &srv.url,
        &out,
        &["--num-requests", "8", "--concurrency", "4"],
    );
    assert!(took < BOUND && rss < RSS_LIMIT_KIB, "{took:?} {rss} KiB");
    assert!(kinds(&out).iter().all(|k| k == "completed"), "{stderr}");
    for r in records(&out) {
        assert_eq!(
            r["usage"]["implausible_completion_tokens"],
            1_000_000_000_000u64
        );
        assert!(r["usage"]["completion_tokens"].is_null());
    }
    assert!(
        stderr.contains("more completion tokens than it streamed"),
        "{stderr}"
    );
    // Tokens counted over the 4 chunks of "ab": far from 10^12.
    let s = read_json(out.join("summary.json"));
    assert!(
        s["lengths"]["output_tokens"]["stats"]["mean"]
            .as_f64()
            .unwrap()
            < 10.0
    );
    assert!(s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["kind"] == "implausible_usage"));
    // Usage disagreeing with what was asked is reported, not fatal: exit 0.
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn an_endless_stream_is_cut_as_overlong() {
    let srv = Hostile::start(Mode::Endless);
    let out = tempdir("hostile-endless");
    let (_, stderr, took, rss) = bench(
        &srv.url,
        &out,
        &["--num-requests", "8", "--concurrency", "4"],
    );
    assert!(took < BOUND && rss < RSS_LIMIT_KIB, "{took:?} {rss} KiB");
    let recs = records(&out);
    assert_eq!(recs.len(), 8, "{stderr}");
    for r in &recs {
        assert_eq!(r["outcome"]["kind"], "overlong", "{stderr}");
        // 16 tokens asked: at most 16 x 4 + 64 = 128 events kept.
        assert!(r["chunks"].as_array().unwrap().len() <= 128);
        assert!(r["outcome"]["message"]
            .as_str()
            .unwrap()
            .contains("16 tokens asked"));
    }
}

#[test]
fn a_stalled_stream_ends_at_the_idle_timeout() {
    let srv = Hostile::start(Mode::Stall);
    let out = tempdir("hostile-stall");
    let (_, stderr, took, rss) = bench(
        &srv.url,
        &out,
        &["--num-requests", "8", "--concurrency", "8"],
    );
    assert!(took < BOUND && rss < RSS_LIMIT_KIB, "{took:?} {rss} KiB");
    let recs = records(&out);
    assert_eq!(recs.len(), 8, "{stderr}");
    for r in &recs {
        assert_eq!(r["outcome"]["kind"], "idle_timeout", "{r}");
        assert_eq!(r["outcome"]["idle_ms"], 1000);
        assert_eq!(r["chunks"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn an_html_body_is_named_with_its_content_type() {
    let srv = Hostile::start(Mode::Html);
    let out = tempdir("hostile-html");
    let (code, stderr, took, rss) = bench(
        &srv.url,
        &out,
        &["--num-requests", "4", "--concurrency", "2"],
    );
    assert!(took < BOUND && rss < RSS_LIMIT_KIB, "{took:?} {rss} KiB");
    for r in records(&out) {
        assert_eq!(r["outcome"]["kind"], "not_sse");
        assert_eq!(r["outcome"]["content_type"], "text/html");
        assert!(r["outcome"]["body"]
            .as_str()
            .unwrap()
            .contains("502 Bad Gateway"));
    }
    // Every request failed: more than half.
    assert_eq!(code, 3, "{stderr}");
}

#[test]
fn a_401_says_to_give_the_key_and_never_writes_it() {
    let srv = Hostile::start(Mode::Unauthorized);
    let out = tempdir("hostile-401");
    let (code, stderr, took, _) = bench(&srv.url, &out, &["--num-requests", "2"]);
    assert!(took < BOUND);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("401") && stderr.contains("API key"),
        "{stderr}"
    );
    assert!(!stderr.contains("not an OpenAI-compatible"), "{stderr}");
}

#[test]
fn secrets_never_reach_a_written_file() {
    let srv = Hostile::start(Mode::EchoAuth);
    let out = tempdir("hostile-secret");
    let key = "sk-test-SECRET-4f9a1c";
    let header = "X-Custom-Token: hdr-SECRET-77aa";
    let mut cmd = llmb();
    let url = srv.url.replace("http://", "http://alice:pw-SECRET-0b3c@");
    let o = cmd
        .env("OPENAI_API_KEY", key)
        .args([
            "bench", "--url", &url, "--model", "m", "--quiet", "--format", "all",
        ])
        .args(["--header", header, "--num-requests", "4", "--output-dir"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let recs = records(&out);
    assert_eq!(recs.len(), 4, "{stderr}");
    // The server saw the key and echoed it; the record keeps the body, masked.
    let body = recs[0]["outcome"]["body"].as_str().unwrap().to_owned();
    assert!(body.contains("***"), "{body}");
    let mut files = Vec::new();
    let mut stack = vec![out.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(files.len() > 5);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    for (name, text) in files
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned(),
            )
        })
        .chain([
            ("stdout".to_owned(), stdout),
            ("stderr".to_owned(), stderr.into_owned()),
        ])
    {
        // Every secret of the run has SECRET in it.
        assert!(!text.contains("SECRET"), "{name} holds a secret:\n{text}");
    }
}

#[test]
fn a_server_that_dies_stops_the_run() {
    let srv = Hostile::start(Mode::DiesAfter(20));
    let out = tempdir("hostile-dies");
    let (code, stderr, took, _) = bench(
        &srv.url,
        &out,
        &["--num-requests", "100000", "--concurrency", "4"],
    );
    assert!(took < BOUND, "{took:?}");
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("the server is gone"), "{stderr}");
    let recs = records(&out);
    // 20 completed, then at most a few hundred refused: nowhere near 100,000 sent.
    assert!(recs.len() < 1_000, "{}", recs.len());
    let completed = recs
        .iter()
        .filter(|r| r["outcome"]["kind"] == "completed")
        .count();
    assert!((20..=24).contains(&completed), "{completed}");
    let s = read_json(out.join("summary.json"));
    assert_eq!(s["complete"], false);
    assert!(s["stopped"]
        .as_str()
        .unwrap()
        .contains("the server is gone"));
}

#[test]
fn five_percent_faults_of_every_kind_finish_in_bounded_time() {
    let sim = crate::support::Sim::start(&[
        "--ttft-ms",
        "2",
        "--itl-ms",
        "1",
        "--fault-rate",
        "0.05",
        "--fault-kinds",
        "http500,http429,reset,stall,malformed",
        "--seed",
        "3",
    ]);
    let out = tempdir("faults-5pct");
    // Default options (the idle timeout included): stalls end after 30 s, not 600.
    let t0 = Instant::now();
    let o = llmb()
        .args([
            "bench",
            "--url",
            &sim.url,
            "--concurrency",
            "32",
            "--num-requests",
            "2000",
        ])
        .args(["--osl", "32", "--quiet", "--output-dir"])
        .arg(&out)
        .output()
        .unwrap();
    let took = t0.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(took < Duration::from_secs(120), "{took:?}");
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let text = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 2000);
    let s = read_json(out.join("summary.json"));
    let by_kind = &s["requests"]["failures_by_kind"];
    for kind in [
        "idle_timeout",
        "reset",
        "malformed_chunk",
        "http_500",
        "http_429",
    ] {
        let n = recs
            .iter()
            .filter(|r| crate::support::outcome_label(r) == kind)
            .count();
        assert!(n > 0, "no {kind}");
        assert_eq!(by_kind[kind], n, "{kind}");
    }
}

#[test]
fn an_engine_short_of_descriptors_says_so() {
    let exe = env!("CARGO_BIN_EXE_llmb");
    let mut child = Command::new("bash")
        .args([
            "-c",
            &format!("ulimit -n 32 && exec {exe} serve sim --port 0"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A watchdog: if the engine never says anything, its stderr closes and the test fails.
    let pid = child.id() as libc::pid_t;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        // SAFETY: kill(2); the pid is our child's (harmless if it is gone).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap()
        .to_owned();
    // Hold more connections than the engine has descriptors.
    let held: Vec<TcpStream> = (0..64)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    assert!(!held.is_empty());
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("out of file descriptors"), "{line}");
}
