//! Logs quoted in errors: the last lines of an engine's or a step's output.

use std::path::Path;

/// The last `n` lines of a file, read from its last 64 KiB (engine logs grow large), bytes
/// that are not UTF-8 shown as U+FFFD rather than losing the tail.
pub fn tail(path: &Path, n: usize) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    const WINDOW: u64 = 64 * 1024;
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(WINDOW))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if len > WINDOW && !lines.is_empty() {
        // The window's first line is most likely cut.
        lines.remove(0);
    }
    Some(lines[lines.len().saturating_sub(n)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn tail_of_a_large_log_with_bytes_that_are_not_utf8() {
        let dir = std::env::temp_dir().join(format!("llmb-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("engine.log");
        let mut text = Vec::new();
        for i in 0..20_000 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        text.extend_from_slice(b"bad \xff byte\nlast line\n");
        std::fs::write(&f, &text).unwrap();
        assert_eq!(
            tail(&f, 3).unwrap(),
            "line 19999\nbad \u{fffd} byte\nlast line"
        );
        std::fs::write(&f, "one\ntwo\n").unwrap();
        assert_eq!(tail(&f, 5).unwrap(), "one\ntwo");
        assert_eq!(tail(&dir.join("missing"), 5), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
