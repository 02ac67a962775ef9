//! How many generated tokens each chunk carried.
//!
//! Servers do not label chunks with token counts, so the count is resolved once a request
//! has ended (never while it streams):
//! 1. If the server's `usage.completion_tokens` equals the number of text chunks, each
//!    chunk carried one token (vLLM, SGLang, llama.cpp and the simulator at interval 1).
//! 2. Otherwise each chunk's text is counted with the client's tokenizer (`estimate`), and,
//!    when `usage` is known, the counts are rescaled so they add up to the server's total
//!    (largest remainder), since the server's count is the truth about the total.
//! 3. With no usage and no estimate, one token per chunk.

/// Tokens a stream may claim beyond one per byte of text and one per chunk (special
/// tokens such as an end-of-sequence token that decode to no text).
pub const USAGE_SLACK: u64 = 16;

/// Whether a server's `completion_tokens` fits what it streamed: every token but a few
/// special ones decodes to at least one byte (byte-level vocabularies split a character
/// into at most one token per byte), so more tokens than bytes of text plus chunks plus
/// [`USAGE_SLACK`] is a miscount that must not size anything.
pub fn plausible_usage(completion_tokens: u64, text_bytes: u64, chunks: u64) -> bool {
    completion_tokens
        <= text_bytes
            .saturating_add(chunks)
            .saturating_add(USAGE_SLACK)
}

/// Resolves per-chunk token counts; `estimate` holds the tokenizer's count per chunk
/// (or is empty when the caller did not tokenize). Returns one count per chunk.
pub fn assign_chunk_tokens(chunk_count: usize, usage: Option<u64>, estimate: &[u32]) -> Vec<u32> {
    if chunk_count == 0 {
        return Vec::new();
    }
    if usage == Some(chunk_count as u64) {
        return vec![1; chunk_count];
    }
    let base: Vec<u32> = if estimate.len() == chunk_count {
        estimate.to_vec()
    } else {
        vec![1; chunk_count]
    };
    match usage {
        Some(total) => rescale(&base, total),
        None => base,
    }
}

/// Whether rule 1 settles it without tokenizing.
pub fn one_token_per_chunk(chunk_count: usize, usage: Option<u64>) -> bool {
    usage == Some(chunk_count as u64)
}

/// Scales `weights` to integers summing to `total`, by largest remainder.
fn rescale(weights: &[u32], total: u64) -> Vec<u32> {
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let weights: Vec<u64> = if sum == 0 {
        vec![1; weights.len()]
    } else {
        weights.iter().map(|&w| u64::from(w)).collect()
    };
    let sum: u64 = weights.iter().sum();
    if sum == total {
        return weights.iter().map(|&w| w as u32).collect();
    }
    let mut out: Vec<u64> = weights.iter().map(|&w| w * total / sum).collect();
    let mut rem: Vec<(u64, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| ((w * total) % sum, i))
        .collect();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let short = total - out.iter().sum::<u64>();
    for &(_, i) in rem.iter().take(short as usize) {
        out[i] += 1;
    }
    out.into_iter()
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_beyond_the_text_is_implausible() {
        // 10 bytes in 3 chunks: up to 10 + 3 + 16 = 29 tokens.
        assert!(plausible_usage(29, 10, 3));
        assert!(!plausible_usage(30, 10, 3));
        assert!(!plausible_usage(1_000_000_000_000, 640, 128));
        assert!(plausible_usage(u64::MAX, u64::MAX, 1));
    }

    #[test]
    fn one_per_chunk_when_usage_matches() {
        assert_eq!(assign_chunk_tokens(3, Some(3), &[]), vec![1, 1, 1]);
        assert!(one_token_per_chunk(3, Some(3)));
        assert!(!one_token_per_chunk(3, Some(12)));
    }

    #[test]
    fn tokenizer_counts_kept_when_they_agree_with_usage() {
        assert_eq!(assign_chunk_tokens(3, Some(10), &[4, 4, 2]), vec![4, 4, 2]);
    }

    #[test]
    fn tokenizer_counts_rescaled_to_usage() {
        // weights 3,3,2 (sum 8) scaled to 12: 4.5, 4.5, 3 -> remainders tie, earlier chunk first
        assert_eq!(assign_chunk_tokens(3, Some(12), &[3, 3, 2]), vec![5, 4, 3]);
    }

    #[test]
    fn no_usage_uses_estimate_or_ones() {
        assert_eq!(assign_chunk_tokens(2, None, &[2, 5]), vec![2, 5]);
        assert_eq!(assign_chunk_tokens(2, None, &[]), vec![1, 1]);
        assert_eq!(assign_chunk_tokens(0, Some(5), &[]), Vec::<u32>::new());
    }

    #[test]
    fn usage_without_estimate_is_spread_evenly() {
        assert_eq!(assign_chunk_tokens(3, Some(8), &[]), vec![3, 3, 2]);
    }
}
