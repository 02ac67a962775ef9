//! The seeds' environment knobs (`USE_CASES`, `MAX_BATCH_SIZE`, `CONCURRENCY`, `NCTX`, ...,
//! `SBATCH_*`) parsed from an env map the caller provides into typed overrides. Nothing here
//! reads the process environment. An empty value counts as unset, as bash's `${VAR:-default}`
//! in the seed scripts treats it.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;

use crate::types::{Concurrency, TimeLimit};
use crate::use_case::{parse_list, UseCase};

/// Every knob name, in one place.
pub mod vars {
    /// `name:ISL/OSL` list (space or comma separated): which use cases to run.
    pub const USE_CASES: &str = "USE_CASES";
    /// Max sequences per engine step (aggregated recipes).
    pub const MAX_BATCH_SIZE: &str = "MAX_BATCH_SIZE";
    /// Max tokens per engine step (aggregated recipes).
    pub const MAX_NUM_TOKENS: &str = "MAX_NUM_TOKENS";
    /// KV-cache share of free GPU memory, (0, 1].
    pub const KV_CACHE_FRACTION: &str = "KV_CACHE_FRACTION";
    /// Requests per use case.
    pub const NUM_REQUESTS: &str = "NUM_REQUESTS";
    /// Concurrency, or a space-separated sweep; `-1` = no client limit.
    pub const CONCURRENCY: &str = "CONCURRENCY";
    /// `true`/`false`: stream responses.
    pub const STREAMING: &str = "STREAMING";
    /// Tensor parallel size.
    pub const TP: &str = "TP";
    /// Expert parallel size.
    pub const EP: &str = "EP";
    /// Pipeline parallel size.
    pub const PP: &str = "PP";
    /// Input length for recipes with one use case (Dynamo).
    pub const ISL: &str = "ISL";
    /// Output length for recipes with one use case (Dynamo).
    pub const OSL: &str = "OSL";
    /// Prompts per concurrency step = concurrency × this.
    pub const MULTI_ROUND: &str = "MULTI_ROUND";
    /// GPUs per node, overriding the GPU type's default (llmb-run honours it).
    pub const GPUS_PER_NODE: &str = "GPUS_PER_NODE";
    /// Slurm's own time limit variable (also passed through to sbatch).
    pub const SBATCH_TIMELIMIT: &str = "SBATCH_TIMELIMIT";
    /// Number of prefill servers (Dynamo).
    pub const NCTX: &str = "NCTX";
    /// GPUs per prefill server.
    pub const CTX_WORLD_SIZE: &str = "CTX_WORLD_SIZE";
    /// Prefill max batch size.
    pub const CTX_MAX_BATCH_SIZE: &str = "CTX_MAX_BATCH_SIZE";
    /// Prefill max tokens per step.
    pub const CTX_MAX_NUM_TOKENS: &str = "CTX_MAX_NUM_TOKENS";
    /// Prefill GPU memory fraction.
    pub const CTX_GPU_MEMORY_FRACTION: &str = "CTX_GPU_MEMORY_FRACTION";
    /// Prefill attention DP.
    pub const CTX_ATTENTION_DP: &str = "CTX_ATTENTION_DP";
    /// Number of decode servers.
    pub const NGEN: &str = "NGEN";
    /// GPUs per decode server.
    pub const GEN_WORLD_SIZE: &str = "GEN_WORLD_SIZE";
    /// Decode max batch size.
    pub const GEN_MAX_BATCH_SIZE: &str = "GEN_MAX_BATCH_SIZE";
    /// Decode max tokens per step.
    pub const GEN_MAX_NUM_TOKENS: &str = "GEN_MAX_NUM_TOKENS";
    /// Decode GPU memory fraction.
    pub const GEN_GPU_MEMORY_FRACTION: &str = "GEN_GPU_MEMORY_FRACTION";
    /// Decode attention DP.
    pub const GEN_ATTENTION_DP: &str = "GEN_ATTENTION_DP";
    /// Decode expert-load-balancer slots.
    pub const GEN_EPLB_NUM_SLOTS: &str = "GEN_EPLB_NUM_SLOTS";
    /// Decode MTP size.
    pub const GEN_MTP_SIZE: &str = "GEN_MTP_SIZE";

    /// The model's weights (a folder, or a GGUF file for llama.cpp), replacing the recipe's.
    pub const MODEL_PATH: &str = "MODEL_PATH";
    /// The tokenizer `llmb bench` counts input tokens with (tokenizer.json or its folder).
    pub const TOKENIZER: &str = "TOKENIZER";
    /// CPU threads of llama.cpp's `llama-server` (`-t`, default 1).
    pub const LLAMA_THREADS: &str = "LLAMA_THREADS";

    /// All knob names above (`SBATCH_*` other than `SBATCH_TIMELIMIT` pass through untouched).
    pub const ALL: [&str; 32] = [
        MODEL_PATH,
        TOKENIZER,
        LLAMA_THREADS,
        USE_CASES,
        MAX_BATCH_SIZE,
        MAX_NUM_TOKENS,
        KV_CACHE_FRACTION,
        NUM_REQUESTS,
        CONCURRENCY,
        STREAMING,
        TP,
        EP,
        PP,
        ISL,
        OSL,
        MULTI_ROUND,
        GPUS_PER_NODE,
        SBATCH_TIMELIMIT,
        NCTX,
        CTX_WORLD_SIZE,
        CTX_MAX_BATCH_SIZE,
        CTX_MAX_NUM_TOKENS,
        CTX_GPU_MEMORY_FRACTION,
        CTX_ATTENTION_DP,
        NGEN,
        GEN_WORLD_SIZE,
        GEN_MAX_BATCH_SIZE,
        GEN_MAX_NUM_TOKENS,
        GEN_GPU_MEMORY_FRACTION,
        GEN_ATTENTION_DP,
        GEN_EPLB_NUM_SLOTS,
        GEN_MTP_SIZE,
    ];
}

/// A knob that did not parse: names the variable, the value and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: {problem}; {fix}")]
pub struct KnobError {
    /// The variable.
    pub var: String,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub problem: String,
    /// What to write instead.
    pub fix: String,
}

/// Overrides for one disaggregated pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PoolKnobs {
    /// `NCTX` / `NGEN`.
    pub servers: Option<u32>,
    /// `CTX_WORLD_SIZE` / `GEN_WORLD_SIZE`.
    pub gpus_per_server: Option<u32>,
    /// `*_MAX_BATCH_SIZE`.
    pub max_batch_size: Option<u32>,
    /// `*_MAX_NUM_TOKENS`.
    pub max_num_tokens: Option<u32>,
    /// `*_GPU_MEMORY_FRACTION`.
    pub gpu_memory_fraction: Option<f64>,
    /// `*_ATTENTION_DP`.
    pub attention_dp: Option<bool>,
    /// `GEN_EPLB_NUM_SLOTS` (decode only).
    pub eplb_num_slots: Option<u32>,
    /// `GEN_MTP_SIZE` (decode only).
    pub mtp_size: Option<u32>,
}

/// Typed overrides from the environment; `None` = not given.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Knobs {
    /// `USE_CASES`.
    pub use_cases: Option<Vec<UseCase>>,
    /// `MAX_BATCH_SIZE`.
    pub max_batch_size: Option<u32>,
    /// `MAX_NUM_TOKENS`.
    pub max_num_tokens: Option<u32>,
    /// `KV_CACHE_FRACTION`.
    pub kv_cache_fraction: Option<f64>,
    /// `NUM_REQUESTS`.
    pub num_requests: Option<u64>,
    /// `CONCURRENCY` (one value or a space/comma-separated sweep).
    pub concurrency: Option<Vec<Concurrency>>,
    /// `STREAMING`.
    pub streaming: Option<bool>,
    /// `TP`.
    pub tp: Option<u32>,
    /// `EP`.
    pub ep: Option<u32>,
    /// `PP`.
    pub pp: Option<u32>,
    /// `ISL`.
    pub isl: Option<u32>,
    /// `OSL`.
    pub osl: Option<u32>,
    /// `MULTI_ROUND`.
    pub multi_round: Option<u32>,
    /// `GPUS_PER_NODE`.
    pub gpus_per_node: Option<u32>,
    /// `SBATCH_TIMELIMIT`, parsed.
    pub time_limit: Option<TimeLimit>,
    /// `NCTX`, `CTX_*`.
    pub prefill: PoolKnobs,
    /// `NGEN`, `GEN_*`.
    pub decode: PoolKnobs,
    /// Every `SBATCH_*` variable, verbatim, for sbatch to read.
    pub sbatch: BTreeMap<String, String>,
}

struct Reader<'a> {
    env: &'a BTreeMap<String, String>,
}

impl Reader<'_> {
    fn raw(&self, var: &str) -> Option<&str> {
        self.env
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn err(var: &str, value: &str, problem: &str, fix: &str) -> KnobError {
        KnobError {
            var: var.to_owned(),
            value: value.to_owned(),
            problem: problem.to_owned(),
            fix: fix.to_owned(),
        }
    }

    fn positive<T: FromStr + PartialEq + Default>(
        &self,
        var: &str,
    ) -> Result<Option<T>, KnobError> {
        let Some(v) = self.raw(var) else {
            return Ok(None);
        };
        match v.parse::<T>() {
            Ok(n) if n != T::default() => Ok(Some(n)),
            _ => Err(Self::err(
                var,
                v,
                "not a positive whole number",
                &format!("write e.g. {var}=8"),
            )),
        }
    }

    fn count(&self, var: &str) -> Result<Option<u32>, KnobError> {
        let Some(v) = self.raw(var) else {
            return Ok(None);
        };
        v.parse::<u32>()
            .map(Some)
            .map_err(|_| Self::err(var, v, "not a whole number", &format!("write e.g. {var}=0")))
    }

    fn fraction(&self, var: &str) -> Result<Option<f64>, KnobError> {
        let Some(v) = self.raw(var) else {
            return Ok(None);
        };
        match v.parse::<f64>() {
            Ok(f) if f > 0.0 && f <= 1.0 => Ok(Some(f)),
            _ => Err(Self::err(
                var,
                v,
                "not a fraction in (0, 1]",
                &format!("write e.g. {var}=0.9"),
            )),
        }
    }

    fn boolean(&self, var: &str) -> Result<Option<bool>, KnobError> {
        let Some(v) = self.raw(var) else {
            return Ok(None);
        };
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(Self::err(
                var,
                v,
                "not a boolean",
                &format!("write {var}=true or {var}=false"),
            )),
        }
    }

    fn pool(&self, prefix: &str, servers: &str) -> Result<PoolKnobs, KnobError> {
        let n = |s: &str| format!("{prefix}_{s}");
        Ok(PoolKnobs {
            servers: self.positive(servers)?,
            gpus_per_server: self.positive(&n("WORLD_SIZE"))?,
            max_batch_size: self.positive(&n("MAX_BATCH_SIZE"))?,
            max_num_tokens: self.positive(&n("MAX_NUM_TOKENS"))?,
            gpu_memory_fraction: self.fraction(&n("GPU_MEMORY_FRACTION"))?,
            attention_dp: self.boolean(&n("ATTENTION_DP"))?,
            eplb_num_slots: if prefix == "GEN" {
                self.count(vars::GEN_EPLB_NUM_SLOTS)?
            } else {
                None
            },
            mtp_size: if prefix == "GEN" {
                self.count(vars::GEN_MTP_SIZE)?
            } else {
                None
            },
        })
    }
}

impl Knobs {
    /// Parses every knob present in `env` (other variables are ignored).
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Knobs, KnobError> {
        let r = Reader { env };
        let use_cases = match r.raw(vars::USE_CASES) {
            None => None,
            Some(v) => Some(parse_list(v).map_err(|e| KnobError {
                var: vars::USE_CASES.into(),
                value: v.into(),
                problem: e.0,
                fix: "e.g. USE_CASES=\"reasoning:1000/1000 chat:128/128\"".into(),
            })?),
        };
        let concurrency = match r.raw(vars::CONCURRENCY) {
            None => None,
            Some(v) => Some(
                v.split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|p| !p.is_empty())
                    .map(str::parse::<Concurrency>)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|p| {
                        Reader::err(
                            vars::CONCURRENCY,
                            v,
                            &p,
                            "write CONCURRENCY=-1 (no limit), CONCURRENCY=64 or CONCURRENCY=\"1 8 64\"",
                        )
                    })?,
            ),
        };
        let time_limit = match r.raw(vars::SBATCH_TIMELIMIT) {
            None => None,
            Some(v) => Some(v.parse::<TimeLimit>().map_err(|p| {
                Reader::err(vars::SBATCH_TIMELIMIT, v, &p, "e.g. SBATCH_TIMELIMIT=50:00")
            })?),
        };
        Ok(Knobs {
            use_cases,
            max_batch_size: r.positive(vars::MAX_BATCH_SIZE)?,
            max_num_tokens: r.positive(vars::MAX_NUM_TOKENS)?,
            kv_cache_fraction: r.fraction(vars::KV_CACHE_FRACTION)?,
            num_requests: r.positive(vars::NUM_REQUESTS)?,
            concurrency,
            streaming: r.boolean(vars::STREAMING)?,
            tp: r.positive(vars::TP)?,
            ep: r.positive(vars::EP)?,
            pp: r.positive(vars::PP)?,
            isl: r.positive(vars::ISL)?,
            osl: r.positive(vars::OSL)?,
            multi_round: r.positive(vars::MULTI_ROUND)?,
            gpus_per_node: r.positive(vars::GPUS_PER_NODE)?,
            time_limit,
            prefill: r.pool("CTX", vars::NCTX)?,
            decode: r.pool("GEN", vars::NGEN)?,
            sbatch: env
                .iter()
                .filter(|(k, v)| k.starts_with("SBATCH_") && !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// The knob variables present (non-empty) in `env`, for recording in the plan.
    pub fn present(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        env.iter()
            .filter(|(k, v)| {
                !v.trim().is_empty()
                    && (vars::ALL.contains(&k.as_str()) || k.starts_with("SBATCH_"))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn seed_one_summarization_line() {
        let k = Knobs::from_env(&env(&[
            ("SBATCH_TIMELIMIT", "50:00"),
            ("MAX_NUM_TOKENS", "8128"),
            ("MAX_BATCH_SIZE", "128"),
            ("USE_CASES", "summarization:8000/512"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert_eq!(k.max_num_tokens, Some(8128));
        assert_eq!(k.max_batch_size, Some(128));
        assert_eq!(k.time_limit, Some(TimeLimit { seconds: 3000 }));
        assert_eq!(k.use_cases.unwrap()[0].isl, 8000);
        assert_eq!(k.sbatch["SBATCH_TIMELIMIT"], "50:00");
        assert_eq!(k.num_requests, None);
    }

    #[test]
    fn dynamo_knobs_and_concurrency_sweep() {
        let k = Knobs::from_env(&env(&[
            ("NCTX", "4"),
            ("CTX_WORLD_SIZE", "4"),
            ("GEN_ATTENTION_DP", "false"),
            ("GEN_MTP_SIZE", "0"),
            ("CONCURRENCY", "1 64 -1"),
            ("STREAMING", "false"),
            ("TP", ""),
        ]))
        .unwrap();
        assert_eq!(k.prefill.servers, Some(4));
        assert_eq!(k.prefill.gpus_per_server, Some(4));
        assert_eq!(k.decode.attention_dp, Some(false));
        assert_eq!(k.decode.mtp_size, Some(0));
        assert_eq!(
            k.concurrency.unwrap(),
            [
                Concurrency::Limit(1),
                Concurrency::Limit(64),
                Concurrency::Unbounded
            ]
        );
        assert_eq!(k.streaming, Some(false));
        assert_eq!(k.tp, None, "empty means unset");
    }

    #[test]
    fn errors_name_variable_and_fix() {
        let cases = [
            ("MAX_BATCH_SIZE", "lots", "MAX_BATCH_SIZE=8"),
            ("MAX_BATCH_SIZE", "0", "positive"),
            ("KV_CACHE_FRACTION", "95", "KV_CACHE_FRACTION=0.9"),
            ("STREAMING", "maybe", "STREAMING=true"),
            ("CONCURRENCY", "0", "CONCURRENCY=-1"),
            ("USE_CASES", "chat", "NAME:ISL/OSL"),
            ("SBATCH_TIMELIMIT", "soon", "50:00"),
        ];
        for (var, value, want) in cases {
            let e = Knobs::from_env(&env(&[(var, value)])).unwrap_err();
            assert_eq!(e.var, var);
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("{var}=")), "{msg}");
            assert!(msg.contains(want), "{var}: {msg}");
        }
    }
}
