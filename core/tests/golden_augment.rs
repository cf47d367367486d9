//! `apply` against the 60 golden outputs of keras-preprocessing 1.1.2 in ../shared/golden/augment.

use std::io::Write;
use std::path::PathBuf;

use vlinder_core::augment::{FillMode, TransformParams, apply};
use vlinder_core::FloatImage;

fn golden_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden/augment");
    if dir.join("cases.json").exists() {
        Some(dir)
    } else {
        // Written straight to stderr so that cargo's output capture cannot hide the skip.
        let _ = writeln!(std::io::stderr(), "SKIPPED golden augmentation cases: {} not found", dir.display());
        None
    }
}

fn read_f32(path: &PathBuf) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn apply_matches_every_keras_golden_case() {
    let Some(dir) = golden_dir() else { return };
    let cases: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let inputs = &cases["inputs"];
    let mut failures = Vec::new();
    let list = cases["cases"].as_array().unwrap();
    assert_eq!(list.len(), 60);
    for case in list {
        let input = &inputs[case["input"].as_str().unwrap()];
        let (w, h) = (input["width"].as_u64().unwrap() as usize, input["height"].as_u64().unwrap() as usize);
        let image = FloatImage::from_hwc(w, h, read_f32(&dir.join(input["file"].as_str().unwrap()))).unwrap();
        let expected = read_f32(&dir.join(case["file"].as_str().unwrap()));
        let p = &case["params"];
        let num = |k: &str, default: f64| p.get(k).and_then(|v| v.as_f64()).unwrap_or(default);
        let params = TransformParams {
            theta: num("theta", 0.0),
            tx: num("tx", 0.0),
            ty: num("ty", 0.0),
            shear: num("shear", 0.0),
            zx: num("zx", 1.0),
            zy: num("zy", 1.0),
            flip_horizontal: p.get("flip_horizontal").and_then(|v| v.as_bool()).unwrap_or(false),
            flip_vertical: p.get("flip_vertical").and_then(|v| v.as_bool()).unwrap_or(false),
            fill_mode: match case["fill_mode"].as_str().unwrap() {
                "nearest" => FillMode::Nearest,
                "constant" => FillMode::Constant,
                "reflect" => FillMode::Reflect,
                other => panic!("unexpected fill mode {other}"),
            },
            cval: 0.0,
        };
        let out = apply(&image, &params);
        assert_eq!(out.data.len(), expected.len());
        let (worst, at) = out
            .data
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .fold((0.0f32, 0), |(m, i), (j, d)| if d > m { (d, j) } else { (m, i) });
        if worst > 1e-3 {
            let px = at / 3;
            failures.push(format!(
                "{} {} {:?}: max diff {worst} at row {} col {} ch {} (got {}, want {})",
                case["file"], case["fill_mode"], case["params"].to_string(), px / w, px % w, at % 3, out.data[at], expected[at]
            ));
        }
    }
    assert!(failures.is_empty(), "{} of 60 cases differ:\n{}", failures.len(), failures.join("\n"));
}
