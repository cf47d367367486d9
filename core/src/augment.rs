//! Keras `ImageDataGenerator` augmentation, faithful to keras-preprocessing 1.1.2 (the version the
//! tutorial ran): the 2019 axis-correct semantics, where `height_shift_range` moves rows and
//! `width_shift_range` moves columns, shear is in degrees, and zoom factors below 1 zoom in.
//!
//! Two layers, as in Keras: [`AugmentConfig::sample`] draws [`TransformParams`] from the ranges,
//! and [`apply`] applies them deterministically (this is what the golden tests pin down).

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::image::FloatImage;

/// What to sample where the transform reaches outside the image (`scipy.ndimage` modes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMode {
    /// `aaaa|abcd|dddd` (the Keras default).
    #[default]
    Nearest,
    /// `kkkk|abcd|kkkk` with `k = cval`.
    Constant,
    /// `abcddcba|abcd|dcbaabcd`.
    Reflect,
    /// `abcdabcd|abcd|abcdabcd` (period = size, the documented Keras behaviour).
    Wrap,
}

/// One concrete transform, as Keras' `get_random_transform` returns it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransformParams {
    /// Rotation, degrees, counter-clockwise.
    pub theta: f64,
    /// Shift along rows (vertical), pixels.
    pub tx: f64,
    /// Shift along columns (horizontal), pixels.
    pub ty: f64,
    /// Shear angle, degrees.
    pub shear: f64,
    /// Zoom factor for rows (< 1 zooms in).
    pub zx: f64,
    /// Zoom factor for columns (< 1 zooms in).
    pub zy: f64,
    pub flip_horizontal: bool,
    pub flip_vertical: bool,
    pub fill_mode: FillMode,
    /// The fill value for [`FillMode::Constant`], on the image's own scale.
    pub cval: f32,
}

impl Default for TransformParams {
    /// The identity.
    fn default() -> Self {
        Self {
            theta: 0.0,
            tx: 0.0,
            ty: 0.0,
            shear: 0.0,
            zx: 1.0,
            zy: 1.0,
            flip_horizontal: false,
            flip_vertical: false,
            fill_mode: FillMode::Nearest,
            cval: 0.0,
        }
    }
}

/// The ranges Keras' `ImageDataGenerator` takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentConfig {
    /// Degrees; θ ~ U(−r, r).
    pub rotation_range: f64,
    /// Fraction of the width when < 1, else pixels.
    pub width_shift_range: f64,
    /// Fraction of the height when < 1, else pixels.
    pub height_shift_range: f64,
    /// Degrees.
    pub shear_range: f64,
    /// `[lo, hi]` zoom factors; Keras' float `z` means `[1 − z, 1 + z]`.
    pub zoom_range: [f64; 2],
    pub horizontal_flip: bool,
    pub vertical_flip: bool,
    pub fill_mode: FillMode,
    pub cval: f32,
}

impl Default for AugmentConfig {
    /// No augmentation.
    fn default() -> Self {
        Self {
            rotation_range: 0.0,
            width_shift_range: 0.0,
            height_shift_range: 0.0,
            shear_range: 0.0,
            zoom_range: [1.0, 1.0],
            horizontal_flip: false,
            vertical_flip: false,
            fill_mode: FillMode::Nearest,
            cval: 0.0,
        }
    }
}

impl AugmentConfig {
    /// The tutorial's generator: rotation 40, shifts 0.2, shear 0.2, zoom 0.2, horizontal flip,
    /// fill nearest.
    pub fn tutorial() -> Self {
        Self {
            rotation_range: 40.0,
            width_shift_range: 0.2,
            height_shift_range: 0.2,
            shear_range: 0.2,
            zoom_range: zoom_range(0.2),
            horizontal_flip: true,
            ..Self::default()
        }
    }

    /// Whether this configuration never changes an image.
    pub fn is_identity(&self) -> bool {
        self.rotation_range == 0.0
            && self.width_shift_range == 0.0
            && self.height_shift_range == 0.0
            && self.shear_range == 0.0
            && self.zoom_range == [1.0, 1.0]
            && !self.horizontal_flip
            && !self.vertical_flip
    }

    /// Draws one transform for an image of `height × width`, in Keras' order (θ, tx, ty, shear,
    /// zoom, flips).
    pub fn sample<R: Rng + ?Sized>(&self, height: usize, width: usize, rng: &mut R) -> TransformParams {
        let mut uniform = |range: f64| if range > 0.0 { rng.random_range(-range..=range) } else { 0.0 };
        let theta = uniform(self.rotation_range);
        let mut tx = uniform(self.height_shift_range);
        if self.height_shift_range < 1.0 {
            tx *= height as f64;
        }
        let mut ty = uniform(self.width_shift_range);
        if self.width_shift_range < 1.0 {
            ty *= width as f64;
        }
        let shear = uniform(self.shear_range);
        let [lo, hi] = self.zoom_range;
        let (zx, zy) = if lo == 1.0 && hi == 1.0 {
            (1.0, 1.0)
        } else {
            (rng.random_range(lo..=hi), rng.random_range(lo..=hi))
        };
        let flip_horizontal = self.horizontal_flip && rng.random::<f64>() < 0.5;
        let flip_vertical = self.vertical_flip && rng.random::<f64>() < 0.5;
        TransformParams {
            theta,
            tx,
            ty,
            shear,
            zx,
            zy,
            flip_horizontal,
            flip_vertical,
            fill_mode: self.fill_mode,
            cval: self.cval,
        }
    }
}

/// Keras' float `zoom_range = z`: `[1 − z, 1 + z]`.
pub fn zoom_range(z: f64) -> [f64; 2] {
    [1.0 - z, 1.0 + z]
}

type Matrix = [[f64; 3]; 3];

/// Matrix product accumulated with fused multiply-adds in `k` order, as NumPy's BLAS kernel
/// (OpenBLAS on x86-64) computes it. Plain sums differ by an ulp, which flips pixels that land
/// exactly on the image border between "inside" and "fill".
fn matmul(a: &Matrix, b: &Matrix) -> Matrix {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).fold(0.0f64, |acc, k| a[i][k].mul_add(b[k][j], acc));
        }
    }
    out
}

/// The matrix mapping output (row, col) to input (row, col), as `apply_affine_transform` builds
/// it: rotation · shift · shear · zoom, each only if non-trivial, about the image centre.
/// `None` for the identity (Keras then leaves the pixels untouched).
fn affine_matrix(p: &TransformParams, height: usize, width: usize) -> Option<Matrix> {
    let mut m: Option<Matrix> = None;
    let mut push = |next: Matrix| m = Some(m.map_or(next, |prev| matmul(&prev, &next)));
    if p.theta != 0.0 {
        let t = p.theta.to_radians();
        push([[t.cos(), -t.sin(), 0.0], [t.sin(), t.cos(), 0.0], [0.0, 0.0, 1.0]]);
    }
    if p.tx != 0.0 || p.ty != 0.0 {
        push([[1.0, 0.0, p.tx], [0.0, 1.0, p.ty], [0.0, 0.0, 1.0]]);
    }
    if p.shear != 0.0 {
        let s = p.shear.to_radians();
        push([[1.0, -s.sin(), 0.0], [0.0, s.cos(), 0.0], [0.0, 0.0, 1.0]]);
    }
    if p.zx != 1.0 || p.zy != 1.0 {
        push([[p.zx, 0.0, 0.0], [0.0, p.zy, 0.0], [0.0, 0.0, 1.0]]);
    }
    let m = m?;
    // transform_matrix_offset_center. keras-preprocessing 1.1.2 uses size/2 + 0.5, half a pixel
    // off the true centre (size/2 − 0.5); faithful means keeping that quirk.
    let (or, oc) = (height as f64 / 2.0 + 0.5, width as f64 / 2.0 + 0.5);
    let offset = [[1.0, 0.0, or], [0.0, 1.0, oc], [0.0, 0.0, 1.0]];
    let reset = [[1.0, 0.0, -or], [0.0, 1.0, -oc], [0.0, 0.0, 1.0]];
    Some(matmul(&matmul(&offset, &m), &reset))
}

/// Applies `params` to `image` (any value scale): the affine step with bilinear interpolation
/// (scipy `affine_transform`, order 1, per channel), then the flips.
pub fn apply(image: &FloatImage, params: &TransformParams) -> FloatImage {
    let (h, w) = (image.height, image.width);
    let mut out = match affine_matrix(params, h, w) {
        None => image.clone(),
        Some(m) => {
            let mut out = FloatImage::filled(w, h, 0.0);
            for r in 0..h {
                for c in 0..w {
                    let (rf, cf) = (r as f64, c as f64);
                    let src_r = m[0][0] * rf + m[0][1] * cf + m[0][2];
                    let src_c = m[1][0] * rf + m[1][1] * cf + m[1][2];
                    let px = &mut out.data[(r * w + c) * 3..][..3];
                    match (axis_taps(src_r, h, params.fill_mode), axis_taps(src_c, w, params.fill_mode)) {
                        (Some(rows), Some(cols)) => {
                            for (ch, v) in px.iter_mut().enumerate() {
                                let mut acc = 0.0f64;
                                for &(ri, rw) in &rows {
                                    for &(ci, cw) in &cols {
                                        acc += rw * cw * f64::from(image.at(ri, ci, ch));
                                    }
                                }
                                *v = acc as f32;
                            }
                        }
                        _ => px.fill(params.cval),
                    }
                }
            }
            out
        }
    };
    if params.flip_horizontal {
        for row in out.data.chunks_exact_mut(w * 3) {
            for c in 0..w / 2 {
                for ch in 0..3 {
                    row.swap(c * 3 + ch, (w - 1 - c) * 3 + ch);
                }
            }
        }
    }
    if params.flip_vertical {
        for r in 0..h / 2 {
            let (top, bottom) = out.data.split_at_mut((h - 1 - r) * w * 3);
            top[r * w * 3..(r + 1) * w * 3].swap_with_slice(&mut bottom[..w * 3]);
        }
    }
    out
}

/// Convenience: [`apply`] to every sample of a batch of params.
pub fn apply_all<'a>(image: &'a FloatImage, params: &'a [TransformParams]) -> impl Iterator<Item = FloatImage> + 'a {
    params.iter().map(move |p| apply(image, p))
}

/// The two input indices and weights that linear interpolation at coordinate `x` reads along an
/// axis of length `len`, following scipy's `map_coordinate` and its integer boundary handling.
/// `None` means "outside" for [`FillMode::Constant`].
fn axis_taps(x: f64, len: usize, mode: FillMode) -> Option<[(usize, f64); 2]> {
    let n = len as f64;
    let x = match mode {
        FillMode::Constant if x < 0.0 || x > n - 1.0 => return None,
        FillMode::Constant => x,
        FillMode::Nearest => x.clamp(0.0, n - 1.0),
        FillMode::Reflect => reflect_coordinate(x, len),
        FillMode::Wrap => x.rem_euclid(n),
    };
    let start = x.floor();
    let frac = x - start;
    let index = |i: i64| -> usize {
        let l = len as i64;
        let i = match mode {
            FillMode::Constant | FillMode::Nearest => i.clamp(0, l - 1),
            FillMode::Reflect => {
                let period = 2 * l;
                let i = i.rem_euclid(period);
                if i >= l { period - i - 1 } else { i }
            }
            FillMode::Wrap => i.rem_euclid(l),
        };
        i as usize
    };
    let s = start as i64;
    Some([(index(s), 1.0 - frac), (index(s + 1), frac)])
}

/// scipy's `map_coordinate` for `mode='reflect'` (half-sample symmetric).
fn reflect_coordinate(mut x: f64, len: usize) -> f64 {
    if len <= 1 {
        return 0.0;
    }
    let n = len as f64;
    let period = 2.0 * n;
    if x < 0.0 {
        if x < -period {
            x += period * (-x / period).trunc();
        }
        x = if x < -n { x + period } else { -x - 1.0 };
    } else if x > n - 1.0 {
        x -= period * (x / period).trunc();
        if x >= n {
            x = period - x - 1.0;
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ramp(w: usize, h: usize) -> FloatImage {
        let data = (0..w * h * 3).map(|i| (i % 251) as f32).collect();
        FloatImage::from_hwc(w, h, data).unwrap()
    }

    #[test]
    fn identity_params_leave_the_image_alone() {
        let img = ramp(7, 5);
        assert_eq!(apply(&img, &TransformParams::default()), img);
    }

    #[test]
    fn integer_shift_moves_rows_down_and_columns_right() {
        let img = ramp(6, 4);
        // Output (r, c) reads input (r + tx, c + ty): a positive tx moves content up.
        let out = apply(&img, &TransformParams { tx: 1.0, ty: 2.0, ..Default::default() });
        assert_eq!(out.at(0, 0, 1), img.at(1, 2, 1));
        assert_eq!(out.at(2, 3, 2), img.at(3, 5, 2));
        // Beyond the edge, nearest repeats the last row / column.
        assert_eq!(out.at(3, 5, 0), img.at(3, 5, 0));
    }

    #[test]
    fn flips_reverse_columns_and_rows() {
        let img = ramp(3, 2);
        let h = apply(&img, &TransformParams { flip_horizontal: true, ..Default::default() });
        let v = apply(&img, &TransformParams { flip_vertical: true, ..Default::default() });
        assert_eq!(h.at(0, 0, 0), img.at(0, 2, 0));
        assert_eq!(v.at(0, 1, 2), img.at(1, 1, 2));
    }

    #[test]
    fn constant_fill_uses_cval_outside() {
        let img = ramp(4, 4);
        let out = apply(&img, &TransformParams { ty: 10.0, fill_mode: FillMode::Constant, cval: 7.0, ..Default::default() });
        assert!(out.data.iter().all(|&v| v == 7.0));
    }

    #[test]
    fn reflect_and_wrap_coordinates() {
        assert_eq!(reflect_coordinate(-0.5, 4), -0.5);
        assert_eq!(reflect_coordinate(-2.0, 4), 1.0);
        assert_eq!(reflect_coordinate(4.5, 4), 2.5);
        let taps = axis_taps(-1.0, 4, FillMode::Wrap).unwrap();
        assert_eq!(taps[0], (3, 1.0));
    }

    #[test]
    fn sampling_respects_ranges_and_is_reproducible() {
        let cfg = AugmentConfig { width_shift_range: 0.5, height_shift_range: 3.0, ..AugmentConfig::tutorial() };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let draws: Vec<_> = (0..500).map(|_| cfg.sample(40, 60, &mut rng)).collect();
        assert!(draws.iter().all(|p| p.theta.abs() <= 40.0 && p.shear.abs() <= 0.2));
        assert!(draws.iter().all(|p| p.tx.abs() <= 3.0 && p.ty.abs() <= 30.0));
        assert!(draws.iter().all(|p| (0.8..=1.2).contains(&p.zx) && (0.8..=1.2).contains(&p.zy)));
        assert!(draws.iter().any(|p| p.zx != p.zy), "zx and zy are drawn independently");
        let flips = draws.iter().filter(|p| p.flip_horizontal).count();
        assert!((180..320).contains(&flips), "about half flip: {flips}");
        assert!(draws.iter().all(|p| !p.flip_vertical));
        assert!(draws.iter().any(|p| p.ty.abs() > 20.0), "fractional shift scales by width");
        let mut again = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(cfg.sample(40, 60, &mut again), draws[0]);
    }

    #[test]
    fn empty_config_samples_the_identity() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let p = AugmentConfig::default().sample(10, 10, &mut rng);
        assert_eq!(p, TransformParams::default());
        assert!(AugmentConfig::default().is_identity() && !AugmentConfig::tutorial().is_identity());
    }
}
