//! Real-photo fixtures for the real engine's tests, the end-to-end scenarios and `cargo xtask bench engine`:
//! the committed face photos (`fixtures/faces`, with their provenance), variants made from them by code
//! (dark, blurred, rotated, cropped, two faces, no face, sunglasses), and an ID card rendered here with a
//! photo of one of those faces and known field values.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{imageops, Rgb, RgbImage};
use std::path::PathBuf;

/// The committed photos: three of one person, two of two others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    Obama,
    Obama2,
    Obama3,
    Biden,
    Astronaut,
}

impl Person {
    pub const ALL: [Person; 5] = [
        Person::Obama,
        Person::Obama2,
        Person::Obama3,
        Person::Biden,
        Person::Astronaut,
    ];

    pub fn file(self) -> &'static str {
        match self {
            Person::Obama => "obama.jpg",
            Person::Obama2 => "obama2.jpg",
            Person::Obama3 => "obama3.jpg",
            Person::Biden => "biden.jpg",
            Person::Astronaut => "astronaut.png",
        }
    }

    /// Who is in the photo: photos of one identity are the same person.
    pub fn identity(self) -> &'static str {
        match self {
            Person::Obama | Person::Obama2 | Person::Obama3 => "obama",
            Person::Biden => "biden",
            Person::Astronaut => "collins",
        }
    }

    /// The face's box (width, height, left, top as ratios), as the real engine finds it: where a portrait is
    /// cut for an ID card.
    fn face_box(self) -> [f32; 4] {
        match self {
            Person::Obama => [0.284, 0.227, 0.402, 0.120],
            Person::Obama2 => [0.495, 0.258, 0.262, 0.252],
            Person::Obama3 => [0.191, 0.117, 0.457, 0.126],
            Person::Biden => [0.3175, 0.140, 0.451, 0.105],
            Person::Astronaut => [0.170, 0.170, 0.350, 0.162],
        }
    }

    /// The photo file's bytes, as committed.
    pub fn bytes(self) -> std::io::Result<Vec<u8>> {
        let path = dir().join(self.file());
        std::fs::read(&path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot read the fixture {}: {e}", path.display()),
            )
        })
    }

    pub fn photo(self) -> std::io::Result<RgbImage> {
        let bytes = self.bytes()?;
        image::load_from_memory(&bytes)
            .map(|i| i.to_rgb8())
            .map_err(std::io::Error::other)
    }

    /// A head-and-shoulders cut around the face, as on an ID card or a close-up selfie.
    pub fn portrait(self) -> std::io::Result<RgbImage> {
        let photo = self.photo()?;
        let (w, h) = (photo.width() as f32, photo.height() as f32);
        let [bw, bh, bl, bt] = self.face_box();
        let (cw, ch) = (bw * w * 1.9, bh * h * 2.3);
        let cx = (bl + bw / 2.0) * w - cw / 2.0;
        let cy = bt * h - bh * h * 0.6;
        let x = cx.clamp(0.0, w - 1.0) as u32;
        let y = cy.clamp(0.0, h - 1.0) as u32;
        let cw = (cw as u32).min(photo.width() - x);
        let ch = (ch as u32).min(photo.height() - y);
        Ok(imageops::crop_imm(&photo, x, y, cw, ch).to_image())
    }
}

/// Where the fixtures are: `localstack/emulator/fixtures/faces` of this checkout.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("faces")
}

pub fn jpeg(image: &RgbImage) -> Vec<u8> {
    jpeg_with_quality(image, 90)
}

pub fn jpeg_with_quality(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .expect("encoding JPEG into memory cannot fail");
    out
}

/// The longer side of a photo sent inline through the API: Step Functions carries the whole request (base64
/// images included) in 256 KiB, so a selfie and a card must stay under about 190 KiB together, as a web page
/// would scale a camera frame before sending it.
pub const INLINE_SIDE: u32 = 640;

/// A photo as a client sends it inline: scaled to `INLINE_SIDE` and JPEG-encoded at quality 85 (40–70 KB).
pub fn for_upload(photo: &RgbImage) -> Vec<u8> {
    match crate::real::photo::fitted(photo.width(), photo.height(), INLINE_SIDE) {
        None => jpeg_with_quality(photo, 85),
        Some((w, h)) => jpeg_with_quality(
            &imageops::resize(photo, w, h, imageops::FilterType::Triangle),
            85,
        ),
    }
}

pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encoding PNG into memory cannot fail");
    out
}

/// The photo at a quarter of its light: a selfie in a dark room.
pub fn dark(photo: &RgbImage) -> RgbImage {
    let mut out = photo.clone();
    for p in out.pixels_mut() {
        p.0 = p.0.map(|c| (f32::from(c) * 0.25) as u8);
    }
    out
}

/// Out of focus: shrunk eight times and blown up again, which keeps the face findable but takes its edges.
pub fn blurred(photo: &RgbImage) -> RgbImage {
    let (w, h) = (photo.width(), photo.height());
    let small = imageops::resize(
        photo,
        (w / 8).max(1),
        (h / 8).max(1),
        imageops::FilterType::Triangle,
    );
    imageops::resize(&small, w, h, imageops::FilterType::CatmullRom)
}

/// Turned a quarter clockwise: a phone held sideways.
pub fn rotated(photo: &RgbImage) -> RgbImage {
    imageops::rotate90(photo)
}

/// Two photos side by side at one height: two people in one picture.
pub fn side_by_side(left: &RgbImage, right: &RgbImage) -> RgbImage {
    let height = left.height().min(right.height());
    let fit = |i: &RgbImage| {
        let w = (i.width() as f32 * height as f32 / i.height() as f32) as u32;
        imageops::resize(i, w.max(1), height, imageops::FilterType::Triangle)
    };
    let (l, r) = (fit(left), fit(right));
    let mut out = RgbImage::new(l.width() + r.width(), height);
    imageops::replace(&mut out, &l, 0, 0);
    imageops::replace(&mut out, &r, i64::from(l.width()), 0);
    out
}

/// A picture with no face: a sky-to-grass gradient with a few shapes.
pub fn no_face() -> RgbImage {
    RgbImage::from_fn(800, 600, |x, y| {
        let sky = y < 380;
        let wave = ((x as f32 / 37.0).sin() * 20.0) as i32;
        if sky {
            Rgb([90 + (y / 6) as u8, 150 + (y / 8) as u8, 230])
        } else if (x / 80 + y / 60) % 3 == 0 {
            Rgb([60, (140 + wave) as u8, 50])
        } else {
            Rgb([80, (120 - wave) as u8, 40])
        }
    })
}

/// Opaque dark lenses drawn over the two eyes (centres in pixels, lens radius in pixels).
pub fn with_sunglasses(photo: &RgbImage, eyes: [(f32, f32); 2], radius: f32) -> RgbImage {
    let mut out = photo.clone();
    for (cx, cy) in eyes {
        let (x0, x1) = (
            (cx - radius * 1.3).max(0.0) as u32,
            (cx + radius * 1.3) as u32,
        );
        let (y0, y1) = ((cy - radius).max(0.0) as u32, (cy + radius) as u32);
        for y in y0..y1.min(out.height()) {
            for x in x0..x1.min(out.width()) {
                let (dx, dy) = ((x as f32 - cx) / 1.3, y as f32 - cy);
                if dx * dx + dy * dy <= radius * radius {
                    out.put_pixel(x, y, Rgb([12, 12, 16]));
                }
            }
        }
    }
    out
}

/// What a rendered card says, as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct CardFields {
    pub document_number: String,
    pub last_name: String,
    /// Given names: the first word is FIRST_NAME, the rest MIDDLE_NAME.
    pub given_names: String,
    /// `MM/DD/YYYY`, as US cards print dates.
    pub date_of_birth: String,
    pub date_of_issue: String,
    pub expiration_date: String,
    pub address: String,
    pub class: String,
}

impl CardFields {
    /// The fields of the fixtures' card.
    pub fn sample() -> Self {
        CardFields {
            document_number: "D123-456-789".into(),
            last_name: "DOE".into(),
            given_names: "JOHN PAUL".into(),
            date_of_birth: "08/04/1961".into(),
            date_of_issue: "04/01/2021".into(),
            expiration_date: "08/04/2029".into(),
            address: "1200 MAIN ST, SPRINGFIELD, IL 62701".into(),
            class: "D".into(),
        }
    }
}

fn draw_text(
    image: &mut RgbImage,
    font: &FontRef<'_>,
    size: f32,
    (x, y): (f32, f32),
    colour: Rgb<u8>,
    text: &str,
) {
    let scale = PxScale::from(size);
    let scaled = font.as_scaled(scale);
    let mut caret = x;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(caret, y + scaled.ascent()));
        caret += scaled.h_advance(id);
        previous = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if px < 0 || py < 0 || px >= i64::from(image.width()) || py >= i64::from(image.height())
            {
                return;
            }
            let pixel = image.get_pixel_mut(px as u32, py as u32);
            for (c, ink) in pixel.0.iter_mut().zip(colour.0) {
                *c = (f32::from(*c) * (1.0 - coverage) + f32::from(ink) * coverage) as u8;
            }
        });
    }
}

/// A driver-licence-like card, 1012x638 (CR80 at 300 dpi): a header band, the portrait on the left, labelled
/// fields on the right, and a SPECIMEN mark. Readable by OCR as a real card photographed flat would be.
pub fn id_card(portrait: &RgbImage, fields: &CardFields) -> RgbImage {
    let (w, h) = (1012u32, 638u32);
    let mut card = RgbImage::from_fn(w, h, |x, y| {
        let t = (x + y) as f32 / (w + h) as f32;
        Rgb([(236.0 - 20.0 * t) as u8, (242.0 - 14.0 * t) as u8, 250])
    });
    for y in 0..96 {
        for x in 0..w {
            card.put_pixel(x, y, Rgb([22, 52, 110]));
        }
    }
    let regular =
        FontRef::try_from_slice(dejavu::sans::regular()).expect("DejaVu Sans is a valid font");
    let bold =
        FontRef::try_from_slice(dejavu::sans::bold()).expect("DejaVu Sans Bold is a valid font");
    let white = Rgb([255, 255, 255]);
    let ink = Rgb([20, 24, 32]);
    draw_text(&mut card, &bold, 44.0, (36.0, 22.0), white, "RIVERIA");
    draw_text(
        &mut card,
        &bold,
        36.0,
        (560.0, 28.0),
        white,
        "DRIVER LICENSE",
    );
    let photo = imageops::resize(portrait, 280, 350, imageops::FilterType::Triangle);
    imageops::replace(&mut card, &photo, 36, 130);
    let rows: [(&str, &str); 6] = [
        ("DLN", &fields.document_number),
        ("LN", &fields.last_name),
        ("FN", &fields.given_names),
        ("DOB", &fields.date_of_birth),
        ("ADDRESS", &fields.address),
        ("CLASS", &fields.class),
    ];
    let (left, mut top) = (350.0, 126.0);
    for (label, value) in rows {
        if label == "ADDRESS" {
            let dates = format!(
                "ISS {}   EXP {}",
                fields.date_of_issue, fields.expiration_date
            );
            draw_text(&mut card, &bold, 28.0, (left, top), ink, &dates);
            top += 56.0;
        }
        let size = if label == "ADDRESS" { 22.0 } else { 30.0 };
        draw_text(
            &mut card,
            &bold,
            size,
            (left, top),
            ink,
            &format!("{label} {value}"),
        );
        top += 56.0;
    }
    draw_text(
        &mut card,
        &regular,
        20.0,
        (36.0, 500.0),
        Rgb([150, 40, 40]),
        "SPECIMEN - NOT A REAL DOCUMENT",
    );
    card
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_decodes_and_its_portrait_is_inside_it() {
        for person in Person::ALL {
            let photo = person.photo().expect("fixture");
            let portrait = person.portrait().expect("portrait");
            assert!(
                portrait.width() > 100 && portrait.height() > 100,
                "{person:?}"
            );
            assert!(portrait.width() <= photo.width() && portrait.height() <= photo.height());
        }
    }

    #[test]
    fn variants_change_what_they_say() {
        let photo = Person::Obama.photo().expect("fixture");
        let mean = |i: &RgbImage| {
            i.pixels().map(|p| u64::from(p.0[1])).sum::<u64>() / u64::from(i.width() * i.height())
        };
        assert!(mean(&dark(&photo)) * 3 < mean(&photo));
        assert_eq!(
            rotated(&photo).dimensions(),
            (photo.height(), photo.width())
        );
        let pair = side_by_side(&photo, &Person::Biden.photo().expect("fixture"));
        assert_eq!(
            pair.height(),
            photo
                .height()
                .min(Person::Biden.photo().expect("fixture").height())
        );
        let card = id_card(
            &Person::Obama.portrait().expect("portrait"),
            &CardFields::sample(),
        );
        assert_eq!(card.dimensions(), (1012, 638));
        // Text was drawn: the field area holds dark ink.
        assert!(card.pixels().filter(|p| p.0[0] < 60 && p.0[2] < 80).count() > 2000);
    }
}
