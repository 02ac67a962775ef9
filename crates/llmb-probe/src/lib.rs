//! Talking to an engine outside the load: the one HTTP GET (plain or over TLS) that
//! readiness probes and `/metrics` scrapes share, and the scraper, a thread that reads an engine's Prometheus
//! endpoint once before the load, every interval while it runs and once after, by the
//! engine's own metric names (`llmb_engines::telemetry`). Blocking, on its own thread: it
//! never runs on the load generator's runtime, and the launch crate needs no runtime.
#![warn(missing_docs)]

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use llmb_engines::telemetry::Scrape;
use llmb_engines::{CommonMetrics, CommonSample};

/// The most of a body read (a /metrics page is a few hundred KiB at most).
const BODY_LIMIT: u64 = 4 << 20;

/// Where a GET goes: `host:port`, and for `https` the TLS configuration and the name the
/// certificate must carry.
#[derive(Debug, Clone)]
pub struct Origin {
    addr: String,
    tls: Option<(
        llmb_tls::ServerName<'static>,
        Arc<llmb_tls::rustls::ClientConfig>,
    )>,
}

impl Origin {
    /// Plain HTTP to `host:port`.
    pub fn plain(addr: impl Into<String>) -> Origin {
        Origin {
            addr: addr.into(),
            tls: None,
        }
    }

    /// HTTPS to `host:port`, the certificate checked as `verify` says.
    ///
    /// # Errors
    /// The host is not a name a certificate can carry, or no roots load.
    pub fn tls(addr: impl Into<String>, verify: llmb_tls::Verify) -> Result<Origin, String> {
        let addr = addr.into();
        let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
        let name = llmb_tls::server_name(host).map_err(|e| e.to_string())?;
        let config = llmb_tls::client_config(verify).map_err(|e| e.to_string())?;
        Ok(Origin {
            addr,
            tls: Some((name, config)),
        })
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

/// A byte stream, plain or TLS.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// `GET path` over HTTP/1.0 from `origin`: the status and up to 4 MiB of the body, all
/// within `timeout`.
///
/// # Errors
/// Unreachable, too slow, a certificate that does not verify, or not an HTTP response;
/// said in one line.
pub fn get(origin: &Origin, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    let addr = origin.addr.as_str();
    let deadline = Instant::now() + timeout;
    let slow = || format!("GET {path} took longer than {timeout:?}");
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot connect to {addr}: no address"))?;
    let tcp = TcpStream::connect_timeout(&sock, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    // A second handle on the same socket sets its timeouts while the TLS layer owns it.
    let ctl = tcp.try_clone().map_err(|e| e.to_string())?;
    let mut s: Box<dyn ReadWrite> = match &origin.tls {
        None => Box::new(tcp),
        Some((name, config)) => {
            let conn = llmb_tls::rustls::ClientConnection::new(config.clone(), name.clone())
                .map_err(|e| format!("TLS to {addr}: {e}"))?;
            Box::new(llmb_tls::rustls::StreamOwned::new(conn, tcp))
        }
    };
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let io_err = |e: std::io::Error| {
        llmb_tls::certificate_refusal(&e, host).unwrap_or_else(|| e.to_string())
    };
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    ctl.set_write_timeout(Some(left().ok_or_else(slow)?))
        .map_err(|e| e.to_string())?;
    ctl.set_read_timeout(Some(left().ok_or_else(slow)?))
        .map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(io_err)?;
    s.flush().map_err(io_err)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while (buf.len() as u64) < BODY_LIMIT {
        ctl.set_read_timeout(Some(left().ok_or_else(slow)?))
            .map_err(|e| e.to_string())?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            // A TLS peer that closes without close_notify after an HTTP/1.0 response.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(slow())
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    parse_response(&buf)
}

/// The status and body of a raw HTTP/1.x response.
fn parse_response(buf: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "not an HTTP response".to_string())?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "not an HTTP response".to_string())?;
    Ok((status, body.to_owned()))
}

/// `GET path` from `host:port`; the body when the status is 200.
///
/// # Errors
/// As [`get`], and any other status.
pub fn fetch(origin: &Origin, path: &str, timeout: Duration) -> Result<String, String> {
    match get(origin, path, timeout)? {
        (200, body) => Ok(body),
        (status, _) => Err(format!("GET {path} answered {status}")),
    }
}

/// A running scraper thread.
#[derive(Debug)]
pub struct Scraper {
    stop: mpsc::Sender<()>,
    first: Option<mpsc::Receiver<()>>,
    thread: JoinHandle<Vec<Scrape>>,
}

impl Scraper {
    /// Scrapes `origin` + `path` now and then every `interval` until [`Scraper::finish`].
    /// Scrapes that fail are skipped (an engine without metrics gives no samples).
    pub fn start(
        origin: Origin,
        path: String,
        names: CommonMetrics,
        interval: Duration,
    ) -> Scraper {
        let (stop, stopped) = mpsc::channel::<()>();
        let (first_tx, first) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("llmb-scrape".into())
            .spawn(move || {
                let t0 = Instant::now();
                let mut out = Vec::new();
                let scrape = |out: &mut Vec<Scrape>| {
                    if let Ok(text) = fetch(&origin, &path, Duration::from_secs(5)) {
                        out.push(Scrape {
                            at_ms: t0.elapsed().as_secs_f64() * 1000.0,
                            sample: CommonSample::from_exposition(&text, &names),
                        });
                    }
                };
                scrape(&mut out);
                let _ = first_tx.send(());
                // Waits out the interval, or wakes at once when asked to stop, takes one
                // last scrape then and returns.
                loop {
                    let stopping = !matches!(
                        stopped.recv_timeout(interval),
                        Err(mpsc::RecvTimeoutError::Timeout)
                    );
                    scrape(&mut out);
                    if stopping {
                        return out;
                    }
                }
            })
            .expect("cannot start the scraper thread");
        Scraper {
            stop,
            first: Some(first),
            thread,
        }
    }

    /// Waits until the first scrape has been tried (so a baseline taken before the load
    /// starts really precedes it).
    pub fn first_scrape(&mut self) {
        if let Some(rx) = self.first.take() {
            let _ = rx.recv();
        }
    }

    /// Takes a last scrape and returns them all.
    pub fn finish(self) -> Vec<Scrape> {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers each connection with `response` (a real socket).
    fn serve(response: &'static str, connections: usize) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for s in l.incoming().take(connections) {
                let mut s = s.unwrap();
                let mut req = [0u8; 1024];
                let _ = s.read(&mut req);
                let _ = s.write_all(response.as_bytes());
            }
        });
        addr
    }

    #[test]
    fn get_reads_status_and_body() {
        let addr = Origin::plain(serve(
            "HTTP/1.0 503 Service Unavailable\r\nX: y\r\n\r\nloading",
            2,
        ));
        assert_eq!(
            get(&addr, "/health", Duration::from_secs(5)).unwrap(),
            (503, "loading".to_string())
        );
        assert_eq!(
            fetch(&addr, "/health", Duration::from_secs(5)).unwrap_err(),
            "GET /health answered 503"
        );
    }

    #[test]
    fn a_closed_port_is_an_error() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = Origin::plain(l.local_addr().unwrap().to_string());
        drop(l);
        assert!(get(&addr, "/", Duration::from_secs(2))
            .unwrap_err()
            .starts_with("cannot connect"));
    }

    #[test]
    fn garbage_is_not_a_response() {
        assert_eq!(
            parse_response(b"hello").unwrap_err(),
            "not an HTTP response"
        );
    }

    #[test]
    fn scraper_takes_a_baseline_and_a_last_scrape() {
        let page =
            "HTTP/1.0 200 OK\r\n\r\nvllm:num_requests_running 3\nvllm:generation_tokens_total 42\n";
        let addr = Origin::plain(serve(page, 2));
        let names = llmb_engines::telemetry::names_for(Some(llmb_engines::EngineKind::Vllm));
        let mut s = Scraper::start(addr, "/metrics".into(), names, Duration::from_secs(3600));
        s.first_scrape();
        let scrapes = s.finish();
        assert_eq!(scrapes.len(), 2, "{scrapes:?}");
        assert_eq!(scrapes[1].sample.generated_tokens_total, Some(42.0));
    }
}
