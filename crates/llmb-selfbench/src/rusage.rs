//! Process resource accounting: CPU time and peak memory of this process, and of a child
//! reaped with `wait4` (its whole process tree, as the kernel accumulates it).

use std::time::Duration;

/// CPU and memory one process used.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// User + system CPU seconds.
    pub cpu_s: f64,
    /// Peak resident set size, KiB.
    pub max_rss_kib: u64,
}

fn from_raw(ru: &libc::rusage) -> Usage {
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Usage {
        cpu_s: (tv(ru.ru_utime) + tv(ru.ru_stime)).as_secs_f64(),
        max_rss_kib: ru.ru_maxrss.max(0) as u64,
    }
}

/// This process so far.
pub fn this_process() -> Usage {
    // SAFETY: getrusage only writes the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Usage::default();
    }
    from_raw(&ru)
}

/// Waits for child `pid` and returns its exit code (or -signal) and what it used.
pub fn wait_child(pid: u32) -> std::io::Result<(i32, Usage)> {
    let mut status = 0;
    // SAFETY: wait4 writes the status and the zeroed rusage we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut ru) };
        if rc == pid as libc::pid_t {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Ok((code, from_raw(&ru)))
}
