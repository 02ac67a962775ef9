//! Scraping every engine of a plan (other than the load target) while a step runs.

use std::path::Path;
use std::time::Duration;

use llmb_engines::telemetry::ServerView;
use llmb_probe::Scraper;

use super::place::Placement;
use super::Running;

/// Starts a scraper for each ready engine that exposes metrics, except the load target.
pub(super) fn scrape_servers(
    running: &[Running<'_>],
    target: usize,
    placement: &Placement,
) -> Vec<(String, Scraper)> {
    running
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != target)
        .filter_map(|(_, r)| {
            let path = r.spec.metrics_path.clone()?;
            let port = r.port?;
            Some((
                r.plan.name.clone(),
                Scraper::start(
                    llmb_probe::Origin::plain(format!("{}:{port}", placement.host_of(r.plan))),
                    path,
                    r.spec.metric_names.clone(),
                    Duration::from_secs(1),
                ),
            ))
        })
        .collect()
}

/// `server_metrics_<server>.jsonl` per scraped engine and `servers.json` with each one's
/// summary, in the step's result folder.
pub(super) fn write_server_metrics(
    scrapers: Vec<(String, Scraper)>,
    dir: &Path,
) -> anyhow::Result<()> {
    if scrapers.is_empty() {
        return Ok(());
    }
    let mut views = serde_json::Map::new();
    for (name, sc) in scrapers {
        let scrapes = sc.finish();
        let mut lines = Vec::new();
        for x in &scrapes {
            serde_json::to_writer(&mut lines, x)?;
            lines.push(b'\n');
        }
        std::fs::write(dir.join(format!("server_metrics_{name}.jsonl")), lines)?;
        views.insert(
            name,
            serde_json::to_value(ServerView::from_scrapes(&scrapes))?,
        );
    }
    std::fs::write(
        dir.join("servers.json"),
        serde_json::to_vec_pretty(&serde_json::Value::Object(views))?,
    )?;
    Ok(())
}
