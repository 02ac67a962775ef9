//! Disaggregated serving with the simulated engine: the frontend (`spawn_frontend`) that
//! sends each request to a prefill worker, then to a decode worker, over HTTP; the workers
//! are ordinary sim engines started with a `WorkerRole`. What a client of the frontend
//! sees is documented in docs/ENGINES.md, "Disaggregated sim".

mod frontend;
mod health;
mod metrics;
mod phase;
mod pool;
pub mod relay;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use llmb_engines::DisaggRole;

use super::SimHandle;

/// Response header on a decode-phase answer: the output tokens it will carry. The frontend
/// adds it to `dynamo_frontend_output_tokens_total` when the stream ends complete.
pub const OUTPUT_TOKENS_HEADER: &str = "llmb-output-tokens";

/// A worker's base URL: `http://HOST:PORT` (a trailing `/` or `/v1` is accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerUrl {
    /// `http://HOST:PORT`, normalised.
    url: String,
    /// `HOST:PORT`.
    authority: String,
}

impl WorkerUrl {
    /// `http://HOST:PORT`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `HOST:PORT`, what to connect to and send as `Host`.
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

impl std::fmt::Display for WorkerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl FromStr for WorkerUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uri: http::Uri = s
            .parse()
            .map_err(|e| format!("`{s}` is not a URL ({e}); write http://HOST:PORT"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "`{s}`: workers are reached over plain HTTP; write http://HOST:PORT"
            ));
        }
        let Some(auth) = uri.authority() else {
            return Err(format!("`{s}` has no host; write http://HOST:PORT"));
        };
        let path = uri.path().trim_end_matches('/');
        if !(path.is_empty() || path == "/v1") || uri.query().is_some() {
            return Err(format!(
                "`{s}`: give the worker's base URL (http://HOST:PORT), without a path"
            ));
        }
        let authority = match auth.port_u16() {
            Some(_) => auth.as_str().to_owned(),
            None => format!("{}:80", auth.host()),
        };
        Ok(WorkerUrl {
            url: format!("http://{authority}"),
            authority,
        })
    }
}

/// How long the frontend waits on a worker before answering the client with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Opening a connection to a worker.
    pub connect: Duration,
    /// From sending a request to a worker to its whole prefill answer, or to the decode
    /// answer's headers. Long: a worker queues requests under load.
    pub response: Duration,
    /// Longest silence in a decode stream once it started.
    pub stream_idle: Duration,
    /// Each worker's `/health` answer, when the frontend's `/health` is asked.
    pub health: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            connect: Duration::from_secs(10),
            response: Duration::from_secs(600),
            stream_idle: Duration::from_secs(300),
            health: Duration::from_secs(2),
        }
    }
}

/// Everything the frontend needs to know.
#[derive(Debug, Clone)]
pub struct FrontendConfig {
    /// The served model name (`/v1/models`; requests naming another model get 404).
    pub model: String,
    /// Prefill workers (at least one).
    pub prefill: Vec<WorkerUrl>,
    /// Decode workers (at least one).
    pub decode: Vec<WorkerUrl>,
    /// Waits on workers.
    pub deadlines: Deadlines,
}

/// Why the frontend cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// A role has no worker.
    #[error("the frontend needs at least one {0} worker: add --{0} http://HOST:PORT")]
    NoWorkers(&'static str),
    /// The address could not be bound.
    #[error("failed to listen on {addr}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// Binds `addr` and serves as the frontend until stopped. Must run inside a tokio runtime.
/// Workers need not be up yet: `/health` says which are not.
pub fn spawn_frontend(cfg: FrontendConfig, addr: SocketAddr) -> Result<SimHandle, FrontendError> {
    for (role, list) in [
        (DisaggRole::Prefill, &cfg.prefill),
        (DisaggRole::Decode, &cfg.decode),
    ] {
        if list.is_empty() {
            return Err(FrontendError::NoWorkers(role.as_str()));
        }
    }
    let listen = |source| FrontendError::Listen { addr, source };
    let listener = super::listen(addr).map_err(listen)?;
    let fe = Arc::new(frontend::Frontend::new(cfg));
    super::serve(listener, None, move |req| frontend::handle(fe.clone(), req)).map_err(listen)
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn worker_urls_are_normalised_or_refused() {
        let ok = |s: &str| s.parse::<WorkerUrl>().unwrap();
        assert_eq!(
            ok("http://127.0.0.1:41234").as_str(),
            "http://127.0.0.1:41234"
        );
        assert_eq!(ok("http://127.0.0.1:41234/").authority(), "127.0.0.1:41234");
        assert_eq!(ok("http://h:1/v1/").as_str(), "http://h:1");
        assert_eq!(ok("http://node7").authority(), "node7:80");
        for bad in [
            "127.0.0.1:8000",
            "https://h:1",
            "http://h:1/generate",
            "http://h:1/?a=b",
            "",
        ] {
            assert!(bad.parse::<WorkerUrl>().is_err(), "{bad}");
        }
        assert!("https://h:1"
            .parse::<WorkerUrl>()
            .unwrap_err()
            .contains("plain HTTP"));
    }
}
