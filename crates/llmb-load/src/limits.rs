//! The open-file limit: every stream holds a socket, so 10,000 streams need more than the
//! usual soft limit of 1,024 descriptors.
// `rlim_t` is u64 on Linux but not everywhere: the casts are for portability.
#![allow(clippy::unnecessary_cast)]

/// Most requests in flight at once with no client-side limit (`--concurrency -1`): each
/// holds a socket, and Linux has about 28,000 ephemeral ports towards one server, so more
/// could not connect anyway. Requests beyond it wait for one to end before their task is
/// even created, so memory stays bounded however many are asked for.
pub const UNBOUNDED_IN_FLIGHT: usize = 32_768;

/// Descriptors kept free beyond one per stream (stdio, the records file, the runtime).
pub const SPARE_FILES: u64 = 64;

/// The limit could not be raised far enough.
#[derive(Debug, thiserror::Error)]
#[error(
    "{streams} concurrent streams need about {need} open files, but this process may only \
     open {hard} (hard limit). Raise it (e.g. `ulimit -Hn {need}` as root, or `nofile` in \
     /etc/security/limits.conf) or lower --concurrency below {max}"
)]
pub struct LimitError {
    /// Streams asked for.
    pub streams: u64,
    /// Descriptors needed.
    pub need: u64,
    /// The hard limit.
    pub hard: u64,
    /// Streams that would fit.
    pub max: u64,
}

/// Raises the soft open-file limit so `streams` sockets fit; returns the limit in force.
pub fn ensure_open_files(streams: u64) -> Result<u64, LimitError> {
    let need = streams + SPARE_FILES;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(0);
    }
    let (cur, hard) = (lim.rlim_cur as u64, lim.rlim_max as u64);
    if cur >= need {
        return Ok(cur);
    }
    if hard < need {
        return Err(LimitError {
            streams,
            need,
            hard,
            max: hard.saturating_sub(SPARE_FILES),
        });
    }
    let new = libc::rlimit {
        rlim_cur: need as libc::rlim_t,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(LimitError {
            streams,
            need,
            hard: cur,
            max: cur.saturating_sub(SPARE_FILES),
        });
    }
    Ok(need)
}

/// Raises the soft open-file limit to the hard limit (servers, which cannot know their
/// load); returns the limit in force.
pub fn raise_to_hard() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    let want = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
        lim.rlim_max as u64
    } else {
        lim.rlim_cur as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_needs_fit_and_impossible_ones_say_the_numbers() {
        assert!(ensure_open_files(10).unwrap() >= 10 + SPARE_FILES);
        let e = ensure_open_files(u64::MAX / 4).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&e.hard.to_string()) && msg.contains("--concurrency"),
            "{msg}"
        );
    }
}
