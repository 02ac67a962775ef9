//! The harness: for each (mode, concurrency) it starts the embedded engine in its own
//! process, runs the reference reader and then `llmb bench` against it with the same
//! workload, reaps each client with `wait4` (whole-run CPU and peak RSS) and reads what
//! each measured of its own active phase (CPU, wall, client lag). Ratios to the reader
//! are the figures; `check` compares them with a saved baseline. With TLS the engine
//! serves `https` with a certificate authority made for the run, which both clients trust
//! through `SSL_CERT_FILE`, so the figures include verification and encryption.
//!
//! The engine runs at the lowest CPU priority ([`ENGINE_NICE`]): it stands in for a server
//! on other machines, so on a box it must share with the client it takes only the CPU the
//! client leaves. At equal priority the scheduler lets a woken client wait while the
//! engine's threads finish their slices, and that wait, not the client, dominated the lag.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::reader::ReaderReport;
use crate::rusage;
use crate::stats::Lag;

/// Firehose (engine as fast as it can) or paced (TTFT 50 ms, ITL 10 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No delays in the engine.
    Firehose,
    /// TTFT 50 ms, ITL 10 ms.
    Paced,
}

impl Mode {
    /// Name used in tables and files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Firehose => "firehose",
            Mode::Paced => "paced",
        }
    }

    fn engine_timing(self) -> [&'static str; 4] {
        match self {
            Mode::Firehose => ["--ttft-ms", "0", "--itl-ms", "0"],
            Mode::Paced => ["--ttft-ms", "50", "--itl-ms", "10"],
        }
    }
}

/// One configuration to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Engine timing.
    pub mode: Mode,
    /// Concurrent streams.
    pub concurrency: u64,
    /// Requests in all.
    pub requests: u64,
    /// Over TLS (`https`).
    #[serde(default)]
    pub tls: bool,
}

impl Config {
    /// `paced c=64`, `paced c=64 tls`.
    pub fn name(&self) -> String {
        let tls = if self.tls { " tls" } else { "" };
        format!("{} c={}{tls}", self.mode.as_str(), self.concurrency)
    }
}

/// What one client did in one configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientFigures {
    /// Output tokens received (text chunks; one token each at stream interval 1).
    pub tokens: u64,
    /// Failed requests.
    pub errors: u64,
    /// CPU ms per 1,000 tokens, active phase.
    pub cpu_ms_per_1k_active: f64,
    /// CPU ms per 1,000 tokens, whole process (start-up and write-out included).
    pub cpu_ms_per_1k_whole: f64,
    /// Tokens per second over the active phase.
    pub tokens_per_s: f64,
    /// Peak RSS, KiB.
    pub max_rss_kib: u64,
    /// Peak RSS above the same client's one-request run, per stream, KiB: the memory each
    /// concurrent stream (and the records it leaves) costs, start-up tables excluded.
    pub rss_per_stream_kib: f64,
    /// Client lag behind the engine's send stamps.
    pub lag: Lag,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// What was run.
    pub config: Config,
    /// The reference reader.
    pub reference: ClientFigures,
    /// `llmb bench`.
    pub llmb: ClientFigures,
    /// The engine's CPU (user + sys) per 1,000 tokens while it served `llmb bench`: the
    /// engine must spend at most half of what the client does, so that the client, not
    /// the engine, is what a self-benchmark finds the limit of.
    #[serde(default)]
    pub engine_cpu_ms_per_1k: f64,
}

impl Row {
    /// llmb's whole-run CPU per token over the engine's: how many times the tokens/s
    /// llmb can take the engine could serve on the same CPU.
    pub fn engine_headroom(&self) -> f64 {
        ratio(self.llmb.cpu_ms_per_1k_whole, self.engine_cpu_ms_per_1k)
    }

    /// llmb's active CPU per token over the reader's.
    pub fn active_ratio(&self) -> f64 {
        ratio(
            self.llmb.cpu_ms_per_1k_active,
            self.reference.cpu_ms_per_1k_active,
        )
    }

    /// llmb's whole-run CPU per token over the reader's.
    pub fn whole_ratio(&self) -> f64 {
        ratio(
            self.llmb.cpu_ms_per_1k_whole,
            self.reference.cpu_ms_per_1k_whole,
        )
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// A saved run of the harness.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Schema tag.
    pub schema: String,
    /// CPU cores of the machine.
    pub cores: usize,
    /// Prompt and output lengths.
    pub isl: u64,
    /// Output tokens per request.
    pub osl: u64,
    /// The rows.
    pub rows: Vec<Row>,
}

/// Why the harness could not run.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A process would not start or misbehaved.
    #[error("{0}")]
    Process(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// Which file.
        path: PathBuf,
        /// What happened.
        #[source]
        source: std::io::Error,
    },
}

/// The standard set: concurrency 1, 64, 512, 1,000, 4,096 and 10,000, firehose and paced.
/// `quick` keeps 1, 64 and 512 with fewer requests (for CI's light check).
pub fn standard_configs(quick: bool) -> Vec<Config> {
    let levels: &[u64] = if quick {
        &[1, 64, 512]
    } else {
        &[1, 64, 512, 1000, 4096, 10_000]
    };
    let mut out = Vec::new();
    for mode in [Mode::Firehose, Mode::Paced] {
        for &c in levels {
            // Enough requests that start-up is small next to the work, few enough that the
            // whole set runs in minutes on two cores.
            let rounds = match (mode, quick) {
                (Mode::Firehose, false) => (16_384 / c).clamp(2, 400),
                (Mode::Firehose, true) => (4_096 / c).clamp(2, 100),
                (Mode::Paced, false) => 3,
                (Mode::Paced, true) => 2,
            };
            out.push(Config {
                mode,
                concurrency: c,
                requests: c * rounds,
                tls: false,
            });
        }
    }
    out
}

/// Rounds per stream of a TLS pair: each new connection costs a TLS handshake (a few
/// hundred µs of CPU on each side), so with the standard set's two or three rounds the pair
/// compares handshakes more than streaming; with 12 the figure is the cost per token.
pub const TLS_ROUNDS: u64 = 12;

/// Each configuration twice, plain then over TLS, next to each other, with
/// [`TLS_ROUNDS`] requests per stream.
pub fn with_tls(configs: Vec<Config>) -> Vec<Config> {
    configs
        .into_iter()
        .map(|c| Config {
            requests: c.concurrency * TLS_ROUNDS,
            ..c
        })
        .flat_map(|c| [c, Config { tls: true, ..c }])
        .collect()
}

/// The certificate files of a TLS engine.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The authority clients trust.
    pub ca: PathBuf,
    /// The engine's certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// A fresh authority and a certificate for 127.0.0.1, written into `dir`.
    pub fn make(dir: &Path) -> Result<TlsFiles, HarnessError> {
        let pki = llmb_tls::TestPki::new(&["127.0.0.1", "localhost"])
            .map_err(|e| HarnessError::Process(e.to_string()))?;
        let [ca, cert, key] = pki.write(dir).map_err(|source| HarnessError::File {
            path: dir.to_owned(),
            source,
        })?;
        Ok(TlsFiles { ca, cert, key })
    }
}

/// A running embedded engine, stopped on drop.
pub struct Engine {
    child: Child,
    url: String,
}

/// The engine's nice value: the lowest priority, so the clients measured never wait for it.
pub const ENGINE_NICE: i32 = 19;

impl Engine {
    /// Starts `exe serve sim` with `mode`'s timing at [`ENGINE_NICE`] (serving `https`
    /// with `tls`) and waits for its URL.
    pub fn start(exe: &Path, mode: Mode, tls: Option<&TlsFiles>) -> Result<Engine, HarnessError> {
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "sim", "--port", "0"])
            .args(mode.engine_timing());
        if let Some(t) = tls {
            cmd.arg("--tls-cert")
                .arg(&t.cert)
                .arg("--tls-key")
                .arg(&t.key);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        // SAFETY: setpriority is a plain system call, safe between fork and exec; set before
        // exec, it holds for every thread the engine starts.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setpriority(libc::PRIO_PROCESS, 0, ENGINE_NICE) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| {
            HarnessError::Process(format!("cannot start {} serve sim: {e}", exe.display()))
        })?;
        let stdout = child.stdout.take().expect("piped");
        // From here on a failure drops `engine`, which stops the process.
        let mut engine = Engine {
            child,
            url: String::new(),
        };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| HarnessError::Process(format!("engine output: {e}")))?;
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .ok_or_else(|| {
                HarnessError::Process(format!("engine did not print its URL: {line:?}"))
            })?
            .to_owned();
        engine.url = url;
        Ok(engine)
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// CPU time (user + sys, all threads) it has used so far, in ms.
    fn cpu_ms(&self) -> f64 {
        process_cpu_ms(self.child.id())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs every configuration; `on_row` sees each row as it completes.
pub fn run(
    exe: &Path,
    configs: &[Config],
    isl: u64,
    osl: u64,
    scratch: &Path,
    mut on_row: impl FnMut(&Row),
) -> Result<Report, HarnessError> {
    let mut rows = Vec::new();
    let tls = if configs.iter().any(|c| c.tls) {
        Some(TlsFiles::make(&scratch.join("pki"))?)
    } else {
        None
    };
    let mut engine: Option<((Mode, bool), Engine)> = None;
    for cfg in configs {
        let kind = (cfg.mode, cfg.tls);
        if engine.as_ref().is_none_or(|(k, _)| *k != kind) {
            // Stop the previous engine before the next one takes the CPU.
            drop(engine.take());
            let files = tls.as_ref().filter(|_| cfg.tls);
            engine = Some((kind, Engine::start(exe, cfg.mode, files)?));
        }
        let ca = tls.as_ref().filter(|_| cfg.tls).map(|t| t.ca.as_path());
        let url = engine
            .as_ref()
            .map(|(_, e)| e.url.clone())
            .unwrap_or_default();
        // Each client's memory with one request, to charge streams only what they add.
        let one = Config {
            concurrency: 1,
            requests: 1,
            ..*cfg
        };
        let run = Run {
            exe,
            url: &url,
            ca,
            isl,
            osl,
        };
        let ref_base = run.reader(&one, 0)?.max_rss_kib;
        let llmb_base = run.llmb(&one, scratch, 0)?.max_rss_kib;
        let reference = run.reader(cfg, ref_base)?;
        let cpu_ms = || engine.as_ref().map_or(0.0, |(_, e)| e.cpu_ms());
        let engine_before = cpu_ms();
        let llmb = run.llmb(cfg, scratch, llmb_base)?;
        let engine_ms = cpu_ms() - engine_before;
        let row = Row {
            config: *cfg,
            engine_cpu_ms_per_1k: engine_ms / (llmb.tokens.max(1) as f64 / 1000.0),
            reference,
            llmb,
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(Report {
        schema: "llmb.selfbench/1".into(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        isl,
        osl,
        rows,
    })
}

/// CPU time (user + sys, all threads) a running process has used, in ms, from its CPU-time
/// clock (nanoseconds; `/proc/<pid>/stat` counts in 10 ms ticks); 0 when it cannot be read.
fn process_cpu_ms(pid: u32) -> f64 {
    let mut clock: libc::clockid_t = 0;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both calls only write into the locals passed by pointer.
    let ok = unsafe {
        libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) == 0
            && libc::clock_gettime(clock, &mut ts) == 0
    };
    if !ok {
        return 0.0;
    }
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn spawn_and_reap(mut cmd: Command, what: &str) -> Result<(String, rusage::Usage), HarnessError> {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HarnessError::Process(format!("cannot start {what}: {e}")))?;
    let pid = child.id();
    let (mut out, mut err) = (child.stdout, child.stderr);
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let read_all = |p: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = p {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out_t = read_all(out.take().map(|p| Box::new(p) as _));
    let err_t = read_all(err.take().map(|p| Box::new(p) as _));
    let (code, usage) = rusage::wait_child(pid)
        .map_err(|e| HarnessError::Process(format!("waiting for {what}: {e}")))?;
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    // Exit 3 (too many failures) and 4 (client-bound) are findings the row reports, not
    // failures of the harness.
    if !matches!(code, 0 | 3 | 4) {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(HarnessError::Process(format!(
            "{what} exited with {code}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    Ok((stdout, usage))
}

fn per_1k(cpu_s: f64, tokens: u64) -> f64 {
    if tokens == 0 {
        0.0
    } else {
        cpu_s * 1000.0 / (tokens as f64 / 1000.0)
    }
}

fn per_stream(rss: u64, base: u64, streams: u64) -> f64 {
    rss.saturating_sub(base) as f64 / streams.max(1) as f64
}

/// One client run against the engine at `url`.
struct Run<'a> {
    exe: &'a Path,
    url: &'a str,
    /// The authority to trust (`SSL_CERT_FILE`) when the engine serves TLS.
    ca: Option<&'a Path>,
    isl: u64,
    osl: u64,
}

impl Run<'_> {
    fn command(&self) -> Command {
        let mut cmd = Command::new(self.exe);
        match self.ca {
            Some(ca) => cmd.env("SSL_CERT_FILE", ca),
            None => cmd.env_remove("SSL_CERT_FILE"),
        };
        cmd
    }

    fn reader(&self, cfg: &Config, base_rss: u64) -> Result<ClientFigures, HarnessError> {
        let (url, isl, osl) = (self.url, self.isl, self.osl);
        let mut cmd = self.command();
        cmd.args(["selfbench-reader", "--url", url])
            .args(["--concurrency", &cfg.concurrency.to_string()])
            .args(["--requests", &cfg.requests.to_string()])
            .args(["--isl", &isl.to_string(), "--osl", &osl.to_string()]);
        let (stdout, usage) = spawn_and_reap(cmd, "the reference reader")?;
        let r: ReaderReport = serde_json::from_str(stdout.trim())
            .map_err(|e| HarnessError::Process(format!("reader output {stdout:?}: {e}")))?;
        Ok(ClientFigures {
            tokens: r.chunks,
            errors: r.errors,
            cpu_ms_per_1k_active: per_1k(r.active_cpu_s, r.chunks),
            cpu_ms_per_1k_whole: per_1k(usage.cpu_s, r.chunks),
            tokens_per_s: r.chunks as f64 / r.active_wall_s.max(1e-9),
            max_rss_kib: usage.max_rss_kib,
            rss_per_stream_kib: per_stream(usage.max_rss_kib, base_rss, cfg.concurrency),
            lag: r.lag,
        })
    }

    fn llmb(
        &self,
        cfg: &Config,
        scratch: &Path,
        base_rss: u64,
    ) -> Result<ClientFigures, HarnessError> {
        let (url, isl, osl) = (self.url, self.isl, self.osl);
        let dir = scratch.join(format!("{}-c{}", cfg.mode.as_str(), cfg.concurrency));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cmd = self.command();
        cmd.args(["bench", "--url", url, "--quiet"])
            .args(["--concurrency", &cfg.concurrency.to_string()])
            .args(["--num-requests", &cfg.requests.to_string()])
            .args(["--isl", &isl.to_string(), "--osl", &osl.to_string()])
            .arg("--output-dir")
            .arg(&dir);
        let (_, usage) = spawn_and_reap(cmd, "llmb bench")?;
        let s = llmb_report::run_summary::RunSummary::read(&dir.join("summary.json"))
            .map_err(|e| HarnessError::Process(e.to_string()))?;
        let client = s
            .client
            .ok_or_else(|| HarnessError::Process("summary.json has no client block".into()))?;
        let tokens =
            (s.lengths.output_tokens.stats.mean * s.requests.completed as f64).round() as u64;
        let (cpu, wall) = (client.cpu_s, client.wall_s);
        let lag = client.client_lag_ms.ok_or_else(|| {
            HarnessError::Process(
                "summary.json: the engine stamped no chunks (client_lag_ms)".into(),
            )
        })?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(ClientFigures {
            tokens,
            errors: s.requests.failed.unwrap_or(0),
            cpu_ms_per_1k_active: per_1k(cpu, tokens),
            cpu_ms_per_1k_whole: per_1k(usage.cpu_s, tokens),
            tokens_per_s: tokens as f64 / wall.max(1e-9),
            max_rss_kib: usage.max_rss_kib,
            rss_per_stream_kib: per_stream(usage.max_rss_kib, base_rss, cfg.concurrency),
            lag: Lag {
                mean_ms: lag.mean,
                p99_ms: lag.p99,
                max_ms: lag.max,
            },
        })
    }
}

/// Allowed regression against a baseline, as a share (issue 4: 20%).
pub const REGRESSION_LIMIT: f64 = 0.20;
/// Lags under this many ms are noise on any machine and never count as a regression.
pub const LAG_FLOOR_MS: f64 = 0.5;

/// Compares a run with a baseline: one line per figure that regressed by more than
/// [`REGRESSION_LIMIT`]; configurations missing from either side are skipped.
pub fn check(now: &Report, baseline: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for row in &now.rows {
        let Some(base) = baseline.rows.iter().find(|b| {
            b.config.mode == row.config.mode
                && b.config.concurrency == row.config.concurrency
                && b.config.tls == row.config.tls
        }) else {
            continue;
        };
        let name = row.config.name();
        let mut worse = |what: &str, now: f64, base: f64, floor: f64| {
            if now.is_finite()
                && base.is_finite()
                && now > floor
                && now > base * (1.0 + REGRESSION_LIMIT)
            {
                out.push(format!(
                    "{name}: {what} {now:.3} vs baseline {base:.3} (+{:.0}%)",
                    (now / base - 1.0) * 100.0
                ));
            }
        };
        worse(
            "active CPU ratio to the reader",
            row.active_ratio(),
            base.active_ratio(),
            0.0,
        );
        worse(
            "whole-run CPU ratio to the reader",
            row.whole_ratio(),
            base.whole_ratio(),
            0.0,
        );
        worse(
            "mean client lag ms",
            row.llmb.lag.mean_ms,
            base.llmb.lag.mean_ms,
            LAG_FLOOR_MS,
        );
        worse(
            "p99 client lag ms",
            row.llmb.lag.p99_ms,
            base.llmb.lag.p99_ms,
            LAG_FLOOR_MS,
        );
        if row.llmb.errors > base.llmb.errors {
            out.push(format!(
                "{name}: {} failed requests (baseline {})",
                row.llmb.errors, base.llmb.errors
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(mode: Mode, c: u64, ref_cpu: f64, llmb_cpu: f64, lag: f64) -> Row {
        let fig = |cpu: f64, lag: f64| ClientFigures {
            cpu_ms_per_1k_active: cpu,
            cpu_ms_per_1k_whole: cpu,
            lag: Lag {
                mean_ms: lag,
                p99_ms: lag,
                max_ms: lag,
            },
            ..ClientFigures::default()
        };
        Row {
            config: Config {
                mode,
                concurrency: c,
                requests: c,
                tls: false,
            },
            reference: fig(ref_cpu, 0.1),
            llmb: fig(llmb_cpu, lag),
            engine_cpu_ms_per_1k: llmb_cpu / 4.0,
        }
    }

    #[test]
    fn process_cpu_counts_this_process() {
        let before = process_cpu_ms(std::process::id());
        // Burn some CPU.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(60) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = process_cpu_ms(std::process::id());
        assert!(after > before, "{before} -> {after}");
        // A process that has ended and been reaped has no clock any more.
        let mut done = std::process::Command::new("true").spawn().unwrap();
        let pid = done.id();
        done.wait().unwrap();
        assert_eq!(process_cpu_ms(pid), 0.0);
        let r = row(Mode::Firehose, 64, 1.0, 2.0, 0.1);
        assert_eq!(r.engine_headroom(), 4.0);
    }

    fn report(rows: Vec<Row>) -> Report {
        Report {
            schema: "x".into(),
            cores: 2,
            isl: 1,
            osl: 1,
            rows,
        }
    }

    #[test]
    fn check_flags_only_regressions_past_the_limit() {
        let base = report(vec![
            row(Mode::Paced, 64, 10.0, 12.0, 0.8),
            row(Mode::Firehose, 512, 1.0, 1.5, 2.0),
        ]);
        // Ratio 1.2 -> 1.38 (+15%): fine. Lag 2.0 -> 2.6 (+30%): flagged.
        let now = report(vec![
            row(Mode::Paced, 64, 10.0, 13.8, 0.9),
            row(Mode::Firehose, 512, 1.0, 1.5, 2.6),
        ]);
        let bad = check(&now, &base);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad.iter().all(|b| b.starts_with("firehose c=512")));
        // Ratio 1.2 -> 1.5 (+25%): flagged; lag under the floor never is.
        let now = report(vec![row(Mode::Paced, 64, 10.0, 15.0, 0.45)]);
        let bad = check(&now, &base);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].contains("active CPU ratio"));
        assert!(check(&base, &base).is_empty());
        // The floor itself: lag 0.2 -> 0.45 ms (+125%) stays under it, so it is noise;
        // 0.3 -> 0.6 ms (+100%) crosses it and counts (mean and p99).
        let low = report(vec![row(Mode::Paced, 64, 10.0, 12.0, 0.2)]);
        let now = report(vec![row(Mode::Paced, 64, 10.0, 12.0, 0.45)]);
        assert!(check(&now, &low).is_empty(), "{:?}", check(&now, &low));
        let low = report(vec![row(Mode::Paced, 64, 10.0, 12.0, 0.3)]);
        let now = report(vec![row(Mode::Paced, 64, 10.0, 12.0, 0.6)]);
        let bad = check(&now, &low);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad.iter().all(|b| b.contains("client lag")), "{bad:?}");
    }

    #[test]
    fn standard_set_covers_the_issue_levels() {
        let all = standard_configs(false);
        assert_eq!(all.len(), 12);
        assert!(all
            .iter()
            .any(|c| c.mode == Mode::Paced && c.concurrency == 10_000));
        assert!(standard_configs(true).iter().all(|c| c.concurrency <= 512));
    }
}
