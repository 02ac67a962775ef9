//! Watching engines: readiness by each engine's own rule with a deadline and backoff (a
//! stop signal cuts the wait short), and early exits reported with the log tail.

use std::path::Path;
use std::time::{Duration, Instant};

use super::place::Placement;
use super::stop::Stop;
use super::{say, tail, Running, LOG_TAIL};

/// How long an engine may take to answer `/health` (override: `LLMB_READY_TIMEOUT_S`).
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// `Some(error)` when the engine has exited.
pub(super) fn exited(r: &mut Running<'_>) -> anyhow::Result<Option<String>> {
    Ok(r.child.try_wait()?.map(|st| {
        format!(
            "engine {} exited early ({st}); last lines of {}:\n{}",
            r.plan.name,
            r.plan.log.display(),
            tail(&r.plan.log, LOG_TAIL).unwrap_or_default()
        )
    }))
}

/// The first engine that has exited, if any.
pub(super) fn any_exited(running: &mut [Running<'_>]) -> anyhow::Result<Option<String>> {
    for r in running {
        if let Some(e) = exited(r)? {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// Polls (with backoff) until server `i` is ready: its port known and its readiness probe
/// met. An engine without a probe of its own is ready once started (a Dynamo worker is
/// judged by the frontend's health, which lists it). Any engine exiting meanwhile fails.
pub(super) fn wait_ready(
    running: &mut [Running<'_>],
    i: usize,
    placement: &Placement,
    stop: &Stop,
) -> anyhow::Result<()> {
    if running.get(i).is_none_or(|r| r.ready) {
        return Ok(());
    }
    let timeout = std::env::var("LLMB_READY_TIMEOUT_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(READY_TIMEOUT, Duration::from_secs);
    let deadline = Instant::now() + timeout;
    let host = placement.host_of(running[i].plan);
    let mut pause = Duration::from_millis(20);
    loop {
        stop.check()?;
        if let Some(e) = any_exited(running)? {
            anyhow::bail!("{e}");
        }
        let r = &mut running[i];
        let Some(probe) = r.spec.health.clone() else {
            r.url = r.port.map(|p| format!("http://{host}:{p}"));
            r.ready = true;
            return Ok(());
        };
        if r.port.is_none() {
            r.port = listening_port(&r.plan.log);
        }
        if let Some(p) = r.port {
            if let Ok((code, body)) = llmb_probe::get(
                &llmb_probe::Origin::plain(format!("{host}:{p}")),
                &probe.path,
                Duration::from_secs(2),
            ) {
                if probe.is_ready(code, &body) {
                    r.url = Some(format!("http://{host}:{p}"));
                    r.ready = true;
                    say(&format!(
                        "run-plan: {} ready at http://{host}:{p}",
                        r.plan.name
                    ));
                    return Ok(());
                }
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "engine {} not ready after {}s (GET {} on {host}:{}); last lines of {}:\n{}",
                r.plan.name,
                timeout.as_secs(),
                probe.path,
                r.port.map_or_else(|| "?".into(), |p| p.to_string()),
                r.plan.log.display(),
                tail(&r.plan.log, LOG_TAIL).unwrap_or_default()
            );
        }
        stop.wait_timeout(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The port in the engine's `listening on http://HOST:PORT` line.
pub(super) fn listening_port(log: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().find_map(|l| {
        let url = l.split("listening on ").nth(1)?.split_whitespace().next()?;
        url.trim_end_matches('/').rsplit(':').next()?.parse().ok()
    })
}

/// The stop signal, up to the engine's grace, then SIGKILL. A local engine runs in its own
/// process group, which is signalled whole.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_from_log_line() {
        let d = std::env::temp_dir().join(format!("llmb-rp-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("e.log");
        std::fs::write(
            &f,
            "noise\nllmb sim engine serving model m listening on http://0.0.0.0:41234\n",
        )
        .unwrap();
        assert_eq!(listening_port(&f), Some(41234));
        std::fs::write(&f, "starting\n").unwrap();
        assert_eq!(listening_port(&f), None);
        let _ = std::fs::remove_dir_all(&d);
    }
}
