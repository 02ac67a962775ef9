//! The closed vocabularies shared by recipes, metadata.yaml, knobs and run specs: GPU types,
//! dtypes, engines, load styles, workload types, concurrency, Slurm time limits, `by_gpu` maps.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A GPU type as llmb-run names it (`gpu_type` in cluster_config.yaml, keys of `gpu_configs`).
///
/// The five NVIDIA recipes know (`h100`, `b200`, `b300`, `gb200`, `gb300`) plus `a100` (which
/// llmb-run's node-size table has) are variants; any other lowercase name is accepted as
/// [`GpuType::Other`] so a site can describe hardware we have not listed. An `Other` GPU has
/// no default GPUs-per-node: the cluster config (or `GPUS_PER_NODE`) must give it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum GpuType {
    /// NVIDIA A100.
    A100,
    /// NVIDIA H100.
    H100,
    /// NVIDIA B200.
    B200,
    /// NVIDIA B300.
    B300,
    /// NVIDIA GB200 (Grace Blackwell, 4 GPUs per compute tray).
    Gb200,
    /// NVIDIA GB300.
    Gb300,
    /// Any other name (lowercase letters, digits, `-`, `_`).
    Other(String),
}

impl GpuType {
    /// The GPU types every NVIDIA recipe schema knows, in llmb-run's order.
    pub const KNOWN: [GpuType; 6] = [
        GpuType::H100,
        GpuType::B200,
        GpuType::B300,
        GpuType::Gb200,
        GpuType::Gb300,
        GpuType::A100,
    ];

    /// llmb-run's GPUs per node (`{a100:8,h100:8,b200:8,b300:8,gb200:4,gb300:4}`); `None` for
    /// [`GpuType::Other`].
    pub fn default_gpus_per_node(&self) -> Option<u32> {
        match self {
            GpuType::Gb200 | GpuType::Gb300 => Some(4),
            GpuType::A100 | GpuType::H100 | GpuType::B200 | GpuType::B300 => Some(8),
            GpuType::Other(_) => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(&self) -> &str {
        match self {
            GpuType::A100 => "a100",
            GpuType::H100 => "h100",
            GpuType::B200 => "b200",
            GpuType::B300 => "b300",
            GpuType::Gb200 => "gb200",
            GpuType::Gb300 => "gb300",
            GpuType::Other(s) => s,
        }
    }
}

impl fmt::Display for GpuType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for GpuType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "a100" => GpuType::A100,
            "h100" => GpuType::H100,
            "b200" => GpuType::B200,
            "b300" => GpuType::B300,
            "gb200" => GpuType::Gb200,
            "gb300" => GpuType::Gb300,
            "" => return Err("empty GPU type; use one of h100, b200, b300, gb200, gb300".into()),
            other => {
                if other
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    GpuType::Other(other.to_owned())
                } else {
                    return Err(format!(
                        "GPU type `{s}` may only hold letters, digits, `-` and `_` (e.g. gb200)"
                    ));
                }
            }
        })
    }
}

impl TryFrom<String> for GpuType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<GpuType> for String {
    fn from(g: GpuType) -> String {
        g.as_str().to_owned()
    }
}

/// Weight / compute precision of a model variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// FP8 (e4m3).
    Fp8,
    /// bfloat16.
    Bf16,
    /// float16.
    Fp16,
    /// float32.
    Fp32,
    /// NVIDIA FP4 (Blackwell).
    Nvfp4,
    /// OCP MX FP4.
    Mxfp4,
    /// int8 weights.
    Int8,
    /// 4-bit integer blocks (llama.cpp GGUF Q4_0/Q4_1/Q4_K).
    Q4,
}

impl Dtype {
    /// Every dtype, for error messages.
    pub const ALL: [Dtype; 8] = [
        Dtype::Fp8,
        Dtype::Bf16,
        Dtype::Fp16,
        Dtype::Fp32,
        Dtype::Nvfp4,
        Dtype::Mxfp4,
        Dtype::Int8,
        Dtype::Q4,
    ];

    /// The lowercase name (`nvfp4`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Fp8 => "fp8",
            Dtype::Bf16 => "bf16",
            Dtype::Fp16 => "fp16",
            Dtype::Fp32 => "fp32",
            Dtype::Nvfp4 => "nvfp4",
            Dtype::Mxfp4 => "mxfp4",
            Dtype::Int8 => "int8",
            Dtype::Q4 => "q4",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        Dtype::ALL
            .into_iter()
            .find(|d| d.as_str() == lower)
            .ok_or_else(|| format!("unknown dtype `{s}`; use one of {}", join(Dtype::ALL)))
    }
}

/// What kind of workload a recipe is (`general.workload_type` in metadata.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadType {
    /// Inference benchmark (every llmb recipe).
    Inference,
    /// Pre-training (NVIDIA recipes only; llmb does not run these).
    Pretrain,
    /// Fine-tuning.
    Finetune,
    /// Micro-benchmark.
    Microbenchmark,
    /// Reinforcement learning.
    Rl,
    /// Tools.
    Tools,
}

impl WorkloadType {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadType::Inference => "inference",
            WorkloadType::Pretrain => "pretrain",
            WorkloadType::Finetune => "finetune",
            WorkloadType::Microbenchmark => "microbenchmark",
            WorkloadType::Rl => "rl",
            WorkloadType::Tools => "tools",
        }
    }
}

impl fmt::Display for WorkloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The inference engine that serves (or, for offline benchmarks, runs) the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// `trtllm-bench throughput`: offline, in-process TensorRT-LLM (no server).
    TrtllmBench,
    /// `trtllm-serve`: TensorRT-LLM's OpenAI-compatible server.
    TrtllmServe,
    /// An NVIDIA NIM container.
    Nim,
    /// NVIDIA Dynamo with TensorRT-LLM workers (disaggregated prefill/decode).
    DynamoTrtllm,
    /// vLLM's OpenAI server.
    Vllm,
    /// SGLang's server.
    Sglang,
    /// llama.cpp's `llama-server`.
    LlamaCpp,
    /// llmb's built-in simulated engine (also used for metadata.yaml frameworks llmb cannot run).
    Sim,
}

impl EngineKind {
    /// Whether this engine needs `disaggregated` prefill/decode pools.
    pub fn is_disaggregated(self) -> bool {
        matches!(self, EngineKind::DynamoTrtllm)
    }
}

/// How load is generated and reported (which tool's report the results mirror).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadStyle {
    /// Offline: all requests handed to the engine in-process (`trtllm-bench throughput`).
    TrtllmBench,
    /// GenAI-Perf against an OpenAI endpoint.
    GenaiPerf,
    /// `benchmark_serving` (vLLM / TensorRT-LLM) against an OpenAI endpoint.
    BenchmarkServing,
}

/// A client concurrency limit. `-1` in YAML and env (as trtllm-bench's `--concurrency -1`)
/// means no client-side limit: every request is submitted at once and the engine's scheduler
/// bounds what runs (reference 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Concurrency {
    /// No client-side limit (`-1`).
    Unbounded,
    /// At most this many requests in flight.
    Limit(u32),
}

impl Concurrency {
    /// The number as the seed tools write it (`-1` for unbounded).
    pub fn as_i64(self) -> i64 {
        match self {
            Concurrency::Unbounded => -1,
            Concurrency::Limit(n) => i64::from(n),
        }
    }
}

impl TryFrom<i64> for Concurrency {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match n {
            -1 => Ok(Concurrency::Unbounded),
            n if n >= 1 => u32::try_from(n)
                .map(Concurrency::Limit)
                .map_err(|_| format!("concurrency {n} is too large")),
            n => Err(format!(
                "concurrency {n} is not allowed; use -1 (no limit) or a positive whole number"
            )),
        }
    }
}

impl FromStr for Concurrency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("max") || t.eq_ignore_ascii_case("unbounded") {
            return Ok(Concurrency::Unbounded);
        }
        let n: i64 = t.parse().map_err(|_| {
            format!(
                "concurrency `{s}` is not a number; use -1 (no limit) or a positive whole number"
            )
        })?;
        Concurrency::try_from(n)
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_i64())
    }
}

impl Serialize for Concurrency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.as_i64())
    }
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Concurrency::try_from(n),
            Raw::Str(s) => s.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// A Slurm time limit, stored in whole seconds.
///
/// Parsed with Slurm's `--time` grammar: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`
/// (so `50:00` is fifty minutes). A YAML integer is minutes, as in Slurm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeLimit {
    /// Total seconds.
    pub seconds: u64,
}

impl TimeLimit {
    /// From minutes.
    pub fn minutes(m: u64) -> Self {
        Self { seconds: m * 60 }
    }
}

impl FromStr for TimeLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "time limit `{s}` is not a Slurm time; write MM, MM:SS, HH:MM:SS or D-HH:MM:SS (e.g. 50:00)"
            )
        };
        let t = s.trim();
        let num = |p: &str| p.parse::<u64>().map_err(|_| bad());
        let (days, rest) = match t.split_once('-') {
            Some((d, r)) => (Some(num(d)?), r),
            None => (None, t),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let secs = match (days, parts.as_slice()) {
            (None, [m]) => num(m)? * 60,
            (None, [m, s]) => num(m)? * 60 + num(s)?,
            (None, [h, m, s]) => num(h)? * 3600 + num(m)? * 60 + num(s)?,
            (Some(d), [h]) => d * 86400 + num(h)? * 3600,
            (Some(d), [h, m]) => d * 86400 + num(h)? * 3600 + num(m)? * 60,
            (Some(d), [h, m, s]) => d * 86400 + num(h)? * 3600 + num(m)? * 60 + num(s)?,
            _ => return Err(bad()),
        };
        if secs == 0 {
            return Err(bad());
        }
        Ok(TimeLimit { seconds: secs })
    }
}

impl fmt::Display for TimeLimit {
    /// `HH:MM:SS`, or `D-HH:MM:SS` past a day (what `sbatch --time` accepts).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, r) = (self.seconds / 86400, self.seconds % 86400);
        let (h, m, s) = (r / 3600, (r % 3600) / 60, r % 60);
        if d > 0 {
            write!(f, "{d}-{h:02}:{m:02}:{s:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

impl Serialize for TimeLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(0) => Err(serde::de::Error::custom("time limit must be positive")),
            Raw::Int(m) => Ok(TimeLimit::minutes(m)),
            Raw::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A value that may differ per GPU type: keys are GPU names or `default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ByGpu<T> {
    /// Entries by GPU name (`gb200`, `h100`, ...) or `default`.
    pub entries: BTreeMap<String, T>,
}

impl<T> ByGpu<T> {
    /// One value for every GPU.
    pub fn default_only(value: T) -> Self {
        let mut entries = BTreeMap::new();
        entries.insert("default".to_owned(), value);
        Self { entries }
    }

    /// The entry for `gpu`, else the `default` entry.
    pub fn get(&self, gpu: &GpuType) -> Option<&T> {
        self.entries
            .get(gpu.as_str())
            .or_else(|| self.entries.get("default"))
    }
}

/// A YAML scalar of any kind (string, number, bool), kept as the text a shell would see.
/// Used where NVIDIA's files and bulk files put numbers in env maps (`TP: 8`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Int(i64),
            Float(f64),
            Str(String),
        }
        Ok(Scalar(match Raw::deserialize(d)? {
            Raw::Bool(b) => b.to_string(),
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => f.to_string(),
            Raw::Str(s) => s,
        }))
    }
}

/// Joins displayable items with `, ` (for "Available ...: a, b, c").
pub fn join<I, T>(items: I) -> String
where
    I: IntoIterator<Item = T>,
    T: fmt::Display,
{
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_names_and_node_sizes() {
        assert_eq!("GB200".parse::<GpuType>().unwrap(), GpuType::Gb200);
        assert_eq!(GpuType::Gb200.default_gpus_per_node(), Some(4));
        assert_eq!(GpuType::H100.default_gpus_per_node(), Some(8));
        let other: GpuType = "l40s".parse().unwrap();
        assert_eq!(other, GpuType::Other("l40s".into()));
        assert_eq!(other.default_gpus_per_node(), None);
        assert!("a b".parse::<GpuType>().is_err());
    }

    #[test]
    fn concurrency_minus_one_is_unbounded() {
        let v: Vec<Concurrency> = serde_yaml_ng::from_str("[-1, 8, max]").unwrap();
        assert_eq!(
            v,
            [
                Concurrency::Unbounded,
                Concurrency::Limit(8),
                Concurrency::Unbounded
            ]
        );
        assert_eq!(serde_json::to_string(&v).unwrap(), "[-1,8,-1]");
        assert!("0".parse::<Concurrency>().is_err());
        assert!("-2".parse::<Concurrency>().is_err());
    }

    #[test]
    fn slurm_time_grammar() {
        let t = |s: &str| s.parse::<TimeLimit>().unwrap().seconds;
        assert_eq!(t("50:00"), 3000);
        assert_eq!(t("30"), 1800);
        assert_eq!(t("2:00:00"), 7200);
        assert_eq!(t("1-00:00:00"), 86400);
        assert_eq!(t("1-2"), 86400 + 7200);
        assert_eq!(TimeLimit { seconds: 3000 }.to_string(), "00:50:00");
        assert!("abc".parse::<TimeLimit>().is_err());
        assert!("0".parse::<TimeLimit>().is_err());
        let y: TimeLimit = serde_yaml_ng::from_str("40").unwrap();
        assert_eq!(y.seconds, 2400);
    }

    #[test]
    fn dtype_parse() {
        assert_eq!("NVFP4".parse::<Dtype>().unwrap(), Dtype::Nvfp4);
        let e = "fp3".parse::<Dtype>().unwrap_err();
        assert!(e.contains("fp8, bf16"), "{e}");
    }

    #[test]
    fn by_gpu_falls_back_to_default() {
        let b: ByGpu<String> = serde_yaml_ng::from_str("default: a\nh100: b").unwrap();
        assert_eq!(b.get(&GpuType::H100).unwrap(), "b");
        assert_eq!(b.get(&GpuType::Gb200).unwrap(), "a");
    }
}
