//! Test image generator: real PNG and JPEG files that look like what they claim (a face-like oval where each
//! face is, darkened when dark, blurred when blurry) and carry the manifest the deterministic engine reads.

use crate::manifest::{self, FaceSpec, Manifest};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Png,
    Jpeg,
}

/// The named cases the e2e tests and the command line use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Case {
    Selfie,
    NoFace,
    TwoFaces,
    PosePitch,
    PoseRoll,
    PoseYaw,
    Sunglasses,
    EyesClosed,
    Dark,
    Blurry,
    SmallFace,
    IdCard,
}

/// The manifest of a case; `identity` names the person shown.
pub fn case(case: Case, identity: &str) -> Manifest {
    let face = FaceSpec::of(identity);
    let with = |change: &dyn Fn(&mut FaceSpec)| {
        let mut f = face.clone();
        change(&mut f);
        Manifest {
            faces: vec![f],
            ..Manifest::default()
        }
    };
    match case {
        Case::Selfie => with(&|_| {}),
        Case::NoFace => Manifest::default(),
        Case::TwoFaces => {
            let mut left = face.clone();
            left.bounding_box = [0.3, 0.4, 0.05, 0.3];
            let mut right = FaceSpec::of(&format!("{identity}-companion"));
            right.bounding_box = [0.3, 0.4, 0.6, 0.3];
            Manifest {
                faces: vec![left, right],
                ..Manifest::default()
            }
        }
        Case::PosePitch => with(&|f| f.pose = [50.0, 0.0, 0.0]),
        Case::PoseRoll => with(&|f| f.pose = [0.0, -50.0, 0.0]),
        Case::PoseYaw => with(&|f| f.pose = [0.0, 0.0, 55.0]),
        Case::Sunglasses => with(&|f| f.sunglasses = true),
        Case::EyesClosed => with(&|f| f.eyes_open = false),
        Case::Dark => with(&|f| f.brightness = 12.0),
        Case::Blurry => with(&|f| f.sharpness = 8.0),
        Case::SmallFace => with(&|f| f.bounding_box = [0.08, 0.1, 0.45, 0.45]),
        Case::IdCard => id_card_manifest(
            identity,
            &[
                ("FIRST_NAME", "JANE"),
                ("LAST_NAME", "DOE"),
                ("DATE_OF_BIRTH", "01/31/1990"),
                ("DOCUMENT_NUMBER", "D1234567"),
                ("EXPIRATION_DATE", "12/31/2030"),
                ("ADDRESS", "1 MAIN ST, SPRINGFIELD"),
            ],
        ),
    }
}

/// An ID card of `identity` with these AnalyzeID fields, printed as labelled lines too.
pub fn id_card_manifest(identity: &str, fields: &[(&str, &str)]) -> Manifest {
    let mut portrait = FaceSpec::of(identity);
    portrait.bounding_box = [0.25, 0.45, 0.05, 0.25];
    let label = |key: &str| key.replace('_', " ");
    let mut text = vec!["DRIVER LICENSE".to_string()];
    text.extend(fields.iter().map(|(k, v)| format!("{}: {v}", label(k))));
    Manifest {
        faces: vec![portrait],
        text,
        id_fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 240;

/// Draws the manifest's scene and encodes it with the manifest inside.
pub fn render(m: &Manifest, format: Format) -> Vec<u8> {
    let pixels = draw(m, WIDTH, HEIGHT);
    let image = encode(&pixels, WIDTH, HEIGHT, format);
    if m == &Manifest::default() {
        return image;
    }
    manifest::embed(&image, m).unwrap_or(image)
}

/// A PNG of at least `min_bytes`, with the manifest, for size-limit tests (noise does not compress).
pub fn padded_png(m: &Manifest, min_bytes: usize) -> Vec<u8> {
    let side = ((min_bytes / 3) as f64).sqrt().ceil() as u32 + 16;
    let mut seed: u32 = 0x2545_f491;
    let pixels: Vec<u8> = (0..side * side * 3)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect();
    let image = encode(&pixels, side, side, Format::Png);
    manifest::embed(&image, m).unwrap_or(image)
}

/// A JPEG of at least `min_bytes`, with the manifest: the scene, behind APP15 segments of noise (as large as a
/// camera's maker notes), which decoders skip.
pub fn padded_jpeg(m: &Manifest, min_bytes: usize) -> Vec<u8> {
    const SEGMENT: usize = 65_000;
    let image = render(m, Format::Jpeg);
    let mut out = image[..2].to_vec();
    let mut seed: u32 = 0x9e37_79b9;
    while out.len() + image.len() < min_bytes {
        out.extend([0xFF, 0xEF]);
        out.extend(((SEGMENT + 2) as u16).to_be_bytes());
        out.extend((0..SEGMENT).map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        }));
    }
    out.extend_from_slice(&image[2..]);
    out
}

fn draw(m: &Manifest, w: u32, h: u32) -> Vec<u8> {
    let card = !m.text.is_empty();
    let mut px = vec![0u8; (w * h * 3) as usize];
    for y in 0..h {
        for x in 0..w {
            let i = ((y * w + x) * 3) as usize;
            let shade = if card { 235 } else { 90 + (y * 80 / h) as u8 };
            px[i..i + 3].copy_from_slice(&[shade, shade, if card { 220 } else { shade + 30 }]);
        }
    }
    for (n, _) in m.text.iter().enumerate().skip(1) {
        let top = 30 + n as u32 * 22;
        fill(&mut px, w, h, (110, top, 300, top + 8), [40, 40, 60]);
    }
    for face in &m.faces {
        let [bw, bh, bl, bt] = face.bounding_box;
        let (cx, cy) = ((bl + bw / 2.0) * w as f32, (bt + bh / 2.0) * h as f32);
        let (rx, ry) = (bw * w as f32 / 2.0, bh * h as f32 / 2.0);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = ((x as f32 - cx) / rx, (y as f32 - cy) / ry);
                if dx * dx + dy * dy <= 1.0 {
                    let i = ((y * w + x) * 3) as usize;
                    px[i..i + 3].copy_from_slice(&[224, 180, 150]);
                }
            }
        }
        let eye_y = (cy - ry * 0.25) as u32;
        let eye_h = if face.eyes_open {
            (ry * 0.12).max(2.0) as u32
        } else {
            1
        };
        for side in [-1.0f32, 1.0] {
            let ex = (cx + side * rx * 0.4) as u32;
            let r = (rx * 0.15).max(2.0) as u32;
            fill(
                &mut px,
                w,
                h,
                (ex.saturating_sub(r), eye_y, ex + r, eye_y + eye_h),
                [30, 30, 30],
            );
        }
        if face.sunglasses {
            let r = (rx * 0.8) as u32;
            fill(
                &mut px,
                w,
                h,
                (
                    (cx as u32).saturating_sub(r),
                    eye_y.saturating_sub(4),
                    cx as u32 + r,
                    eye_y + 10,
                ),
                [5, 5, 5],
            );
        }
        let mouth_y = (cy + ry * 0.45) as u32;
        fill(
            &mut px,
            w,
            h,
            (
                (cx - rx * 0.3) as u32,
                mouth_y,
                (cx + rx * 0.3) as u32,
                mouth_y + 3,
            ),
            [150, 60, 60],
        );
    }
    let brightness = m
        .faces
        .iter()
        .map(|f| f.brightness)
        .fold(100.0f32, f32::min);
    if brightness < 40.0 {
        px.iter_mut()
            .for_each(|p| *p = (*p as f32 * brightness / 100.0) as u8);
    }
    if m.faces.iter().any(|f| f.sharpness < 40.0) {
        px = box_blur(&px, w, h, 4);
    }
    px
}

fn fill(px: &mut [u8], w: u32, h: u32, (x0, y0, x1, y1): (u32, u32, u32, u32), rgb: [u8; 3]) {
    for y in y0.min(h)..y1.min(h) {
        for x in x0.min(w)..x1.min(w) {
            let i = ((y * w + x) * 3) as usize;
            px[i..i + 3].copy_from_slice(&rgb);
        }
    }
}

fn box_blur(px: &[u8], w: u32, h: u32, r: i64) -> Vec<u8> {
    let mut out = px.to_vec();
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            for c in 0..3 {
                let (mut sum, mut n) = (0u32, 0u32);
                for dy in -r..=r {
                    for dx in -r..=r {
                        let (sx, sy) = (x + dx, y + dy);
                        if sx >= 0 && sy >= 0 && sx < w as i64 && sy < h as i64 {
                            sum += px[((sy * w as i64 + sx) * 3 + c) as usize] as u32;
                            n += 1;
                        }
                    }
                }
                out[((y * w as i64 + x) * 3 + c) as usize] = (sum / n) as u8;
            }
        }
    }
    out
}

fn encode(px: &[u8], w: u32, h: u32, format: Format) -> Vec<u8> {
    match format {
        Format::Png => png(px, w, h),
        Format::Jpeg => {
            let mut out = Vec::new();
            let encoder = jpeg_encoder::Encoder::new(&mut out, 85);
            match encoder.encode(px, w as u16, h as u16, jpeg_encoder::ColorType::Rgb) {
                Ok(()) => out,
                Err(_) => png(px, w, h),
            }
        }
    }
}

fn png(px: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((w * 3 + 1) * h) as usize);
    for row in px.chunks((w * 3) as usize) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let idat = z
        .write_all(&raw)
        .and_then(|_| z.finish())
        .unwrap_or_default();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    out.extend(manifest::png_chunk(b"IHDR", &ihdr));
    out.extend(manifest::png_chunk(b"IDAT", &idat));
    out.extend(manifest::png_chunk(b"IEND", &[]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_padded_jpeg_keeps_its_manifest_and_decodes() {
        let m = case(Case::Selfie, "ann");
        let jpeg = padded_jpeg(&m, 3 * 1024 * 1024);
        assert!(jpeg.len() >= 3 * 1024 * 1024);
        assert_eq!(manifest::read(&jpeg), Some(m));
        let decoded = image::load_from_memory(&jpeg).expect("decoders skip APP15");
        assert_eq!((decoded.width(), decoded.height()), (WIDTH, HEIGHT));
    }

    #[test]
    fn every_case_round_trips_its_manifest_in_both_formats() {
        use clap::ValueEnum;
        for c in Case::value_variants() {
            for format in [Format::Png, Format::Jpeg] {
                let m = case(*c, "ann");
                let image = render(&m, format);
                let read = manifest::read(&image).unwrap_or_default();
                assert_eq!(read, m, "{c:?} {format:?}");
            }
        }
    }

    #[test]
    fn images_are_real_png_and_jpeg() {
        let png = render(&case(Case::Selfie, "ann"), Format::Png);
        assert!(png.starts_with(&[0x89, b'P', b'N', b'G']));
        assert!(png.ends_with(&manifest::png_chunk(b"IEND", &[])));
        let jpeg = render(&case(Case::Selfie, "ann"), Format::Jpeg);
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) && jpeg.ends_with(&[0xFF, 0xD9]));
    }

    #[test]
    fn padded_images_reach_their_size() {
        let big = padded_png(&case(Case::Selfie, "ann"), 6 * 1024 * 1024);
        assert!(big.len() >= 6 * 1024 * 1024, "{}", big.len());
        assert_eq!(manifest::read(&big).unwrap().faces.len(), 1);
    }
}
