//! The weights bundle: round trips in both precisions, and every way a file can be wrong.

use burn::backend::NdArray;
use burn::prelude::*;
use rand::{RngExt, SeedableRng};
use vlinder_core::bundle::{Architecture, FORMAT_VERSION, MAGIC, Provenance, Thresholds};
use vlinder_core::model::{BaselineConfig, Head};
use vlinder_core::{Bundle, BundleError, BundleHeader, ClassList, Classifier, FloatImage, Precision, PreprocessConfig};

type B = NdArray;

fn header(classes: &[&str], size: usize, precision: Precision) -> BundleHeader {
    BundleHeader {
        architecture: Architecture::Baseline {
            config: BaselineConfig::new(Head::for_classes(classes.len(), false)).with_image_size(size),
        },
        classes: ClassList::from_ids(classes.iter().copied()),
        preprocess: PreprocessConfig::baseline(size),
        precision,
        thresholds: Thresholds::default(),
        provenance: Provenance { dataset: "unit test".into(), seed: 42, epochs: 0, ..Default::default() },
    }
}

fn bundle(precision: Precision) -> Bundle {
    let classes = ["coenonympha_pamphilus", "maniola_jurtina", "pyronia_tithonus"];
    let h = header(&classes, 75, precision);
    let network = h.architecture.init::<B>(&Default::default());
    Bundle::from_network(h, network).unwrap()
}

/// Random test images with some structure (a bright square at a random place).
fn images(n: usize, size: usize) -> Vec<FloatImage> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    (0..n)
        .map(|_| {
            let (r0, c0) = (rng.random_range(0..size / 2), rng.random_range(0..size / 2));
            let mut img = FloatImage::filled(size, size, 0.1);
            for (i, v) in img.data.iter_mut().enumerate() {
                let (r, c) = (i / 3 / size, i / 3 % size);
                *v = if (r0..r0 + size / 3).contains(&r) && (c0..c0 + size / 3).contains(&c) {
                    0.9
                } else {
                    rng.random_range(0.0..0.3)
                };
            }
            img
        })
        .collect()
}

fn argmaxes(classifier: &Classifier<B>, imgs: &[FloatImage]) -> Vec<usize> {
    classifier.classify(imgs).unwrap().iter().map(|p| p.top().index).collect()
}

/// Re-assembles a bundle from a header and record, with a correct checksum.
fn assemble(version: u32, header: &[u8], record: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(version.to_le_bytes());
    out.extend((header.len() as u32).to_le_bytes());
    out.extend(header);
    out.extend((record.len() as u64).to_le_bytes());
    out.extend(record);
    let crc = crc32fast::hash(&out);
    out.extend(crc.to_le_bytes());
    out
}

/// Splits valid bundle bytes into (header JSON, record).
fn parts(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let hl = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let header = bytes[16..16 + hl].to_vec();
    let record = bytes[16 + hl + 8..bytes.len() - 4].to_vec();
    (header, record)
}

#[test]
fn round_trip_in_both_precisions() {
    let device = Default::default();
    let imgs = images(6, 75);
    let f32_bundle = bundle(Precision::F32);
    let original = Classifier::<B>::from_bundle(&f32_bundle, &device).unwrap();
    let f32_bytes = f32_bundle.to_bytes();
    let reloaded = Classifier::<B>::from_bytes(&f32_bytes, &device).unwrap();
    assert_eq!(reloaded.header(), original.header());
    let (a, b) = (original.classify(&imgs).unwrap(), reloaded.classify(&imgs).unwrap());
    assert_eq!(a, b, "f32 round trip is exact");

    // The same weights stored as f16: about half the size, same answers.
    let f16_bundle = Bundle::from_network(
        BundleHeader { precision: Precision::F16, ..f32_bundle.header.clone() },
        original.network().clone(),
    )
    .unwrap();
    let f16_bytes = f16_bundle.to_bytes();
    let ratio = f16_bytes.len() as f64 / f32_bytes.len() as f64;
    assert!((0.48..0.53).contains(&ratio), "f16 is {ratio:.3} of f32 ({} vs {} bytes)", f16_bytes.len(), f32_bytes.len());
    assert!(f32_bytes.len() > 5_300_000, "1.34 M f32 parameters: {} bytes", f32_bytes.len());
    let half = Classifier::<B>::from_bytes(&f16_bytes, &device).unwrap();
    assert_eq!(half.header().precision, Precision::F16);
    assert_eq!(argmaxes(&half, &imgs), argmaxes(&original, &imgs));
    for (p, q) in half.classify(&imgs).unwrap().iter().zip(&a) {
        for (x, y) in p.probabilities.iter().zip(&q.probabilities) {
            assert!((x - y).abs() < 5e-3, "f16 {x} vs f32 {y}");
        }
    }
}

#[test]
fn predictions_are_ranked_and_banded_by_the_thresholds() {
    let classifier = Classifier::<B>::from_bundle(&bundle(Precision::F32), &Default::default()).unwrap();
    let p = classifier.rank(vec![0.1, 0.75, 0.15]);
    assert_eq!(p.top().id, "maniola_jurtina");
    assert_eq!(p.confidence, vlinder_core::classify::Confidence::Likely);
    assert_eq!(classifier.rank(vec![0.3, 0.35, 0.35]).confidence, vlinder_core::classify::Confidence::Possible);
    assert_eq!(classifier.rank(vec![0.3, 0.35, 0.35]).top().index, 1, "ties rank by class order");
    let mut header = classifier.header().clone();
    header.thresholds = Thresholds { likely: 0.9, possible: 0.5 };
    let strict = Classifier::<B>::from_bundle(
        &Bundle::from_network(header, classifier.network().clone()).unwrap(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(strict.rank(vec![0.1, 0.45, 0.45]).confidence, vlinder_core::classify::Confidence::NotSure);
    let ranking: Vec<f32> = classifier.classify(&images(1, 75)).unwrap()[0].ranking.iter().map(|r| r.probability).collect();
    assert!(ranking.windows(2).all(|w| w[0] >= w[1]));
    assert!((ranking.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn truncated_files_are_refused_at_every_length() {
    let bytes = bundle(Precision::F16).to_bytes();
    for len in [0, 3, 8, 11, 15, 40, 200, bytes.len() / 2, bytes.len() - 5, bytes.len() - 1] {
        let err = Bundle::from_bytes(&bytes[..len]).unwrap_err();
        assert!(
            matches!(err, BundleError::Truncated(_) | BundleError::NotABundle | BundleError::Checksum),
            "{len}: {err:?}"
        );
        if len >= 8 {
            assert!(matches!(err, BundleError::Truncated(_) | BundleError::Checksum), "{len}: {err:?}");
        }
    }
}

#[test]
fn corrupted_bytes_fail_the_checksum() {
    let mut bytes = bundle(Precision::F16).to_bytes();
    let n = bytes.len();
    bytes[n / 2] ^= 0x40;
    assert_eq!(Bundle::from_bytes(&bytes), Err(BundleError::Checksum));
    let mut trailing = bundle(Precision::F16).to_bytes();
    trailing.push(0);
    assert!(Bundle::from_bytes(&trailing).is_err());
}

#[test]
fn other_files_and_versions_are_named() {
    assert_eq!(Bundle::from_bytes(b"\x89PNG\r\n\x1a\n rest of a png"), Err(BundleError::NotABundle));
    assert_eq!(Bundle::from_bytes(b"PK\x03\x04 a pytorch zip"), Err(BundleError::NotABundle));
    let (header, record) = parts(&bundle(Precision::F16).to_bytes());
    let future = assemble(FORMAT_VERSION + 1, &header, &record);
    let err = Bundle::from_bytes(&future).unwrap_err();
    assert_eq!(err, BundleError::UnsupportedVersion { found: FORMAT_VERSION + 1, supported: FORMAT_VERSION });
    assert!(err.to_string().contains("version 2"), "{err}");
}

#[test]
fn wrong_architecture_is_an_error_not_a_panic() {
    let good = bundle(Precision::F32).to_bytes();
    let (header, record) = parts(&good);
    let json: serde_json::Value = serde_json::from_slice(&header).unwrap();

    // An architecture this build does not know.
    let mut unknown = json.clone();
    unknown["architecture"]["name"] = "resnet50".into();
    let err = Bundle::from_bytes(&assemble(FORMAT_VERSION, unknown.to_string().as_bytes(), &record)).unwrap_err();
    assert!(matches!(&err, BundleError::Header(m) if m.contains("resnet50")), "{err:?}");

    // The header says four classes, the weights hold three.
    let mut four = json.clone();
    four["architecture"]["config"]["head"] = serde_json::json!({"Softmax": 4});
    four["classes"] = serde_json::to_value(ClassList::from_ids(["a", "b", "c", "d"])).unwrap();
    let bundle = Bundle::from_bytes(&assemble(FORMAT_VERSION, four.to_string().as_bytes(), &record)).unwrap();
    let err = Classifier::<B>::from_bundle(&bundle, &Default::default()).err().expect("shape mismatch");
    assert!(matches!(err, BundleError::WrongArchitecture(_)), "{err:?}");

    // Classes and head that disagree inside the header.
    let mut disagree = json.clone();
    disagree["classes"] = serde_json::to_value(ClassList::from_ids(["a", "b"])).unwrap();
    let err = Bundle::from_bytes(&assemble(FORMAT_VERSION, disagree.to_string().as_bytes(), &record)).unwrap_err();
    assert!(err.to_string().contains("3 outputs but the bundle lists 2 classes"), "{err}");

    // Weights of a network trained at another input size (a different first dense layer).
    let other = crate::header(&["coenonympha_pamphilus", "maniola_jurtina", "pyronia_tithonus"], 64, Precision::F32);
    let other_net = other.architecture.init::<B>(&Default::default());
    let (_, other_record) = parts(&Bundle::from_network(other, other_net).unwrap().to_bytes());
    let bundle = Bundle::from_bytes(&assemble(FORMAT_VERSION, &header, &other_record)).unwrap();
    let err = Classifier::<B>::from_bundle(&bundle, &Default::default()).err().expect("shape mismatch");
    assert!(err.to_string().contains("do not fit its architecture"), "{err}");
}

#[test]
fn header_is_readable_json_with_provenance() {
    let bytes = bundle(Precision::F32).to_bytes();
    let (header, _) = parts(&bytes);
    let json: serde_json::Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(json["architecture"]["name"], "baseline");
    assert_eq!(json["classes"][1]["english"], "meadow brown");
    assert_eq!(json["preprocess"]["resize"], "center_crop");
    assert_eq!(json["provenance"]["seed"], 42);
    let _ = Tensor::<B, 1>::zeros([1], &Default::default());
}
