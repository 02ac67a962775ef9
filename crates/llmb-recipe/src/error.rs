//! User-input errors shared by every loader in this crate: where in which file, which field,
//! and what to change.

use std::fmt;
use std::path::PathBuf;

/// A place in a user's file: `file:line:column` (line and column are 1-based when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLocation {
    /// The file as the user named it (or `builtin:<name>` for recipes compiled in).
    pub file: String,
    /// 1-based line, when the parser knew it.
    pub line: Option<usize>,
    /// 1-based column, when the parser knew it.
    pub column: Option<usize>,
}

impl FileLocation {
    /// A location that names only the file.
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for FileLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}

/// Why a recipe, metadata.yaml, cluster config or bulk file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read at all.
    #[error("failed to read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The YAML did not parse or did not match the schema (unknown field, wrong type, ...).
    /// `message` starts with the field path when the parser knew it, e.g.
    /// `use_cases[1]: unknown field `max_batchsize`, expected one of ...`.
    #[error("{location}: {message}")]
    Syntax {
        /// Where.
        location: FileLocation,
        /// The parser's message without its own trailing location.
        message: String,
    },
    /// The YAML parsed but a value is not acceptable.
    #[error("{file}: invalid `{field}`: {problem}; {fix}")]
    Invalid {
        /// The file.
        file: String,
        /// Dotted path of the field, e.g. `gpus.gb200.model_sizes.70b`.
        field: String,
        /// What is wrong.
        problem: String,
        /// What to change.
        fix: String,
    },
    /// Two recipes of the same source declare the same workload key.
    #[error("workload `{key}` is declared twice, in {first} and in {second}; change `workload` (or `general.workload`) in one of them")]
    Duplicate {
        /// The workload key.
        key: String,
        /// First file.
        first: String,
        /// Second file.
        second: String,
    },
}

impl LoadError {
    /// Wraps a `serde_yaml_ng` error with the file name, keeping the parser's line and column.
    pub fn from_yaml(file: &str, err: &serde_yaml_ng::Error) -> Self {
        let (line, column) = match err.location() {
            Some(loc) => (Some(loc.line()), Some(loc.column())),
            None => (None, None),
        };
        let mut message = err.to_string();
        // serde_yaml_ng appends " at line L column C"; we print the location up front instead.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        if message.contains("unknown field") {
            message.push_str("; check the spelling against docs/RECIPES.md");
        }
        LoadError::Syntax {
            location: FileLocation {
                file: file.to_owned(),
                line,
                column,
            },
            message,
        }
    }

    /// Shorthand for [`LoadError::Invalid`].
    pub fn invalid(
        file: &str,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        LoadError::Invalid {
            file: file.to_owned(),
            field: field.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Parses YAML text into `T`, mapping errors to [`LoadError::Syntax`] naming `file`.
pub fn from_yaml<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T, LoadError> {
    serde_yaml_ng::from_str(text).map_err(|e| LoadError::from_yaml(file, &e))
}

/// Reads a file to a string, mapping errors to [`LoadError::Read`].
pub fn read_file(path: &std::path::Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}
