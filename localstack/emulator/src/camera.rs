//! A camera made of a photo, for the portal's browser test: the YUV4MPEG2 video that Chromium's fake capture
//! device plays (`--use-file-for-fake-video-capture=<file>.y4m`), and a 12-megapixel photo file as a phone
//! would give one. Written by code from the committed fixtures, so a real face reaches the real engine through
//! the page's camera path.

use image::{imageops, Rgb, RgbImage};

/// The frame size the fake camera plays: a common webcam's.
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 480;

/// `photo` fitted into a `WIDTH`×`HEIGHT` frame on a grey background, as `frames` identical frames of a
/// 30 fps 4:2:0 y4m (full-range BT.601, which `C420jpeg` means). Chromium loops the file.
pub fn y4m(photo: &RgbImage, frames: usize) -> Vec<u8> {
    let frame = framed(photo);
    let planes = yuv420(&frame);
    let header = format!("YUV4MPEG2 W{WIDTH} H{HEIGHT} F30:1 Ip A1:1 C420jpeg\n");
    let mut out = Vec::with_capacity(header.len() + frames * (6 + planes.len()));
    out.extend_from_slice(header.as_bytes());
    for _ in 0..frames {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(&planes);
    }
    out
}

/// The photo scaled to fit the frame, centred.
fn framed(photo: &RgbImage) -> RgbImage {
    let scale = f64::min(
        f64::from(WIDTH) / f64::from(photo.width()),
        f64::from(HEIGHT) / f64::from(photo.height()),
    );
    let (w, h) = (
        ((f64::from(photo.width()) * scale) as u32).clamp(1, WIDTH),
        ((f64::from(photo.height()) * scale) as u32).clamp(1, HEIGHT),
    );
    let scaled = imageops::resize(photo, w, h, imageops::FilterType::Triangle);
    let mut frame = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([128, 128, 128]));
    imageops::replace(
        &mut frame,
        &scaled,
        i64::from((WIDTH - w) / 2),
        i64::from((HEIGHT - h) / 2),
    );
    frame
}

/// The Y plane, then U and V at half resolution each way (each the mean of a 2×2 block).
fn yuv420(frame: &RgbImage) -> Vec<u8> {
    let (w, h) = (frame.width(), frame.height());
    let rgb = |x: u32, y: u32| frame.get_pixel(x, y).0.map(f32::from);
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    let mut out = Vec::with_capacity((w * h * 3 / 2) as usize);
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = rgb(x, y);
            out.push(clamp(0.299 * r + 0.587 * g + 0.114 * b));
        }
    }
    let chroma = |weights: [f32; 3]| {
        let mut plane = Vec::with_capacity((w * h / 4) as usize);
        for y in (0..h).step_by(2) {
            for x in (0..w).step_by(2) {
                let mut sum = 0.0;
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let [r, g, b] = rgb((x + dx).min(w - 1), (y + dy).min(h - 1));
                    sum += weights[0] * r + weights[1] * g + weights[2] * b;
                }
                plane.push(clamp(128.0 + sum / 4.0));
            }
        }
        plane
    };
    out.extend(chroma([-0.168_736, -0.331_264, 0.5]));
    out.extend(chroma([0.5, -0.418_688, -0.081_312]));
    out
}

/// `photo` cut to 4:3 (3:4 when it is taller than wide) around its centre and blown up to 12 MP (4000×3000)
/// with a little sensor-like grain, as a JPEG at quality 92: the kind of file a phone's camera gives, which the
/// portal must shrink before sending.
pub fn twelve_megapixels(photo: &RgbImage) -> Vec<u8> {
    let (w, h) = (photo.width(), photo.height());
    let (long, short) = (4000, 3000);
    let (out_w, out_h) = if h > w { (short, long) } else { (long, short) };
    // The largest window of the output's shape inside the photo, so the face is not stretched.
    let (cut_w, cut_h) = if u64::from(w) * u64::from(out_h) > u64::from(h) * u64::from(out_w) {
        (h * out_w / out_h, h)
    } else {
        (w, w * out_h / out_w)
    };
    let cut = imageops::crop_imm(photo, (w - cut_w) / 2, (h - cut_h) / 2, cut_w, cut_h).to_image();
    let mut big = imageops::resize(&cut, out_w, out_h, imageops::FilterType::CatmullRom);
    // A fixed pattern, not randomness: the test's bytes are the same on every run.
    let mut seed: u32 = 0x2545_f491;
    for p in big.pixels_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let grain = (seed % 33) as i16 - 16;
        p.0 = p.0.map(|c| (i16::from(c) + grain).clamp(0, 255) as u8);
    }
    crate::photos::jpeg_with_quality(&big, 92)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_y4m_has_its_header_and_whole_frames() {
        let photo = RgbImage::from_pixel(300, 400, Rgb([255, 0, 0]));
        let video = y4m(&photo, 2);
        let header = b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n";
        assert!(video.starts_with(header));
        let frame = 6 + (WIDTH * HEIGHT * 3 / 2) as usize;
        assert_eq!(video.len(), header.len() + 2 * frame);
        assert_eq!(&video[header.len()..header.len() + 6], b"FRAME\n");
    }

    #[test]
    fn colours_land_in_the_right_planes() {
        // Pure red fills the frame's middle column; the corners stay the grey background.
        let photo = RgbImage::from_pixel(300, 400, Rgb([255, 0, 0]));
        let planes = yuv420(&framed(&photo));
        let (w, h) = (WIDTH as usize, HEIGHT as usize);
        let y = |x: usize, row: usize| planes[row * w + x];
        let v = |x: usize, row: usize| planes[w * h + w * h / 4 + row * (w / 2) + x];
        assert_eq!(y(0, 0), 128, "grey background");
        assert_eq!(y(w / 2, h / 2), 76, "red's luma");
        assert_eq!(v(w / 4, h / 4), 255, "red's V is at its top");
        assert_eq!(v(0, 0), 128, "grey has no chroma");
    }

    #[test]
    fn a_twelve_megapixel_photo_is_one() {
        let wide = RgbImage::from_pixel(50, 30, Rgb([90, 120, 150]));
        let decoded = image::load_from_memory(&twelve_megapixels(&wide)).expect("a JPEG");
        assert_eq!((decoded.width(), decoded.height()), (4000, 3000));
        let tall = RgbImage::from_pixel(626, 1200, Rgb([90, 120, 150]));
        let decoded = image::load_from_memory(&twelve_megapixels(&tall)).expect("a JPEG");
        assert_eq!((decoded.width(), decoded.height()), (3000, 4000));
    }
}
