//! The normalized workload every source turns into (our recipes, NVIDIA metadata.yaml,
//! built-ins), the catalog of workloads by key, and the recipes compiled into the binary.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::LoadError;
use crate::recipe::Recipe;

/// Where a workload was declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// Compiled into llmb from `recipes/<name>`.
    Builtin {
        /// File name, e.g. `llama3.3.yaml`.
        name: String,
    },
    /// One of our recipe files.
    RecipeFile {
        /// Path as found.
        path: PathBuf,
    },
    /// An NVIDIA `metadata.yaml`.
    Metadata {
        /// Path as found.
        path: PathBuf,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin { name } => write!(f, "builtin:{name}"),
            Source::RecipeFile { path } | Source::Metadata { path } => {
                write!(f, "{}", path.display())
            }
        }
    }
}

/// How an NVIDIA recipe is started: its own script, run by sbatch from its directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptLaunch {
    /// `run.launcher_type` (`sbatch`, `nemo`, `megatron_bridge`, `configured_sbatch`).
    pub launcher_type: String,
    /// `run.launch_script` (`launch.sh`), relative to `recipe_dir`.
    pub launch_script: String,
    /// Directory holding metadata.yaml; the cwd for sbatch.
    pub recipe_dir: PathBuf,
}

/// One runnable workload: the recipe plus where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    /// `{workload_type}_{workload}`.
    pub key: String,
    /// The recipe (for metadata.yaml: converted, with no use cases).
    pub recipe: Recipe,
    /// Where it was declared.
    pub source: Source,
    /// For metadata.yaml workloads: the script llmb-run would sbatch.
    pub script: Option<ScriptLaunch>,
    /// Things the conversion could not express (e.g. an engine llmb cannot run).
    pub notes: Vec<String>,
}

impl Workload {
    /// Wraps one of our recipes.
    pub fn from_recipe(recipe: Recipe, source: Source) -> Self {
        Self {
            key: recipe.key(),
            recipe,
            source,
            script: None,
            notes: Vec::new(),
        }
    }
}

/// Workloads by key. Later sources replace earlier ones (see [`Catalog::insert`]).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    workloads: BTreeMap<String, Workload>,
    shadowed: Vec<(String, Source, Source)>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `w`. If the key is already present the new workload wins and the replacement is
    /// recorded in [`Catalog::shadowed`] (so a user's recipe folder can override a built-in).
    pub fn insert(&mut self, w: Workload) {
        if let Some(old) = self.workloads.insert(w.key.clone(), w) {
            let new = &self.workloads[&old.key];
            self.shadowed
                .push((old.key.clone(), old.source, new.source.clone()));
        }
    }

    /// Adds every workload of one source. Two workloads with the same key *within* one source
    /// are an error ([`LoadError::Duplicate`]); across sources the later one wins.
    pub fn extend_source(&mut self, ws: Vec<Workload>) -> Result<(), LoadError> {
        let mut seen: BTreeMap<&str, &Source> = BTreeMap::new();
        for w in &ws {
            if let Some(first) = seen.insert(&w.key, &w.source) {
                return Err(LoadError::Duplicate {
                    key: w.key.clone(),
                    first: first.to_string(),
                    second: w.source.to_string(),
                });
            }
        }
        for w in ws {
            self.insert(w);
        }
        Ok(())
    }

    /// The workload with this key.
    pub fn get(&self, key: &str) -> Option<&Workload> {
        self.workloads.get(key)
    }

    /// All keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.workloads.keys().map(String::as_str)
    }

    /// All workloads, by key.
    pub fn iter(&self) -> impl Iterator<Item = &Workload> {
        self.workloads.values()
    }

    /// Number of workloads.
    pub fn len(&self) -> usize {
        self.workloads.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.workloads.is_empty()
    }

    /// `(key, replaced source, winning source)` for each replacement made by `insert`.
    pub fn shadowed(&self) -> &[(String, Source, Source)] {
        &self.shadowed
    }
}

/// The recipes compiled into llmb: `(file name, YAML text)` from the repository's `recipes/`.
pub const BUILTIN_SOURCES: [(&str, &str); 6] = [
    (
        "llama3.3.yaml",
        include_str!("../../../recipes/llama3.3.yaml"),
    ),
    ("llama4.yaml", include_str!("../../../recipes/llama4.yaml")),
    (
        "nim-llama3.yaml",
        include_str!("../../../recipes/nim-llama3.yaml"),
    ),
    (
        "deepseek-r1-dynamo.yaml",
        include_str!("../../../recipes/deepseek-r1-dynamo.yaml"),
    ),
    (
        "trtllm-serve.yaml",
        include_str!("../../../recipes/trtllm-serve.yaml"),
    ),
    (
        "smollm2-llamacpp.yaml",
        include_str!("../../../recipes/smollm2-llamacpp.yaml"),
    ),
];

/// Parses the built-in recipes (errors name `builtin:<file>`; a test keeps them valid).
pub fn builtin() -> Result<Vec<Workload>, LoadError> {
    BUILTIN_SOURCES
        .iter()
        .map(|(name, text)| {
            let r = Recipe::from_yaml(text, &format!("builtin:{name}"))?;
            Ok(Workload::from_recipe(
                r,
                Source::Builtin {
                    name: (*name).to_owned(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_with_seed_keys() {
        let ws = builtin().unwrap();
        let keys: Vec<_> = ws.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "inference_llama3.3",
                "inference_llama4",
                "inference_nim-llama3",
                "inference_deepseek-r1-dynamo",
                "inference_trtllm-serve",
                "inference_smollm2-llamacpp"
            ]
        );
    }

    #[test]
    fn later_source_wins_duplicates_within_a_source_fail() {
        let ws = builtin().unwrap();
        let mut c = Catalog::new();
        c.extend_source(ws.clone()).unwrap();
        let mut mine = ws[0].clone();
        mine.source = Source::RecipeFile {
            path: "recipes/llama3.3.yaml".into(),
        };
        c.extend_source(vec![mine.clone()]).unwrap();
        assert_eq!(c.get("inference_llama3.3").unwrap().source, mine.source);
        assert_eq!(c.shadowed().len(), 1);
        let e = c.extend_source(vec![mine.clone(), mine]).unwrap_err();
        assert!(e.to_string().contains("declared twice"), "{e}");
    }
}
