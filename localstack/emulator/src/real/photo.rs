//! Photos as the real engine sees them: decoded within limits (a hostile PNG or JPEG cannot exhaust memory),
//! downscaled before detection, and measured the way Rekognition reports Quality.

use image::{GenericImageView, GrayImage, ImageFormat, RgbImage};
use std::io::Cursor;

/// Either side may be at most this many pixels (Rekognition itself accepts up to 4096 a side in S3 images;
/// phone cameras reach 8000).
pub const MAX_SIDE: u32 = 10_000;
/// 40 megapixels, about 120 MB of RGB: the most one call decodes.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Photos are downscaled so their longer side is at most this before detection: a face in a phone selfie stays
/// hundreds of pixels tall, and the detector's time grows with the pixel count.
pub const ANALYSIS_SIDE: u32 = 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PhotoError {
    #[error("the image is not a JPEG or PNG the emulator can decode: {0}")]
    Format(String),
    #[error(
        "the image is {width}x{height} pixels: the emulator decodes at most {MAX_SIDE} a side and {MAX_PIXELS} in all"
    )]
    TooLarge { width: u32, height: u32 },
}

fn reader(bytes: &[u8]) -> Result<image::io::Reader<Cursor<&[u8]>>, PhotoError> {
    let reader = image::io::Reader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PhotoError::Format(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png) => Ok(reader),
        Some(other) => Err(PhotoError::Format(format!(
            "{other:?} is not accepted (JPEG or PNG only, as Rekognition)"
        ))),
        None => Err(PhotoError::Format("unknown format".to_string())),
    }
}

/// Decodes a JPEG or PNG after checking its declared size, so a small file claiming a huge image is refused
/// before any pixel memory is taken.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, PhotoError> {
    let (width, height) = reader(bytes)?
        .into_dimensions()
        .map_err(|e| PhotoError::Format(e.to_string()))?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooLarge { width, height });
    }
    let mut limits = image::io::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 8);
    let mut reader = reader(bytes)?;
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| PhotoError::Format(e.to_string()))?;
    Ok(decoded.to_rgb8())
}

/// The photo with its longer side at most `ANALYSIS_SIDE`, and the factor applied (≤ 1).
pub fn for_analysis(photo: RgbImage) -> (RgbImage, f32) {
    match fitted(photo.width(), photo.height(), ANALYSIS_SIDE) {
        None => (photo, 1.0),
        Some((w, h)) => {
            let scale = ANALYSIS_SIDE as f32 / photo.width().max(photo.height()) as f32;
            (image::imageops::thumbnail(&photo, w, h), scale)
        }
    }
}

/// The size of a `width`x`height` image scaled so its longer side is `side`, or `None` when it fits already.
pub fn fitted(width: u32, height: u32, side: u32) -> Option<(u32, u32)> {
    let longer = width.max(height);
    (longer > side).then(|| {
        let scale = side as f32 / longer as f32;
        let at = |n: u32| ((n as f32 * scale).round() as u32).max(1);
        (at(width), at(height))
    })
}

/// A rectangle in pixels, clipped to the image when measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

impl Region {
    fn clipped(&self, image: &GrayImage) -> Option<(u32, u32, u32, u32)> {
        let x0 = self.left.max(0.0).floor() as u32;
        let y0 = self.top.max(0.0).floor() as u32;
        let x1 = ((self.left + self.width).ceil().max(0.0) as u32).min(image.width());
        let y1 = ((self.top + self.height).ceil().max(0.0) as u32).min(image.height());
        (x1 > x0 && y1 > y0).then(|| (x0, y0, x1 - x0, y1 - y0))
    }
}

pub fn luminance(photo: &RgbImage) -> GrayImage {
    image::imageops::grayscale(photo)
}

/// Mean luminance (0–255) inside the region; 0 for a region outside the image.
pub fn mean_luminance(gray: &GrayImage, region: Region) -> f32 {
    let Some((x, y, w, h)) = region.clipped(gray) else {
        return 0.0;
    };
    let view = image::imageops::crop_imm(gray, x, y, w, h);
    let sum: u64 = view.pixels().map(|(_, _, p)| u64::from(p.0[0])).sum();
    sum as f32 / (u64::from(w) * u64::from(h)) as f32
}

/// Rekognition-scale Brightness (0–100) of a face: the mean luminance of its box, with a gamma that spreads the
/// usual range of indoor selfies (luminance 90–170) over 45–75. Calibrated on the fixtures: see
/// `riv-face-engine`'s tests for the figures.
pub fn brightness(gray: &GrayImage, face: Region) -> f32 {
    let mean = mean_luminance(gray, face) / 255.0;
    (100.0 * mean.powf(0.75)).clamp(0.0, 100.0)
}

/// The side, in pixels, a larger face is shrunk to before its sharpness is measured, so a large and a small
/// photo of one scene score alike. Smaller faces are measured as they are: enlarging them would blur them.
const SHARPNESS_SIDE: u32 = 160;
/// Laplacian variance at which Sharpness reaches 63 (1 - 1/e): calibrated so that in-focus phone photos score
/// 70–100 and a blur of a few pixels' radius at selfie scale scores under 40.
const SHARPNESS_SCALE: f32 = 60.0;

/// Rekognition-scale Sharpness (0–100) of a face: the variance of the Laplacian of its box, resized to a fixed
/// size. A classic focus measure: edges make the Laplacian large, blur flattens it.
pub fn sharpness(gray: &GrayImage, face: Region) -> f32 {
    let Some((x, y, w, h)) = face.clipped(gray) else {
        return 0.0;
    };
    let crop = image::imageops::crop_imm(gray, x, y, w, h).to_image();
    let (sw, sh) = (w.min(SHARPNESS_SIDE), h.min(SHARPNESS_SIDE));
    if sw < 3 || sh < 3 {
        return 0.0;
    }
    let sized = image::imageops::resize(&crop, sw, sh, image::imageops::FilterType::Triangle);
    let at = |x: u32, y: u32| f32::from(sized.get_pixel(x, y).0[0]);
    let mut values = Vec::with_capacity((sw as usize) * (sh as usize));
    for y in 1..sh - 1 {
        for x in 1..sw - 1 {
            values.push(at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y));
        }
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    100.0 * (1.0 - (-variance / SHARPNESS_SCALE).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img: RgbImage = ImageBuffer::from_pixel(width, height, Rgb([120, 110, 100]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("encode");
        out
    }

    #[test]
    fn a_photo_larger_than_the_limits_is_refused_before_decoding() {
        // A PNG header claiming 60000x60000 (3.6 gigapixels) in a few bytes: refused from the header alone.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32fast::hash(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            decode(&bomb),
            Err(PhotoError::TooLarge {
                width: 60_000,
                height: 60_000
            })
        );
        assert!(matches!(decode(b"GIF89a...."), Err(PhotoError::Format(_))));
        assert!(matches!(
            decode(b"not an image"),
            Err(PhotoError::Format(_))
        ));
    }

    #[test]
    fn large_photos_are_downscaled_for_analysis() {
        let photo = decode(&png(3000, 1500)).expect("decodes");
        let (small, scale) = for_analysis(photo);
        assert_eq!((small.width(), small.height()), (1024, 512));
        assert!((scale - 1024.0 / 3000.0).abs() < 1e-6);
        let (same, one) = for_analysis(decode(&png(640, 480)).expect("decodes"));
        assert_eq!((same.width(), one), (640, 1.0));
    }

    #[test]
    fn a_flat_region_has_no_sharpness_and_edges_have_much() {
        let flat: GrayImage = ImageBuffer::from_pixel(100, 100, Luma([128]));
        let all = Region {
            left: 0.0,
            top: 0.0,
            width: 100.0,
            height: 100.0,
        };
        assert!(sharpness(&flat, all) < 1.0);
        let checks: GrayImage = ImageBuffer::from_fn(100, 100, |x, y| {
            Luma([if (x / 4 + y / 4) % 2 == 0 { 30 } else { 220 }])
        });
        assert!(sharpness(&checks, all) > 90.0);
        assert!((brightness(&flat, all) - 100.0 * (128.0f32 / 255.0).powf(0.75)).abs() < 0.01);
        let outside = Region { left: 200.0, ..all };
        assert_eq!(brightness(&flat, outside), 0.0);
    }
}
