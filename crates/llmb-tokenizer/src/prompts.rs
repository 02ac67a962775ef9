//! Synthetic prompts of exact token lengths, seeded and built in parallel.
//!
//! A prompt is a sequence of words that are each exactly one token (alone and after a
//! space) under the tokenizer; pre-tokenizers split at spaces, so `n` such words are `n`
//! tokens. Small sets are counted whole with the real tokenizer; large ones on a sample
//! (one in 16, between 64 and about 512 prompts), and if any sampled prompt needed trimming or extending, every
//! prompt is counted and adjusted until exact. Counting 50,000 prompts of 8,000 tokens
//! would take minutes; the sample keeps that to seconds without trusting construction
//! blindly.

use llmb_rand::{norm_length, Rng};

use crate::{Tokenizer, TokenizerError};

/// How prompt (or output) lengths are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LengthSpec {
    /// Mean length in tokens.
    pub mean: u64,
    /// Standard deviation (0 = every length is `mean`).
    pub stddev: f64,
}

/// One generated prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptText {
    /// The text.
    pub text: String,
    /// Its exact token count under the tokenizer.
    pub tokens: u64,
}

/// A set of prompts generated from one seed.
#[derive(Debug, Clone, Default)]
pub struct PromptSet {
    /// The prompts, in order.
    pub prompts: Vec<PromptText>,
}

impl LengthSpec {
    /// A fixed length.
    pub fn fixed(mean: u64) -> LengthSpec {
        LengthSpec { mean, stddev: 0.0 }
    }

    /// The length of item `index` under `seed` (trtllm-bench's token-norm-dist rule).
    pub fn draw(&self, seed: u64, index: u64) -> u64 {
        norm_length(&mut Rng::for_item(seed, index), self.mean, self.stddev)
    }
}

impl PromptSet {
    /// Builds `count` prompts with lengths drawn from `lengths`, using all cores.
    ///
    /// A prompt is `n` words that are one token each under `tok`, joined by spaces; with a
    /// pre-tokenizer that splits at spaces (every BPE and SentencePiece model in use) that
    /// is `n` tokens by construction. Every [`VERIFY_EVERY`]th prompt is counted with the
    /// real tokenizer first (every prompt of a set of at most [`VERIFY_ALL_UP_TO`]); if any
    /// of those needed adjusting, the construction does not hold for this tokenizer and
    /// every prompt is counted and adjusted. (The server's own `usage.prompt_tokens` is
    /// compared with these lengths after the run as well.)
    pub fn synthetic(
        tok: &Tokenizer,
        count: usize,
        lengths: LengthSpec,
        seed: u64,
    ) -> Result<PromptSet, TokenizerError> {
        let plan = SyntheticPrompts::new(tok, count, lengths, seed)?;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(count.max(1));
        let per = count.div_ceil(threads.max(1));
        let plan = &plan;
        let results: Vec<Result<Vec<PromptText>, TokenizerError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = (t * per)..((t + 1) * per).min(count);
                    s.spawn(move || range.map(|i| plan.prompt(i)).collect())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("prompt thread panicked"))
                .collect()
        });
        let mut prompts = Vec::with_capacity(count);
        for part in results {
            prompts.extend(part?);
        }
        Ok(PromptSet { prompts })
    }
}

/// The prompts of [`PromptSet::synthetic`], one at a time: each prompt depends only on
/// its index, so a caller can build any range on any thread (`llmb dataset` streams
/// them to a file in chunks) and get the same text as the whole set.
#[derive(Debug, Clone)]
pub struct SyntheticPrompts {
    tok: Tokenizer,
    lengths: LengthSpec,
    seed: u64,
    verify_all: bool,
}

impl SyntheticPrompts {
    /// Checks the construction on the sampled prompts (in parallel) and decides whether
    /// every prompt must be counted.
    pub fn new(
        tok: &Tokenizer,
        count: usize,
        lengths: LengthSpec,
        seed: u64,
    ) -> Result<SyntheticPrompts, TokenizerError> {
        let mut plan = SyntheticPrompts {
            tok: tok.clone(),
            lengths,
            seed,
            verify_all: count <= VERIFY_ALL_UP_TO,
        };
        if plan.verify_all {
            return Ok(plan);
        }
        // One in 16, but no more than about VERIFY_SAMPLE_MAX prompts in all.
        let stride = VERIFY_EVERY.max(count / VERIFY_SAMPLE_MAX);
        let sampled: Vec<usize> = (0..count).step_by(stride).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(sampled.len().max(1));
        let per = sampled.len().div_ceil(threads);
        let adjusted = std::sync::atomic::AtomicBool::new(false);
        let this = &plan;
        let results: Vec<Result<(), TokenizerError>> = std::thread::scope(|s| {
            let handles: Vec<_> = sampled
                .chunks(per.max(1))
                .map(|part| {
                    let adjusted = &adjusted;
                    s.spawn(move || {
                        for &i in part {
                            if adjusted.load(std::sync::atomic::Ordering::Relaxed) {
                                break;
                            }
                            if this.build(i, true)?.1 {
                                adjusted.store(true, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("prompt thread panicked"))
                .collect()
        });
        for r in results {
            r?;
        }
        plan.verify_all = adjusted.into_inner();
        Ok(plan)
    }

    /// True when every prompt is counted with the tokenizer (small sets, or a tokenizer
    /// for which the one-word-one-token construction failed on a sample).
    pub fn verifies_all(&self) -> bool {
        self.verify_all
    }

    /// Prompt `index`.
    pub fn prompt(&self, index: usize) -> Result<PromptText, TokenizerError> {
        Ok(self.build(index, self.verify_all)?.0)
    }

    fn build(&self, index: usize, check: bool) -> Result<(PromptText, bool), TokenizerError> {
        let n = self.lengths.draw(self.seed, index as u64 * 2);
        one_prompt(&self.tok, n, self.seed, index as u64, check)
    }
}

/// Every this many synthetic prompts, one is counted with the real tokenizer...
pub const VERIFY_EVERY: usize = 16;
/// ...at most about this many in all (50,000 prompts of 8,000 tokens would otherwise
/// count 25 M tokens)...
pub const VERIFY_SAMPLE_MAX: usize = 512;
/// ...and sets this small are counted whole (at least 64 samples above it).
pub const VERIFY_ALL_UP_TO: usize = 1024;

/// One prompt of exactly `n` tokens (counted with the tokenizer when `check`); the flag
/// says whether counting showed the construction was off and words were adjusted.
fn one_prompt(
    tok: &Tokenizer,
    n: u64,
    seed: u64,
    index: u64,
    check: bool,
) -> Result<(PromptText, bool), TokenizerError> {
    let words = tok.words();
    let mut rng = Rng::for_item(seed, index * 2 + 1);
    let pick = |rng: &mut Rng| words[rng.below(words.len() as u64) as usize].as_str();
    let mut text = String::with_capacity(n as usize * 7);
    for i in 0..n {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(pick(&mut rng));
    }
    if !check {
        return Ok((PromptText { text, tokens: n }, false));
    }
    // Verify with the real tokenizer; adjust word by word if a tokenizer merged or split.
    for attempt in 0..64 {
        let got = tok.count(&text) as u64;
        if got == n {
            return Ok((PromptText { text, tokens: n }, attempt > 0));
        }
        if got > n {
            match text.rfind(' ') {
                Some(p) => text.truncate(p),
                None => break,
            }
        } else {
            text.push(' ');
            text.push_str(pick(&mut rng));
        }
    }
    Err(TokenizerError::Length(n, tok.name().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lengths_and_seeded() {
        let tok = Tokenizer::builtin().unwrap();
        let set = PromptSet::synthetic(&tok, 20, LengthSpec::fixed(128), 7).unwrap();
        assert_eq!(set.prompts.len(), 20);
        for p in &set.prompts {
            assert_eq!(tok.count(&p.text), 128);
            assert_eq!(p.tokens, 128);
        }
        let again = PromptSet::synthetic(&tok, 20, LengthSpec::fixed(128), 7).unwrap();
        assert_eq!(set.prompts, again.prompts);
        let other = PromptSet::synthetic(&tok, 20, LengthSpec::fixed(128), 8).unwrap();
        assert_ne!(set.prompts[0], other.prompts[0]);
        assert_ne!(set.prompts[0], set.prompts[1]);
    }

    #[test]
    fn varied_lengths_are_exact_too() {
        let tok = Tokenizer::builtin().unwrap();
        let spec = LengthSpec {
            mean: 40,
            stddev: 20.0,
        };
        let set = PromptSet::synthetic(&tok, 50, spec, 1).unwrap();
        let mut distinct = std::collections::BTreeSet::new();
        for (i, p) in set.prompts.iter().enumerate() {
            assert_eq!(tok.count(&p.text) as u64, spec.draw(1, i as u64 * 2));
            distinct.insert(p.tokens);
        }
        assert!(distinct.len() > 10);
        assert_eq!(
            PromptSet::synthetic(&tok, 1, LengthSpec::fixed(1), 0)
                .unwrap()
                .prompts[0]
                .tokens,
            1
        );
    }

    #[test]
    fn prompts_off_the_verified_sample_are_exact_too() {
        // Above VERIFY_ALL_UP_TO, so only a sample is counted while building; the others
        // are exact by construction, which the real tokenizer confirms here.
        let tok = Tokenizer::builtin().unwrap();
        let spec = LengthSpec {
            mean: 6,
            stddev: 2.0,
        };
        let n = VERIFY_ALL_UP_TO + 100;
        let plan = SyntheticPrompts::new(&tok, n, spec, 11).unwrap();
        assert!(!plan.verifies_all());
        let set = PromptSet::synthetic(&tok, n, spec, 11).unwrap();
        for i in [1, 17, n / 2 + 1, n - 1] {
            assert_ne!(i % VERIFY_EVERY, 0);
            let p = &set.prompts[i];
            assert_eq!(tok.count(&p.text) as u64, p.tokens, "prompt {i}");
            assert_eq!(p.tokens, spec.draw(11, i as u64 * 2).max(1), "prompt {i}");
        }
    }
}
