//! EfficientNet-Lite0: the imported ImageNet weights recognise ImageNet's butterflies in the Leeds
//! photos, and `--arch lite0` trains, exports and predicts. Needs the weights `./dev` fetches
//! (`.tools/lite0/…pth`, or `VLINDER_LITE0_PTH`); the ImageNet check also needs `../shared`.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn pth() -> Option<PathBuf> {
    let path = std::env::var_os("VLINDER_LITE0_PTH")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/lite0/efficientnet-lite0-57934424.pth"));
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED Lite0 tests: {} not found (./dev test fetches it)", path.display());
        None
    }
}

fn imported(dir: &Path) -> Option<PathBuf> {
    let pth = pth()?;
    let bundle = dir.join("lite0-imagenet.vlinder");
    let info = json(&["import-backbone", s(&pth), "--out", s(&bundle)]);
    assert_eq!(info["header"]["architecture"]["name"], "lite0");
    assert_eq!(info["header"]["classes"].as_array().unwrap().len(), 1000);
    Some(bundle)
}

#[test]
fn imported_backbone_names_imagenets_butterflies_in_leeds() {
    let leeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/leeds");
    if !leeds.exists() {
        eprintln!("SKIPPED ImageNet check: {} not found", leeds.display());
        return;
    }
    let dir = temp_dir("lite0-imagenet");
    let Some(bundle) = imported(&dir) else { return };
    // ImageNet 321 admiral, 323 monarch, 324 cabbage butterfly.
    let expected = [("vanessa_atalanta", "imagenet_321"), ("danaus_plexippus", "imagenet_323"), ("pieris_rapae", "imagenet_324")];
    let mut args: Vec<String> = ["predict", "--model", s(&bundle), "--top", "1"].map(String::from).to_vec();
    for (species, _) in expected {
        let mut photos: Vec<_> = std::fs::read_dir(leeds.join(species)).unwrap().map(|e| e.unwrap().path()).collect();
        photos.sort();
        args.extend(photos.iter().map(|p| p.display().to_string()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let results = json(&args);
    let results = results.as_array().unwrap();
    let agree = results
        .iter()
        .filter(|r| {
            let species = Path::new(r["file"].as_str().unwrap()).parent().unwrap().file_name().unwrap().to_str().unwrap();
            let want = expected.iter().find(|(s, _)| *s == species).unwrap().1;
            r["top"][0]["class"] == want
        })
        .count();
    eprintln!("ImageNet check: {agree} of {} Leeds photos (PyTorch reference: 179 of 180)", results.len());
    assert_eq!(results.len(), 180);
    assert!(agree >= 175, "only {agree} of 180 agree with ImageNet's labels");
}

#[test]
fn lite0_trains_on_a_frozen_backbone_exports_f16_and_predicts() {
    let dir = temp_dir("lite0-train");
    let Some(backbone) = imported(&dir) else { return };
    let data = dir.join("data");
    image_folder(&data, &["gatekeeper", "meadow_brown"], 6);
    let run = dir.join("run");
    let summary = json(&[
        "train", s(&data), "--arch", "lite0", "--backbone", s(&backbone), "--out", s(&run), "--epochs", "30",
        "--folds", "3", "--repeats", "2", "--feature-passes", "2", "--precision", "f16", "--likely", "0.8", "--possible", "0.6",
    ]);
    let cv = &summary["crossval"];
    assert_eq!(cv["folds"], 3);
    assert_eq!(cv["balanced_accuracy"].as_array().unwrap().len(), 2);
    // Two colours ImageNet features separate easily.
    assert!(cv["mean_balanced_accuracy"].as_f64().unwrap() >= 0.9, "{cv}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("crossval.json")).unwrap()).unwrap();
    assert_eq!(report["held_out"].as_array().unwrap().len(), 2 * 12, "every photo once unseen per repeat");

    let model = run.join("model.vlinder");
    let info = json(&["inspect", s(&model)]);
    assert_eq!(info["header"]["architecture"]["name"], "lite0");
    assert_eq!(info["header"]["precision"], "f16");
    assert_eq!(info["header"]["thresholds"]["likely"], 0.8);
    assert!(info["bytes"].as_u64().unwrap() < 8_000_000, "f16 Lite0 without the 1000-class head");
    let photo = data.join("gatekeeper/img_00.jpg");
    let predicted = json(&["predict", "--model", s(&model), s(&photo)]);
    assert_eq!(predicted[0]["top"][0]["class"], "gatekeeper");
    let evaluated = json(&["evaluate", "--model", s(&model), s(&data)]);
    assert!(evaluated["accuracy"].as_f64().unwrap() >= 0.9);
}

#[test]
fn lite0_fine_tunes_its_last_blocks() {
    let dir = temp_dir("lite0-finetune");
    let Some(backbone) = imported(&dir) else { return };
    let data = dir.join("data");
    image_folder(&data, &["gatekeeper", "meadow_brown"], 5);
    let run = dir.join("run");
    // 64×64 keeps the CPU backward pass quick; the last 4 of 16 blocks and the head train.
    let summary = json(&[
        "train", s(&data), "--arch", "lite0", "--backbone", s(&backbone), "--freeze", "12", "--image-size", "64",
        "--out", s(&run), "--epochs", "2", "--batch-size", "4", "--optimizer", "adam", "--lr", "0.0005",
    ]);
    assert_eq!(summary["epochs_run"], 2);
    let info = json(&["inspect", s(&run.join("model.vlinder"))]);
    assert_eq!(info["header"]["architecture"]["name"], "lite0");
    assert_eq!(info["header"]["preprocess"]["image_size"], 64);
    let predicted = json(&["predict", "--model", s(&run.join("model.vlinder")), s(&data.join("meadow_brown/img_00.jpg"))]);
    assert_eq!(predicted[0]["top"].as_array().unwrap().len(), 2);
    let bad = vlinder(&["train", s(&data), "--arch", "lite0", "--freeze", "some", "--out", s(&dir.join("x"))]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--freeze takes backbone, none or a number"));
}
