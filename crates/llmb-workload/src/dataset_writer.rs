//! Dataset files for `llmb dataset`: trtllm-bench's JSONL (`prepare_dataset.py
//! token-norm-dist`: random token ids of drawn lengths) or exact-length prompt text, built
//! in parallel in chunks of requests and written in order through one writer, so memory
//! stays bounded and the same seed gives the same bytes whatever the thread count.
//!
//! Lengths are drawn as `llmb bench` draws its synthetic prompts (same seed, same lengths);
//! token ids are sampled without replacement within a request (with replacement when a
//! request is longer than the vocabulary), as `random.sample` does in the reference,
//! from the tokenizer's ordinary ids: never EOS or another special token. The reference
//! swaps EOS for `eos + 1`; leaving every special out keeps the draw uniform instead.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Condvar, Mutex};

use llmb_rand::Rng;
use llmb_tokenizer::{LengthSpec, SyntheticPrompts, Tokenizer, TokenizerError};

use crate::dataset::OUTPUT_LENGTH_STREAM;
use crate::progress::Progress;

/// What each line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetFormat {
    /// `{"task_id":i,"input_ids":[...],"output_tokens":n}`: trtllm-bench's format.
    Trtllm,
    /// `{"task_id":i,"prompt":"...","output_tokens":n}`: text of exactly the drawn length
    /// under the tokenizer, for servers that take text.
    Prompts,
}

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatasetSpec {
    /// Line format.
    pub format: DatasetFormat,
    /// Lines.
    pub num_requests: u64,
    /// Input lengths.
    pub isl: LengthSpec,
    /// Output lengths (`output_tokens`).
    pub osl: LengthSpec,
    /// Seed: same seed, same bytes.
    pub seed: u64,
}

/// Min, max, mean and standard deviation of a set of lengths.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LengthStats {
    /// Values seen.
    pub count: u64,
    /// Smallest (0 when empty).
    pub min: u64,
    /// Largest.
    pub max: u64,
    /// Sum.
    pub sum: u64,
    sum_sq: f64,
}

impl LengthStats {
    fn add(&mut self, v: u64) {
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.count += 1;
        self.sum += v;
        self.sum_sq += (v as f64) * (v as f64);
    }

    fn merge(&mut self, o: &LengthStats) {
        if o.count == 0 {
            return;
        }
        self.min = if self.count == 0 {
            o.min
        } else {
            self.min.min(o.min)
        };
        self.max = self.max.max(o.max);
        self.count += o.count;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }

    /// Arithmetic mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// Population standard deviation.
    pub fn std(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let m = self.mean();
        (self.sum_sq / self.count as f64 - m * m).max(0.0).sqrt()
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WrittenDataset {
    /// Lines.
    pub requests: u64,
    /// Bytes.
    pub bytes: u64,
    /// Input lengths (tokens).
    pub input: LengthStats,
    /// Output lengths (tokens).
    pub output: LengthStats,
    /// Token ids drawn from (the vocabulary less its special tokens); 0 for prompts.
    pub vocabulary: usize,
    /// Special token ids left out of the draw.
    pub special_ids: usize,
    /// Prompts only: every prompt was counted with the tokenizer (else a sample was).
    pub verified_all: bool,
}

/// Why a dataset could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DatasetWriteError {
    /// The output failed.
    #[error("failed to write the dataset: {0}")]
    Io(#[from] std::io::Error),
    /// Prompt text could not be built.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// Nothing to draw token ids from.
    #[error("tokenizer {0} has no ordinary (non-special) token ids to draw from; pass another --tokenizer")]
    EmptyVocabulary(String),
    /// A generator thread stopped without a result.
    #[error("a dataset generator thread failed")]
    Worker,
}

/// A dataset file written whole or not at all: it is written as `NAME.part` and moved to
/// `NAME` by [`PartFile::commit`]; dropped before that, the part is removed, so an
/// interrupted write never leaves a file that a later run would take as complete.
#[derive(Debug)]
pub struct PartFile {
    path: PathBuf,
    part: PathBuf,
    done: bool,
}

impl PartFile {
    /// Creates `path` + `.part`, returning the guard and the file to write.
    ///
    /// # Errors
    /// The part cannot be created.
    pub fn create(path: &Path) -> std::io::Result<(PartFile, std::fs::File)> {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        let file = std::fs::File::create(&part)?;
        let guard = PartFile {
            path: path.to_owned(),
            part,
            done: false,
        };
        Ok((guard, file))
    }

    /// Where the file is while it is written (for a signal handler to remove).
    pub fn part(&self) -> &Path {
        &self.part
    }

    /// Moves the finished part to its name.
    ///
    /// # Errors
    /// The rename fails; the message names both paths.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.part, &self.path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot move {} to {}: {e}",
                    self.part.display(),
                    self.path.display()
                ),
            )
        })?;
        self.done = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Sub-seed of the token ids, independent of the lengths.
const TOKEN_ID_STREAM: u64 = 0x4944_5300;
/// About this many tokens per chunk of requests (a few MB of output).
const CHUNK_TOKENS: u64 = 1 << 20;
/// Chunks allowed ahead of the writer besides one per generator thread: memory stays at
/// about (threads + this) chunks, and every thread has a chunk to work on.
const CHUNKS_AHEAD: u64 = 4;

/// Input and output length of request `index` (the lengths `llmb bench` gives its
/// synthetic prompts under the same seed).
pub fn request_lengths(spec: &DatasetSpec, index: u64) -> (u64, u64) {
    (
        spec.isl.draw(spec.seed, index * 2),
        spec.osl.draw(spec.seed ^ OUTPUT_LENGTH_STREAM, index),
    )
}

/// Writes `spec.num_requests` lines to `out` using all cores; `progress.completed` and
/// `progress.chunks` (input tokens) count what has been written.
pub fn write(
    tok: &Tokenizer,
    spec: &DatasetSpec,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<WrittenDataset, DatasetWriteError> {
    let mut written = WrittenDataset::default();
    let generator = match spec.format {
        DatasetFormat::Trtllm => {
            let specials = tok.special_ids();
            let ids = IdSampler::new(tok.ordinary_ids(), tok.name())?;
            written.vocabulary = ids.allowed.len();
            written.special_ids = specials.len();
            Generator::Ids(ids)
        }
        DatasetFormat::Prompts => {
            let count = usize::try_from(spec.num_requests).unwrap_or(usize::MAX);
            let plan = SyntheticPrompts::new(tok, count, spec.isl, spec.seed)?;
            written.verified_all = plan.verifies_all();
            Generator::Prompts(plan)
        }
    };
    let per_chunk = (CHUNK_TOKENS / spec.isl.mean.max(1)).clamp(1, 1 << 16);
    let chunks = spec.num_requests.div_ceil(per_chunk);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.max(1) as usize);
    progress.planned.store(spec.num_requests, Relaxed);

    let shared = Shared {
        next: AtomicU64::new(0),
        written: Mutex::new(0),
        advanced: Condvar::new(),
        stop: AtomicBool::new(false),
        free: Mutex::new(Vec::new()),
        window: threads as u64 + CHUNKS_AHEAD,
    };
    // The window bounds what is in flight; the channel needs no bound of its own.
    let (tx, rx) = mpsc::channel::<(u64, Result<Chunk, DatasetWriteError>)>();
    let result = std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (shared, generator) = (&shared, &generator);
            s.spawn(move || {
                let _guard = StopOnPanic(shared);
                let mut scratch = Scratch::default();
                loop {
                    let k = shared.next.fetch_add(1, Relaxed);
                    if k >= chunks || !shared.wait_for_window(k) {
                        break;
                    }
                    let first = k * per_chunk;
                    let range = first..(first + per_chunk).min(spec.num_requests);
                    let buf = shared.take_buffer();
                    let chunk = generator.chunk(spec, range, buf, &mut scratch);
                    if tx.send((k, chunk)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let r = drain(&rx, chunks, &shared, out, progress, &mut written);
        // Whatever happened, release every worker before the scope joins them.
        shared.stop.store(true, Relaxed);
        shared.advanced.notify_all();
        drop(rx);
        r
    });
    result?;
    out.flush()?;
    Ok(written)
}

/// Receives chunks, writes them in order and hands their buffers back.
fn drain(
    rx: &mpsc::Receiver<(u64, Result<Chunk, DatasetWriteError>)>,
    chunks: u64,
    shared: &Shared,
    out: &mut dyn Write,
    progress: &Progress,
    written: &mut WrittenDataset,
) -> Result<(), DatasetWriteError> {
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    while next < chunks {
        let (k, chunk) = rx.recv().map_err(|_| DatasetWriteError::Worker)?;
        pending.insert(k, chunk?);
        while let Some(c) = pending.remove(&next) {
            out.write_all(&c.buf)?;
            written.requests += c.requests;
            written.bytes += c.buf.len() as u64;
            written.input.merge(&c.input);
            written.output.merge(&c.output);
            progress.completed.fetch_add(c.requests, Relaxed);
            progress.chunks.fetch_add(c.input.sum, Relaxed);
            shared.give_buffer(c.buf);
            next += 1;
            *lock(&shared.written) = next;
            shared.advanced.notify_all();
        }
    }
    Ok(())
}

/// Coordination between the generator threads and the writer.
struct Shared {
    /// Next chunk to generate.
    next: AtomicU64,
    /// Chunks written so far.
    written: Mutex<u64>,
    advanced: Condvar,
    stop: AtomicBool,
    /// Buffers of written chunks, reused.
    free: Mutex<Vec<Vec<u8>>>,
    /// How far ahead of the writer a chunk may be generated.
    window: u64,
}

impl Shared {
    /// Blocks until chunk `k` is within the window ahead of the writer; false on stop.
    fn wait_for_window(&self, k: u64) -> bool {
        let mut w = lock(&self.written);
        while k >= *w + self.window && !self.stop.load(Relaxed) {
            w = self
                .advanced
                .wait(w)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        !self.stop.load(Relaxed)
    }

    fn take_buffer(&self) -> Vec<u8> {
        let mut b = lock(&self.free).pop().unwrap_or_default();
        b.clear();
        b
    }

    fn give_buffer(&self, b: Vec<u8>) {
        lock(&self.free).push(b);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Stops the run if a generator thread panics, so nobody waits for its chunk forever.
struct StopOnPanic<'a>(&'a Shared);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop.store(true, Relaxed);
            self.0.advanced.notify_all();
        }
    }
}

/// One chunk of consecutive lines.
struct Chunk {
    buf: Vec<u8>,
    requests: u64,
    input: LengthStats,
    output: LengthStats,
}

enum Generator {
    Ids(IdSampler),
    Prompts(SyntheticPrompts),
}

/// Per-thread working memory of the id sampler.
#[derive(Default)]
struct Scratch {
    /// Bit set over `0..=top`: ids not to draw (specials, gaps, ids already in the request).
    blocked: Vec<u64>,
    /// Ids of the current request, to unblock them afterwards.
    picked: Vec<u32>,
    /// The ordinary ids, permuted in place (long requests only) and restored.
    pool: Vec<u32>,
}

impl Generator {
    fn chunk(
        &self,
        spec: &DatasetSpec,
        range: std::ops::Range<u64>,
        mut buf: Vec<u8>,
        scratch: &mut Scratch,
    ) -> Result<Chunk, DatasetWriteError> {
        let mut input = LengthStats::default();
        let mut output = LengthStats::default();
        let requests = range.end - range.start;
        for i in range {
            let (n_in, n_out) = request_lengths(spec, i);
            buf.extend_from_slice(b"{\"task_id\":");
            push_u64(&mut buf, i);
            match self {
                Generator::Ids(ids) => {
                    buf.extend_from_slice(b",\"input_ids\":[");
                    ids.sample(spec.seed, i, n_in, scratch, &mut buf);
                    buf.push(b']');
                }
                Generator::Prompts(plan) => {
                    let index = usize::try_from(i).unwrap_or(usize::MAX);
                    let p = plan.prompt(index)?;
                    buf.extend_from_slice(b",\"prompt\":");
                    serde_json::to_writer(&mut buf, &p.text).map_err(std::io::Error::from)?;
                }
            }
            buf.extend_from_slice(b",\"output_tokens\":");
            push_u64(&mut buf, n_out);
            buf.extend_from_slice(b"}\n");
            input.add(n_in);
            output.add(n_out);
        }
        Ok(Chunk {
            buf,
            requests,
            input,
            output,
        })
    }
}

/// Draws token ids uniformly from the ordinary ids.
struct IdSampler {
    /// The ordinary ids, ascending.
    allowed: Vec<u32>,
    /// Bit set over `0..=top` of the ids that are not ordinary.
    excluded: Vec<u64>,
}

impl IdSampler {
    fn new(allowed: Vec<u32>, tokenizer: &str) -> Result<IdSampler, DatasetWriteError> {
        let Some(&top) = allowed.last() else {
            return Err(DatasetWriteError::EmptyVocabulary(tokenizer.to_owned()));
        };
        let words = top as usize / 64 + 1;
        let mut excluded = vec![u64::MAX; words];
        for &id in &allowed {
            excluded[id as usize / 64] &= !(1 << (id % 64));
        }
        Ok(IdSampler { allowed, excluded })
    }

    /// Appends `n` comma-separated ids of request `index`, distinct within the request
    /// (drawn with replacement only when `n` exceeds the vocabulary). Each request depends
    /// on its own index only.
    ///
    /// Short requests (at most half the vocabulary) draw from `0..=top` and redraw ids
    /// that are blocked in a small bit set (L1-resident, unlike a shuffled copy of the
    /// vocabulary); longer ones run a partial Fisher-Yates shuffle that is undone after.
    /// Both give every ordered sample of distinct ordinary ids the same probability.
    fn sample(&self, seed: u64, index: u64, n: u64, scratch: &mut Scratch, buf: &mut Vec<u8>) {
        let mut rng = Rng::for_item(seed ^ TOKEN_ID_STREAM, index);
        let size = self.allowed.len() as u64;
        let top = self.excluded.len() as u64 * 64 - 1;
        // Written by index into room made up front: no per-id capacity checks or copies.
        let start = buf.len();
        let width = decimal_len(u32::try_from(top).unwrap_or(u32::MAX)) + 1;
        buf.resize(start + n as usize * width, 0);
        let out = buf.as_mut_slice();
        let mut pos = start;
        if n > size {
            // Longer than the vocabulary: with replacement (`random.choices`).
            for _ in 0..n {
                pos = put_id(out, pos, self.allowed[rng.below(size) as usize]);
            }
        } else if n * 2 > size {
            if scratch.pool.len() != self.allowed.len() {
                scratch.pool.clone_from(&self.allowed);
            }
            let pool = &mut scratch.pool;
            scratch.picked.clear();
            for t in 0..n {
                let j = t + rng.below(size - t);
                pool.swap(t as usize, j as usize);
                scratch.picked.push(j as u32);
                pos = put_id(out, pos, pool[t as usize]);
            }
            for (t, &j) in scratch.picked.iter().enumerate().rev() {
                pool.swap(t, j as usize);
            }
        } else {
            if scratch.blocked.len() != self.excluded.len() {
                scratch.blocked.clone_from(&self.excluded);
            }
            let blocked = &mut scratch.blocked;
            scratch.picked.clear();
            while (scratch.picked.len() as u64) < n {
                let id = rng.below(top + 1);
                let (word, bit) = ((id / 64) as usize, 1u64 << (id % 64));
                if blocked[word] & bit != 0 {
                    continue;
                }
                blocked[word] |= bit;
                scratch.picked.push(id as u32);
                pos = put_id(out, pos, id as u32);
            }
            for &id in &scratch.picked {
                blocked[id as usize / 64] &= !(1u64 << (id % 64));
            }
        }
        // Drop the last comma (and the unused room).
        buf.truncate(if n > 0 { pos - 1 } else { pos });
    }
}

/// Decimal digits of `v`.
fn decimal_len(v: u32) -> usize {
    match v {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1_000..=9_999 => 4,
        10_000..=99_999 => 5,
        100_000..=999_999 => 6,
        1_000_000..=9_999_999 => 7,
        10_000_000..=99_999_999 => 8,
        100_000_000..=999_999_999 => 9,
        _ => 10,
    }
}

/// Writes `id,` at `out[pos..]`; returns the end.
#[inline(always)]
fn put_id(out: &mut [u8], pos: usize, id: u32) -> usize {
    let end = put_u32(out, pos, id);
    out[end] = b',';
    end + 1
}

/// Writes the digits of `v` at `out[pos..]`, two at a time; returns the end.
#[inline(always)]
fn put_u32(out: &mut [u8], pos: usize, mut v: u32) -> usize {
    let end = pos + decimal_len(v);
    let mut p = end;
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        p -= 2;
        out[p] = DIGIT_PAIRS[r];
        out[p + 1] = DIGIT_PAIRS[r + 1];
    }
    if v >= 10 {
        let r = v as usize * 2;
        out[p - 2] = DIGIT_PAIRS[r];
        out[p - 1] = DIGIT_PAIRS[r + 1];
    } else {
        out[p - 1] = b'0' + v as u8;
    }
    end
}

/// `"00" "01" ... "99"`.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Appends the decimal digits of `v`, two at a time.
fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    buf.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_file_is_whole_or_gone() {
        let dir = std::env::temp_dir().join(format!("llmb-part-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.jsonl");
        let (part, mut f) = PartFile::create(&path).unwrap();
        assert_eq!(part.part(), dir.join("d.jsonl.part"));
        f.write_all(b"cut li").unwrap();
        drop(part);
        assert!(!dir.join("d.jsonl.part").exists() && !path.exists());
        let (part, mut f) = PartFile::create(&path).unwrap();
        f.write_all(b"{}\n").unwrap();
        part.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
        assert!(!dir.join("d.jsonl.part").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
    use serde_json::Value;

    fn spec(format: DatasetFormat, n: u64, isl: LengthSpec, seed: u64) -> DatasetSpec {
        DatasetSpec {
            format,
            num_requests: n,
            isl,
            osl: LengthSpec {
                mean: 20,
                stddev: 5.0,
            },
            seed,
        }
    }

    fn bytes(tok: &Tokenizer, s: &DatasetSpec) -> (Vec<u8>, WrittenDataset) {
        let mut out = Vec::new();
        let w = write(tok, s, &mut out, &Progress::default()).unwrap();
        (out, w)
    }

    fn lines(out: &[u8]) -> Vec<Value> {
        std::str::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A word-level tokenizer.json whose special tokens sit inside the id range: EOS is 2.
    fn tiny_tokenizer(dir: &std::path::Path) -> Tokenizer {
        let words = [
            "the", "of", "and", "to", "in", "is", "was", "for", "that", "on", "as", "with", "by",
            "he", "at", "from", "his", "it", "an", "were", "are", "which", "this", "be", "or",
            "has", "had", "not", "but", "first", "one", "their", "its", "new",
        ];
        let mut vocab = serde_json::Map::new();
        vocab.insert("[UNK]".into(), 0.into());
        vocab.insert("<s>".into(), 1.into());
        vocab.insert("</s>".into(), 2.into());
        for (i, w) in words.iter().enumerate() {
            vocab.insert((*w).into(), (i + 3).into());
        }
        let added = |id: u32, content: &str, special: bool| {
            serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": special})
        };
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [added(0, "[UNK]", true), added(1, "<s>", true), added(2, "</s>", true)],
            "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
        });
        std::fs::create_dir_all(dir).unwrap();
        let f = dir.join("tokenizer.json");
        std::fs::write(&f, json.to_string()).unwrap();
        Tokenizer::from_path(dir).unwrap()
    }

    #[test]
    fn trtllm_lines_have_the_drawn_lengths_and_compact_json() {
        let tok = Tokenizer::builtin().unwrap();
        let s = spec(
            DatasetFormat::Trtllm,
            300,
            LengthSpec {
                mean: 50,
                stddev: 30.0,
            },
            3,
        );
        let (out, w) = bytes(&tok, &s);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with("{\"task_id\":0,\"input_ids\":["),
            "{text:.40}"
        );
        assert!(!text.contains(' '));
        let ls = lines(&out);
        assert_eq!(ls.len(), 300);
        assert_eq!(w.requests, 300);
        assert_eq!(w.bytes, out.len() as u64);
        let eos = 100_257;
        let mut lengths = std::collections::BTreeSet::new();
        for (i, l) in ls.iter().enumerate() {
            let (n_in, n_out) = request_lengths(&s, i as u64);
            assert_eq!(l["task_id"], i as u64);
            let ids = l["input_ids"].as_array().unwrap();
            assert_eq!(ids.len() as u64, n_in);
            assert_eq!(l["output_tokens"], n_out);
            assert!(ids.iter().all(|x| x.as_u64().unwrap() < 100_256));
            let distinct: std::collections::BTreeSet<u64> =
                ids.iter().map(|x| x.as_u64().unwrap()).collect();
            assert_eq!(distinct.len(), ids.len(), "ids of a request are distinct");
            assert!(!distinct.contains(&eos));
            lengths.insert(n_in);
        }
        assert!(lengths.len() > 20, "lengths vary: {lengths:?}");
        assert!(lengths.iter().all(|&n| n >= 1));
        assert_eq!(w.input.count, 300);
        assert_eq!(w.vocabulary, 100_256);
    }

    #[test]
    fn stddev_zero_gives_exactly_isl() {
        let tok = Tokenizer::builtin().unwrap();
        let mut s = spec(DatasetFormat::Trtllm, 50, LengthSpec::fixed(64), 1);
        s.osl = LengthSpec::fixed(7);
        let (out, w) = bytes(&tok, &s);
        for l in lines(&out) {
            assert_eq!(l["input_ids"].as_array().unwrap().len(), 64);
            assert_eq!(l["output_tokens"], 7);
        }
        assert_eq!((w.input.min, w.input.max, w.input.std()), (64, 64, 0.0));
        assert_eq!((w.output.min, w.output.max), (7, 7));
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let tok = Tokenizer::builtin().unwrap();
        // Long requests make several chunks, so ordering across threads is exercised.
        let s = spec(DatasetFormat::Trtllm, 40, LengthSpec::fixed(60_000), 9);
        let (a, _) = bytes(&tok, &s);
        let (b, _) = bytes(&tok, &s);
        assert!(a == b, "same seed must give identical bytes");
        let (c, _) = bytes(&tok, &DatasetSpec { seed: 10, ..s });
        assert!(a != c);
        assert_eq!(lines(&a).len(), 40);
    }

    #[test]
    fn special_tokens_are_never_drawn() {
        let dir = std::env::temp_dir().join(format!("llmb-dsw-{}", std::process::id()));
        let tok = tiny_tokenizer(&dir);
        assert_eq!(tok.special_ids(), [0, 1, 2]);
        assert_eq!(tok.ordinary_ids().len(), 34);
        // Shorter than the vocabulary: distinct ids; longer: drawn with replacement.
        for n in [10, 20, 34, 500] {
            let (out, w) = bytes(
                &tok,
                &spec(DatasetFormat::Trtllm, 30, LengthSpec::fixed(n), 5),
            );
            assert_eq!((w.vocabulary, w.special_ids), (34, 3));
            for l in lines(&out) {
                let ids = l["input_ids"].as_array().unwrap();
                assert_eq!(ids.len() as u64, n);
                assert!(ids.iter().all(|x| x.as_u64().unwrap() >= 3), "{ids:?}");
            }
        }
        // Uniform over the 34 ordinary ids: 2000 requests x 10 ids = about 588 each.
        let (out, _) = bytes(
            &tok,
            &spec(DatasetFormat::Trtllm, 2000, LengthSpec::fixed(10), 6),
        );
        let mut counts = std::collections::BTreeMap::new();
        for l in lines(&out) {
            for id in l["input_ids"].as_array().unwrap() {
                *counts.entry(id.as_u64().unwrap()).or_insert(0u32) += 1;
            }
        }
        assert_eq!(counts.len(), 34);
        assert!(
            counts.values().all(|c| (470..=710).contains(c)),
            "{counts:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn prompts_have_exact_lengths_and_match_bench_prompts() {
        let tok = Tokenizer::builtin().unwrap();
        let isl = LengthSpec {
            mean: 40,
            stddev: 10.0,
        };
        let s = spec(DatasetFormat::Prompts, 60, isl, 2);
        let (out, w) = bytes(&tok, &s);
        assert!(w.verified_all);
        let bench = llmb_tokenizer::PromptSet::synthetic(&tok, 60, isl, 2).unwrap();
        for (i, l) in lines(&out).iter().enumerate() {
            let text = l["prompt"].as_str().unwrap();
            let (n_in, n_out) = request_lengths(&s, i as u64);
            assert_eq!(tok.count(text) as u64, n_in);
            assert_eq!(l["output_tokens"], n_out);
            assert_eq!(text, bench.prompts[i].text);
        }
        let (again, _) = bytes(&tok, &s);
        assert!(out == again);
    }

    #[test]
    fn integers_format_like_display() {
        for v in [
            0u64,
            7,
            10,
            99,
            100,
            101,
            999,
            1000,
            12_345,
            100_255,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            push_u64(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
        }
        for v in [
            0u32,
            9,
            10,
            99,
            100,
            9_999_999,
            10_000_000,
            123_456_789,
            u32::MAX,
        ] {
            let mut out = [b'x'; 12];
            let end = put_u32(&mut out, 1, v);
            assert_eq!(std::str::from_utf8(&out[1..end]).unwrap(), v.to_string());
            assert_eq!((out[0], out[end]), (b'x', b'x'));
        }
    }

    #[test]
    fn a_failing_writer_stops_cleanly() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                if self.0 < b.len() {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let tok = Tokenizer::builtin().unwrap();
        let s = spec(DatasetFormat::Trtllm, 64, LengthSpec::fixed(20_000), 1);
        let e = write(&tok, &s, &mut Full(1000), &Progress::default()).unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
    }
}
