//! Shared test helpers: synthetic image folders and running the real `vlinder` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vlinder-test-{name}-{}-{}", std::process::id(), rand_u32()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_u32() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos()
}

/// A JPEG of a coloured disc on a noisy background; `hue` 0 = red-orange, 1 = blue.
pub fn photo(hue: usize, variant: u32, size: u32) -> Vec<u8> {
    let mut state = variant.wrapping_mul(2_654_435_761).wrapping_add(hue as u32 * 7919) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 40) as u8
    };
    let (cx, cy) = ((size / 2 + variant % 7) as i32, (size / 2 + variant % 5) as i32);
    let r = (size / 3) as i32;
    let img = RgbImage::from_fn(size, size, |x, y| {
        let (dx, dy) = (x as i32 - cx, y as i32 - cy);
        if dx * dx + dy * dy < r * r {
            match hue {
                0 => Rgb([220, 120 + noise(), 30]),
                1 => Rgb([30, 80 + noise(), 220]),
                _ => Rgb([40 + noise(), 200, 40]),
            }
        } else {
            let n = noise();
            Rgb([90 + n, 100 + n, 80 + n])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// `dir/<class>/img_NN.jpg`, `per_class` images for each class.
pub fn image_folder(dir: &Path, classes: &[&str], per_class: usize) {
    for (hue, class) in classes.iter().enumerate() {
        let d = dir.join(class);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..per_class {
            std::fs::write(d.join(format!("img_{i:02}.jpg")), photo(hue, i as u32, 48)).unwrap();
        }
    }
}

pub fn vlinder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vlinder")).args(args).output().expect("run vlinder")
}

pub fn vlinder_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vlinder"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run vlinder")
}

/// Runs and asserts success, returning stdout.
pub fn ok(args: &[&str]) -> String {
    let out = vlinder(args);
    assert!(out.status.success(), "vlinder {args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn json(args: &[&str]) -> serde_json::Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    serde_json::from_str(&ok(&with_json)).expect("valid JSON on stdout")
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
