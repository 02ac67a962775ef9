//! The embedded engine for `llmb bench` without `--url`: a child `llmb serve sim` process
//! on a free loopback port, so its CPU is not counted as the client's. Killed on drop, and
//! by the kernel if llmb dies without dropping it.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running child engine.
pub struct Embedded {
    /// Its base URL.
    pub url: String,
    _child: Child,
}

/// Starts `EXE serve sim --port 0` (`exe` is the llmb binary) and waits for its address.
pub async fn start(exe: &Path, seed: u64, model: Option<&str>) -> anyhow::Result<Embedded> {
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["serve", "sim", "--port", "0", "--seed", &seed.to_string()]);
    // It serves the model the run names (a vLLM or AIPerf command line always names one).
    if let Some(m) = model {
        cmd.args(["--model", m]);
    }
    // Gone with llmb, however llmb ends (SIGKILL included).
    llmb_signals::die_with_parent(&mut cmd);
    let mut child = Command::from(cmd)
        .stdout(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("failed to start the embedded engine")?;
    let stdout = child
        .stdout
        .take()
        .context("embedded engine has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("the embedded engine did not start within 30 s")??
        .context("the embedded engine exited before it was ready")?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(str::to_owned)
        .with_context(|| format!("unexpected first line from the embedded engine: {line}"))?;
    // Keep draining its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Embedded { url, _child: child })
}
