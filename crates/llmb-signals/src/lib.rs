//! The signals that stop an llmb process (SIGTERM from Slurm at the time limit or on
//! scancel, SIGINT from a terminal, SIGHUP when the terminal goes), caught the same way in
//! every command and without an async runtime: the handler only records the signal and
//! writes one byte to a pipe; a watcher thread wakes on that byte, publishes the signal to
//! every waiter, and runs the caller's hook (stop sending, write `run_status.json`). A
//! second signal ends the process at once (`_exit(128 + signal)`); children started with
//! [`die_with_parent`] are killed by the kernel when it goes, even on SIGKILL.
#![warn(missing_docs)]

use std::os::unix::process::CommandExt;
use std::process::Command;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// The first signal received (0: none yet).
static FIRST: AtomicI32 = AtomicI32::new(0);
/// Write end of the wake-up pipe (-1: not installed).
static WAKE: AtomicI32 = AtomicI32::new(-1);
/// The process's one [`Stop`], once installed.
static INSTALLED: OnceLock<Stop> = OnceLock::new();

extern "C" fn on_signal(sig: libc::c_int) {
    if FIRST
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // The second signal: the user does not want to wait for the grace period.
        // SAFETY: _exit(2) is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
    let fd = WAKE.load(Ordering::SeqCst);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; the buffer outlives the call.
        unsafe { libc::write(fd, (&raw const b).cast(), 1) };
    }
}

/// The name a stop signal is reported by.
fn name(sig: i32) -> &'static str {
    CAUGHT
        .iter()
        .find(|(n, _)| *n == sig)
        .map_or("a signal", |(_, name)| name)
}

/// The signals that stop a run, with the names they are reported by.
const CAUGHT: [(libc::c_int, &str); 3] = [
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGHUP, "SIGHUP"),
];

/// The exit status of a process stopped by the signal named `name` (128 + its number;
/// SIGTERM's for a name not caught here).
pub fn exit_code(name: &str) -> u8 {
    let n = CAUGHT
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(libc::SIGTERM, |(sig, _)| *sig);
    (128 + n) as u8
}

/// Ends the process at once with the status of the signal named `name` (128 + its
/// number), as a second signal does: for a hook whose work is done once it has cleaned up.
pub fn end_now(name: &str) -> ! {
    // SAFETY: _exit(2) ends the process without running anything else.
    unsafe { libc::_exit(i32::from(exit_code(name))) }
}

/// Makes the child started by `c` get SIGKILL when this process dies, however it dies.
/// (The kernel sends it when the thread that forked the child exits; llmb forks from
/// threads that live as long as the process.)
pub fn die_with_parent(c: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    c
}

/// Whether a stop signal has arrived, shared by every wait of the run.
#[derive(Debug, Clone)]
pub struct Stop {
    state: Arc<(Mutex<Option<&'static str>>, Condvar)>,
}

impl Stop {
    /// Catches SIGTERM, SIGINT and SIGHUP from now on; `hook` runs once, on the watcher thread,
    /// when the first arrives. There is one per process: a later call returns the same
    /// `Stop` (already fired if a signal came) and its `hook` is dropped unrun.
    ///
    /// # Errors
    /// The pipe or the handlers cannot be set up.
    pub fn install(hook: impl FnOnce(&'static str) + Send + 'static) -> std::io::Result<Stop> {
        if let Some(stop) = INSTALLED.get() {
            return Ok(stop.clone());
        }
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two fds we then own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fds[0] is a fresh descriptor owned by nobody else.
        let read_end = unsafe { OwnedFd::from_raw_fd(fds[0]) };
        WAKE.store(fds[1], Ordering::SeqCst);
        for (sig, _) in CAUGHT {
            // SAFETY: a handler that only touches atomics and write(2).
            let prev = unsafe {
                libc::signal(
                    sig,
                    on_signal as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t,
                )
            };
            if prev == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
        }
        let stop = Stop {
            state: Arc::new((Mutex::new(None), Condvar::new())),
        };
        let shared = stop.clone();
        std::thread::Builder::new()
            .name("llmb-signals".into())
            .spawn(move || {
                let mut pipe = std::fs::File::from(read_end);
                let mut b = [0u8; 1];
                loop {
                    match pipe.read(&mut b) {
                        Ok(1) => break,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        _ => return,
                    }
                }
                let sig = name(FIRST.load(Ordering::SeqCst));
                {
                    let (lock, cv) = &*shared.state;
                    *lock.lock().unwrap_or_else(|p| p.into_inner()) = Some(sig);
                    cv.notify_all();
                }
                hook(sig);
            })?;
        Ok(INSTALLED.get_or_init(|| stop).clone())
    }

    /// The signal that stopped the run, if one did.
    pub fn signal(&self) -> Option<&'static str> {
        *self.state.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An error when stopped: `interrupted by SIGTERM`.
    ///
    /// # Errors
    /// When a signal arrived.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.signal() {
            Some(sig) => anyhow::bail!("interrupted by {sig}"),
            None => Ok(()),
        }
    }

    /// Waits up to `d`, returning early (with the signal) when one arrives.
    pub fn wait_timeout(&self, d: Duration) -> Option<&'static str> {
        let (lock, cv) = &*self.state;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, d, |s| s.is_none())
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }

    /// Waits until a signal arrives.
    pub fn wait(&self) -> &'static str {
        let (lock, cv) = &*self.state;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let guard = cv
            .wait_while(guard, |s| s.is_none())
            .unwrap_or_else(|p| p.into_inner());
        guard.unwrap_or("a signal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_exit_codes_come_from_one_table() {
        // 128 + 15, 128 + 2, 128 + 1: the shell's statuses for these signals.
        assert_eq!(exit_code(name(libc::SIGTERM)), 143);
        assert_eq!(exit_code(name(libc::SIGINT)), 130);
        assert_eq!(exit_code(name(libc::SIGHUP)), 129);
        assert_eq!(name(libc::SIGUSR1), "a signal");
    }
}
