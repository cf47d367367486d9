//! `vlinder split`: a stratified, random, reproducible train/validation split (Keras'
//! `validation_split` takes the first files of each class instead, which leaks near-duplicates
//! from sorted Flickr ids into validation).

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::dataset::{ImageFolder, Sample};
use crate::output::Output;

/// Indices of `samples` for training and for validation: per class, shuffled with `seed`, the
/// first `round(n * fraction)` (at least one when the class has two or more) go to validation.
pub fn stratified_split(samples: &[Sample], classes: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for class in 0..classes {
        let mut members: Vec<usize> = (0..samples.len()).filter(|&i| samples[i].label == class).collect();
        members.shuffle(&mut rng);
        let mut n_val = (members.len() as f64 * fraction).round() as usize;
        if fraction > 0.0 && n_val == 0 && members.len() >= 2 {
            n_val = 1;
        }
        validation.extend_from_slice(&members[..n_val]);
        train.extend_from_slice(&members[n_val..]);
    }
    train.sort_unstable();
    validation.sort_unstable();
    (train, validation)
}

/// Assigns each sample to one of `k` folds, stratified by class, shuffled with `seed`.
pub fn stratified_folds(samples: &[Sample], classes: usize, k: usize, seed: u64) -> Vec<usize> {
    stratified_folds_of(&samples.iter().map(|s| s.label).collect::<Vec<_>>(), classes, k, seed)
}

/// [`stratified_folds`] for bare labels.
pub fn stratified_folds_of(labels: &[usize], classes: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut fold = vec![0; labels.len()];
    let mut next = 0;
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        members.shuffle(&mut rng);
        for i in members {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

#[derive(Serialize)]
pub struct SplitReport {
    pub classes: Vec<ClassCount>,
    pub train: usize,
    pub validation: usize,
}

#[derive(Serialize)]
pub struct ClassCount {
    pub class: String,
    pub train: usize,
    pub validation: usize,
}

/// Smallest class size for which a split makes sense without `--force`.
pub const MIN_PER_CLASS: usize = 5;

pub struct SplitOptions {
    pub validation: f64,
    pub seed: u64,
    pub copy: bool,
    pub force: bool,
}

/// Splits `src` into `out/train/<class>` and `out/validation/<class>`.
pub fn run(src: &Path, out_dir: &Path, opts: &SplitOptions, out: &Output) -> Result<SplitReport> {
    if !(0.0..1.0).contains(&opts.validation) {
        bail!("--validation must be at least 0 and below 1 (got {})", opts.validation);
    }
    let data = ImageFolder::open(src)?;
    let counts = data.counts();
    let small: Vec<String> = data
        .classes
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n < MIN_PER_CLASS)
        .map(|(c, n)| format!("{} ({n})", c.id))
        .collect();
    if !small.is_empty() && !opts.force {
        bail!(
            "some classes have fewer than {MIN_PER_CLASS} images: {}; add photos or pass --force",
            small.join(", ")
        );
    }
    if out_dir.exists() && fs::read_dir(out_dir)?.next().is_some() {
        bail!("{} already exists and is not empty; choose a new folder", out_dir.display());
    }
    let (train, validation) = stratified_split(&data.samples, data.classes.len(), opts.validation, opts.seed);
    let bar = out.bar(data.samples.len() as u64, "split");
    for (subset, indices) in [("train", &train), ("validation", &validation)] {
        for class in data.classes.iter() {
            fs::create_dir_all(out_dir.join(subset).join(&class.id))?;
        }
        for &i in indices.iter() {
            let sample = &data.samples[i];
            let class = &data.classes.get(sample.label).unwrap().id;
            let dest = out_dir.join(subset).join(class).join(sample.path.file_name().unwrap());
            place(&sample.path, &dest, opts.copy)?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let per_class = |indices: &[usize], class: usize| indices.iter().filter(|&&i| data.samples[i].label == class).count();
    Ok(SplitReport {
        classes: data
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| ClassCount { class: c.id.clone(), train: per_class(&train, i), validation: per_class(&validation, i) })
            .collect(),
        train: train.len(),
        validation: validation.len(),
    })
}

/// Hard-links `src` to `dest` (no extra space), copying when linking is impossible.
fn place(src: &Path, dest: &Path, copy: bool) -> Result<()> {
    if !copy && fs::hard_link(src, dest).is_ok() {
        return Ok(());
    }
    let bytes = fs::read(src).with_context(|| format!("reading {}", src.display()))?;
    crate::fsutil::write_atomic(dest, &bytes)
}

impl SplitReport {
    pub fn render(&self) -> String {
        let mut s = format!("{:<28} {:>7} {:>10}\n", "class", "train", "validation");
        for c in &self.classes {
            s += &format!("{:<28} {:>7} {:>10}\n", c.class, c.train, c.validation);
        }
        s += &format!("{:<28} {:>7} {:>10}\n", "total", self.train, self.validation);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn samples(per_class: &[usize]) -> Vec<Sample> {
        per_class
            .iter()
            .enumerate()
            .flat_map(|(label, &n)| (0..n).map(move |i| Sample { path: PathBuf::from(format!("{label}/{i}.jpg")), label }))
            .collect()
    }

    #[test]
    fn split_is_stratified_reproducible_and_random() {
        let s = samples(&[10, 20, 3]);
        let (train, val) = stratified_split(&s, 3, 0.2, 42);
        let count = |idx: &[usize], c| idx.iter().filter(|&&i| s[i].label == c).count();
        assert_eq!((count(&val, 0), count(&val, 1), count(&val, 2)), (2, 4, 1));
        assert_eq!(train.len() + val.len(), 33);
        assert_eq!(stratified_split(&s, 3, 0.2, 42), (train.clone(), val.clone()));
        assert_ne!(stratified_split(&s, 3, 0.2, 7).1, val, "another seed, another split");
        // Not Keras' first-N files.
        let first_two_of_class1: Vec<usize> = vec![10, 11];
        assert!(!first_two_of_class1.iter().all(|i| val.contains(i)) || count(&val, 1) != 2);
    }

    #[test]
    fn folds_cover_every_sample_once_and_balance_classes() {
        let s = samples(&[10, 5]);
        let folds = stratified_folds(&s, 2, 5, 1);
        for k in 0..5 {
            let members: Vec<usize> = (0..s.len()).filter(|&i| folds[i] == k).collect();
            assert_eq!(members.len(), 3);
            assert_eq!(members.iter().filter(|&&i| s[i].label == 1).count(), 1);
        }
    }
}
