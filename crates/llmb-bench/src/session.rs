//! A bench session: the target opened once (the embedded engine started when there is no
//! URL, the model resolved), the settings expanded into load points with their folders,
//! and one function that runs a point and returns its [`PointRun`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use llmb_engines::telemetry::{self, ServerView};
use llmb_engines::EngineKind;
use llmb_load::client::{HttpClient, Verify};
use llmb_load::dataset::{self, PromptEntry, RequestShape, ServerKind};
use llmb_load::driver::DriverContext;
use llmb_load::progress::Progress;
use llmb_load::sink::Sink;
use llmb_load::team;
use llmb_load::{Arrival, ClientError, Concurrency, LoadPlan, Target};
use llmb_metrics::Summary;
use llmb_probe::{Origin, Scraper};
use llmb_recipe::use_case::UseCase;
use llmb_report::run_dir::{self, PointDir};
use llmb_report::RunInfo;
use llmb_settings::invalid;
use llmb_tokenizer::LengthSpec;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::embedded::{self, Embedded};
use crate::point::PointRun;
use crate::resolve::Resolved;

/// One load point of the run.
#[derive(Debug, Clone)]
pub struct Point {
    /// Its name: the use case, and `c<N>` when the run has several concurrencies.
    pub label: String,
    /// Its shape, when given by a use case.
    pub use_case: Option<UseCase>,
    /// Its concurrency.
    pub concurrency: Concurrency,
    /// Its folder.
    pub dir: PointDir,
    /// Nominal input tokens.
    pub isl: u64,
    /// Nominal output tokens.
    pub osl: u64,
}

/// The opened target and the run's points.
pub struct Session {
    /// The validated settings.
    pub run: Resolved,
    /// The server requests go to.
    pub target: Target,
    /// The served model.
    pub model: String,
    /// The run's top folder (the point's own folder when there is one point).
    pub top: PathBuf,
    /// `YYYYmmdd-HHMMSS` of the start.
    pub stamp: String,
    /// The llmb binary (the `--workers` processes run it).
    exe: PathBuf,
    client: HttpClient,
    started_unix_s: u64,
    _engine: Option<Embedded>,
}

impl Session {
    /// Opens the target: starts the embedded engine (`exe serve sim`) when the settings
    /// name no URL, checks the URL, and resolves the model from `/v1/models` unless given.
    ///
    /// # Errors
    /// An unreachable server or a bad URL ([`Invalid`](llmb_settings::Invalid)), an engine
    /// that does not start.
    pub async fn open(run: Resolved, exe: &Path) -> anyhow::Result<Session> {
        let a = &run.settings;
        let (engine, base_url) = match &a.url {
            Some(u) => (None, u.clone()),
            None => {
                let e = embedded::start(exe, a.seed, a.model.as_deref()).await?;
                let url = e.url.clone();
                (Some(e), url)
            }
        };
        let target = Target {
            base_url: base_url.clone(),
            endpoint: a.endpoint,
            headers: run.headers.clone(),
            timeout: a.timeout,
            idle_timeout: a.idle_timeout,
            verify: if a.insecure {
                Verify::Skip
            } else {
                Verify::Roots
            },
        };
        target.uri("/").map_err(|e| invalid(e.to_string()))?;
        let client = HttpClient::new(Duration::from_secs(10), target.verify);
        let model = resolve_model(&client, &target, a.model.as_deref()).await?;
        let started_unix_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stamp = run_dir::stamp(started_unix_s);
        let top = match &a.output_dir {
            Some(d) => d.clone(),
            None => {
                let (isl, osl) = lengths(&run, run.use_cases.first());
                let label = a
                    .label
                    .clone()
                    .unwrap_or_else(|| format!("{}-{isl}-{osl}", a.endpoint.as_str()));
                run_dir::default_dir(&PathBuf::from("results"), &stamp, &label)
            }
        };
        Ok(Session {
            run,
            target,
            model,
            top,
            stamp,
            exe: exe.to_owned(),
            client,
            started_unix_s,
            _engine: engine,
        })
    }

    /// Every use case × every concurrency, in that order; one point writes straight into
    /// the top folder, several each into a folder named by its label.
    pub fn points(&self) -> Vec<Point> {
        let shapes: Vec<Option<&UseCase>> = if self.run.use_cases.is_empty() {
            vec![None]
        } else {
            self.run.use_cases.iter().map(Some).collect()
        };
        let cs = &self.run.concurrencies;
        let single = shapes.len() * cs.len() == 1;
        let mut points = Vec::new();
        for uc in shapes {
            for c in cs {
                let mut label = uc.map_or_else(String::new, |u| u.name.clone());
                if cs.len() > 1 || label.is_empty() {
                    if !label.is_empty() {
                        label.push('-');
                    }
                    label.push_str(&format!("c{}", c.as_flag()));
                }
                let dir = if single {
                    PointDir::new(&self.top)
                } else {
                    PointDir::new(self.top.join(&label))
                };
                let (isl, osl) = lengths(&self.run, uc);
                points.push(Point {
                    label,
                    use_case: uc.cloned(),
                    concurrency: *c,
                    dir,
                    isl,
                    osl,
                });
            }
        }
        points
    }

    /// Runs one point: prepares its prompts before the clock starts, writes `config.json`,
    /// scrapes the server around the load when asked, runs the load (in this process or
    /// across `--workers`), and computes its metrics. Records are on disk as each request
    /// ends; the other files are written by [`PointRun::write`].
    ///
    /// # Errors
    /// A dataset that cannot be read ([`Invalid`](llmb_settings::Invalid)), a folder that
    /// cannot be written, workers that fail.
    pub async fn run_point(
        &self,
        point: &Point,
        progress: Arc<Progress>,
        interrupt: watch::Receiver<bool>,
    ) -> anyhow::Result<PointRun> {
        let a = &self.run.settings;
        let dir = &point.dir;
        std::fs::create_dir_all(&dir.dir).map_err(|e| {
            invalid(format!(
                "cannot create result folder {}: {e}; pass an --output-dir you can write",
                dir.dir.display()
            ))
        })?;
        let count = request_count(a, point.concurrency);
        let plan = self.load_plan(point, count)?;
        let config = self.config(point, count, plan.arrival);
        std::fs::write(dir.config(), serde_json::to_vec_pretty(&config)?)
            .with_context(|| format!("cannot write {}", dir.config().display()))?;
        let _ = std::fs::remove_file(dir.records());
        // The baseline scrape comes before the first request, so counters diff exactly.
        let scraper = match a.server_metrics.then(|| self.scraper()) {
            Some(mut s) => Some(
                tokio::task::spawn_blocking(move || {
                    s.first_scrape();
                    s
                })
                .await?,
            ),
            None => None,
        };
        if let Some(o) = &a.aiperf {
            write_inputs_json(&o.artifact_dir, &plan)?;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // The records count from the load's origin, taken as it starts: this wall-clock
        // reading anchors them for formats that write absolute times (AIPerf's).
        let origin_unix_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let result = if a.workers > 1 {
            let shared = team::Shared {
                exe: &self.exe,
                target: &self.target,
                stream: a.stream,
                tokenizer: a.tokenizer.clone(),
                loaded: &self.run.tokenizer,
                client: &self.client,
                threads,
                stop: self.stop_policy(),
            };
            let r = team::run(&plan, a.workers, shared, &dir.workers(), interrupt).await?;
            llmb_load::sink::write_all(&dir.records(), &r.records)
                .with_context(|| format!("cannot write {}", dir.records().display()))?;
            r
        } else {
            let sink = Sink::start(Some(&dir.records()), self.run.tokenizer.clone())
                .with_context(|| format!("cannot write {}", dir.records().display()))?;
            let ctx = DriverContext {
                client: self.client.clone(),
                target: self.target.clone(),
                stream: a.stream,
                progress,
                interrupt,
                stop: self.stop_policy(),
                threads,
                start_at: None,
                origin: None,
            };
            llmb_load::run(&plan, ctx, sink).await?
        };
        let scrapes = match scraper {
            Some(s) => Some(tokio::task::spawn_blocking(move || s.finish()).await?),
            None => None,
        };
        let summary = Summary::from_records(&result.records, Some(result.window));
        let info = RunInfo {
            model: self.model.clone(),
            tokenizer: self.run.tokenizer.name().to_owned(),
            gpus: a.gpus,
            decode_gpus: a.decode_gpus,
            streaming: a.stream,
            concurrency: point.concurrency.as_flag(),
            request_rate: a.request_rate,
            burstiness: a.burstiness,
            num_prompts: summary.requests,
            good_requests: self
                .run
                .slo
                .as_ref()
                .map(|s| s.good_requests(&result.records)),
            backend: format!("{:?}", a.server).to_lowercase(),
            date: self.stamp.clone(),
            origin_unix_ns,
        };
        let server = scrapes.as_deref().map(ServerView::from_scrapes);
        let mut done = PointRun::new(
            point.clone(),
            config,
            info,
            summary,
            result,
            scrapes,
            server,
        );
        done.vllm = self.run.settings.vllm.clone();
        done.aiperf = self.run.settings.aiperf.clone();
        Ok(done)
    }

    /// When the run gives up.
    fn stop_policy(&self) -> llmb_load::breaker::StopPolicy {
        llmb_load::breaker::StopPolicy {
            max_error_rate: self.run.settings.max_error_rate,
            ..Default::default()
        }
    }

    /// The point's prepared requests and schedule (prompts beyond
    /// [`distinct_prompts`] repeat in order).
    fn load_plan(&self, point: &Point, count: Option<u64>) -> anyhow::Result<LoadPlan> {
        let a = &self.run.settings;
        let distinct = distinct_prompts(count, point.isl) + a.warmup;
        let tokenizer = &self.run.tokenizer;
        let entries: Vec<PromptEntry> = match &a.dataset {
            Some(p) => dataset::from_file(p, tokenizer, Some(point.osl))
                .map_err(|e| invalid(e.to_string()))?,
            None => dataset::synthetic(
                tokenizer,
                distinct as usize,
                LengthSpec {
                    mean: point.isl,
                    stddev: a.isl_stddev,
                },
                LengthSpec {
                    mean: point.osl,
                    stddev: a.osl_stddev,
                },
                a.seed,
            )
            .map_err(|e| invalid(e.to_string()))?,
        };
        let shape = RequestShape {
            endpoint: a.endpoint,
            model: self.model.clone(),
            stream: a.stream,
            ignore_eos: a.ignore_eos,
            server: a.server,
            prompt_token_ids: a.prompt_token_ids,
            extra_body: self.run.extra_body.clone(),
        };
        let arrival = match a.request_rate {
            Some(r) => Arrival::Rate {
                per_second: r,
                burstiness: a.burstiness,
            },
            None => Arrival::Immediate,
        };
        Ok(LoadPlan {
            requests: dataset::prepare(&entries, &shape, tokenizer),
            count,
            warmup: a.warmup,
            concurrency: point.concurrency,
            arrival,
            duration: a.duration,
            grace: a.grace,
            seed: a.seed,
            shard: None,
        })
    }

    /// `config.json`: the point's resolved settings (header names only, never values).
    fn config(&self, point: &Point, count: Option<u64>, arrival: Arrival) -> Value {
        let a = &self.run.settings;
        json!({
            "llmb_version": env!("CARGO_PKG_VERSION"),
            "url": self.target.base_url, "embedded_engine": a.url.is_none(), "endpoint": a.endpoint, "model": self.model,
            "server": a.server, "tokenizer": self.run.tokenizer.name(),
            "isl": point.isl, "osl": point.osl, "isl_stddev": a.isl_stddev, "osl_stddev": a.osl_stddev,
            "use_case": point.use_case.as_ref().map(|u| &u.name),
            "dataset": a.dataset.as_ref().map(|p| p.display().to_string()),
            "num_requests": count, "warmup": a.warmup, "duration_s": a.duration.map(|d| d.as_secs_f64()),
            "concurrency": point.concurrency.as_flag(), "arrival": arrival, "seed": a.seed,
            "ignore_eos": a.ignore_eos, "stream": a.stream, "prompt_token_ids": a.prompt_token_ids,
            "extra_body": Value::Object(self.run.extra_body.clone()),
            "headers": a.headers.iter().map(|h| h.split_once(':').map_or(h.as_str(), |(k, _)| k).to_owned()).collect::<Vec<_>>(),
            "api_key_env": a.api_key_env, "timeout_s": a.timeout.as_secs_f64(), "idle_timeout_s": a.idle_timeout.as_secs_f64(), "max_error_rate": a.max_error_rate, "insecure": a.insecure, "gpus": a.gpus,
            "slo": self.run.slo, "fail_if": a.fail_if, "started_unix_s": self.started_unix_s,
        })
    }

    /// A /metrics scraper of the target, with the metric names of its engine family.
    fn scraper(&self) -> Scraper {
        let a = &self.run.settings;
        let uri = self.target.uri("/").ok();
        let tls = uri.as_ref().and_then(|u| u.scheme_str()) == Some("https");
        let addr = uri
            .as_ref()
            .and_then(|u| {
                let host = u.host()?;
                Some(format!(
                    "{host}:{}",
                    u.port_u16().unwrap_or(if tls { 443 } else { 80 })
                ))
            })
            .unwrap_or_default();
        // A TLS setup that fails here failed the preflight already; scrapes then just fail.
        let origin = if tls {
            Origin::tls(addr.clone(), self.target.verify).unwrap_or_else(|_| Origin::plain(addr))
        } else {
            Origin::plain(addr)
        };
        let kind = match (a.url.is_none(), a.server) {
            (true, _) => Some(EngineKind::Sim),
            (false, ServerKind::Vllm) => Some(EngineKind::Vllm),
            (false, ServerKind::Sglang) => Some(EngineKind::Sglang),
            (false, ServerKind::Llamacpp) => Some(EngineKind::LlamaCpp),
            _ => None,
        };
        Scraper::start(
            origin,
            "/metrics".into(),
            telemetry::names_for(kind),
            Duration::from_secs(1),
        )
    }
}

/// AIPerf's `inputs.json` in `dir`: one session per measured request, its body as sent.
fn write_inputs_json(dir: &Path, plan: &LoadPlan) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        invalid(format!(
            "cannot create the artifact folder {}: {e}; pass an --artifact-dir you can write",
            dir.display()
        ))
    })?;
    let count = plan.count.map_or(plan.requests.len(), |c| c as usize);
    let bodies = (0..count).filter_map(|i| {
        let r = plan
            .requests
            .get((plan.warmup as usize + i) % plan.requests.len().max(1))?;
        serde_json::from_slice::<Value>(&r.body).ok()
    });
    let path = dir.join("inputs.json");
    std::fs::write(&path, llmb_report::aiperf::inputs_json(bodies))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The model: `--model`, else the first of GET /v1/models.
async fn resolve_model(
    client: &HttpClient,
    target: &Target,
    given: Option<&str>,
) -> anyhow::Result<String> {
    match client.get_json(target, "/v1/models").await {
        Ok(v) => match (given, v["data"][0]["id"].as_str()) {
            (Some(m), _) => Ok(m.to_owned()),
            (None, Some(m)) => Ok(m.to_owned()),
            (None, None) => Err(invalid(format!(
                "{} lists no models at /v1/models; pass --model",
                target.base_url
            ))),
        },
        Err(
            e @ (ClientError::Unreachable { .. }
            | ClientError::BadUrl(..)
            | ClientError::Certificate(_)),
        ) => Err(invalid(e.to_string())),
        Err(e) => match given {
            Some(m) => Ok(m.to_owned()),
            None => Err(invalid(format!(
                "{e}; pass --model if the server has no /v1/models"
            ))),
        },
    }
}

/// Nominal lengths of a point: its use case's, else `--isl`/`--osl`.
fn lengths(run: &Resolved, uc: Option<&UseCase>) -> (u64, u64) {
    uc.map_or((run.settings.isl as u64, run.settings.osl as u64), |u| {
        (u64::from(u.isl), u64::from(u.osl))
    })
}

/// Most distinct prompts prepared before a run: a run of more requests sends them again in
/// order, so preparing costs at most about a second and 50 MB however long the run.
pub const MAX_DISTINCT_PROMPTS: u64 = 50_000;
/// Most prompt tokens prepared before a run (about 300 MB of text).
pub const MAX_PREPARED_TOKENS: u64 = 64 << 20;

/// How many distinct prompts a point prepares: one per request (10,000 for a timed run),
/// at most [`MAX_DISTINCT_PROMPTS`] and [`MAX_PREPARED_TOKENS`] worth, at least one.
pub fn distinct_prompts(count: Option<u64>, isl: u64) -> u64 {
    count
        .unwrap_or(10_000)
        .min(MAX_DISTINCT_PROMPTS)
        .min(MAX_PREPARED_TOKENS / isl.max(1))
        .max(1)
}

/// Measured requests of a point: `--num-requests`; else concurrency × `--multi-round`;
/// else none with `--duration`; else 10 × concurrency (256 unbounded).
pub fn request_count(a: &llmb_settings::BenchSettings, c: Concurrency) -> Option<u64> {
    match (a.num_requests, a.multi_round, c, a.duration) {
        (Some(n), _, _, _) => Some(n),
        (None, Some(k), Concurrency::Limit(c), _) => Some(c as u64 * k),
        (None, _, _, Some(_)) => None,
        (None, _, Concurrency::Limit(c), None) => Some(10 * c as u64),
        (None, _, Concurrency::Unbounded, None) => Some(256),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmb_settings::BenchSettings;

    #[test]
    fn prepared_prompts_are_bounded() {
        assert_eq!(distinct_prompts(Some(80), 128), 80);
        assert_eq!(distinct_prompts(None, 128), 10_000);
        assert_eq!(distinct_prompts(Some(1_000_000_000), 128), 50_000);
        // 64 Mi tokens / 8 Mi tokens each = 8 prompts.
        assert_eq!(distinct_prompts(Some(100), 8 << 20), 8);
        assert_eq!(distinct_prompts(Some(100), 1 << 40), 1);
    }

    #[test]
    fn request_counts() {
        let d = BenchSettings::default;
        let c8 = Concurrency::Limit(8);
        assert_eq!(request_count(&d(), c8), Some(80));
        assert_eq!(request_count(&d(), Concurrency::Unbounded), Some(256));
        assert_eq!(
            request_count(
                &BenchSettings {
                    multi_round: Some(3),
                    ..d()
                },
                c8
            ),
            Some(24)
        );
        assert_eq!(
            request_count(
                &BenchSettings {
                    num_requests: Some(5),
                    multi_round: Some(3),
                    ..d()
                },
                c8
            ),
            Some(5)
        );
        let timed = BenchSettings {
            duration: Some(Duration::from_secs(1)),
            ..d()
        };
        assert_eq!(request_count(&timed, c8), None);
    }
}
