//! A tokenizer named as users name it: a `tokenizer.json`, a model folder, or a Hugging
//! Face model id (`meta-llama/Llama-3.3-70B-Instruct`) found offline in the local hub
//! cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
//! else `~/.cache/huggingface/hub`): `models--ORG--NAME/snapshots/<rev>/tokenizer.json`,
//! the revision `refs/main` names first. Nothing is downloaded.

use std::path::{Path, PathBuf};

/// The hub cache folders to look in, in order (each once).
pub fn cache_dirs() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut dirs = Vec::new();
    if let Some(d) = env("HF_HUB_CACHE").or_else(|| env("HUGGINGFACE_HUB_CACHE")) {
        dirs.push(d);
    }
    if let Some(h) = env("HF_HOME") {
        dirs.push(h.join("hub"));
    }
    let xdg = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")));
    if let Some(x) = xdg {
        dirs.push(x.join("huggingface").join("hub"));
    }
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// Where `name` resolves: the file or folder itself when it exists, else a cached
/// snapshot's `tokenizer.json`. `Err` lists every place looked in.
pub fn resolve(name: &Path, caches: &[PathBuf]) -> Result<PathBuf, Vec<PathBuf>> {
    let file = if name.is_dir() {
        name.join("tokenizer.json")
    } else {
        name.to_path_buf()
    };
    if file.is_file() {
        return Ok(file);
    }
    let mut looked = vec![file];
    let Some(id) = name.to_str().filter(|s| is_model_id(s)) else {
        return Err(looked);
    };
    let folder = format!("models--{}", id.replace('/', "--"));
    for cache in caches {
        let model = cache.join(&folder);
        looked.push(model.join("snapshots"));
        if let Some(found) = in_snapshots(&model) {
            return Ok(found);
        }
    }
    Err(looked)
}

/// `ORG/NAME` or `NAME`: no leading `/` or `.`, at most one `/`, no `..`.
fn is_model_id(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['/', '.', '~'])
        && s.matches('/').count() <= 1
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

/// The snapshot `refs/main` names, else any snapshot, holding `tokenizer.json`.
fn in_snapshots(model: &Path) -> Option<PathBuf> {
    let snapshots = model.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(model.join("refs").join("main")) {
        let f = snapshots.join(rev.trim()).join("tokenizer.json");
        if f.is_file() {
            return Some(f);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("tokenizer.json")))
        .filter(|f| f.is_file())
        .collect();
    found.sort();
    found.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_resolve_from_a_hub_cache_and_misses_list_every_place() {
        let root = std::env::temp_dir().join(format!("llmb-hub-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (a, b) = (root.join("a"), root.join("b"));
        let model = b.join("models--org--Model-1B");
        let snap = model.join("snapshots").join("abc123");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(model.join("refs")).unwrap();
        std::fs::write(model.join("refs").join("main"), "abc123\n").unwrap();
        std::fs::write(snap.join("tokenizer.json"), "{}").unwrap();
        let caches = vec![a.clone(), b.clone()];
        assert_eq!(
            resolve(Path::new("org/Model-1B"), &caches).unwrap(),
            snap.join("tokenizer.json")
        );
        let looked = resolve(Path::new("org/Other"), &caches).unwrap_err();
        assert_eq!(
            looked,
            vec![
                PathBuf::from("org/Other"),
                a.join("models--org--Other").join("snapshots"),
                b.join("models--org--Other").join("snapshots"),
            ]
        );
        // A path that is not a model id is looked for only where it points.
        assert_eq!(
            resolve(Path::new("/no/such/tok.json"), &caches)
                .unwrap_err()
                .len(),
            1
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
