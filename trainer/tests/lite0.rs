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
