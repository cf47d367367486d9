//! `vlinder evaluate`: how a bundle does on a labelled folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use serde::Serialize;
use vlinder_core::{Classifier, ClassList};

use crate::dataset::{self, ImageFolder};
use crate::metrics::{ClassMetrics, Confusion};
use crate::output::Output;

#[derive(Serialize)]
pub struct Ranked {
    pub class: String,
    pub probability: f32,
}

#[derive(Serialize)]
pub struct WrongImage {
    pub path: PathBuf,
    pub truth: String,
    pub top: Vec<Ranked>,
}

#[derive(Serialize)]
pub struct EvaluateReport {
    pub n: usize,
    pub classes: Vec<String>,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[truth][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    pub wrong: Vec<WrongImage>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Resolves DATA's folders to the model's classes. `maps` are `CLASS=FOLDER` pairs; `FOLDER` may
/// be `*`, meaning every folder that is not a class of the model.
pub fn folder_labels(data: &Path, classes: &ClassList, maps: &[String]) -> Result<Vec<(String, usize)>> {
    let folders = ClassList::from_directory(data).with_context(|| format!("reading {}", data.display()))?;
    let mut parsed = Vec::new();
    for m in maps {
        let (class, folder) = m.split_once('=').with_context(|| format!("--map {m:?}: expected CLASS=FOLDER"))?;
        let index = classes
            .index_of(class)
            .with_context(|| format!("--map {m:?}: {class:?} is not a class of the model ({})", classes.ids().join(", ")))?;
        parsed.push((folder.to_string(), index));
    }
    let mut out = Vec::new();
    for folder in folders.ids() {
        let label = parsed
            .iter()
            .find(|(f, _)| f == folder)
            .map(|(_, i)| *i)
            .or_else(|| classes.index_of(folder))
            .or_else(|| parsed.iter().find(|(f, _)| f == "*").map(|(_, i)| *i));
        match label {
            Some(i) => out.push((folder.to_string(), i)),
            None => bail!(
                "{}/{folder} is not a class of the model ({}); map it with --map CLASS={folder}, or --map other=* for all unknown folders",
                data.display(),
                classes.ids().join(", ")
            ),
        }
    }
    Ok(out)
}

pub fn run<B: Backend>(classifier: &Classifier<B>, data: &Path, maps: &[String], workers: usize, out: &Output) -> Result<EvaluateReport> {
    let header = classifier.header();
    let folders = folder_labels(data, &header.classes, maps)?;
    let set = ImageFolder::with_folders(data, header.classes.clone(), &folders)?;
    if set.samples.is_empty() {
        bail!("no images under {}", data.display());
    }
    let loaded = dataset::load(&set.samples, &header.preprocess, workers, out, "reading");
    let bar = out.bar(loaded.images.len() as u64, "classifying");
    let mut confusion = Confusion::new(header.classes.len());
    let mut wrong = Vec::new();
    let ids = header.classes.ids();
    for (chunk_start, chunk) in loaded.images.chunks(32).enumerate().map(|(i, c)| (i * 32, c)) {
        let normalized: Vec<_> = chunk.iter().map(|img| header.preprocess.normalize(img.clone())).collect();
        for (offset, prediction) in classifier.classify(&normalized)?.into_iter().enumerate() {
            let i = chunk_start + offset;
            let truth = loaded.labels[i];
            let predicted = prediction.top().index;
            confusion.add(truth, predicted);
            if predicted != truth {
                wrong.push(WrongImage {
                    path: loaded.paths[i].clone(),
                    truth: ids[truth].to_string(),
                    top: prediction.ranking.iter().take(3).map(|r| Ranked { class: r.id.clone(), probability: r.probability }).collect(),
                });
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(EvaluateReport {
        n: confusion.total(),
        classes: ids.iter().map(|s| s.to_string()).collect(),
        accuracy: confusion.accuracy(),
        balanced_accuracy: confusion.balanced_accuracy(),
        per_class: confusion.per_class(&ids),
        confusion: confusion.matrix.clone(),
        wrong,
        skipped: loaded.skipped,
    })
}

impl EvaluateReport {
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} images: accuracy {:.3}, balanced accuracy {:.3}\n\n",
            self.n, self.accuracy, self.balanced_accuracy
        );
        s += &format!("{:<28} {:>9} {:>7} {:>6} {:>8}\n", "class", "precision", "recall", "f1", "support");
        for c in &self.per_class {
            s += &format!("{:<28} {:>9.3} {:>7.3} {:>6.3} {:>8}\n", c.class, c.precision, c.recall, c.f1, c.support);
        }
        let names: Vec<&str> = self.classes.iter().map(String::as_str).collect();
        s += &format!("\nconfusion (rows: truth, columns: prediction)\n{}", Confusion { matrix: self.confusion.clone() }.render(&names));
        if !self.wrong.is_empty() {
            s += &format!("\n{} wrong:\n", self.wrong.len());
            for w in &self.wrong {
                let top: Vec<String> = w.top.iter().map(|r| format!("{} {:.2}", r.class, r.probability)).collect();
                s += &format!("  {} (truth {}): {}\n", w.path.display(), w.truth, top.join(", "));
            }
        }
        s
    }
}
