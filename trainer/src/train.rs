//! `vlinder train`: the tutorial's training run, with checkpoints that `--resume` continues from,
//! early stopping, per-epoch metrics and curves, and the best epoch exported as a bundle.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::AutodiffModule;
use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer, RmsPropConfig, SgdConfig};
use burn::prelude::*;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use vlinder_core::augment::AugmentConfig;
use vlinder_core::bundle::{Architecture, Provenance, Thresholds, ValidationMetrics};
use vlinder_core::lite0::Lite0Config;
use vlinder_core::model::{BaselineConfig, Head, Network};
use vlinder_core::{Bundle, BundleHeader, ClassList, FloatImage, Precision, PreprocessConfig, ResizeMode};

use crate::dataset::{self, ImageFolder, Loaded, Sample};
use crate::fsutil::write_atomic;
use crate::metrics::{Confusion, mean_std};
use crate::output::Output;
use crate::split::{stratified_folds, stratified_split};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerChoice {
    /// Keras RMSprop (rho 0.9, no momentum, epsilon 1e-7): the tutorial's choice.
    Rmsprop,
    Adam,
    Sgd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum HeadChoice {
    /// Softmax over the classes (any number of classes).
    Softmax,
    /// The tutorial's single sigmoid output (exactly two classes).
    Sigmoid,
}

/// Everything that determines a run. Stored in the checkpoint so `--resume` can refuse to mix
/// runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub arch: String,
    pub image_size: usize,
    pub resize: ResizeMode,
    pub head: HeadChoice,
    pub batch_size: usize,
    pub optimizer: OptimizerChoice,
    pub lr: f64,
    pub dropout: f64,
    pub augment: AugmentConfig,
    pub seed: u64,
    /// Validation fraction when DATA has no train/validation folders.
    pub validation: f64,
    /// Lite0: the ImageNet backbone (a bundle from `vlinder import-backbone`, or the `.pth`).
    #[serde(default)]
    pub backbone: Option<PathBuf>,
    /// Lite0 fine-tuning: blocks kept frozen (stem included); `None` trains everything.
    #[serde(default)]
    pub freeze_blocks: Option<usize>,
}

/// Settings that may change between a run and its resumption.
#[derive(Clone, Debug)]
pub struct RunControl {
    pub epochs: usize,
    pub patience: Option<usize>,
    pub resume: bool,
    pub workers: usize,
    pub precision: Precision,
    /// Frozen-backbone transfer: augmentation passes whose features are computed (pass 0 clean).
    pub feature_passes: usize,
    /// Confidence bands written into the bundle (default: iRecord's).
    pub thresholds: Option<Thresholds>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
    pub val_balanced_accuracy: f64,
    pub seconds: f64,
    pub images_per_second: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestEpoch {
    pub epoch: usize,
    pub val_accuracy: f64,
    pub val_balanced_accuracy: f64,
    pub val_loss: f64,
    pub confusion: Vec<Vec<usize>>,
}

/// What a checkpoint remembers besides the weights and optimizer state.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunState {
    settings: TrainSettings,
    classes: Vec<String>,
    history: Vec<EpochMetrics>,
    best: Option<BestEpoch>,
}

/// The outcome of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub classes: Vec<String>,
    pub train_images: usize,
    pub validation_images: usize,
    pub epochs_run: usize,
    pub stopped_early: bool,
    pub best: Option<BestEpoch>,
    pub bundle: PathBuf,
    pub mean_images_per_second: f64,
}

/// Train and validation images in memory.
pub struct Prepared {
    pub classes: ClassList,
    pub train: Loaded,
    pub validation: Loaded,
    pub dataset: String,
}

impl TrainSettings {
    pub fn preprocess(&self) -> PreprocessConfig {
        if self.arch == "lite0" {
            return PreprocessConfig::imagenet_lite(self.image_size);
        }
        let mut p = PreprocessConfig::baseline(self.image_size);
        p.resize = self.resize;
        p
    }

    fn architecture(&self, classes: usize) -> Result<Architecture> {
        if self.arch == "lite0" {
            return Ok(Architecture::Lite0 {
                config: Lite0Config::new(classes).with_image_size(self.image_size).with_dropout(self.dropout),
            });
        }
        if self.arch != "baseline" {
            bail!("unknown architecture {:?} (available: baseline, lite0)", self.arch);
        }
        if self.head == HeadChoice::Sigmoid && classes != 2 {
            bail!("the sigmoid head needs exactly two classes, the data has {classes}");
        }
        if self.image_size < 8 {
            bail!("--image-size must be at least 8");
        }
        let head = Head::for_classes(classes, self.head == HeadChoice::Sigmoid);
        Ok(Architecture::Baseline {
            config: BaselineConfig::new(head).with_image_size(self.image_size).with_dropout(self.dropout),
        })
    }
}

/// Reads DATA: `train/` + `validation/` sub-folders when present, else one folder split with
/// `settings.validation`.
pub fn prepare(data: &Path, settings: &TrainSettings, workers: usize, out: &Output) -> Result<Prepared> {
    let preprocess = settings.preprocess();
    let (train_dir, val_dir) = (data.join("train"), data.join("validation"));
    let (classes, train_samples, val_samples) = if train_dir.is_dir() && val_dir.is_dir() {
        let train = ImageFolder::open(&train_dir)?;
        let val = ImageFolder::open(&val_dir)?;
        if val.classes.ids() != train.classes.ids() {
            bail!(
                "train/ and validation/ have different classes: {:?} vs {:?}",
                train.classes.ids(),
                val.classes.ids()
            );
        }
        (train.classes, train.samples, val.samples)
    } else {
        let all = ImageFolder::open(data)?;
        let (t, v) = stratified_split(&all.samples, all.classes.len(), settings.validation, settings.seed);
        let pick = |idx: Vec<usize>| idx.into_iter().map(|i| all.samples[i].clone()).collect::<Vec<Sample>>();
        (all.classes.clone(), pick(t), pick(v))
    };
    if classes.len() < 2 {
        bail!("training needs at least two classes, found {:?}", classes.ids());
    }
    let train = dataset::load(&train_samples, &preprocess, workers, out, "loading");
    let validation = dataset::load(&val_samples, &preprocess, workers, out, "loading");
    if train.images.is_empty() {
        bail!("no readable training images under {}", data.display());
    }
    Ok(Prepared { classes, train, validation, dataset: data.display().to_string() })
}

/// Trains on `prepared` into `run_dir`.
pub fn run<B: AutodiffBackend>(
    prepared: &Prepared,
    settings: &TrainSettings,
    control: &RunControl,
    run_dir: &Path,
    device: &B::Device,
    out: &Output,
) -> Result<RunSummary> {
    match settings.optimizer {
        OptimizerChoice::Rmsprop => fit::<B, _>(prepared, settings, control, run_dir, device, out, keras_rmsprop().init()),
        OptimizerChoice::Adam => {
            let optim = AdamConfig::new().with_epsilon(1e-7).init();
            fit::<B, _>(prepared, settings, control, run_dir, device, out, optim)
        }
        OptimizerChoice::Sgd => fit::<B, _>(prepared, settings, control, run_dir, device, out, SgdConfig::new().init()),
    }
}

/// RMSprop with Keras' defaults (rho 0.9, no momentum, epsilon 1e-7), the tutorial's optimiser.
fn keras_rmsprop() -> RmsPropConfig {
    RmsPropConfig::new().with_alpha(0.9).with_momentum(0.0).with_epsilon(1e-7)
}

/// One optimiser step on a batch: returns the updated model, the batch's summed loss and the
/// number of correct predictions.
fn train_step<B: AutodiffBackend, O: Optimizer<Network<B>, B>>(
    model: Network<B>,
    optim: &mut O,
    lr: f64,
    images: Tensor<B, 4>,
    labels: &[usize],
    device: &B::Device,
) -> (Network<B>, f64, usize) {
    let (loss, predicted) = loss_and_predictions(model.forward(images), labels, device);
    let loss_sum = loss.clone().into_scalar().elem::<f64>() * labels.len() as f64;
    let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optim.step(lr, model, grads), loss_sum, correct)
}

const CHECKPOINT: &str = "checkpoint.bin";
pub const BEST_BUNDLE: &str = "best.vlinder";
pub const MODEL_BUNDLE: &str = "model.vlinder";

#[allow(clippy::too_many_arguments)]
fn fit<B: AutodiffBackend, O: Optimizer<Network<B>, B>>(
    prepared: &Prepared,
    settings: &TrainSettings,
    control: &RunControl,
    run_dir: &Path,
    device: &B::Device,
    out: &Output,
    mut optim: O,
) -> Result<RunSummary> {
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    crate::fsutil::remove_stale_parts(run_dir);
    let classes = &prepared.classes;
    let architecture = settings.architecture(classes.len())?;
    let preprocess = settings.preprocess();
    let mut model: Network<B> = match &architecture {
        // Fine-tuning starts from the ImageNet weights with a fresh head.
        Architecture::Lite0 { .. } => {
            let backbone = settings.backbone.as_deref().context("lite0 needs --backbone")?;
            let net = crate::transfer::load_backbone_on::<B>(backbone, device)?.with_new_head(classes.len(), device);
            Network::Lite0(net.freeze(settings.freeze_blocks.unwrap_or(0)))
        }
        _ => architecture.init(device),
    };
    let mut state = RunState {
        settings: settings.clone(),
        classes: classes.ids().iter().map(|s| s.to_string()).collect(),
        history: Vec::new(),
        best: None,
    };
    let checkpoint_path = run_dir.join(CHECKPOINT);
    if control.resume {
        if checkpoint_path.exists() {
            let (saved, m, o) = load_checkpoint::<B, O>(&checkpoint_path, model, optim, device)?;
            if saved.settings != *settings || saved.classes != state.classes {
                bail!(
                    "{} was trained with other settings or classes; resume with the same flags, or start a new run directory",
                    run_dir.display()
                );
            }
            (state, model, optim) = (saved, m, o);
            out.note(format!("resuming after epoch {}", state.history.len()));
        } else {
            out.note("no checkpoint to resume from; starting from scratch");
        }
    } else if checkpoint_path.exists() {
        bail!("{} already holds a run; pass --resume to continue it, or choose another --out", run_dir.display());
    }

    let header = |precision: Precision, best: &BestEpoch| BundleHeader {
        architecture: architecture.clone(),
        classes: classes.clone(),
        preprocess: preprocess.clone(),
        precision,
        thresholds: control.thresholds.unwrap_or_default(),
        provenance: Provenance {
            dataset: prepared.dataset.clone(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            seed: settings.seed,
            epochs: best.epoch,
            validation: Some(ValidationMetrics {
                images: prepared.validation.images.len(),
                accuracy: best.val_accuracy,
                balanced_accuracy: Some(best.val_balanced_accuracy),
                loss: Some(best.val_loss),
            }),
            trainer: format!("vlinder {}", vlinder_core::VERSION),
            notes: Some(format!(
                "{} optimizer lr {} batch {} dropout {}, {} training images",
                serde_json::to_string(&settings.optimizer).unwrap().trim_matches('"'),
                settings.lr,
                settings.batch_size,
                settings.dropout,
                prepared.train.images.len()
            )),
        },
    };

    let train = &prepared.train;
    let n = train.images.len();
    let mut stopped_early = false;
    let start_epoch = state.history.len() + 1;
    for epoch in start_epoch..=control.epochs {
        if let (Some(patience), Some(best)) = (control.patience, &state.best) {
            if epoch - 1 - best.epoch >= patience {
                stopped_early = true;
                break;
            }
        }
        let started = Instant::now();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(settings.seed.wrapping_add(epoch as u64)));
        let epoch_seed = settings.seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64);
        let bar = out.bar(n as u64, &format!("epoch {epoch}/{}", control.epochs));
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for chunk in order.chunks(settings.batch_size.max(1)) {
            let images: Vec<&FloatImage> = chunk.iter().map(|&i| &train.images[i]).collect();
            let labels: Vec<usize> = chunk.iter().map(|&i| train.labels[i]).collect();
            let x = dataset::batch::<B>(&images, Some((&settings.augment, epoch_seed)), chunk, &preprocess, control.workers, device);
            let (updated, batch_loss, batch_correct) = train_step(model, &mut optim, settings.lr, x, &labels, device);
            model = updated;
            loss_sum += batch_loss;
            correct += batch_correct;
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        let train_seconds = started.elapsed().as_secs_f64();

        let (val_loss, confusion) = validate(&model.valid(), &prepared.validation, classes.len(), &preprocess, control.workers, device);
        let metrics = EpochMetrics {
            epoch,
            train_loss: loss_sum / n as f64,
            train_accuracy: correct as f64 / n as f64,
            val_loss,
            val_accuracy: confusion.accuracy(),
            val_balanced_accuracy: confusion.balanced_accuracy(),
            seconds: started.elapsed().as_secs_f64(),
            images_per_second: n as f64 / train_seconds,
        };
        out.note(format!(
            "epoch {epoch:>3}: loss {:.4} acc {:.3} │ val loss {:.4} acc {:.3} balanced {:.3} │ {:.1}s, {:.0} img/s",
            metrics.train_loss, metrics.train_accuracy, metrics.val_loss, metrics.val_accuracy,
            metrics.val_balanced_accuracy, metrics.seconds, metrics.images_per_second
        ));
        // With no validation images, the best epoch is judged on training accuracy.
        let score = if prepared.validation.images.is_empty() { metrics.train_accuracy } else { metrics.val_accuracy };
        let improved = state.best.as_ref().is_none_or(|b| {
            score > b.val_accuracy || (score == b.val_accuracy && metrics.val_loss < b.val_loss)
        });
        state.history.push(metrics.clone());
        if improved {
            let best = BestEpoch {
                epoch,
                val_accuracy: score,
                val_balanced_accuracy: metrics.val_balanced_accuracy,
                val_loss: metrics.val_loss,
                confusion: confusion.matrix.clone(),
            };
            let bundle = Bundle::from_network(header(Precision::F32, &best), model.valid())?;
            write_atomic(&run_dir.join(BEST_BUNDLE), &bundle.to_bytes())?;
            write_atomic(&run_dir.join("confusion.txt"), confusion.render(&classes.ids()).as_bytes())?;
            state.best = Some(best);
        }
        write_atomic(&run_dir.join("metrics.csv"), metrics_csv(&state.history).as_bytes())?;
        write_atomic(&run_dir.join("curves.svg"), crate::plot::curves_svg(&state.history)?.as_bytes())?;
        save_checkpoint::<B, O>(&checkpoint_path, &state, &model, &optim)?;
    }

    // Export the best epoch at the requested precision.
    let best = state.best.clone().context("no epoch was trained (is --epochs 0?)")?;
    let best_bundle = Bundle::from_bytes(&std::fs::read(run_dir.join(BEST_BUNDLE))?)?;
    let exported = Bundle::from_network(
        BundleHeader { precision: control.precision, ..best_bundle.header.clone() },
        best_bundle.load_network::<B::InnerBackend>(&device.clone())?,
    )?;
    let bundle_path = run_dir.join(MODEL_BUNDLE);
    write_atomic(&bundle_path, &exported.to_bytes())?;
    let summary = RunSummary {
        run_dir: run_dir.to_path_buf(),
        classes: state.classes.clone(),
        train_images: n,
        validation_images: prepared.validation.images.len(),
        epochs_run: state.history.len(),
        stopped_early,
        best: Some(best),
        bundle: bundle_path,
        mean_images_per_second: mean_std(&state.history.iter().map(|m| m.images_per_second).collect::<Vec<_>>()).0,
    };
    write_atomic(&run_dir.join("run.json"), serde_json::to_string_pretty(&serde_json::json!({
        "settings": settings, "summary": &summary, "history": &state.history,
    }))?.as_bytes())?;
    Ok(summary)
}

/// Loss (mean over the batch) and predicted classes for either head.
fn loss_and_predictions<B: Backend>(logits: Tensor<B, 2>, labels: &[usize], device: &B::Device) -> (Tensor<B, 1>, Vec<usize>) {
    let targets = Tensor::<B, 1, Int>::from_ints(labels.iter().map(|&l| l as i32).collect::<Vec<_>>().as_slice(), device);
    if logits.dims()[1] == 1 {
        let predicted: Vec<usize> = logits
            .clone()
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&z| usize::from(z > 0.0))
            .collect();
        let loss = BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(device)
            .forward(logits, targets.unsqueeze_dim(1));
        (loss, predicted)
    } else {
        let predicted: Vec<usize> = logits
            .clone()
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .unwrap()
            .into_iter()
            .map(|v| v as usize)
            .collect();
        (CrossEntropyLossConfig::new().init(device).forward(logits, targets), predicted)
    }
}

/// Mean loss and confusion of `model` on unaugmented images.
pub fn validate<B: Backend>(
    model: &Network<B>,
    data: &Loaded,
    classes: usize,
    preprocess: &PreprocessConfig,
    workers: usize,
    device: &B::Device,
) -> (f64, Confusion) {
    let mut confusion = Confusion::new(classes);
    let mut loss_sum = 0.0;
    let indices: Vec<usize> = (0..data.images.len()).collect();
    for chunk in indices.chunks(64) {
        let images: Vec<&FloatImage> = chunk.iter().map(|&i| &data.images[i]).collect();
        let labels: Vec<usize> = chunk.iter().map(|&i| data.labels[i]).collect();
        let logits = model.forward(dataset::batch::<B>(&images, None, chunk, preprocess, workers, device));
        let (loss, predicted) = loss_and_predictions(logits, &labels, device);
        loss_sum += loss.into_scalar().elem::<f64>() * chunk.len() as f64;
        for (p, l) in predicted.into_iter().zip(labels) {
            confusion.add(l, p);
        }
    }
    (if data.images.is_empty() { 0.0 } else { loss_sum / data.images.len() as f64 }, confusion)
}

pub fn metrics_csv(history: &[EpochMetrics]) -> String {
    let mut s = String::from("epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_balanced_accuracy,seconds,images_per_second\n");
    for m in history {
        s += &format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.3},{:.1}\n",
            m.epoch, m.train_loss, m.train_accuracy, m.val_loss, m.val_accuracy, m.val_balanced_accuracy, m.seconds, m.images_per_second
        );
    }
    s
}

/// One file: `u64 len + state JSON`, `u64 len + model record`, `u64 len + optimizer record`,
/// written atomically, so a kill at any moment leaves the previous epoch's checkpoint intact.
fn save_checkpoint<B: AutodiffBackend, O: Optimizer<Network<B>, B>>(
    path: &Path,
    state: &RunState,
    model: &Network<B>,
    optim: &O,
) -> Result<()> {
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let state_bytes = serde_json::to_vec(state)?;
    let model_bytes = Recorder::<B>::record(&recorder, model.clone().into_record(), ())?;
    let optim_bytes = Recorder::<B>::record(&recorder, optim.to_record(), ())?;
    let mut bytes = Vec::with_capacity(24 + state_bytes.len() + model_bytes.len() + optim_bytes.len());
    for part in [&state_bytes, &model_bytes, &optim_bytes] {
        bytes.extend((part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    write_atomic(path, &bytes)
}

fn load_checkpoint<B: AutodiffBackend, O: Optimizer<Network<B>, B>>(
    path: &Path,
    model: Network<B>,
    optim: O,
    device: &B::Device,
) -> Result<(RunState, Network<B>, O)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut parts = Vec::new();
    let mut pos = 0usize;
    for _ in 0..3 {
        let len = bytes
            .get(pos..pos + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
            .context("checkpoint is truncated")?;
        let part = bytes.get(pos + 8..pos + 8 + len).context("checkpoint is truncated")?;
        parts.push(part.to_vec());
        pos += 8 + len;
    }
    let state: RunState = serde_json::from_slice(&parts[0]).context("checkpoint state is unreadable")?;
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let model_record = Recorder::<B>::load(&recorder, parts[1].clone(), device).context("checkpoint weights are unreadable")?;
    let optim_record = Recorder::<B>::load(&recorder, parts[2].clone(), device).context("checkpoint optimizer state is unreadable")?;
    Ok((state, model.load_record(model_record), optim.load_record(optim_record)))
}

/// `--folds K`: K-fold cross-validation over all images; each fold trains in `run_dir/fold-k`.
#[derive(Serialize)]
pub struct FoldsSummary {
    pub folds: usize,
    pub accuracy: Vec<f64>,
    pub balanced_accuracy: Vec<f64>,
    pub mean_accuracy: f64,
    pub std_accuracy: f64,
    pub mean_balanced_accuracy: f64,
    pub std_balanced_accuracy: f64,
}

pub fn run_folds<B: AutodiffBackend>(
    prepared: &Prepared,
    k: usize,
    settings: &TrainSettings,
    control: &RunControl,
    run_dir: &Path,
    device: &B::Device,
    out: &Output,
) -> Result<FoldsSummary> {
    if k < 2 {
        bail!("--folds needs at least 2");
    }
    // Merge train and validation, then assign folds.
    let mut images = prepared.train.images.clone();
    images.extend(prepared.validation.images.iter().cloned());
    let mut labels = prepared.train.labels.clone();
    labels.extend(&prepared.validation.labels);
    let mut paths = prepared.train.paths.clone();
    paths.extend(prepared.validation.paths.iter().cloned());
    let samples: Vec<Sample> = paths.iter().zip(&labels).map(|(p, &l)| Sample { path: p.clone(), label: l }).collect();
    let fold_of = stratified_folds(&samples, prepared.classes.len(), k, settings.seed);
    let (mut accuracy, mut balanced) = (Vec::new(), Vec::new());
    for fold in 0..k {
        out.note(format!("fold {}/{k}", fold + 1));
        let subset = |keep: &dyn Fn(usize) -> bool| {
            let idx: Vec<usize> = (0..images.len()).filter(|&i| keep(fold_of[i])).collect();
            Loaded {
                images: idx.iter().map(|&i| images[i].clone()).collect(),
                labels: idx.iter().map(|&i| labels[i]).collect(),
                paths: idx.iter().map(|&i| paths[i].clone()).collect(),
                skipped: Vec::new(),
            }
        };
        let fold_data = Prepared {
            classes: prepared.classes.clone(),
            train: subset(&|f| f != fold),
            validation: subset(&|f| f == fold),
            dataset: format!("{} (fold {} of {k})", prepared.dataset, fold + 1),
        };
        let summary = run::<B>(&fold_data, settings, control, &run_dir.join(format!("fold-{}", fold + 1)), device, out)?;
        let best = summary.best.expect("each fold trains at least one epoch");
        accuracy.push(best.val_accuracy);
        balanced.push(best.val_balanced_accuracy);
    }
    let (mean_accuracy, std_accuracy) = mean_std(&accuracy);
    let (mean_balanced_accuracy, std_balanced_accuracy) = mean_std(&balanced);
    let summary = FoldsSummary {
        folds: k,
        accuracy,
        balanced_accuracy: balanced,
        mean_accuracy,
        std_accuracy,
        mean_balanced_accuracy,
        std_balanced_accuracy,
    };
    write_atomic(&run_dir.join("folds.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(summary)
}

/// Training throughput in images per second: `steps` optimiser steps of `batch_size` synthetic
/// S×S images after two warm-up steps, with or without the tutorial's augmentation.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    pub augmentation: bool,
    pub batch_size: usize,
    pub image_size: usize,
    pub steps: usize,
    pub images_per_second: f64,
}

pub fn throughput<B: AutodiffBackend>(image_size: usize, batch_size: usize, steps: usize, augment: bool, workers: usize, device: &B::Device) -> Throughput {
    let settings = TrainSettings {
        arch: "baseline".into(),
        image_size,
        resize: ResizeMode::CenterCrop,
        head: HeadChoice::Softmax,
        batch_size,
        optimizer: OptimizerChoice::Rmsprop,
        lr: 1e-3,
        dropout: 0.25,
        augment: if augment { AugmentConfig::tutorial() } else { AugmentConfig::default() },
        seed: 1,
        validation: 0.0,
        backbone: None,
        freeze_blocks: None,
    };
    let preprocess = settings.preprocess();
    let mut model: Network<B> = settings.architecture(3).expect("valid settings").init(device);
    let mut optim = keras_rmsprop().init();
    let images: Vec<FloatImage> = (0..batch_size)
        .map(|i| {
            let data = (0..image_size * image_size * 3).map(|j| ((i * 31 + j * 7) % 256) as f32).collect();
            FloatImage::from_hwc(image_size, image_size, data).unwrap()
        })
        .collect();
    let refs: Vec<&FloatImage> = images.iter().collect();
    let labels: Vec<usize> = (0..batch_size).map(|i| i % 3).collect();
    let indices: Vec<usize> = (0..batch_size).collect();
    let mut started = Instant::now();
    for step in 0..steps + 2 {
        if step == 2 {
            started = Instant::now();
        }
        let x = dataset::batch::<B>(&refs, Some((&settings.augment, step as u64)), &indices, &preprocess, workers, device);
        model = train_step(model, &mut optim, settings.lr, x, &labels, device).0;
    }
    Throughput {
        augmentation: augment,
        batch_size,
        image_size,
        steps,
        images_per_second: (steps * batch_size) as f64 / started.elapsed().as_secs_f64(),
    }
}
