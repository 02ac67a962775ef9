//! `https://` targets: the embedded engine serves TLS with a certificate authority and
//! server certificate this test makes; `llmb bench` trusts it through `SSL_CERT_FILE`, or
//! skips verification with `--insecure`, and refuses (exit 2, one line naming the host and
//! the reason) a certificate it cannot verify.

use std::path::Path;
use std::process::{Output, Stdio};

use llmb_tls::TestPki;

use crate::support::{assert_ran, jsonl, llmb, read_json, records, tempdir, Sim};

/// `llmb bench` against `url` with `SSL_CERT_FILE` set to `ca` (or unset).
fn bench(url: &str, ca: Option<&Path>, out: &Path, extra: &[&str]) -> Output {
    let mut cmd = llmb();
    cmd.args(["bench", "--url", url, "--isl", "32", "--osl", "8"])
        .args(["--concurrency", "4", "--output-dir"])
        .arg(out)
        .args(extra)
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::null());
    match ca {
        Some(ca) => cmd.env("SSL_CERT_FILE", ca),
        None => cmd.env_remove("SSL_CERT_FILE"),
    };
    cmd.output().expect("run llmb bench")
}

fn tls_sim(dir: &Path) -> (Sim, std::path::PathBuf) {
    let pki = TestPki::new(&["localhost", "127.0.0.1"]).unwrap();
    let [ca, cert, key] = pki.write(dir).unwrap();
    let sim = Sim::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(sim.url.starts_with("https://127.0.0.1:"), "{}", sim.url);
    (sim, ca)
}

#[test]
fn https_with_the_authority_trusted_measures_every_request_and_scrapes_metrics() {
    let dir = tempdir("tls-verified");
    let (sim, ca) = tls_sim(&dir.join("pki"));
    let out = dir.join("run");
    let o = bench(&sim.url, Some(&ca), &out, &["--num-requests", "12"]);
    assert_ran(&o);
    let recs = records(&out);
    assert_eq!(recs.len(), 12);
    assert!(
        recs.iter().all(|r| r["outcome"]["kind"] == "completed"),
        "{:?}",
        recs.iter().map(|r| &r["outcome"]).collect::<Vec<_>>()
    );
    assert!(recs.iter().all(|r| r["usage"]["completion_tokens"] == 8));
    let config = read_json(out.join("config.json"));
    assert_eq!(config["insecure"], false, "{config}");
    // The /metrics scraper went over TLS too: a baseline and a last scrape at least.
    assert!(jsonl(&out.join("server_metrics.jsonl")).len() >= 2);
    // The host name the certificate carries works as well as its IP address.
    let by_name = sim.url.replace("127.0.0.1", "localhost");
    let o = bench(
        &by_name,
        Some(&ca),
        &dir.join("run-by-name"),
        &["--num-requests", "2"],
    );
    assert_ran(&o);
}

#[test]
fn insecure_skips_verification_and_says_so() {
    let dir = tempdir("tls-insecure");
    let (sim, _ca) = tls_sim(&dir.join("pki"));
    let out = dir.join("run");
    let o = bench(
        &sim.url,
        None,
        &out,
        &["--insecure", "--num-requests", "12"],
    );
    assert_ran(&o);
    assert_eq!(records(&out).len(), 12);
    assert_eq!(read_json(out.join("config.json"))["insecure"], true);
}

#[test]
fn a_certificate_from_an_unknown_authority_is_refused_with_the_reason() {
    let dir = tempdir("tls-refused");
    let (sim, _ca) = tls_sim(&dir.join("pki"));
    // A different authority: the server's certificate does not chain to it.
    let other = TestPki::new(&["localhost"]).unwrap();
    let [other_ca, _, _] = other.write(&dir.join("other")).unwrap();
    let out = dir.join("run");
    let o = bench(&sim.url, Some(&other_ca), &out, &["--num-requests", "2"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for needle in [
        "127.0.0.1",
        "did not verify",
        "UnknownIssuer",
        "SSL_CERT_FILE",
        "--insecure",
    ] {
        assert!(err.contains(needle), "`{needle}` missing from: {err}");
    }
    assert!(!out.join("records.jsonl").exists());
    // Plain http to a TLS port is not an OpenAI server either; it must not hang.
    let plain = sim.url.replace("https://", "http://");
    let o = bench(
        &plain,
        None,
        &dir.join("run-plain"),
        &["--model", "m", "--num-requests", "2", "--timeout", "20s"],
    );
    assert_ne!(o.status.code(), Some(0));
}
