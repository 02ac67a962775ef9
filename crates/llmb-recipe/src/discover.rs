//! Finding workloads: our `*.yaml` recipes in a folder, NVIDIA `**/metadata.yaml` under a
//! recipe repository, and the built-ins, merged into one [`Catalog`].
//!
//! Precedence: built-ins, then the recipe repository, then the recipes folder; a later source
//! replaces an earlier workload with the same key (recorded in [`Catalog::shadowed`]), while
//! two files of the *same* source declaring one key is an error naming both files.

use std::path::{Path, PathBuf};

use crate::error::{read_file, LoadError};
use crate::metadata::parse_metadata;
use crate::recipe::Recipe;
use crate::workload::{builtin, Catalog, Source, Workload};

/// Which sources to read.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Include the recipes compiled into llmb.
    pub builtin: bool,
    /// An NVIDIA recipe repository (`$LLMB_REPO`): every `**/metadata.yaml` under it.
    pub recipe_repo: Option<PathBuf>,
    /// A folder of our recipe files (`*.yaml`, `*.yml`, not recursive).
    pub recipes_dir: Option<PathBuf>,
}

/// Reads the sources in precedence order into one catalog.
pub fn discover(sources: &Sources) -> Result<Catalog, LoadError> {
    let mut c = Catalog::new();
    if sources.builtin {
        c.extend_source(builtin()?)?;
    }
    if let Some(repo) = &sources.recipe_repo {
        c.extend_source(metadata_in_repo(repo)?)?;
    }
    if let Some(dir) = &sources.recipes_dir {
        c.extend_source(recipes_in_dir(dir)?)?;
    }
    Ok(c)
}

/// Loads one of our recipe files.
pub fn load_recipe_file(path: &Path) -> Result<Workload, LoadError> {
    let text = read_file(path)?;
    let r = Recipe::from_yaml(&text, &path.display().to_string())?;
    Ok(Workload::from_recipe(
        r,
        Source::RecipeFile {
            path: path.to_owned(),
        },
    ))
}

/// Every `*.yaml`/`*.yml` directly in `dir`, sorted by name.
pub fn recipes_in_dir(dir: &Path) -> Result<Vec<Workload>, LoadError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|source| LoadError::Read {
        path: dir.to_owned(),
        source,
    })? {
        let p = entry
            .map_err(|source| LoadError::Read {
                path: dir.to_owned(),
                source,
            })?
            .path();
        let yaml = matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
        if yaml && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    files.iter().map(|p| load_recipe_file(p)).collect()
}

/// Every `metadata.yaml` under `root` (recursively, skipping hidden folders as Python's
/// `glob("**")` does), sorted by path. Key = `{general.workload_type}_{general.workload}`.
pub fn metadata_in_repo(root: &Path) -> Result<Vec<Workload>, LoadError> {
    let mut files = Vec::new();
    walk(root, &mut files)?;
    files.sort();
    files
        .iter()
        .map(|p| parse_metadata(&read_file(p)?, p))
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let rd = std::fs::read_dir(dir).map_err(|source| LoadError::Read {
        path: dir.to_owned(),
        source,
    })?;
    for entry in rd {
        let entry = entry.map_err(|source| LoadError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let p = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let ft = entry.file_type().map_err(|source| LoadError::Read {
            path: p.clone(),
            source,
        })?;
        if ft.is_dir() {
            walk(&p, out)?;
        } else if name == "metadata.yaml" {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn recipes_folder_matches_builtins() {
        let from_disk = recipes_in_dir(&repo_root().join("recipes")).unwrap();
        let built = builtin().unwrap();
        assert_eq!(from_disk.len(), built.len());
        for w in &from_disk {
            let b = built.iter().find(|b| b.key == w.key).unwrap();
            assert_eq!(b.recipe, w.recipe);
        }
    }

    #[test]
    fn metadata_tree_is_walked_and_recipes_dir_wins() {
        let tmp = std::env::temp_dir().join(format!("llmb-recipe-discover-{}", std::process::id()));
        let d = tmp.join("repo/llama3.3/inference");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::create_dir_all(tmp.join("repo/.git/x")).unwrap();
        let meta = "general: {workload: llama3.3, workload_type: inference, framework: trt-llm}\nrun:\n  launcher_type: sbatch\n  launch_script: launch.sh\n  gpu_configs:\n    gb200:\n      model_configs:\n        - {model_size: 70b, dtypes: [nvfp4], scales: [1]}\n";
        std::fs::write(d.join("metadata.yaml"), meta).unwrap();
        std::fs::write(tmp.join("repo/.git/x/metadata.yaml"), "not: [valid").unwrap();
        let c = discover(&Sources {
            builtin: true,
            recipe_repo: Some(tmp.join("repo")),
            recipes_dir: None,
        })
        .unwrap();
        let w = c.get("inference_llama3.3").unwrap();
        assert!(matches!(w.source, Source::Metadata { .. }));
        assert_eq!(c.shadowed().len(), 1);
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
