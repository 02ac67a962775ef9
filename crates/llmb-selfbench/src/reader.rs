//! The reference reader: the least a streaming client can do. Raw TCP (or TLS) with keep-alive,
//! HTTP/1.1 chunked decoding, SSE framing and a JSON parse of every chunk into a borrowed
//! struct; each read is stamped when it returns. No pool, no records, no tokenizer. It is
//! the yardstick `llmb bench` is measured against, not a product.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use llmb_protocol::clock::MonoAnchor;
use llmb_tls::rustls::ClientConfig;
use llmb_tls::tokio_rustls::TlsConnector;
use llmb_tls::{ServerName, Stream};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::rusage;
use crate::stats::Lag;

/// What to run.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// `host:port` of the engine.
    pub addr: String,
    /// For an `https` engine: the name its certificate carries and the client setup.
    pub tls: Option<(ServerName<'static>, Arc<ClientConfig>)>,
    /// Concurrent streams (one connection each).
    pub concurrency: usize,
    /// Requests in all.
    pub requests: u64,
    /// Prompt length in words.
    pub isl: u64,
    /// Output tokens asked for.
    pub osl: u64,
}

/// What it measured (printed as one JSON line by the `selfbench-reader` command).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReaderReport {
    /// Requests that completed.
    pub completed: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Text chunks read.
    pub chunks: u64,
    /// CPU seconds from the first send to the last byte.
    pub active_cpu_s: f64,
    /// Wall seconds of the same phase.
    pub active_wall_s: f64,
    /// Lag behind the engine's send stamps.
    pub lag: Lag,
}

/// Why a stream failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Socket trouble.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server said something this reader does not expect.
    #[error("unexpected response: {0}")]
    Protocol(String),
}

#[derive(Deserialize)]
struct MiniChunk<'a> {
    #[serde(borrow, default)]
    choices: Vec<MiniChoice<'a>>,
    #[serde(default)]
    llmb_sent_ns: Option<u64>,
}

#[derive(Deserialize)]
struct MiniChoice<'a> {
    #[serde(borrow, default)]
    delta: Option<MiniDelta<'a>>,
}

#[derive(Deserialize)]
struct MiniDelta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

/// Runs the configuration on the current runtime.
pub async fn run(cfg: &ReaderConfig) -> ReaderReport {
    let request = std::sync::Arc::new(request_bytes(cfg));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let cpu0 = rusage::this_process().cpu_s;
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..cfg.concurrency {
        let (request, next, addr, total, tls) = (
            request.clone(),
            next.clone(),
            cfg.addr.clone(),
            cfg.requests,
            cfg.tls.clone(),
        );
        tasks.spawn(async move {
            let mut out = Tally::default();
            let mut conn: Option<Conn> = None;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                let c = match conn.take() {
                    Some(c) => c,
                    None => match connect(&addr, tls.as_ref()).await {
                        Ok(s) => Conn::new(s),
                        Err(_) => {
                            out.errors += 1;
                            continue;
                        }
                    },
                };
                let mut c = c;
                match c.exchange(&request, &mut out).await {
                    Ok(()) => {
                        out.completed += 1;
                        conn = Some(c);
                    }
                    Err(_) => out.errors += 1,
                }
            }
            out
        });
    }
    let mut all = Tally::default();
    while let Some(r) = tasks.join_next().await {
        if let Ok(t) = r {
            all.completed += t.completed;
            all.errors += t.errors;
            all.chunks += t.chunks;
            all.lags_ns.extend(t.lags_ns);
        }
    }
    ReaderReport {
        completed: all.completed,
        errors: all.errors,
        chunks: all.chunks,
        active_cpu_s: rusage::this_process().cpu_s - cpu0,
        active_wall_s: t0.elapsed().as_secs_f64(),
        lag: Lag::from_ns(&mut all.lags_ns),
    }
}

#[derive(Default)]
struct Tally {
    completed: u64,
    errors: u64,
    chunks: u64,
    lags_ns: Vec<u64>,
}

fn request_bytes(cfg: &ReaderConfig) -> Vec<u8> {
    let prompt = "hello ".repeat(cfg.isl as usize);
    let body = serde_json::json!({
        "model": "llmb-sim",
        "messages": [{"role": "user", "content": prompt.trim_end()}],
        "max_tokens": cfg.osl, "min_tokens": cfg.osl, "ignore_eos": true, "stream": true,
    })
    .to_string();
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: {}\r\n\r\n{}",
        cfg.addr,
        body.len(),
        body
    )
    .into_bytes()
}

/// A new connection, with TLS when `tls` is given.
async fn connect(
    addr: &str,
    tls: Option<&(ServerName<'static>, Arc<ClientConfig>)>,
) -> std::io::Result<Stream> {
    let tcp = TcpStream::connect(addr).await?;
    let _ = tcp.set_nodelay(true);
    Ok(match tls {
        None => Stream::Plain(tcp),
        Some((name, config)) => {
            let s = TlsConnector::from(config.clone())
                .connect(name.clone(), tcp)
                .await?;
            Stream::Tls(Box::new(s))
        }
    })
}

/// One keep-alive connection and its buffers.
struct Conn {
    sock: Stream,
    /// Raw bytes read; `raw[..pos]` is consumed and dropped at the next read.
    raw: Vec<u8>,
    pos: usize,
    /// De-chunked body bytes not yet framed into SSE events.
    sse: Vec<u8>,
    anchor: MonoAnchor,
}

enum Chunked {
    /// Need more bytes.
    More,
    /// Consumed a data chunk.
    Data,
    /// The terminating zero-size chunk and its CRLF.
    End,
}

impl Conn {
    fn new(sock: Stream) -> Conn {
        Conn {
            sock,
            raw: Vec::with_capacity(16 * 1024),
            pos: 0,
            sse: Vec::with_capacity(4 * 1024),
            anchor: MonoAnchor::now(),
        }
    }

    async fn fill(&mut self) -> Result<Instant, ReadError> {
        // What the chunk decoder consumed goes once per read, not once per chunk.
        self.raw.drain(..self.pos);
        self.pos = 0;
        let len = self.raw.len();
        self.raw.reserve(8 * 1024);
        let n = self.sock.read_buf(&mut self.raw).await?;
        if n == 0 && self.raw.len() == len {
            return Err(ReadError::Protocol("connection closed".into()));
        }
        Ok(Instant::now())
    }

    async fn exchange(&mut self, request: &[u8], out: &mut Tally) -> Result<(), ReadError> {
        self.raw.drain(..self.pos);
        self.pos = 0;
        self.sock.write_all(request).await?;
        self.sock.flush().await?;
        // Status line and headers.
        let head_end = loop {
            if let Some(i) = find(&self.raw, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        if !self.raw.starts_with(b"HTTP/1.1 200") {
            let line = String::from_utf8_lossy(&self.raw[..head_end.min(64)]).into_owned();
            return Err(ReadError::Protocol(line));
        }
        self.pos = head_end;
        self.sse.clear();
        let mut at = Instant::now();
        let mut done = false;
        loop {
            match self.dechunk()? {
                Chunked::Data => continue,
                Chunked::End => break,
                Chunked::More => {}
            }
            done |= self.frame_events(at, out)?;
            at = self.fill().await?;
        }
        done |= self.frame_events(at, out)?;
        if done {
            Ok(())
        } else {
            Err(ReadError::Protocol("stream ended before [DONE]".into()))
        }
    }

    /// Moves one chunk of the chunked body from `raw` to `sse`.
    fn dechunk(&mut self) -> Result<Chunked, ReadError> {
        let raw = &self.raw[self.pos..];
        let Some(eol) = find(raw, b"\r\n") else {
            return Ok(Chunked::More);
        };
        let size_hex = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .ok_or_else(|| ReadError::Protocol("bad chunk size".into()))?;
        let need = eol + 2 + size_hex + 2;
        if raw.len() < need {
            return Ok(Chunked::More);
        }
        self.sse
            .extend_from_slice(&raw[eol + 2..eol + 2 + size_hex]);
        self.pos += need;
        Ok(if size_hex == 0 {
            Chunked::End
        } else {
            Chunked::Data
        })
    }

    /// Parses every complete SSE event in `sse`; true when `[DONE]` was seen.
    fn frame_events(&mut self, at: Instant, out: &mut Tally) -> Result<bool, ReadError> {
        let mut done = false;
        let mut start = 0;
        while let Some(i) = find(&self.sse[start..], b"\n\n") {
            let event = &self.sse[start..start + i];
            start += i + 2;
            let Some(payload) = event.strip_prefix(b"data: ") else {
                continue;
            };
            if payload == b"[DONE]" {
                done = true;
                continue;
            }
            let chunk: MiniChunk<'_> = serde_json::from_slice(payload)
                .map_err(|e| ReadError::Protocol(format!("bad chunk JSON: {e}")))?;
            let has_text = chunk
                .choices
                .first()
                .and_then(|c| c.delta.as_ref())
                .and_then(|d| d.content.as_ref())
                .is_some_and(|t| !t.is_empty());
            if has_text {
                out.chunks += 1;
                if let Some(sent) = chunk.llmb_sent_ns {
                    out.lags_ns.push(self.anchor.ns(at).saturating_sub(sent));
                }
            }
        }
        self.sse.drain(..start);
        Ok(done)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_well_formed_http() {
        let r = request_bytes(&ReaderConfig {
            addr: "127.0.0.1:9".into(),
            tls: None,
            concurrency: 1,
            requests: 1,
            isl: 3,
            osl: 2,
        });
        let s = String::from_utf8(r).unwrap();
        let (head, body) = s.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, body.len());
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["messages"][0]["content"], "hello hello hello");
        assert_eq!(v["max_tokens"], 2);
    }
}
