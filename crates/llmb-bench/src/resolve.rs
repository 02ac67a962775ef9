//! Settings validated once, before any traffic: every option that cannot work is refused
//! here with a line naming it ([`Invalid`](llmb_settings::Invalid), exit 2), and what the
//! run needs is parsed into typed values the points share.

use std::path::Path;

use anyhow::Context;
use http::{HeaderName, HeaderValue};
use llmb_load::Concurrency;
use llmb_metrics::{FailIf, Slo};
use llmb_protocol::Endpoint;
use llmb_recipe::use_case::{self, UseCase};
use llmb_settings::{invalid, BenchSettings};
use llmb_tokenizer::Tokenizer;
use serde_json::{Map, Value};

/// A run's settings and what was parsed out of them.
#[derive(Debug)]
pub struct Resolved {
    /// The settings as given.
    pub settings: BenchSettings,
    /// One per `--concurrency` value.
    pub concurrencies: Vec<Concurrency>,
    /// `--use-case` shapes, each a point of its own (empty: `--isl`/`--osl`).
    pub use_cases: Vec<UseCase>,
    /// Goodput criteria.
    pub slo: Option<Slo>,
    /// Exit-3 conditions.
    pub fail_if: Vec<FailIf>,
    /// Merged into every request body.
    pub extra_body: Map<String, Value>,
    /// Request headers, the API key's `Authorization` included (marked sensitive).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Prompt tokenizer.
    pub tokenizer: Tokenizer,
}

/// Reads settings saved by `BenchSettings::to_json` from `path` (`-`: stdin).
///
/// # Errors
/// An unreadable file ([`Invalid`](llmb_settings::Invalid)) or a document that is not
/// settings (named, with serde's position).
pub fn read_settings(path: &Path) -> anyhow::Result<BenchSettings> {
    let (text, source) = if path.as_os_str() == "-" {
        let mut t = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
            .context("cannot read settings from stdin")?;
        (t, "stdin".to_owned())
    } else {
        let t = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        (t, path.display().to_string())
    };
    BenchSettings::from_json(&text, &source).map_err(invalid)
}

impl Resolved {
    /// Validates `a` and parses what the run needs. Raises the open-files limit to what
    /// the largest concurrency needs (one socket per stream).
    ///
    /// # Errors
    /// [`Invalid`](llmb_settings::Invalid) naming the option and the fix.
    pub fn new(mut a: BenchSettings) -> anyhow::Result<Resolved> {
        // Credentials in the URL become an Authorization header; the URL kept (and
        // written to config.json) has none.
        let mut url_auth = None;
        if let Some(url) = &a.url {
            let (bare, creds) = split_credentials(url);
            if let Some((user, password)) = creds {
                let mut v = HeaderValue::try_from(format!(
                    "Basic {}",
                    base64(format!("{user}:{password}").as_bytes())
                ))
                .map_err(|_| invalid("the credentials in --url cannot be sent as a header"))?;
                v.set_sensitive(true);
                url_auth = Some(v);
            }
            a.url = Some(bare);
        }
        if a.isl <= 0 || a.osl <= 0 {
            return Err(invalid(format!(
                "--isl and --osl must be positive (got {} and {})",
                a.isl, a.osl
            )));
        }
        for (flag, n) in [("--isl", a.isl), ("--osl", a.osl)] {
            if n > MAX_LENGTH {
                return Err(invalid(format!(
                    "{flag} {n} is longer than any model's context: use at most {MAX_LENGTH} tokens"
                )));
            }
        }
        for (flag, v) in [
            ("--isl-stddev", a.isl_stddev),
            ("--osl-stddev", a.osl_stddev),
        ] {
            if !(v.is_finite() && (0.0..=MAX_LENGTH as f64).contains(&v)) {
                return Err(invalid(format!(
                    "{flag} must be a number of tokens from 0 to {MAX_LENGTH} (got {v}); 0 gives every request the same length"
                )));
            }
        }
        let concurrencies = a
            .concurrency
            .iter()
            .map(|c| Concurrency::from_flag(*c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        for c in &concurrencies {
            llmb_load::team::check(a.workers, *c)?;
        }
        ensure_sockets(&concurrencies)?;
        let use_cases: Vec<UseCase> = a
            .use_cases
            .iter()
            .map(|s| use_case::parse_list(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(e.0))?
            .into_iter()
            .flatten()
            .collect();
        if let Some(r) = a.request_rate {
            if !(r > 0.0 && r.is_finite()) {
                return Err(invalid(format!(
                    "--request-rate {r} must be a positive number of requests per second"
                )));
            }
        }
        if a.burstiness.is_nan() || a.burstiness <= 0.0 {
            return Err(invalid(
                "--burstiness must be positive (1 = Poisson, inf = constant gaps)",
            ));
        }
        if a.num_requests == Some(0) || a.multi_round == Some(0) {
            return Err(invalid(
                "--num-requests and --multi-round must be at least 1",
            ));
        }
        if !(a.max_error_rate > 0.0 && a.max_error_rate <= 1.0) {
            return Err(invalid(format!(
                "--max-error-rate {} must be a share above 0 and at most 1 (1 never stops)",
                a.max_error_rate
            )));
        }
        if a.idle_timeout.is_zero() {
            return Err(invalid("--idle-timeout must be longer than 0 s"));
        }
        if a.gpus == 0 {
            return Err(invalid("--gpus must be at least 1"));
        }
        if let Some(d) = a.decode_gpus.filter(|&d| d == 0 || d > a.gpus) {
            return Err(invalid(format!(
                "--decode-gpus {d} must be between 1 and --gpus ({})",
                a.gpus
            )));
        }
        let slo = a
            .slo
            .as_deref()
            .map(Slo::parse)
            .transpose()
            .map_err(|e| invalid(e.to_string()))?;
        let fail_if = a
            .fail_if
            .as_deref()
            .map(FailIf::parse_list)
            .transpose()
            .map_err(|e| invalid(e.to_string()))?
            .unwrap_or_default();
        let extra_body = match &a.extra_body {
            Some(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => m,
                _ => {
                    return Err(invalid(format!(
                    "--extra-body must be a JSON object, e.g. '{{\"temperature\": 0}}' (got `{s}`)"
                )))
                }
            },
            None => Map::new(),
        };
        if !a.stream {
            let needs_stream = slo
                .as_ref()
                .is_some_and(|s| s.ttft_ms.is_some() || s.tpot_ms.is_some());
            if needs_stream {
                return Err(invalid(
                    "--slo ttft_ms and tpot_ms need streamed responses: drop --no-stream, or use e2e_ms",
                ));
            }
            if let Some(f) = fail_if.iter().find(|f| f.needs_stream()) {
                return Err(invalid(format!(
                    "--fail-if '{}' needs streamed responses: drop --no-stream, or judge e2e_ms",
                    f.text
                )));
            }
        }
        let mut headers = headers(&a)?;
        if let Some(v) = url_auth {
            if !headers
                .iter()
                .any(|(k, _)| k == http::header::AUTHORIZATION)
            {
                headers.push((http::header::AUTHORIZATION, v));
            }
        }
        if a.prompt_token_ids && a.endpoint != Endpoint::Completions {
            return Err(invalid("--prompt-token-ids needs --endpoint completions"));
        }
        let tokenizer =
            Tokenizer::load(a.tokenizer.as_deref()).map_err(|e| invalid(e.to_string()))?;
        Ok(Resolved {
            settings: a,
            concurrencies,
            use_cases,
            slo,
            fail_if,
            extra_body,
            headers,
            tokenizer,
        })
    }
}

/// One socket per stream: a bounded run checks the limit allows its largest concurrency;
/// an unbounded one takes whatever the system allows.
fn ensure_sockets(concurrencies: &[Concurrency]) -> anyhow::Result<()> {
    let max_streams = concurrencies.iter().try_fold(0u64, |m, c| match c {
        Concurrency::Limit(n) => Some(m.max(*n as u64)),
        Concurrency::Unbounded => None,
    });
    match max_streams {
        Some(n) => {
            llmb_load::limits::ensure_open_files(n).map_err(|e| invalid(e.to_string()))?;
        }
        None => {
            llmb_load::limits::raise_to_hard();
        }
    }
    Ok(())
}

/// Longest `--isl` or `--osl` accepted (10 Mi tokens, the longest context of any model).
pub const MAX_LENGTH: i64 = 10 << 20;

/// The URL without `user:password@`, and those credentials (percent-decoded).
fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_owned(), None);
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_owned(), None);
    };
    let (user, password) = rest[..at].split_once(':').unwrap_or((&rest[..at], ""));
    let bare = format!("{}{}", &url[..scheme_end], &rest[at + 1..]);
    (bare, Some((percent_decode(user), percent_decode(password))))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding (RFC 4648), for HTTP Basic credentials.
fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `--header K:V` values, then `Authorization: Bearer $API_KEY_ENV` when that is set.
fn headers(a: &BenchSettings) -> anyhow::Result<Vec<(HeaderName, HeaderValue)>> {
    let mut headers = Vec::new();
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| invalid(format!("--header `{h}` is not K:V")))?;
        let name = HeaderName::try_from(k.trim())
            .map_err(|_| invalid(format!("--header `{h}`: bad header name")))?;
        let value = HeaderValue::try_from(v.trim())
            .map_err(|_| invalid(format!("--header `{h}`: bad header value")))?;
        headers.push((name, value));
    }
    if let Ok(key) = std::env::var(&a.api_key_env) {
        if !key.is_empty() {
            let mut v = HeaderValue::try_from(format!("Bearer {key}")).map_err(|_| {
                invalid(format!(
                    "${} holds characters not allowed in a header",
                    a.api_key_env
                ))
            })?;
            v.set_sensitive(true);
            headers.push((http::header::AUTHORIZATION, v));
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: BenchSettings) -> String {
        let e = Resolved::new(s).unwrap_err();
        assert!(llmb_settings::is_invalid(&e), "{e:#}");
        e.to_string()
    }

    #[test]
    fn url_credentials_become_a_basic_header() {
        // RFC 4648 test vectors, and RFC 7617's example.
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(
            split_credentials("http://u:p%40ss@h:8000/v1"),
            (
                "http://h:8000/v1".to_owned(),
                Some(("u".into(), "p@ss".into()))
            )
        );
        assert_eq!(
            split_credentials("http://h:8000/a@b"),
            ("http://h:8000/a@b".to_owned(), None)
        );
        let r = Resolved::new(BenchSettings {
            url: Some("http://Aladdin:open%20sesame@127.0.0.1:9/".into()),
            api_key_env: "LLMB_TEST_NO_SUCH_KEY".into(),
            ..BenchSettings::default()
        })
        .unwrap();
        assert_eq!(r.settings.url.as_deref(), Some("http://127.0.0.1:9/"));
        let auth: Vec<_> = r
            .headers
            .iter()
            .filter(|(k, _)| k == "authorization")
            .collect();
        assert_eq!(auth.len(), 1);
        assert_eq!(auth[0].1, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[test]
    fn defaults_resolve() {
        let r = Resolved::new(BenchSettings::default()).unwrap();
        assert_eq!(r.concurrencies, vec![Concurrency::Limit(32)]);
        assert!(r.use_cases.is_empty() && r.slo.is_none() && r.fail_if.is_empty());
    }

    #[test]
    fn bad_settings_name_the_option() {
        let d = BenchSettings::default;
        assert!(refused(BenchSettings { isl: 0, ..d() }).contains("--isl"));
        assert!(refused(BenchSettings {
            burstiness: f64::NAN,
            ..d()
        })
        .contains("--burstiness"));
        assert!(refused(BenchSettings {
            request_rate: Some(-1.0),
            ..d()
        })
        .contains("--request-rate"));
        assert!(refused(BenchSettings {
            decode_gpus: Some(3),
            gpus: 2,
            ..d()
        })
        .contains("--decode-gpus 3"));
        assert!(refused(BenchSettings {
            extra_body: Some("[1]".into()),
            ..d()
        })
        .contains("--extra-body"));
        assert!(refused(BenchSettings {
            headers: vec!["nocolon".into()],
            ..d()
        })
        .contains("--header"));
        assert!(refused(BenchSettings {
            prompt_token_ids: true,
            ..d()
        })
        .contains("--endpoint completions"));
        assert!(refused(BenchSettings {
            workers: 4,
            concurrency: vec![2],
            ..d()
        })
        .contains("--workers 4"));
        for v in [f64::NAN, f64::INFINITY, -1.0] {
            assert!(refused(BenchSettings {
                osl_stddev: v,
                ..d()
            })
            .contains("--osl-stddev"));
            assert!(refused(BenchSettings {
                isl_stddev: v,
                ..d()
            })
            .contains("--isl-stddev"));
        }
        assert!(refused(BenchSettings {
            isl: 1_000_000_000,
            ..d()
        })
        .contains("--isl 1000000000 is longer than any model's context"));
        assert!(refused(BenchSettings {
            stream: false,
            slo: Some("ttft_ms=500".into()),
            ..d()
        })
        .contains("--no-stream"));
        assert!(refused(BenchSettings {
            stream: false,
            fail_if: Some("p99(tpot_ms)>5".into()),
            ..d()
        })
        .contains("needs streamed responses"));
        // e2e needs no stream.
        Resolved::new(BenchSettings {
            stream: false,
            slo: Some("e2e_ms=500".into()),
            ..d()
        })
        .unwrap();
        for r in [0.0, 1.5, f64::NAN] {
            assert!(refused(BenchSettings {
                max_error_rate: r,
                ..d()
            })
            .contains("--max-error-rate"));
        }
    }
}
