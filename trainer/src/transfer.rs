//! `vlinder train --arch lite0 --freeze backbone`: transfer learning on a frozen ImageNet
//! backbone. Each image's 1280 pooled features are computed once per augmentation pass (not once
//! per epoch: the backbone is 99.9 % of the work), then only the classifier head is trained.
//! With `--folds K --repeats R` it first cross-validates on the same features, so that every
//! photo is once unseen in every repeat, and reports per-image answers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::backend::{Autodiff, NdArray};
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use vlinder_core::bundle::{Architecture, Provenance, ValidationMetrics};
use vlinder_core::lite0::{FEATURES, Lite0, Lite0Config};
use vlinder_core::model::Network;
use vlinder_core::{Bundle, BundleHeader};

use crate::dataset::{self, Loaded};
use crate::fsutil::write_atomic;
use crate::metrics::{Confusion, mean_std};
use crate::split::stratified_folds_of;
use crate::output::Output;
use crate::train::{Prepared, RunControl, TrainSettings};

type Cpu = NdArray;
type Grad = Autodiff<NdArray>;

/// Pooled features `[n][1280]` of every image, for one augmentation pass.
struct Features {
    rows: Vec<f32>,
}

impl Features {
    fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * FEATURES..(i + 1) * FEATURES]
    }
}

/// Features of `images` through the frozen backbone; pass 0 unaugmented, later passes augmented
/// as training would (seeded per pass and image).
fn extract(backbone: &Lite0<Cpu>, images: &Loaded, settings: &TrainSettings, pass: usize, workers: usize, out: &Output) -> Features {
    let preprocess = settings.preprocess();
    let device = Default::default();
    let what = if pass == 0 { "features".to_string() } else { format!("features, augmented pass {pass}") };
    let bar = out.bar(images.images.len() as u64, &what);
    let mut rows = Vec::with_capacity(images.images.len() * FEATURES);
    let indices: Vec<usize> = (0..images.images.len()).collect();
    let seed = settings.seed.wrapping_mul(7_919).wrapping_add(pass as u64);
    for chunk in indices.chunks(16) {
        let refs: Vec<_> = chunk.iter().map(|&i| &images.images[i]).collect();
        let augment = (pass > 0).then_some((&settings.augment, seed));
        let x = dataset::batch::<Cpu>(&refs, augment, chunk, &preprocess, workers, &device);
        rows.extend(backbone.features(x).into_data().to_vec::<f32>().expect("f32 features"));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Features { rows }
}

/// [`extract`], kept in `run_dir/features/` so that a rerun with other head settings (epochs,
/// learning rate, thresholds) skips the backbone. The cache is keyed by everything that shapes
/// the features: the images, the pass, the seed, the augmentation, the preprocessing, the backbone.
#[allow(clippy::too_many_arguments)]
fn cached_features(
    backbone: &Lite0<Cpu>,
    backbone_path: &Path,
    images: &Loaded,
    settings: &TrainSettings,
    pass: usize,
    workers: usize,
    run_dir: &Path,
    out: &Output,
) -> Result<Features> {
    let key = serde_json::to_string(&serde_json::json!({
        "paths": images.paths,
        "pass": pass,
        "seed": settings.seed,
        "augment": settings.augment,
        "preprocess": settings.preprocess(),
        "backbone": [backbone_path, std::fs::metadata(backbone_path).map(|m| m.len()).unwrap_or(0)],
    }))?;
    let dir = run_dir.join("features");
    let (key_file, data_file) = (dir.join(format!("pass{pass}.json")), dir.join(format!("pass{pass}.f32")));
    if std::fs::read_to_string(&key_file).is_ok_and(|k| k == key) {
        if let Ok(bytes) = std::fs::read(&data_file) {
            if bytes.len() == images.images.len() * FEATURES * 4 {
                out.note(format!("features of pass {pass} from {}", data_file.display()));
                let rows = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
                return Ok(Features { rows });
            }
        }
    }
    let features = extract(backbone, images, settings, pass, workers, out);
    let bytes: Vec<u8> = features.rows.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_atomic(&data_file, &bytes)?;
    write_atomic(&key_file, key.as_bytes())?;
    Ok(features)
}

/// The classifier head: dropout then one linear layer, as Lite0's own.
#[derive(Module, Debug)]
struct HeadNet<B: Backend> {
    dropout: Dropout,
    linear: Linear<B>,
}

impl<B: Backend> HeadNet<B> {
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.linear.forward(self.dropout.forward(x))
    }
}

/// Trains a head on `rows` of the feature passes (epoch e reads pass e mod passes), with the
/// loss weighted so every class counts equally (the "other" class outnumbers the three).
fn train_head(passes: &[Features], rows: &[usize], labels: &[usize], classes: usize, settings: &TrainSettings, epochs: usize, seed: u64) -> HeadNet<Cpu> {
    let device = Default::default();
    Grad::seed(&device, seed); // dropout masks and the head's initial weights: reruns agree
    let mut counts = vec![0usize; classes];
    rows.iter().for_each(|&r| counts[labels[r]] += 1);
    let weights: Vec<f32> = counts.iter().map(|&c| if c == 0 { 0.0 } else { rows.len() as f32 / (classes * c) as f32 }).collect();
    let loss_fn = CrossEntropyLossConfig::new().with_weights(Some(weights)).init(&device);
    let mut model = HeadNet::<Grad> {
        dropout: DropoutConfig::new(settings.dropout).init(),
        linear: LinearConfig::new(FEATURES, classes).init(&device),
    };
    let mut optim = AdamConfig::new().with_weight_decay(Some(WeightDecayConfig::new(1e-4))).init();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order = rows.to_vec();
    for epoch in 0..epochs {
        let features = &passes[epoch % passes.len()];
        order.shuffle(&mut rng);
        for chunk in order.chunks(settings.batch_size.max(1)) {
            let data: Vec<f32> = chunk.iter().flat_map(|&r| features.row(r).iter().copied()).collect();
            let x = Tensor::<Grad, 1>::from_floats(data.as_slice(), &device).reshape([chunk.len(), FEATURES]);
            let y = Tensor::<Grad, 1, Int>::from_ints(chunk.iter().map(|&r| labels[r] as i32).collect::<Vec<_>>().as_slice(), &device);
            let loss = loss_fn.forward(model.forward(x), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(settings.lr, model, grads);
        }
    }
    model.valid()
}

/// Class probabilities `[rows][classes]` for `rows` of unaugmented features.
fn probabilities(head: &HeadNet<Cpu>, features: &Features, rows: &[usize]) -> Vec<Vec<f32>> {
    if rows.is_empty() {
        return Vec::new();
    }
    let data: Vec<f32> = rows.iter().flat_map(|&r| features.row(r).iter().copied()).collect();
    let x = Tensor::<Cpu, 1>::from_floats(data.as_slice(), &Default::default()).reshape([rows.len(), FEATURES]);
    let p: Vec<f32> = softmax(head.forward(x), 1).into_data().to_vec().unwrap();
    p.chunks(p.len() / rows.len()).map(<[f32]>::to_vec).collect()
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// One held-out answer of the cross-validation.
#[derive(Serialize, Clone)]
pub struct HeldOut {
    pub repeat: usize,
    pub path: PathBuf,
    pub truth: String,
    pub predicted: String,
    pub probability: f32,
    pub probabilities: Vec<f32>,
}

#[derive(Serialize)]
pub struct CrossValidation {
    pub folds: usize,
    pub repeats: usize,
    pub images: usize,
    pub balanced_accuracy: Vec<f64>,
    pub mean_balanced_accuracy: f64,
    pub std_balanced_accuracy: f64,
    pub accuracy: Vec<f64>,
    /// Summed over repeats: `confusion[truth][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    /// For each candidate "possible" threshold: how many answers name a species, and how many of
    /// those are right (a named species, right = the true class).
    pub thresholds: Vec<ThresholdRow>,
    pub held_out: Vec<HeldOut>,
}

#[derive(Serialize)]
pub struct ThresholdRow {
    pub threshold: f32,
    pub named: usize,
    pub named_correct: usize,
    /// Held-out photos of the three look-alikes (the most that could be named correctly).
    pub targets: usize,
}

/// Cross-validation figures without the per-image answers (those are in `crossval.json`).
#[derive(Serialize)]
pub struct CrossValidationSummary {
    pub folds: usize,
    pub repeats: usize,
    pub balanced_accuracy: Vec<f64>,
    pub mean_balanced_accuracy: f64,
    pub std_balanced_accuracy: f64,
    pub confusion: Vec<Vec<usize>>,
}

/// The outcome of a frozen-backbone run (also written to `run.json`).
#[derive(Serialize)]
pub struct TransferSummary {
    pub run_dir: PathBuf,
    pub bundle: PathBuf,
    pub classes: Vec<String>,
    pub train_images: usize,
    pub validation_images: usize,
    pub validation_accuracy: Option<f64>,
    pub validation_balanced_accuracy: Option<f64>,
    pub feature_passes: usize,
    pub feature_seconds: f64,
    pub seconds: f64,
    pub crossval: Option<CrossValidationSummary>,
}

impl TransferSummary {
    /// The run's summary for a person.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Some(cv) = &self.crossval {
            text += &format!(
                "{}-fold × {} cross-validation: balanced accuracy {:.3} ± {:.3} (per-image answers in crossval.json)\n",
                cv.folds, cv.repeats, cv.mean_balanced_accuracy, cv.std_balanced_accuracy
            );
        }
        if let (Some(accuracy), Some(balanced)) = (self.validation_accuracy, self.validation_balanced_accuracy) {
            text += &format!("validation accuracy {accuracy:.3} (balanced {balanced:.3}) on {} images\n", self.validation_images);
        }
        text + &format!("model written to {}\n", self.bundle.display())
    }
}

/// `vlinder train --arch lite0 --freeze backbone`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    prepared: &Prepared,
    settings: &TrainSettings,
    control: &RunControl,
    backbone_path: &Path,
    folds: Option<(usize, usize)>,
    run_dir: &Path,
    out: &Output,
) -> Result<TransferSummary> {
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let started = Instant::now();
    let backbone = load_backbone(backbone_path, settings)?;
    let classes = &prepared.classes;
    // All images in one list: rows [0, train) are training, the rest validation.
    let mut all = Loaded { images: Vec::new(), labels: Vec::new(), paths: Vec::new(), skipped: Vec::new() };
    for part in [&prepared.train, &prepared.validation] {
        all.images.extend(part.images.iter().cloned());
        all.labels.extend(&part.labels);
        all.paths.extend(part.paths.iter().cloned());
    }
    let n_train = prepared.train.images.len();
    let passes_wanted = if settings.augment.is_identity() { 1 } else { control.feature_passes.max(1) };
    let mut passes = Vec::new();
    for pass in 0..passes_wanted {
        passes.push(cached_features(&backbone, backbone_path, &all, settings, pass, control.workers, run_dir, out)?);
    }
    let extract_seconds = started.elapsed().as_secs_f64();
    out.note(format!("features of {} images × {} passes in {extract_seconds:.0} s", all.images.len(), passes.len()));
    let ids = classes.ids();

    let crossval = folds.map(|(k, repeats)| {
        let mut held_out = Vec::new();
        let mut confusion = Confusion::new(classes.len());
        let (mut balanced, mut accuracy) = (Vec::new(), Vec::new());
        for repeat in 0..repeats {
            let fold = stratified_folds_of(&all.labels, classes.len(), k, settings.seed.wrapping_add(repeat as u64));
            let mut this = Confusion::new(classes.len());
            for f in 0..k {
                let train_rows: Vec<usize> = (0..all.images.len()).filter(|&i| fold[i] != f).collect();
                let test_rows: Vec<usize> = (0..all.images.len()).filter(|&i| fold[i] == f).collect();
                let head = train_head(&passes, &train_rows, &all.labels, classes.len(), settings, control.epochs, settings.seed ^ (repeat * 100 + f) as u64);
                for (&row, p) in test_rows.iter().zip(probabilities(&head, &passes[0], &test_rows)) {
                    let predicted = argmax(&p);
                    this.add(all.labels[row], predicted);
                    confusion.add(all.labels[row], predicted);
                    held_out.push(HeldOut {
                        repeat,
                        path: all.paths[row].clone(),
                        truth: ids[all.labels[row]].to_string(),
                        predicted: ids[predicted].to_string(),
                        probability: p[predicted],
                        probabilities: p,
                    });
                }
            }
            out.note(format!("repeat {}: balanced accuracy {:.3}, accuracy {:.3}", repeat + 1, this.balanced_accuracy(), this.accuracy()));
            balanced.push(this.balanced_accuracy());
            accuracy.push(this.accuracy());
        }
        let (mean, std) = mean_std(&balanced);
        let is_target = |id: &str| id != "other";
        let thresholds = (2..=19)
            .map(|t| {
                let threshold = t as f32 * 0.05;
                let named: Vec<&HeldOut> = held_out.iter().filter(|h| is_target(&h.predicted) && h.probability >= threshold).collect();
                ThresholdRow {
                    threshold,
                    named: named.len(),
                    named_correct: named.iter().filter(|h| h.truth == h.predicted).count(),
                    targets: held_out.iter().filter(|h| is_target(&h.truth)).count(),
                }
            })
            .collect();
        CrossValidation {
            folds: k,
            repeats,
            images: all.images.len(),
            balanced_accuracy: balanced,
            mean_balanced_accuracy: mean,
            std_balanced_accuracy: std,
            accuracy,
            confusion: confusion.matrix.clone(),
            thresholds,
            held_out,
        }
    });
    if let Some(cv) = &crossval {
        write_atomic(&run_dir.join("crossval.json"), serde_json::to_string_pretty(cv)?.as_bytes())?;
    }

    // The model: trained on the training rows, validated on the rest (or on everything when
    // cross-validating: the folds already measured it).
    let (train_rows, val_rows): (Vec<usize>, Vec<usize>) = if crossval.is_some() {
        ((0..all.images.len()).collect(), Vec::new())
    } else {
        ((0..n_train).collect(), (n_train..all.images.len()).collect())
    };
    let head = train_head(&passes, &train_rows, &all.labels, classes.len(), settings, control.epochs, settings.seed);
    let mut val = Confusion::new(classes.len());
    for (&row, p) in val_rows.iter().zip(probabilities(&head, &passes[0], &val_rows)) {
        val.add(all.labels[row], argmax(&p));
    }
    let validation = (!val_rows.is_empty()).then(|| ValidationMetrics {
        images: val_rows.len(),
        accuracy: val.accuracy(),
        balanced_accuracy: Some(val.balanced_accuracy()),
        loss: None,
    });
    let network = backbone.with_head(head.linear.weight.val(), head.linear.bias.as_ref().map(|b| b.val()).context("head has a bias")?);
    let header = BundleHeader {
        architecture: Architecture::Lite0 {
            config: Lite0Config::new(classes.len()).with_image_size(settings.image_size).with_dropout(settings.dropout),
        },
        classes: classes.clone(),
        preprocess: settings.preprocess(),
        precision: control.precision,
        thresholds: control.thresholds.unwrap_or_default(),
        provenance: Provenance {
            dataset: prepared.dataset.clone(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            seed: settings.seed,
            epochs: control.epochs,
            validation,
            trainer: format!("vlinder {}", vlinder_core::VERSION),
            notes: Some(format!(
                "EfficientNet-Lite0 ImageNet backbone frozen, head trained on {} images × {} feature passes, Adam lr {}, class-balanced loss{}",
                train_rows.len(),
                passes.len(),
                settings.lr,
                crossval.as_ref().map_or(String::new(), |cv| format!(
                    "; {}-fold × {} cross-validated balanced accuracy {:.3} ± {:.3}",
                    cv.folds, cv.repeats, cv.mean_balanced_accuracy, cv.std_balanced_accuracy
                ))
            )),
        },
    };
    let bundle = Bundle::from_network(header, Network::Lite0(network))?;
    let bundle_path = run_dir.join(crate::train::MODEL_BUNDLE);
    write_atomic(&bundle_path, &bundle.to_bytes())?;
    write_atomic(&run_dir.join(crate::train::BEST_BUNDLE), &bundle.to_bytes())?;
    if !val_rows.is_empty() {
        write_atomic(&run_dir.join("confusion.txt"), val.render(&ids).as_bytes())?;
    }
    let validated = !val_rows.is_empty();
    let summary = TransferSummary {
        run_dir: run_dir.to_path_buf(),
        bundle: bundle_path,
        classes: ids.iter().map(|s| s.to_string()).collect(),
        train_images: train_rows.len(),
        validation_images: val_rows.len(),
        validation_accuracy: validated.then(|| val.accuracy()),
        validation_balanced_accuracy: validated.then(|| val.balanced_accuracy()),
        feature_passes: passes.len(),
        feature_seconds: extract_seconds,
        seconds: started.elapsed().as_secs_f64(),
        crossval: crossval.map(|cv| CrossValidationSummary {
            folds: cv.folds,
            repeats: cv.repeats,
            balanced_accuracy: cv.balanced_accuracy,
            mean_balanced_accuracy: cv.mean_balanced_accuracy,
            std_balanced_accuracy: cv.std_balanced_accuracy,
            confusion: cv.confusion,
        }),
    };
    write_atomic(&run_dir.join("run.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(summary)
}

/// The ImageNet backbone from a `.vlinder` bundle (`vlinder import-backbone`) or the `.pth` itself.
pub fn load_backbone_on<B: Backend>(path: &Path, device: &B::Device) -> Result<Lite0<B>> {
    if path.extension().is_some_and(|e| e == "pth") {
        return crate::import::lite0_from_pth::<B>(path, device);
    }
    let bundle = crate::export::read_bundle(path)?;
    match bundle.load_network::<B>(device)? {
        Network::Lite0(net) => Ok(net),
        _ => bail!("{} is not a Lite0 backbone", path.display()),
    }
}

fn load_backbone(path: &Path, settings: &TrainSettings) -> Result<Lite0<Cpu>> {
    if settings.image_size < 32 {
        bail!("--image-size must be at least 32 for lite0");
    }
    load_backbone_on::<Cpu>(path, &Default::default())
}
