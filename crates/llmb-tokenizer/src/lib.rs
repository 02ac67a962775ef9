//! Tokenizers and exact-length prompts: a built-in BPE (`cl100k_base`, shipped inside the
//! `tiktoken-rs` crate, so nothing is downloaded) or any Hugging Face `tokenizer.json`.
#![warn(missing_docs)]

pub mod hub;
mod prompts;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use prompts::{LengthSpec, PromptSet, PromptText, SyntheticPrompts};

/// Why a tokenizer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// Nothing at the given path, nor in the Hugging Face cache for a model id.
    #[error("tokenizer `{}` not found; looked in {}: pass a tokenizer.json file or a model folder holding one, or fetch it into the cache (huggingface-cli download MODEL tokenizer.json)", .name.display(), .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound {
        /// As given.
        name: PathBuf,
        /// Every place looked in.
        looked: Vec<PathBuf>,
    },
    /// The file exists but is not a tokenizer.
    #[error("failed to load tokenizer {path}: {message}")]
    Load {
        /// The file.
        path: PathBuf,
        /// What the loader said.
        message: String,
    },
    /// The tokenizer has too few single-token words to build prompts from.
    #[error("tokenizer {0} has too few single-token English words to build synthetic prompts; use --dataset instead")]
    NoWords(String),
    /// A prompt of the requested length could not be built.
    #[error("could not build a prompt of exactly {0} tokens with tokenizer {1}")]
    Length(u64, String),
}

enum Backend {
    Tiktoken(tiktoken_rs::CoreBPE),
    HuggingFace(Box<tokenizers::Tokenizer>),
}

/// A loaded tokenizer and the pool of words that are exactly one token under it.
#[derive(Clone)]
pub struct Tokenizer {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    name: String,
    words: Vec<String>,
    /// The pool words made of ASCII letters only, for [`Tokenizer::count_fast`]; empty
    /// for a Hugging Face tokenizer.
    letter_words: std::collections::HashSet<Box<str>>,
}

const CANDIDATE_WORDS: &str = include_str!("words.txt");

impl Tokenizer {
    /// The built-in tokenizer (OpenAI `cl100k_base`). Built once per process (about 0.1 s of
    /// CPU) and shared: the client and an in-process engine use the same tables, and they
    /// are never freed (freeing 100,000 entries at exit cost a third as much again).
    pub fn builtin() -> Result<Tokenizer, TokenizerError> {
        static BUILTIN: std::sync::OnceLock<Tokenizer> = std::sync::OnceLock::new();
        if let Some(t) = BUILTIN.get() {
            return Ok(t.clone());
        }
        let bpe = tiktoken_rs::cl100k_base().map_err(|e| TokenizerError::Load {
            path: PathBuf::from("cl100k_base"),
            message: e.to_string(),
        })?;
        let t = Self::with_backend(Backend::Tiktoken(bpe), "cl100k_base (built in)".to_owned())?;
        Ok(BUILTIN.get_or_init(|| t).clone())
    }

    /// A Hugging Face `tokenizer.json`, a folder holding one, or a model id found in the
    /// local Hugging Face cache ([`hub`]).
    pub fn from_path(path: &Path) -> Result<Tokenizer, TokenizerError> {
        let file =
            hub::resolve(path, &hub::cache_dirs()).map_err(|looked| TokenizerError::NotFound {
                name: path.to_path_buf(),
                looked,
            })?;
        let tok = tokenizers::Tokenizer::from_file(&file).map_err(|e| TokenizerError::Load {
            path: file.clone(),
            message: e.to_string(),
        })?;
        Self::with_backend(
            Backend::HuggingFace(Box::new(tok)),
            file.display().to_string(),
        )
    }

    /// `from_path` when a path is given, else the built-in one.
    pub fn load(path: Option<&Path>) -> Result<Tokenizer, TokenizerError> {
        match path {
            Some(p) => Self::from_path(p),
            None => Self::builtin(),
        }
    }

    fn with_backend(backend: Backend, name: String) -> Result<Tokenizer, TokenizerError> {
        let mut inner = Inner {
            backend,
            name,
            words: Vec::new(),
            letter_words: std::collections::HashSet::new(),
        };
        let mut seen = std::collections::HashSet::new();
        let words: Vec<String> = CANDIDATE_WORDS
            .split_whitespace()
            .filter(|w| seen.insert(*w))
            .filter(|w| inner.count(w) == 1 && inner.count(&format!(" {w}")) == 1)
            .map(str::to_owned)
            .collect();
        if words.len() < 32 {
            return Err(TokenizerError::NoWords(inner.name));
        }
        if matches!(inner.backend, Backend::Tiktoken(_)) {
            inner.letter_words = words
                .iter()
                .filter(|w| w.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(|w| Box::from(w.as_str()))
                .collect();
        }
        inner.words = words;
        Ok(Tokenizer {
            inner: Arc::new(inner),
        })
    }

    /// Where it came from, for result files.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Tokens in `text` (no special tokens added).
    pub fn count(&self, text: &str) -> usize {
        self.inner.count(text)
    }

    /// [`Tokenizer::count`], without running the BPE when `text` is pool words of ASCII
    /// letters joined by single spaces (what llmb's synthetic prompts are) under the
    /// built-in tokenizer: its pre-tokenizer then cuts one piece per word (` ?\p{L}+`),
    /// and a piece that is a whole vocabulary entry is one token, so the count is the
    /// number of words. Any other text, and a Hugging Face tokenizer, is counted in full.
    /// For the embedded engine's `usage.prompt_tokens`; the client's own checks of its
    /// prompts use [`Tokenizer::count`], so they stay independent of this shortcut.
    pub fn count_fast(&self, text: &str) -> usize {
        let set = &self.inner.letter_words;
        if !set.is_empty() && !text.is_empty() {
            let mut n = 0;
            let all_pool_words = text.split(' ').all(|w| {
                n += 1;
                set.contains(w)
            });
            if all_pool_words {
                return n;
            }
        }
        self.count(text)
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.inner.encode(text)
    }

    /// Text of token ids (special tokens kept).
    pub fn decode(&self, ids: &[u32]) -> String {
        match &self.inner.backend {
            Backend::Tiktoken(b) => b.decode(ids).unwrap_or_default(),
            Backend::HuggingFace(t) => t.decode(ids, false).unwrap_or_default(),
        }
    }

    /// Words that are one token both alone and after a space.
    pub fn words(&self) -> &[String] {
        &self.inner.words
    }

    /// Ids in the vocabulary: every valid id is below this (special tokens included).
    pub fn vocab_size(&self) -> u32 {
        match &self.inner.backend {
            // Ordinary ranks are dense from 0, the specials sit above them.
            Backend::Tiktoken(_) => self.special_ids().last().map_or(0, |s| s + 1),
            Backend::HuggingFace(t) => t.get_vocab_size(true) as u32,
        }
    }

    /// Ids of the special tokens, ascending: tiktoken's specials (`<|endoftext|>`, the
    /// FIM markers, ...), or the added tokens a `tokenizer.json` marks `"special": true`
    /// (BOS, EOS, padding, chat markers).
    pub fn special_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = match &self.inner.backend {
            Backend::Tiktoken(b) => b
                .special_tokens()
                .into_iter()
                .flat_map(|s| b.encode_with_special_tokens(s))
                .collect(),
            Backend::HuggingFace(t) => t
                .get_added_tokens_decoder()
                .into_iter()
                .filter(|(_, tok)| tok.special)
                .map(|(id, _)| id)
                .collect(),
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Every id of the vocabulary that is not a special token, ascending: what random
    /// token-id prompts draw from, so a server never sees an EOS or a chat marker.
    pub fn ordinary_ids(&self) -> Vec<u32> {
        let special = self.special_ids();
        let mut ids: Vec<u32> = match &self.inner.backend {
            // The ordinary ranks are dense from 0; the specials sit above them (possibly
            // with gaps), so probe up to the largest special id.
            Backend::Tiktoken(b) => {
                let top = special.last().copied().unwrap_or(0);
                let mut ids = Vec::new();
                let mut rank = 0u32;
                while rank <= top || b.decode_bytes(&[rank]).is_ok() {
                    if b.decode_bytes(&[rank]).is_ok() {
                        ids.push(rank);
                    }
                    rank += 1;
                }
                ids
            }
            Backend::HuggingFace(t) => t.get_vocab(true).into_values().collect(),
        };
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|id| special.binary_search(id).is_err());
        ids
    }
}

impl Inner {
    fn count(&self, text: &str) -> usize {
        match &self.backend {
            Backend::Tiktoken(b) => b.encode_ordinary(text).len(),
            Backend::HuggingFace(t) => t.encode_fast(text, false).map(|e| e.len()).unwrap_or(0),
        }
    }

    fn encode(&self, text: &str) -> Vec<u32> {
        match &self.backend {
            Backend::Tiktoken(b) => b.encode_ordinary(text),
            Backend::HuggingFace(t) => t
                .encode_fast(text, false)
                .map(|e| e.get_ids().to_vec())
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("name", &self.inner.name)
            .field("words", &self.inner.words.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_fast_agrees_with_the_bpe() {
        let t = Tokenizer::builtin().unwrap();
        let w = t.words();
        let mut rng = llmb_rand::Rng::for_item(7, 0);
        for len in [1usize, 2, 17, 300] {
            let text: Vec<&str> = (0..len)
                .map(|_| w[rng.below(w.len() as u64) as usize].as_str())
                .collect();
            let text = text.join(" ");
            assert_eq!(t.count_fast(&text), t.count(&text), "{text}");
            assert_eq!(t.count_fast(&text), len);
        }
        // Anything else takes the full count: double or edge spaces, punctuation,
        // digits, words outside the pool, newlines.
        for text in [
            "the  quick",
            " the quick",
            "the quick ",
            "the, quick",
            "the 123 quick",
            "the zzqxv quick",
            "the\nquick",
            "",
            "don't stop",
        ] {
            assert_eq!(t.count_fast(text), t.count(text), "{text:?}");
        }
    }

    #[test]
    fn builtin_has_a_word_pool() {
        let t = Tokenizer::builtin().unwrap();
        assert!(t.words().len() > 300, "{}", t.words().len());
        assert_eq!(t.count(" the quick brown"), 3);
    }

    #[test]
    fn builtin_vocabulary_without_specials() {
        let t = Tokenizer::builtin().unwrap();
        let special = t.special_ids();
        // cl100k_base: <|endoftext|> 100257, three FIM markers, <|endofprompt|> 100276.
        assert_eq!(special, [100257, 100258, 100259, 100260, 100276]);
        let ids = t.ordinary_ids();
        assert_eq!(ids.len(), 100_256);
        assert_eq!((ids[0], ids[ids.len() - 1]), (0, 100_255));
    }

    #[test]
    fn missing_file_says_what_to_pass() {
        let e = Tokenizer::from_path(Path::new("/nonexistent/tok")).unwrap_err();
        assert!(e.to_string().contains("pass a tokenizer.json"));
    }
}
