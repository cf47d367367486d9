//! A plain float image, the currency between preprocessing, augmentation and the network.

/// An RGB image with `f32` samples, row-major `[height][width][channel]` (Keras' channels-last),
/// usually 0–255 before rescaling.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatImage {
    pub width: usize,
    pub height: usize,
    /// `height * width * 3` samples.
    pub data: Vec<f32>,
}

impl FloatImage {
    /// An image filled with `value`.
    pub fn filled(width: usize, height: usize, value: f32) -> Self {
        Self { width, height, data: vec![value; width * height * 3] }
    }

    /// Wraps `data` (`[height][width][3]`); `None` when the length does not match.
    pub fn from_hwc(width: usize, height: usize, data: Vec<f32>) -> Option<Self> {
        (data.len() == width * height * 3).then_some(Self { width, height, data })
    }

    /// Converts 8-bit RGB to floats in 0–255.
    pub fn from_rgb8(image: &::image::RgbImage) -> Self {
        let (width, height) = image.dimensions();
        Self {
            width: width as usize,
            height: height as usize,
            data: image.as_raw().iter().map(|&v| f32::from(v)).collect(),
        }
    }

    /// Converts back to 8-bit RGB, rounding and clamping to 0–255 (for previews and PNG output).
    pub fn to_rgb8(&self) -> ::image::RgbImage {
        let bytes = self.data.iter().map(|&v| v.round().clamp(0.0, 255.0) as u8).collect();
        ::image::RgbImage::from_raw(self.width as u32, self.height as u32, bytes)
            .expect("FloatImage always holds width * height * 3 samples")
    }

    /// The sample at `(row, col, channel)`.
    #[inline]
    pub fn at(&self, row: usize, col: usize, channel: usize) -> f32 {
        self.data[(row * self.width + col) * 3 + channel]
    }

    /// Multiplies every sample by `scale` and adds `offset` (Keras' `rescale` is `offset = 0`).
    pub fn normalized(mut self, scale: f32, offset: f32) -> Self {
        for v in &mut self.data {
            *v = *v * scale + offset;
        }
        self
    }

    /// The samples reordered channels-first, `[3][height][width]`, as burn's convolutions want.
    pub fn to_chw(&self) -> Vec<f32> {
        let plane = self.width * self.height;
        let mut out = vec![0.0; plane * 3];
        for (i, px) in self.data.chunks_exact(3).enumerate() {
            out[i] = px[0];
            out[plane + i] = px[1];
            out[2 * plane + i] = px[2];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chw_reorders_channels_into_planes() {
        let img = FloatImage::from_hwc(2, 1, vec![1., 2., 3., 4., 5., 6.]).unwrap();
        assert_eq!(img.to_chw(), vec![1., 4., 2., 5., 3., 6.]);
    }

    #[test]
    fn rgb8_round_trip_rounds_and_clamps() {
        let img = FloatImage::from_hwc(1, 1, vec![-3.0, 127.6, 300.0]).unwrap();
        assert_eq!(img.to_rgb8().as_raw(), &vec![0, 128, 255]);
        assert!(FloatImage::from_hwc(2, 2, vec![0.0; 5]).is_none());
    }
}
