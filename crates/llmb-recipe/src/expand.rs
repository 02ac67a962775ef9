//! Bulk files (llmb-run's simple tuple format and advanced YAML) and `--repeats`, expanded
//! into [`RunRequest`]s: dtypes × scales × list-valued params × repeats (+ one profiled run
//! per combination when `add_profile`). Expansion does not validate; each request then goes
//! through [`crate::validate::validate`].
//!
//! Order: sections/entries in file order; within one, tasks in order, then dtype, scale,
//! param combination (keys sorted, last key varying fastest), then repeat index.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::{from_yaml, LoadError};
use crate::types::Scalar;
use crate::validate::RunRequest;

/// A malformed simple bulk file line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {problem}; {fix}")]
pub struct BulkError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
    /// What to write.
    pub fix: String,
}

/// Either bulk format failed.
#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    /// Simple format.
    #[error(transparent)]
    Simple(#[from] BulkError),
    /// Advanced YAML.
    #[error(transparent)]
    Yaml(#[from] LoadError),
}

/// Which format a bulk file is: `.yaml`/`.yml` = advanced, anything else = simple (llmb-run's rule).
pub fn is_advanced(file_name: &str) -> bool {
    let l = file_name.to_ascii_lowercase();
    l.ends_with(".yaml") || l.ends_with(".yml")
}

/// Parses a bulk file in the format its name implies.
pub fn expand_bulk(text: &str, file: &str) -> Result<Vec<RunRequest>, ExpandError> {
    if is_advanced(file) {
        Ok(expand_advanced(text, file)?)
    } else {
        Ok(expand_simple(text, file)?)
    }
}

/// `n` copies of `req` with repeat indices 0..n (`--repeats N`; `n = 0` is treated as 1).
pub fn repeat(req: &RunRequest, n: u32) -> Vec<RunRequest> {
    (0..n.max(1))
        .map(|i| RunRequest {
            repeat: i,
            ..req.clone()
        })
        .collect()
}

/// Splits a `<workload_key>_<size>` header at its last `_`.
pub fn split_header(h: &str) -> Option<(&str, &str)> {
    let (w, s) = h.rsplit_once('_')?;
    (!w.is_empty() && !s.is_empty()).then_some((w, s))
}

// ---------------------------------------------------------------- simple format

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<Lit>),
}

struct LitParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl LitParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Items up to `close`, comma separated, trailing comma allowed.
    fn seq(&mut self, close: u8) -> Result<Vec<Lit>, String> {
        let mut v = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(v);
            }
            v.push(self.value()?);
            if !self.eat(b',') {
                return if self.eat(close) {
                    Ok(v)
                } else {
                    Err(format!("expected `,` or `{}`", close as char))
                };
            }
        }
    }

    fn value(&mut self) -> Result<Lit, String> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return Err("unexpected end of line".into());
        };
        match c {
            b'[' => {
                self.i += 1;
                Ok(Lit::List(self.seq(b']')?))
            }
            b'\'' | b'"' => {
                let start = self.i + 1;
                let end = self.s[start..]
                    .iter()
                    .position(|&b| b == c)
                    .ok_or("unterminated string")?;
                self.i = start + end + 1;
                Ok(Lit::Str(
                    String::from_utf8_lossy(&self.s[start..start + end]).into_owned(),
                ))
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'-')
                {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                match word {
                    "True" => Ok(Lit::Bool(true)),
                    "False" => Ok(Lit::Bool(false)),
                    "" => Err(format!("unexpected `{}`", c as char)),
                    w => w
                        .parse::<i64>()
                        .map(Lit::Int)
                        .map_err(|_| format!("`{w}` is not a number, string, list, True or False")),
                }
            }
        }
    }
}

fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

const TUPLE_FIX: &str =
    "write (DTYPE | [DTYPES], [SCALES], REPEATS[, PROFILE]), e.g. ('fp8', [8, 16], 1, True)";

/// Parses llmb-run's simple bulk format:
///
/// ```text
/// inference_llama3.3_70b:
/// ('nvfp4', [1], 3)
/// (['fp8', 'bf16'], [8, 16], 1, True)
/// ```
/// A header `<workload_key>_<size>:` opens a section (we also accept `-` in names, which
/// llmb-run's `\w` regex does not); a blank line ends it; `#` starts a comment.
pub fn expand_simple(text: &str, file: &str) -> Result<Vec<RunRequest>, BulkError> {
    let mut out = Vec::new();
    let mut section: Option<(String, String)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let err = |problem: String, fix: &str| BulkError {
            file: file.to_owned(),
            line: line_no,
            problem,
            fix: fix.to_owned(),
        };
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            if raw.trim().is_empty() {
                section = None;
            }
            continue;
        }
        if let Some(h) = line.strip_suffix(':') {
            let ok_chars = h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            let Some((w, s)) = split_header(h).filter(|_| ok_chars) else {
                return Err(err(
                    format!("section header `{line}` is not `<workload>_<size>:`"),
                    "write e.g. inference_llama3.3_70b:",
                ));
            };
            section = Some((w.to_owned(), s.to_owned()));
            continue;
        }
        let Some((workload, size)) = &section else {
            return Err(err(
                format!("`{line}` is outside a section"),
                "put a `<workload>_<size>:` header line above it (a blank line ends a section)",
            ));
        };
        let mut p = LitParser {
            s: line.as_bytes(),
            i: 0,
        };
        if !p.eat(b'(') {
            return Err(err(format!("`{line}` is not a tuple"), TUPLE_FIX));
        }
        let items = p.seq(b')').map_err(|e| err(e, TUPLE_FIX))?;
        p.ws();
        if p.i != line.len() {
            return Err(err("text after the closing `)`".into(), TUPLE_FIX));
        }
        let dtypes = match items.first() {
            Some(Lit::Str(s)) => vec![s.clone()],
            Some(Lit::List(l)) if !l.is_empty() && l.iter().all(|x| matches!(x, Lit::Str(_))) => l
                .iter()
                .filter_map(|x| match x {
                    Lit::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => {
                return Err(err(
                    "the first item must be a dtype or a list of dtypes".into(),
                    TUPLE_FIX,
                ))
            }
        };
        let scales: Vec<u32> = match items.get(1) {
            Some(Lit::List(l)) if !l.is_empty() => l
                .iter()
                .map(|x| match x {
                    Lit::Int(i) if *i > 0 => u32::try_from(*i).ok(),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| err("scales must be positive whole numbers".into(), TUPLE_FIX))?,
            _ => {
                return Err(err(
                    "the second item must be a list of scales".into(),
                    TUPLE_FIX,
                ))
            }
        };
        let repeats = match items.get(2) {
            Some(Lit::Int(i)) if *i >= 1 => u32::try_from(*i).unwrap_or(1),
            _ => {
                return Err(err(
                    "the third item must be a repeat count ≥ 1".into(),
                    TUPLE_FIX,
                ))
            }
        };
        let profile = match items.get(3) {
            None => false,
            Some(Lit::Bool(b)) => *b,
            Some(_) => {
                return Err(err(
                    "the fourth item must be True or False".into(),
                    TUPLE_FIX,
                ))
            }
        };
        if items.len() > 4 {
            return Err(err("too many items".into(), TUPLE_FIX));
        }
        for d in &dtypes {
            for &scale in &scales {
                let base = RunRequest {
                    workload: workload.clone(),
                    model_size: size.clone(),
                    dtype: d.clone(),
                    scale,
                    profile,
                    ..RunRequest::default()
                };
                out.extend(repeat(&base, repeats));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- advanced YAML

/// A list or a single value.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    #[serde(default)]
    env: BTreeMap<String, Scalar>,
    #[serde(default)]
    params: BTreeMap<String, OneOrMany<Scalar>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(default)]
    defaults: RawOverrides,
    #[serde(default)]
    dtypes: Option<OneOrMany<String>>,
    #[serde(default)]
    scales: Option<OneOrMany<u32>>,
    #[serde(default)]
    repeats: Option<u32>,
    #[serde(default)]
    profile: Option<bool>,
    #[serde(default)]
    add_profile: Option<bool>,
    #[serde(default)]
    tasks: Vec<RawTask>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    #[serde(default)]
    dtypes: Option<OneOrMany<String>>,
    #[serde(default)]
    scales: Option<OneOrMany<u32>>,
    #[serde(default)]
    repeats: Option<u32>,
    #[serde(default)]
    profile: Option<bool>,
    #[serde(default)]
    add_profile: Option<bool>,
    #[serde(default)]
    overrides: RawOverrides,
}

/// A YAML mapping kept in file order.
struct Ordered<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of `<workload>_<size>` to run settings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, V>()? {
                    v.push((k, val));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

/// Parses llmb-run's advanced YAML bulk format:
///
/// ```yaml
/// inference_llama3.3_70b:
///   defaults: {env: {STREAMING: true}, params: {}}
///   dtypes: nvfp4            # or a list
///   scales: [1]
///   repeats: 2
///   add_profile: true
///   tasks:
///     - overrides: {env: {USE_CASES: "chat:128/128"}, params: {max_batch_size: [512, 1024]}}
/// ```
/// Without `tasks`, the entry itself is the one task. Unknown keys are errors (a typo would
/// otherwise silently change what runs).
pub fn expand_advanced(text: &str, file: &str) -> Result<Vec<RunRequest>, LoadError> {
    let doc: Ordered<RawEntry> = from_yaml(text, file)?;
    let mut out = Vec::new();
    for (header, entry) in doc.0 {
        let Some((workload, size)) = split_header(&header) else {
            return Err(LoadError::invalid(
                file,
                &header,
                "the key is not `<workload>_<size>`",
                "write e.g. inference_llama3.3_70b:",
            ));
        };
        let tasks = if entry.tasks.is_empty() {
            vec![RawTask::default()]
        } else {
            entry.tasks.clone()
        };
        for (ti, task) in tasks.iter().enumerate() {
            let field = |f: &str| {
                if entry.tasks.is_empty() {
                    format!("{header}.{f}")
                } else {
                    format!("{header}.tasks[{ti}].{f}")
                }
            };
            let dtypes = task
                .dtypes
                .as_ref()
                .or(entry.dtypes.as_ref())
                .map(OneOrMany::to_vec)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    LoadError::invalid(
                        file,
                        field("dtypes"),
                        "no dtypes given",
                        "add `dtypes: [fp8]` to the task or the entry",
                    )
                })?;
            let scales = task
                .scales
                .as_ref()
                .or(entry.scales.as_ref())
                .map(OneOrMany::to_vec)
                .filter(|v| !v.is_empty() && !v.contains(&0))
                .ok_or_else(|| {
                    LoadError::invalid(
                        file,
                        field("scales"),
                        "no scales given (or a 0 scale)",
                        "add `scales: [8, 16]` to the task or the entry",
                    )
                })?;
            let repeats = task.repeats.or(entry.repeats).unwrap_or(1).max(1);
            let profile = task.profile.or(entry.profile).unwrap_or(false);
            let add_profile = task.add_profile.or(entry.add_profile).unwrap_or(false);
            let mut env: BTreeMap<String, String> = entry
                .defaults
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect();
            env.extend(
                task.overrides
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.0.clone())),
            );
            let mut params: BTreeMap<String, Vec<String>> = entry
                .defaults
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_vec().into_iter().map(|s| s.0).collect()))
                .collect();
            params.extend(
                task.overrides
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_vec().into_iter().map(|s| s.0).collect())),
            );
            if let Some((k, _)) = params.iter().find(|(_, v)| v.is_empty()) {
                return Err(LoadError::invalid(
                    file,
                    field(&format!("params.{k}")),
                    "is an empty list",
                    "give at least one value",
                ));
            }
            let combos = cartesian(&params);
            for d in &dtypes {
                for &scale in &scales {
                    for combo in &combos {
                        let base = RunRequest {
                            workload: workload.to_owned(),
                            model_size: size.to_owned(),
                            dtype: d.clone(),
                            scale,
                            profile,
                            repeat: 0,
                            env: env.clone(),
                            params: combo.clone(),
                        };
                        out.extend(repeat(&base, repeats));
                        if add_profile {
                            out.push(RunRequest {
                                profile: true,
                                repeat: repeats,
                                ..base
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Every combination of list-valued params (keys sorted, last key fastest).
fn cartesian(params: &BTreeMap<String, Vec<String>>) -> Vec<BTreeMap<String, String>> {
    let mut combos = vec![BTreeMap::new()];
    for (k, values) in params {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(k.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    combos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_format_counts() {
        let text = "\
pretrain_nemotron4_340b:          # header
('bf16', [128, 256, 512], 3)      # 9 runs
('fp8', [1024], 1, True)          # 1 profiled run

inference_deepseek-r1-dynamo_671b:
(['nvfp4', 'fp8'], [32], 2)
";
        let v = expand_simple(text, "bulk.txt").unwrap();
        assert_eq!(v.len(), 9 + 1 + 4);
        assert_eq!(v[0].workload, "pretrain_nemotron4");
        assert_eq!(v[0].model_size, "340b");
        assert_eq!((v[2].scale, v[2].repeat), (128, 2));
        assert!(v[9].profile && v[9].dtype == "fp8");
        assert_eq!(v[10].workload, "inference_deepseek-r1-dynamo");
        assert_eq!(v[13].dtype, "fp8");
    }

    #[test]
    fn simple_format_errors_name_line_and_fix() {
        let cases = [
            ("('fp8', [8], 1)\n", 1, "outside a section"),
            ("x_1b:\n('fp8', [8])\n", 2, "repeat count"),
            ("x_1b:\n('fp8', 8, 1)\n", 2, "list of scales"),
            ("x_1b:\n('fp8', [8], 1, Maybe)\n", 2, "not a number"),
            ("x_1b:\n('fp8', [8], 1\n", 2, "expected"),
            ("nounderscore:\n", 1, "<workload>_<size>"),
        ];
        for (text, line, want) in cases {
            let e = expand_simple(text, "b.txt").unwrap_err();
            assert_eq!(e.line, line, "{text}");
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("b.txt:{line}: ")), "{msg}");
            assert!(msg.contains(want), "{text}: {msg}");
        }
    }

    #[test]
    fn advanced_format_counts() {
        let text = "\
inference_llama3.3_70b:
  defaults:
    env: {STREAMING: true}
    params: {tp: 1}
  dtypes: nvfp4
  scales: [1]
  repeats: 2
  add_profile: true
  tasks:
    - overrides:
        env: {USE_CASES: 'chat:128/128'}
        params: {max_batch_size: [512, 1024], max_num_tokens: [2048, 4096, 8192]}
    - scales: [1, 2]
      repeats: 1
      add_profile: false
inference_llama4_17b:
  dtypes: [fp8]
  scales: 8
";
        let v = expand_advanced(text, "bulk.yaml").unwrap();
        // task 1: 1 dtype x 1 scale x 6 combos x (2 repeats + 1 profile) = 18
        // task 2: 1 x 2 scales x 1 combo x 1 = 2; llama4: 1
        assert_eq!(v.len(), 18 + 2 + 1);
        assert_eq!(v[0].env["USE_CASES"], "chat:128/128");
        assert_eq!(v[0].env["STREAMING"], "true");
        assert_eq!(v[0].params["tp"], "1");
        assert_eq!(v[0].params["max_batch_size"], "512");
        assert_eq!(v[0].params["max_num_tokens"], "2048");
        assert_eq!(v[1].repeat, 1);
        assert!(v[2].profile && v[2].repeat == 2);
        assert_eq!(v[3].params["max_num_tokens"], "4096");
        assert_eq!(v[18].scale, 1);
        assert!(!v[18].env.contains_key("USE_CASES"));
        assert_eq!(v[20].workload, "inference_llama4");
        assert_eq!(v[20].scale, 8);
    }

    #[test]
    fn advanced_format_errors_are_located() {
        let e = expand_advanced("x_1b:\n  dtypes: fp8\n  scale: [1]\n", "b.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("b.yaml:"), "{e}");
        assert!(e.contains("unknown field `scale`"), "{e}");
        let e = expand_advanced("x_1b:\n  dtypes: fp8\n", "b.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x_1b.scales") && e.contains("no scales"), "{e}");
    }

    #[test]
    fn repeats_and_dispatch() {
        let r = RunRequest {
            workload: "w".into(),
            ..RunRequest::default()
        };
        let v = repeat(&r, 3);
        assert_eq!(v.iter().map(|r| r.repeat).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(repeat(&r, 0).len(), 1);
        assert!(is_advanced("x.YML") && !is_advanced("x.txt"));
        assert_eq!(
            expand_bulk("a_b:\n('fp8', [1], 1)\n", "f.txt")
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            split_header("inference_llama3.3_70b"),
            Some(("inference_llama3.3", "70b"))
        );
    }
}
