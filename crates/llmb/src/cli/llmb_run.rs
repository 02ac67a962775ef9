//! Invoked as `llmb-run` (a symlink or copy of the binary): the seed documents' command lines
//! (`llmb-run single -w W -s S --dtype D --scale N [-d] [-p] [-f] [-v]`, `llmb-run list`)
//! rewritten into llmb's own before clap parses them.

use std::ffi::OsString;
use std::path::Path;

/// Whether argv[0] names `llmb-run`.
pub fn invoked_as_llmb_run(argv0: &OsString) -> bool {
    Path::new(argv0)
        .file_name()
        .is_some_and(|n| n == "llmb-run")
}

/// `llmb-run single …` → `llmb submit …` (`-d`/`--dryrun` → `--dry-run`, `-v` dropped);
/// `llmb-run list …` → `llmb list …`; anything else is passed on for clap to refuse.
pub fn rewrite(argv: Vec<OsString>) -> Vec<OsString> {
    let mut it = argv.into_iter();
    let mut out: Vec<OsString> = vec![it.next().unwrap_or_else(|| "llmb-run".into())];
    let Some(cmd) = it.next() else {
        return out;
    };
    match cmd.to_str() {
        Some("single") => out.push("submit".into()),
        _ => out.push(cmd),
    }
    for a in it {
        match a.to_str() {
            Some("-d" | "--dryrun") => out.push("--dry-run".into()),
            Some("-v" | "--verbose") => {}
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn single_becomes_submit() {
        assert_eq!(
            rewrite(v(
                "llmb-run single -w inference_llama3.3 -s 70b --dtype nvfp4 --scale 1 -d -v"
            )),
            v("llmb-run submit -w inference_llama3.3 -s 70b --dtype nvfp4 --scale 1 --dry-run")
        );
        assert_eq!(rewrite(v("llmb-run list -w x")), v("llmb-run list -w x"));
        assert!(invoked_as_llmb_run(&"/usr/bin/llmb-run".into()));
        assert!(!invoked_as_llmb_run(&"llmb".into()));
    }
}
