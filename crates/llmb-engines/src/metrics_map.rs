//! Prometheus text exposition → samples, and the common quantities (running, waiting,
//! KV-cache use, generated tokens) picked out by each engine's own metric names. Pure.

use super::CommonMetrics;

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    /// Metric name (with `_bucket`/`_sum`/`_count` suffixes as written).
    pub name: String,
    /// Label pairs in the order written, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// The common quantities of one scrape. `None` when the engine did not expose the metric.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CommonSample {
    /// Requests in the running batch (summed over label sets, e.g. DP ranks).
    pub running: Option<f64>,
    /// Requests waiting (summed).
    pub waiting: Option<f64>,
    /// KV-cache use, 0 to 1 (mean over label sets).
    pub kv_cache_use: Option<f64>,
    /// Tokens generated since start (summed).
    pub generated_tokens_total: Option<f64>,
}

impl CommonSample {
    /// Parse `text` and pick the common quantities by `names`.
    #[must_use]
    pub fn from_exposition(text: &str, names: &CommonMetrics) -> Self {
        Self::from_samples(&parse_exposition(text), names)
    }

    /// Pick the common quantities out of parsed samples by `names`.
    #[must_use]
    pub fn from_samples(samples: &[PromSample], names: &CommonMetrics) -> Self {
        Self {
            running: pick(samples, names.running, Agg::Sum),
            waiting: pick(samples, names.waiting, Agg::Sum),
            kv_cache_use: pick(samples, names.kv_cache_use, Agg::Mean),
            generated_tokens_total: pick(samples, names.generated_tokens, Agg::Sum),
        }
    }
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Mean,
}

/// The first alternative name present, aggregated over its label sets.
fn pick(samples: &[PromSample], alternatives: &[&str], agg: Agg) -> Option<f64> {
    alternatives.iter().find_map(|name| {
        let values: Vec<f64> = samples
            .iter()
            .filter(|s| s.name == *name)
            .map(|s| s.value)
            .collect();
        if values.is_empty() {
            return None;
        }
        let sum: f64 = values.iter().sum();
        Some(match agg {
            Agg::Sum => sum,
            #[allow(clippy::cast_precision_loss)]
            Agg::Mean => sum / values.len() as f64,
        })
    })
}

/// Parse a Prometheus text exposition. Comments, blank and malformed lines are skipped.
#[must_use]
pub fn parse_exposition(text: &str) -> Vec<PromSample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<PromSample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, tail) = parse_labels(after)?;
        labels = parsed;
        rest = tail;
    }
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(PromSample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Labels after `{`; returns them and the text after the closing `}`.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches([' ', ',']);
        if let Some(tail) = s.strip_prefix('}') {
            return Some((labels, tail));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.push((key, value));
        s = &s[end + 1..];
    }
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => v.parse().ok(),
    }
}
