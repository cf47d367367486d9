//! `vlinder predict`: top-k per photo for staff checking submissions, with the volunteer's claimed
//! species flagged where the model confidently disagrees.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use serde::Serialize;
use vlinder_core::classify::Confidence;
use vlinder_core::preprocess::DecodeLimits;
use vlinder_core::{ClassList, Classifier};

use crate::evaluate::Ranked;

#[derive(Serialize)]
pub struct PhotoResult {
    pub file: PathBuf,
    /// Most probable first; empty when the photo could not be read.
    pub top: Vec<Ranked>,
    pub confidence: Option<Confidence>,
    pub claimed: Option<String>,
    /// The model is "likely" sure of a class other than the claimed one.
    pub disagrees: bool,
    pub error: Option<String>,
}

/// Finds a class by folder name, English or scientific name (case-insensitive).
pub fn resolve_class(classes: &ClassList, name: &str) -> Option<String> {
    let wanted = name.trim().to_lowercase().replace(' ', "_");
    classes
        .iter()
        .find(|c| {
            [Some(&c.id), c.english.as_ref(), c.scientific.as_ref()]
                .into_iter()
                .flatten()
                .any(|n| n.to_lowercase().replace(' ', "_") == wanted)
        })
        .map(|c| c.id.clone())
}

/// Reads `file,claimed_label` rows (a header row is allowed).
pub fn read_claims(path: &Path) -> Result<HashMap<PathBuf, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut claims = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let row = row?;
        if row.len() < 2 {
            bail!("{}:{}: expected file,claimed_label", path.display(), i + 1);
        }
        if i == 0 && row[0].eq_ignore_ascii_case("file") {
            continue;
        }
        claims.insert(PathBuf::from(&row[0]), row[1].to_string());
    }
    Ok(claims)
}

pub fn run<B: Backend>(
    classifier: &Classifier<B>,
    images: &[PathBuf],
    top_k: usize,
    claim_for: &dyn Fn(&Path) -> Option<String>,
) -> Result<Vec<PhotoResult>> {
    let header = classifier.header();
    let limits = DecodeLimits::default();
    let mut results = Vec::new();
    for file in images {
        let claimed = match claim_for(file) {
            Some(c) => Some(resolve_class(&header.classes, &c).with_context(|| {
                format!("claimed label {c:?} for {} is not a class of the model ({})", file.display(), header.classes.ids().join(", "))
            })?),
            None => None,
        };
        let outcome = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| classifier.classify_bytes(&bytes, &limits).map_err(|e| e.to_string()));
        results.push(match outcome {
            Ok(p) => {
                let disagrees = claimed.as_ref().is_some_and(|c| *c != p.top().id && p.confidence == Confidence::Likely);
                PhotoResult {
                    file: file.clone(),
                    top: p.ranking.iter().take(top_k).map(|r| Ranked { class: r.id.clone(), probability: r.probability }).collect(),
                    confidence: Some(p.confidence),
                    claimed,
                    disagrees,
                    error: None,
                }
            }
            Err(e) => PhotoResult { file: file.clone(), top: Vec::new(), confidence: None, claimed, disagrees: false, error: Some(e) },
        });
    }
    Ok(results)
}

pub fn render_table(results: &[PhotoResult]) -> String {
    let mut s = String::new();
    for r in results {
        s += &format!("{}\n", r.file.display());
        if let Some(e) = &r.error {
            s += &format!("  error: {e}\n");
            continue;
        }
        for (i, t) in r.top.iter().enumerate() {
            s += &format!("  {}. {:<26} {:>6.1}%\n", i + 1, t.class, t.probability * 100.0);
        }
        let confidence = match r.confidence {
            Some(Confidence::Likely) => "likely",
            Some(Confidence::Possible) => "possible",
            _ => "not sure",
        };
        s += &format!("  → {confidence}");
        if let Some(c) = &r.claimed {
            s += &format!("; claimed {c}{}", if r.disagrees { " — CHECK: the model confidently disagrees" } else { "" });
        }
        s += "\n";
    }
    s
}

pub fn render_csv(results: &[PhotoResult], top_k: usize) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["file".to_string()];
    for i in 1..=top_k {
        header.push(format!("class_{i}"));
        header.push(format!("probability_{i}"));
    }
    header.extend(["confidence", "claimed", "disagrees", "error"].map(String::from));
    w.write_record(&header)?;
    for r in results {
        let mut row = vec![r.file.display().to_string()];
        for i in 0..top_k {
            match r.top.get(i) {
                Some(t) => row.extend([t.class.clone(), format!("{:.6}", t.probability)]),
                None => row.extend([String::new(), String::new()]),
            }
        }
        row.push(r.confidence.map(|c| serde_json::to_string(&c).unwrap().trim_matches('"').to_string()).unwrap_or_default());
        row.push(r.claimed.clone().unwrap_or_default());
        row.push(r.disagrees.to_string());
        row.push(r.error.clone().unwrap_or_default());
        w.write_record(&row)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// Per-photo latency of a model, one photo at a time (milliseconds).
#[derive(Serialize)]
pub struct Latency {
    pub architecture: String,
    pub photos: usize,
    pub runs: usize,
    pub photo_median_ms: f64,
    pub photo_p95_ms: f64,
    pub forward_median_ms: f64,
    pub forward_p95_ms: f64,
}

impl Latency {
    pub fn render(&self) -> String {
        format!(
            "{}: photo → answer {:.1} ms median, {:.1} ms p95; forward pass alone {:.1} ms median, {:.1} ms p95 ({} photos × {} runs, one thread of work at a time)\n",
            self.architecture, self.photo_median_ms, self.photo_p95_ms, self.forward_median_ms, self.forward_p95_ms, self.photos, self.runs
        )
    }
}

fn quantile(times: &mut [f64], q: f64) -> f64 {
    times.sort_by(f64::total_cmp);
    times[((times.len() as f64 * q) as usize).min(times.len() - 1)]
}

pub fn latency<B: Backend>(classifier: &Classifier<B>, photos: &[PathBuf], runs: usize) -> Result<Latency> {
    let limits = DecodeLimits::default();
    let preprocess = &classifier.header().preprocess;
    let (mut whole, mut forward) = (Vec::new(), Vec::new());
    for path in photos {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        classifier.classify_bytes(&bytes, &limits)?; // warm-up
        for _ in 0..runs {
            let t = std::time::Instant::now();
            let image = preprocess.prepare(&bytes, &limits)?;
            let t_forward = std::time::Instant::now();
            classifier.classify(std::slice::from_ref(&image))?;
            forward.push(t_forward.elapsed().as_secs_f64() * 1e3);
            whole.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(Latency {
        architecture: classifier.header().architecture.name().to_string(),
        photos: photos.len(),
        runs,
        photo_median_ms: quantile(&mut whole, 0.5),
        photo_p95_ms: quantile(&mut whole, 0.95),
        forward_median_ms: quantile(&mut forward, 0.5),
        forward_p95_ms: quantile(&mut forward, 0.95),
    })
}
