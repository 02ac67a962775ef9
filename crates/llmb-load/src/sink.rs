//! Where finished requests go: a writer thread that resolves chunk token counts (off the
//! async runtime), appends each record to `records.jsonl` as it arrives and flushes
//! whenever it has caught up, so a crash or Ctrl-C loses nothing that completed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::thread::JoinHandle;

use llmb_metrics::tokens::{assign_chunk_tokens, one_token_per_chunk};
use llmb_metrics::RequestRecord;
use llmb_tokenizer::Tokenizer;
use tokio::sync::mpsc;

/// A record whose chunk token counts are not resolved yet, with the generated text.
#[derive(Debug)]
pub struct Finished {
    /// The record (chunk `tokens` still 0).
    pub record: RequestRecord,
    /// The generated text, for counting tokens per chunk when the server's usage does not settle it.
    pub text: String,
}

/// The writer thread's handle.
#[derive(Debug)]
pub struct Sink {
    tx: mpsc::UnboundedSender<Finished>,
    thread: JoinHandle<std::io::Result<Vec<RequestRecord>>>,
}

impl Sink {
    /// Starts the writer; `path` is the JSONL file (created or appended), or none.
    pub fn start(path: Option<&Path>, tokenizer: Tokenizer) -> std::io::Result<Sink> {
        let mut out = match path {
            Some(p) => Some(BufWriter::new(
                File::options().create(true).append(true).open(p)?,
            )),
            None => None,
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Finished>();
        let thread = std::thread::Builder::new()
            .name("llmb-records".into())
            .spawn(move || {
                let mut records = Vec::new();
                let mut line = Vec::with_capacity(4096);
                while let Some(first) = rx.blocking_recv() {
                    let mut next = Some(first);
                    while let Some(f) = next {
                        let r = resolve(f, &tokenizer);
                        if let Some(w) = out.as_mut() {
                            write_line(w, &r, &mut line)?;
                        }
                        records.push(r);
                        next = rx.try_recv().ok();
                    }
                    if let Some(w) = out.as_mut() {
                        w.flush()?;
                    }
                }
                Ok(records)
            })?;
        Ok(Sink { tx, thread })
    }

    /// A sender for request tasks.
    pub fn sender(&self) -> mpsc::UnboundedSender<Finished> {
        self.tx.clone()
    }

    /// Waits for every sender to be dropped and returns all records, in end order.
    pub fn finish(self) -> std::io::Result<Vec<RequestRecord>> {
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| std::io::Error::other("record writer panicked"))?
    }
}

/// Appends one record as one JSON line (`buf` is reused between calls): the only way a
/// line of `records.jsonl` is written.
fn write_line(w: &mut impl Write, r: &RequestRecord, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    serde_json::to_writer(&mut *buf, r).map_err(std::io::Error::other)?;
    buf.push(b'\n');
    w.write_all(buf)
}

/// Writes finished records as a new `records.jsonl` (a `--workers` run's merged records).
///
/// # Errors
/// The file cannot be created or written.
pub fn write_all(path: &Path, records: &[RequestRecord]) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    let mut buf = Vec::with_capacity(4096);
    for r in records {
        write_line(&mut w, r, &mut buf)?;
    }
    w.flush()
}

/// Fills in tokens per chunk (see `llmb_metrics::tokens`).
pub fn resolve(f: Finished, tok: &Tokenizer) -> RequestRecord {
    let Finished { mut record, text } = f;
    let n = record.chunks.len();
    if let Some(claimed) = record.usage.completion_tokens {
        if !llmb_metrics::tokens::plausible_usage(claimed, text.len() as u64, n as u64) {
            record.usage.completion_tokens = None;
            record.usage.implausible_completion_tokens = Some(claimed);
        }
    }
    let usage = record.usage.completion_tokens;
    let estimate: Vec<u32> = if one_token_per_chunk(n, usage) {
        Vec::new()
    } else {
        let mut at = 0usize;
        record
            .chunks
            .iter()
            .map(|c| {
                let end = (at + c.text_bytes as usize).min(text.len());
                let piece = text.get(at..end).unwrap_or("");
                at = end;
                tok.count(piece) as u32
            })
            .collect()
    };
    for (c, t) in record
        .chunks
        .iter_mut()
        .zip(assign_chunk_tokens(n, usage, &estimate))
    {
        c.tokens = t;
    }
    record
}
