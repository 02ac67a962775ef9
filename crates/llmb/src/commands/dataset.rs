//! `llmb dataset`: validate the flags, write the file on a blocking thread while the
//! progress line redraws, then say where it went and what lengths it holds.

use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::Instant;

use llmb_load::dataset_writer::{
    self, DatasetFormat, DatasetSpec, DatasetWriteError, LengthStats, PartFile, WrittenDataset,
};
use llmb_load::progress::Progress;
use llmb_tokenizer::{LengthSpec, Tokenizer};

use super::{bad, ExitStatus};
use crate::cli::dataset::{DatasetArgs, DatasetFormatArg};
use crate::live::Live;

/// Runs `llmb dataset`.
pub async fn run(a: DatasetArgs) -> anyhow::Result<ExitStatus> {
    let spec = DatasetSpec {
        format: match a.format {
            DatasetFormatArg::Trtllm => DatasetFormat::Trtllm,
            DatasetFormatArg::Prompts => DatasetFormat::Prompts,
        },
        num_requests: a.num_requests,
        isl: LengthSpec {
            mean: length("--isl", a.isl)?,
            stddev: stddev("--isl-stddev", a.isl_stddev)?,
        },
        osl: LengthSpec {
            mean: length("--osl", a.osl)?,
            stddev: stddev("--osl-stddev", a.osl_stddev)?,
        },
        seed: a.seed,
    };
    if a.num_requests == 0 {
        return Err(bad("--num-requests must be at least 1"));
    }
    let tok =
        Tokenizer::load(a.tokenizer.as_deref()).map_err(|e| bad(format!("--tokenizer: {e}")))?;
    let to_stdout = a.output.as_os_str() == "-";
    // A file is written whole or not at all (`NAME.part`, renamed when whole); a
    // signal removes the part and ends the run.
    let (out, part): (Box<dyn Write + Send>, _) = if to_stdout {
        (Box::new(std::io::stdout()), None)
    } else {
        let (part, f) = PartFile::create(&a.output).map_err(|e| {
            bad(format!(
                "cannot write --output {}: {e}; pass a file in an existing folder, or - for stdout",
                a.output.display()
            ))
        })?;
        let doomed = part.part().to_owned();
        llmb_signals::Stop::install(move |sig| {
            let _ = std::fs::remove_file(&doomed);
            llmb_signals::end_now(sig);
        })?;
        (Box::new(f), Some(part))
    };

    let progress = Arc::new(Progress::default());
    let live = Live::start(progress.clone(), "dataset".into(), a.quiet);
    let started = Instant::now();
    let tokenizer = tok.clone();
    let counters = progress.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut w = BufWriter::with_capacity(1 << 20, out);
        dataset_writer::write(&tokenizer, &spec, &mut w, &counters)
    })
    .await?;
    live.finish().await;
    let written = match result {
        Ok(w) => w,
        // `llmb dataset -o - | head` is not an error.
        Err(DatasetWriteError::Io(e))
            if to_stdout && e.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Ok(ExitStatus::OK)
        }
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot write dataset {}", a.output.display())));
        }
    };
    if let Some(part) = part {
        part.commit()?;
    }
    if !a.quiet {
        let where_to = if to_stdout {
            "stdout".to_owned()
        } else {
            a.output.display().to_string()
        };
        report(
            &mut std::io::stderr().lock(),
            &where_to,
            &spec,
            &written,
            &tok,
            started.elapsed().as_secs_f64(),
        )?;
    }
    Ok(ExitStatus::OK)
}

/// Longest mean length accepted (a line is built in memory whole).
const MAX_LENGTH: i64 = 10_000_000;
/// Largest standard deviation accepted (keeps drawn lengths near [`MAX_LENGTH`]).
const MAX_STDDEV: f64 = 1_000_000.0;

fn length(flag: &str, v: i64) -> anyhow::Result<u64> {
    if !(1..=MAX_LENGTH).contains(&v) {
        return Err(bad(format!(
            "{flag} must be between 1 and {MAX_LENGTH} tokens (got {v})"
        )));
    }
    Ok(v as u64)
}

fn stddev(flag: &str, v: f64) -> anyhow::Result<f64> {
    if v.is_finite() && (0.0..=MAX_STDDEV).contains(&v) {
        Ok(v)
    } else {
        Err(bad(format!(
            "{flag} must be a number of tokens from 0 to {MAX_STDDEV} (got {v}); 0 gives every request the same length"
        )))
    }
}

/// The closing lines on stderr.
fn report(
    err: &mut dyn Write,
    path: &str,
    spec: &DatasetSpec,
    w: &WrittenDataset,
    tok: &Tokenizer,
    seconds: f64,
) -> std::io::Result<()> {
    let format = match spec.format {
        DatasetFormat::Trtllm => "trtllm",
        DatasetFormat::Prompts => "prompts",
    };
    writeln!(
        err,
        "wrote {} requests to {path} ({format} format, {}) in {seconds:.2} s",
        w.requests,
        human_bytes(w.bytes)
    )?;
    let line = |err: &mut dyn Write, what: &str, s: &LengthStats| {
        writeln!(
            err,
            "  {what}: min {} mean {:.1} max {} stddev {:.1} total {}",
            s.min,
            s.mean(),
            s.max,
            s.std(),
            s.sum
        )
    };
    line(err, "input tokens ", &w.input)?;
    line(err, "output tokens", &w.output)?;
    match spec.format {
        DatasetFormat::Trtllm => writeln!(
            err,
            "  token ids drawn from {} ids of {} ({} special ids left out)",
            w.vocabulary,
            tok.name(),
            w.special_ids
        ),
        DatasetFormat::Prompts => writeln!(
            err,
            "  prompt lengths exact under {} ({})",
            tok.name(),
            if w.verified_all {
                "every prompt counted"
            } else {
                "construction checked on a sample of prompts"
            }
        ),
    }
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{b:.0} bytes")
    }
}
