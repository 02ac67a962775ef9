//! The processes a run starts: each in its own process group (so a stop reaches every
//! process an engine forks), killed with the run if run-plan dies (`PR_SET_PDEATHSIG`) or
//! drops it, waited for with a deadline or until a stop signal, and stopped by signal,
//! grace period, then SIGKILL.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use llmb_engines::{StopPolicy, StopSignal};

use super::stop::Stop;

/// How often a running child is looked at while waiting (wakes at once on a signal).
const POLL: Duration = Duration::from_millis(20);

/// A started process; killed (its group too) if still running when dropped.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Proc {
    /// Its exit status when it has ended.
    ///
    /// # Errors
    /// waitpid failed.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.0.try_wait()
    }

    /// Waits for it to end; `Err` (the child still running) when `stop` fires first.
    ///
    /// # Errors
    /// Interrupted by a signal, or waitpid failed.
    pub fn wait_or_stop(&mut self, stop: &Stop) -> anyhow::Result<ExitStatus> {
        loop {
            if let Some(st) = self.0.try_wait()? {
                return Ok(st);
            }
            if stop.wait_timeout(POLL).is_some() {
                stop.check()?;
            }
        }
    }

    /// Waits up to `limit`; `None` when it is still running.
    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            match self.0.try_wait() {
                Ok(Some(st)) => return Some(st),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
                _ => return None,
            }
        }
    }

    /// Sends `sig` to its process group when it leads one, else to it alone.
    pub fn signal(&self, sig: libc::c_int) {
        let Ok(pid) = i32::try_from(self.0.id()) else {
            return;
        };
        // SAFETY: kill(2) on our own child or its group.
        unsafe {
            if libc::getpgid(pid) == pid {
                libc::kill(-pid, sig);
            } else {
                libc::kill(pid, sig);
            }
        }
    }

    /// Stops it as its engine wants: the policy's signal, its grace, then SIGKILL.
    pub fn terminate(&mut self, policy: StopPolicy) {
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        self.signal(match policy.signal {
            StopSignal::Term => libc::SIGTERM,
            StopSignal::Int => libc::SIGINT,
        });
        if self.wait_for(policy.grace).is_none() {
            self.signal(libc::SIGKILL);
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.signal(libc::SIGKILL);
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A local child: its own process group (a terminal's Ctrl-C reaches it only through
/// run-plan), and SIGKILL if run-plan dies without stopping it (e.g. `kill -9`).
pub fn own_group(c: &mut Command) -> &mut Command {
    c.process_group(0);
    llmb_signals::die_with_parent(c)
}
