//! The `vlinder` command end to end on small synthetic data: split, train (with resume after a
//! kill), evaluate, predict, export, inspect, augment.

mod common;

use std::path::Path;

use common::*;

const TINY: &[&str] = &["--image-size", "16", "--batch-size", "8", "--optimizer", "adam", "--lr", "0.01", "--workers", "2"];

fn train_args<'a>(data: &'a str, out: &'a str, epochs: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", data, "--out", out, "--epochs", epochs, "--quiet"];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    args
}

#[test]
fn split_is_stratified_reproducible_and_refuses_tiny_classes() {
    let dir = temp_dir("split");
    image_folder(&dir.join("src"), &["gatekeeper", "meadow_brown"], 10);
    let report = json(&["split", s(&dir.join("src")), s(&dir.join("a")), "--validation", "0.2", "--seed", "7"]);
    assert_eq!(report["train"], 16);
    assert_eq!(report["validation"], 4);
    assert_eq!(report["classes"][1]["validation"], 2);
    ok(&["split", s(&dir.join("src")), s(&dir.join("b")), "--validation", "0.2", "--seed", "7", "--quiet"]);
    let list = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
        v.sort();
        v
    };
    assert_eq!(list(&dir.join("a/validation/gatekeeper")), list(&dir.join("b/validation/gatekeeper")));
    assert_eq!(list(&dir.join("a/train/meadow_brown")).len(), 8);
    // An existing, non-empty output folder is not overwritten.
    let again = vlinder(&["split", s(&dir.join("src")), s(&dir.join("a"))]);
    assert!(!again.status.success());
    // Three images in a class is too few without --force.
    image_folder(&dir.join("small"), &["a", "b"], 3);
    let refused = vlinder(&["split", s(&dir.join("small")), s(&dir.join("c"))]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("fewer than 5"));
    ok(&["split", s(&dir.join("small")), s(&dir.join("d")), "--force", "--quiet"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn train_evaluate_predict_export_inspect() {
    let dir = temp_dir("train");
    let data = dir.join("data");
    image_folder(&data, &["maniola_jurtina", "pyronia_tithonus"], 16);
    let run = dir.join("run");
    let summary = json(&train_args(s(&data), s(&run), "4", &["--no-augment", "--validation", "0.25"]));
    assert_eq!(summary["epochs_run"], 4);
    assert_eq!(summary["train_images"], 24);
    assert_eq!(summary["validation_images"], 8);
    let best = summary["best"]["val_accuracy"].as_f64().unwrap();
    assert!(best >= 0.85, "orange vs blue discs should be learnt: {best}");
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 5, "header + one row per epoch:\n{metrics}");
    assert!(metrics.starts_with("epoch,train_loss,train_accuracy,val_loss,val_accuracy"));
    assert!(std::fs::read_to_string(run.join("curves.svg")).unwrap().contains("<svg"));
    assert!(std::fs::read_to_string(run.join("confusion.txt")).unwrap().contains("maniola_jurtina"));

    // inspect
    let info = json(&["inspect", s(&run.join("model.vlinder"))]);
    assert_eq!(info["header"]["classes"][0]["english"], "meadow brown");
    assert_eq!(info["header"]["precision"], "f32");
    assert_eq!(info["header"]["preprocess"]["image_size"], 16);
    assert!(info["header"]["provenance"]["validation"]["accuracy"].as_f64().unwrap() >= 0.85);

    // evaluate on the training folder: JSON with the promised fields.
    let eval = json(&["evaluate", "--model", s(&run.join("model.vlinder")), s(&data)]);
    assert_eq!(eval["n"], 32);
    assert_eq!(eval["classes"], serde_json::json!(["maniola_jurtina", "pyronia_tithonus"]));
    assert!(eval["accuracy"].as_f64().unwrap() >= 0.85);
    assert!(eval["balanced_accuracy"].as_f64().unwrap() >= 0.85);
    assert_eq!(eval["per_class"][1]["support"], 16);
    let confusion: Vec<Vec<u64>> = serde_json::from_value(eval["confusion"].clone()).unwrap();
    assert_eq!(confusion.iter().flatten().sum::<u64>(), 32);
    assert_eq!(eval["wrong"].as_array().unwrap().len() as u64, 32 - confusion[0][0] - confusion[1][1]);

    // A folder that is not a class is an error unless mapped.
    let other = dir.join("other_data");
    image_folder(&other, &["maniola_jurtina", "vanessa_atalanta"], 2);
    let refused = vlinder(&["evaluate", "--model", s(&run.join("model.vlinder")), s(&other)]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("vanessa_atalanta is not a class"));
    let mapped = json(&["evaluate", "--model", s(&run.join("model.vlinder")), s(&other), "--map", "pyronia_tithonus=*"]);
    assert_eq!(mapped["n"], 4);

    // predict: top-k, claims, CSV, and a corrupt photo.
    let blue = data.join("pyronia_tithonus/img_00.jpg");
    let orange = data.join("maniola_jurtina/img_00.jpg");
    let preds = json(&["predict", "--model", s(&run.join("model.vlinder")), s(&orange), s(&blue), "--top", "2", "--expect", "gatekeeper"]);
    let preds = preds.as_array().unwrap();
    assert_eq!(preds[0]["top"].as_array().unwrap().len(), 2);
    assert_eq!(preds[0]["top"][0]["class"], "maniola_jurtina");
    assert_eq!(preds[1]["top"][0]["class"], "pyronia_tithonus");
    let p: f64 = preds[0]["top"].as_array().unwrap().iter().map(|t| t["probability"].as_f64().unwrap()).sum();
    assert!((p - 1.0).abs() < 1e-4);
    assert_eq!(preds[0]["claimed"], "pyronia_tithonus");
    assert_eq!(preds[0]["disagrees"], preds[0]["confidence"] == "likely");
    assert_eq!(preds[1]["disagrees"], false);
    let broken = dir.join("broken.jpg");
    std::fs::write(&broken, &std::fs::read(&blue).unwrap()[..200]).unwrap();
    let out = vlinder(&["predict", "--model", s(&run.join("model.vlinder")), s(&blue), s(&broken), "--csv"]);
    assert_eq!(out.status.code(), Some(2), "an unreadable photo makes the exit status 2");
    let csv = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("file,class_1,probability_1"));
    assert!(rows[1].contains("pyronia_tithonus"));
    assert!(rows[2].contains("damaged or incomplete"), "{}", rows[2]);

    // export f16: half the size, same answers.
    let f16 = dir.join("model-f16.vlinder");
    let exported = json(&["export", s(&run), "--out", s(&f16), "--precision", "f16", "--likely", "0.8", "--possible", "0.3"]);
    assert_eq!(exported["header"]["precision"], "f16");
    assert_eq!(exported["header"]["thresholds"]["likely"], 0.8);
    let (a, b) = (std::fs::metadata(run.join("model.vlinder")).unwrap().len(), std::fs::metadata(&f16).unwrap().len());
    assert!((b as f64) < a as f64 * 0.6, "f16 {b} vs f32 {a}");
    let half = json(&["predict", "--model", s(&f16), s(&orange), s(&blue)]);
    assert_eq!(half[0]["top"][0]["class"], "maniola_jurtina");
    assert_eq!(half[1]["top"][0]["class"], "pyronia_tithonus");

    // A file that is not a bundle gives a clear error.
    let bad = vlinder(&["inspect", s(&blue)]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a Vlinder model bundle"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_continues_a_run_and_refuses_to_overwrite_one() {
    let dir = temp_dir("resume");
    let data = dir.join("data");
    image_folder(&data, &["a", "b"], 8);
    let run = dir.join("run");
    ok(&train_args(s(&data), s(&run), "2", &[]));
    let first = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let again = vlinder(&train_args(s(&data), s(&run), "3", &[]));
    assert!(!again.status.success(), "an existing run is not silently overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    ok(&train_args(s(&data), s(&run), "4", &["--resume"]));
    let resumed = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(resumed.lines().count(), 5);
    let strip_time = |csv: &str| csv.lines().map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",")).collect::<Vec<_>>();
    assert_eq!(strip_time(&resumed)[..3], strip_time(&first)[..3], "the first epochs are kept as they were");
    // Other settings on resume are refused.
    let mismatch = vlinder(&train_args(s(&data), s(&run), "5", &["--resume", "--dropout", "0.5"]));
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("other settings"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_run_resumes_losing_at_most_one_epoch() {
    let dir = temp_dir("kill");
    let data = dir.join("data");
    image_folder(&data, &["a", "b"], 24);
    let run = dir.join("run");
    let args = train_args(s(&data), s(&run), "400", &["--image-size", "32"]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vlinder")).args(&args).spawn().unwrap();
    let metrics = run.join("metrics.csv");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::fs::read_to_string(&metrics).map(|m| m.lines().count()).unwrap_or(0) < 3 {
        assert!(std::time::Instant::now() < deadline, "training made no progress");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let done = std::fs::read_to_string(&metrics).unwrap().lines().count() - 1;
    // Resume to two epochs beyond what was recorded.
    let target = (done + 2).to_string();
    let args = train_args(s(&data), s(&run), &target, &["--image-size", "32", "--resume"]);
    ok(&args);
    let rows: Vec<usize> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows, (1..=done + 2).collect::<Vec<_>>(), "epochs are contiguous after the kill");
    assert!(run.join("model.vlinder").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&run).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".part")).collect();
    assert!(leftovers.is_empty(), "no half-written files remain");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigmoid_head_folds_and_early_stopping() {
    let dir = temp_dir("folds");
    let data = dir.join("data");
    image_folder(&data, &["a", "b"], 6);
    let run = dir.join("sigmoid");
    let summary = json(&train_args(s(&data), s(&run), "30", &["--head", "sigmoid", "--no-augment", "--patience", "2", "--lr", "0.05"]));
    assert!(summary["epochs_run"].as_u64().unwrap() < 30, "early stopping ends the run");
    let info = json(&["inspect", s(&run.join("model.vlinder"))]);
    assert_eq!(info["header"]["architecture"]["config"]["head"], "Sigmoid");
    let three = dir.join("three");
    image_folder(&three, &["a", "b", "c"], 6);
    let refused = vlinder(&train_args(s(&three), s(&dir.join("x")), "1", &["--head", "sigmoid"]));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("exactly two classes"));
    let folds = json(&train_args(s(&data), s(&dir.join("folds")), "1", &["--folds", "3"]));
    assert_eq!(folds["accuracy"].as_array().unwrap().len(), 3);
    let mean = folds["mean_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&mean));
    assert!(dir.join("folds/fold-3/model.vlinder").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn augment_writes_previews_and_a_contact_sheet() {
    let dir = temp_dir("augment");
    let photo_path = dir.join("photo.jpg");
    std::fs::write(&photo_path, photo(0, 1, 80)).unwrap();
    let report = json(&["augment", s(&photo_path), "--out", s(&dir.join("out")), "--count", "5", "--image-size", "40", "--rotation", "90"]);
    assert_eq!(report["previews"].as_array().unwrap().len(), 5);
    for p in report["previews"].as_array().unwrap() {
        assert!(p["params"]["theta"].as_f64().unwrap().abs() <= 90.0);
        let img = image::open(p["file"].as_str().unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), (40, 40));
    }
    let sheet = image::open(dir.join("out/contact_sheet.png")).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (3 * 42 + 2, 2 * 42 + 2), "6 tiles in a 3×2 grid");
    let bad = vlinder(&["augment", s(&dir.join("missing.jpg")), "--out", s(&dir.join("o2"))]);
    assert!(!bad.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in ["fetch", "split", "augment", "train", "evaluate", "predict", "export", "inspect"] {
        let help = ok(&[sub, "--help"]);
        assert!(help.contains("Example"), "{sub} --help lacks an example");
        assert!(help.contains("vlinder "), "{sub}");
    }
}
