//! What dlib's 68 landmarks (the iBUG 300-W layout) say about a face: Rekognition's landmark types, the head's
//! pose, whether the eyes are open, and whether dark glasses cover them.
//!
//! Methods and their limits:
//! - **Pose** comes from the 2-D landmarks alone, with no 3-D head model. Roll is the angle of the line between
//!   the eyes. Yaw compares the nose tip's distance to either side of the jaw (0 when centred, ±90° when the nose
//!   reaches the jaw's edge). Pitch compares where the nose tip sits between the eye line and the chin with
//!   where it sits in a level face (positive: head tilted back). An open mouth lowers the chin and reads as a
//!   few degrees of pitch. Within about ±30° they track the head; beyond, the detector (frontal
//!   only) usually finds no face at all, so a strongly turned head is refused either way.
//! - **Eyes open**: the eye aspect ratio (Soukupová and Čech, 2016), height over width of the six points of each
//!   eye; under 0.2 is closed. Squinting reads as closed.
//! - **Sunglasses**: the eye regions much darker than the cheeks. Deep shadows over the eyes can read as
//!   sunglasses; clear glasses are not detected.

use super::photo::{mean_luminance, Region};
use image::GrayImage;

/// A point in pixels of the analysed image.
pub type Point = (f32, f32);

/// dlib's shape predictor gives exactly this many points per face.
pub const POINTS: usize = 68;

/// Rekognition's five default landmarks, then the rest of its 30 types, each from one point or the mean of a
/// few. "Left" is the image's left, as in Rekognition's answers.
const TYPES: [(&str, &[usize]); 30] = [
    ("eyeLeft", &[36, 37, 38, 39, 40, 41]),
    ("eyeRight", &[42, 43, 44, 45, 46, 47]),
    ("mouthLeft", &[48]),
    ("mouthRight", &[54]),
    ("nose", &[30]),
    ("leftEyeBrowLeft", &[17]),
    ("leftEyeBrowRight", &[21]),
    ("leftEyeBrowUp", &[19]),
    ("rightEyeBrowLeft", &[22]),
    ("rightEyeBrowRight", &[26]),
    ("rightEyeBrowUp", &[24]),
    ("leftEyeLeft", &[36]),
    ("leftEyeRight", &[39]),
    ("leftEyeUp", &[37, 38]),
    ("leftEyeDown", &[40, 41]),
    ("rightEyeLeft", &[42]),
    ("rightEyeRight", &[45]),
    ("rightEyeUp", &[43, 44]),
    ("rightEyeDown", &[46, 47]),
    ("noseLeft", &[31]),
    ("noseRight", &[35]),
    ("mouthUp", &[51]),
    ("mouthDown", &[57]),
    ("leftPupil", &[36, 37, 38, 39, 40, 41]),
    ("rightPupil", &[42, 43, 44, 45, 46, 47]),
    ("upperJawlineLeft", &[1]),
    ("midJawlineLeft", &[4]),
    ("chinBottom", &[8]),
    ("midJawlineRight", &[12]),
    ("upperJawlineRight", &[15]),
];

/// How many of `TYPES` Rekognition returns without `Attributes=ALL`.
pub const DEFAULT_LANDMARKS: usize = 5;

fn mean(points: &[Point], indices: &[usize]) -> Point {
    let n = indices.len() as f32;
    let (x, y) = indices
        .iter()
        .fold((0.0, 0.0), |(x, y), &i| (x + points[i].0, y + points[i].1));
    (x / n, y / n)
}

fn distance(a: Point, b: Point) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// Rekognition's 30 landmark types as (type, x, y), x and y as ratios of the image's width and height.
pub fn landmarks(points: &[Point], width: f32, height: f32) -> Vec<(String, f32, f32)> {
    TYPES
        .iter()
        .map(|(name, indices)| {
            let (x, y) = mean(points, indices);
            (name.to_string(), x / width, y / height)
        })
        .collect()
}

/// Where the nose tip sits between the eye line (0) and the chin (1) in a level face: the fixtures' frontal
/// photos give 0.28–0.32.
const LEVEL_NOSE_DEPTH: f32 = 0.29;
/// How far the nose tip stands out of the eye–chin plane, as a fraction of the eye–chin distance: pitching the
/// head by θ moves the tip's projection by about this times tan θ.
const NOSE_PROTRUSION: f32 = 0.35;

/// Pitch, roll and yaw in degrees.
pub fn pose(points: &[Point]) -> [f32; 3] {
    let left_eye = mean(points, &[36, 37, 38, 39, 40, 41]);
    let right_eye = mean(points, &[42, 43, 44, 45, 46, 47]);
    let roll = (right_eye.1 - left_eye.1).atan2(right_eye.0 - left_eye.0);
    // Undo the roll so the remaining measures are taken along the face's own axes.
    let (sin, cos) = (-roll).sin_cos();
    let level = |p: Point| (p.0 * cos - p.1 * sin, p.0 * sin + p.1 * cos);
    let nose = level(points[30]);
    let (jaw_left, jaw_right) = (level(points[0]), level(points[16]));
    let to_left = nose.0 - jaw_left.0;
    let to_right = jaw_right.0 - nose.0;
    let yaw = ((to_left - to_right) / (to_left + to_right).max(1.0))
        .clamp(-1.0, 1.0)
        .asin();
    let eyes = level(mean(points, &[36, 39, 42, 45]));
    let chin = level(points[8]);
    let depth = (nose.1 - eyes.1) / (chin.1 - eyes.1).max(1.0);
    let pitch = ((LEVEL_NOSE_DEPTH - depth) / NOSE_PROTRUSION).atan();
    [pitch.to_degrees(), roll.to_degrees(), yaw.to_degrees()]
}

/// Eye aspect ratio under which an eye counts as closed.
const CLOSED_EYE_RATIO: f32 = 0.2;

fn eye_aspect_ratio(points: &[Point], first: usize) -> f32 {
    let p = |i: usize| points[first + i];
    (distance(p(1), p(5)) + distance(p(2), p(4))) / (2.0 * distance(p(0), p(3)).max(1.0))
}

/// Whether the eyes are open, and a confidence (50–99.9) that grows with the distance from the threshold.
pub fn eyes_open(points: &[Point]) -> (bool, f32) {
    let ratio = (eye_aspect_ratio(points, 36) + eye_aspect_ratio(points, 42)) / 2.0;
    let confidence = (50.0 + (ratio - CLOSED_EYE_RATIO).abs() * 500.0).min(99.9);
    (ratio >= CLOSED_EYE_RATIO, confidence)
}

/// Lips this far apart (inner gap over mouth width) are open.
const OPEN_MOUTH_RATIO: f32 = 0.12;
/// Mouth corners this far above the lips' middle (over mouth width) make a smile.
const SMILE_LIFT: f32 = 0.06;

/// Mouth open and smile from the lips' points (48–67); the rest of the face's traits stay unremarkable, as
/// nothing here measures hair or age.
pub fn traits(points: &[Point]) -> crate::manifest::Traits {
    let dist = |a: Point, b: Point| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let width = dist(points[48], points[54]).max(1.0);
    let gap = dist(points[62], points[66]);
    let middle = (points[62].1 + points[66].1) / 2.0;
    let corners = (points[48].1 + points[54].1) / 2.0;
    crate::manifest::Traits {
        mouth_open: gap / width >= OPEN_MOUTH_RATIO,
        smile: (middle - corners) / width >= SMILE_LIFT,
        ..crate::manifest::Traits::default()
    }
}

/// Eye regions at most this fraction of the cheeks' luminance are covered by dark glasses.
const SUNGLASSES_RATIO: f32 = 0.45;

fn around(points: &[Point], indices: &[usize], grow: f32) -> Region {
    let xs = indices.iter().map(|&i| points[i].0);
    let ys = indices.iter().map(|&i| points[i].1);
    let (x0, x1) = (
        xs.clone().fold(f32::MAX, f32::min),
        xs.fold(f32::MIN, f32::max),
    );
    let (y0, y1) = (
        ys.clone().fold(f32::MAX, f32::min),
        ys.fold(f32::MIN, f32::max),
    );
    let (w, h) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
    let (gw, gh) = (w * grow, h * grow.max(2.0));
    Region {
        left: x0 - (gw - w) / 2.0,
        top: y0 - (gh - h) / 2.0,
        width: gw,
        height: gh,
    }
}

/// Whether dark glasses cover the eyes, and a confidence (50–99.9).
pub fn sunglasses(points: &[Point], gray: &GrayImage) -> (bool, f32) {
    let eyes = (mean_luminance(gray, around(points, &[36, 37, 38, 39, 40, 41], 1.4))
        + mean_luminance(gray, around(points, &[42, 43, 44, 45, 46, 47], 1.4)))
        / 2.0;
    // The cheeks: between the lower eyelids and the nostrils, inside the jaw.
    let cheeks = (mean_luminance(gray, around(points, &[1, 2, 31, 41], 0.7))
        + mean_luminance(gray, around(points, &[14, 15, 35, 46], 0.7)))
        / 2.0;
    let ratio = eyes / cheeks.max(1.0);
    let confidence = (50.0 + (ratio - SUNGLASSES_RATIO).abs() * 150.0).min(99.9);
    (ratio <= SUNGLASSES_RATIO, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric, frontal, open-eyed face drawn by hand in the 68-point layout, 200 px wide.
    fn frontal() -> Vec<Point> {
        let mut p = vec![(0.0, 0.0); POINTS];
        for (i, point) in p.iter_mut().enumerate().take(17) {
            let t = i as f32 / 16.0;
            let angle = std::f32::consts::PI * t;
            *point = (100.0 - 100.0 * angle.cos(), 100.0 + 90.0 * angle.sin());
        }
        for (i, x) in [30.0, 40.0, 50.0, 60.0, 70.0].iter().enumerate() {
            p[17 + i] = (*x, 60.0);
            p[26 - i] = (200.0 - x, 60.0);
        }
        for (i, point) in p[27..31].iter_mut().enumerate() {
            *point = (100.0, 80.0 + i as f32 * 10.0);
        }
        for (i, x) in [85.0, 92.0, 100.0, 108.0, 115.0].iter().enumerate() {
            p[31 + i] = (*x, 118.0);
        }
        let eye = |cx: f32| {
            [
                (cx - 15.0, 80.0),
                (cx - 5.0, 75.0),
                (cx + 5.0, 75.0),
                (cx + 15.0, 80.0),
                (cx + 5.0, 85.0),
                (cx - 5.0, 85.0),
            ]
        };
        p[36..42].copy_from_slice(&eye(60.0));
        p[42..48].copy_from_slice(&eye(140.0));
        for (i, point) in p.iter_mut().enumerate().take(68).skip(48) {
            let t = (i - 48) as f32 / 20.0 * std::f32::consts::TAU;
            *point = (100.0 - 30.0 * t.cos(), 142.0 + 8.0 * t.sin());
        }
        p
    }

    fn rotate(points: &[Point], degrees: f32) -> Vec<Point> {
        let (s, c) = degrees.to_radians().sin_cos();
        points
            .iter()
            .map(|(x, y)| {
                let (dx, dy) = (x - 100.0, y - 100.0);
                (100.0 + dx * c - dy * s, 100.0 + dx * s + dy * c)
            })
            .collect()
    }

    #[test]
    fn a_frontal_face_has_a_level_pose_and_open_eyes() {
        let [pitch, roll, yaw] = pose(&frontal());
        assert!(
            pitch.abs() < 10.0 && roll.abs() < 0.1 && yaw.abs() < 0.1,
            "{pitch} {roll} {yaw}"
        );
        assert!(eyes_open(&frontal()).0);
    }

    #[test]
    fn a_tilted_head_shows_as_roll_and_nothing_else() {
        let [pitch, roll, yaw] = pose(&rotate(&frontal(), 30.0));
        assert!((roll - 30.0).abs() < 0.5, "{roll}");
        let [p0, _, y0] = pose(&frontal());
        assert!((pitch - p0).abs() < 0.5 && (yaw - y0).abs() < 0.5);
    }

    #[test]
    fn a_nose_off_centre_is_yaw_and_closed_lids_are_closed_eyes() {
        let mut turned = frontal();
        for point in &mut turned[27..36] {
            point.0 += 60.0;
        }
        assert!(pose(&turned)[2] > 30.0, "{:?}", pose(&turned));
        let mut closed = frontal();
        for i in [37, 38, 43, 44] {
            closed[i].1 = 79.0;
        }
        for i in [40, 41, 46, 47] {
            closed[i].1 = 81.0;
        }
        let (open, confidence) = eyes_open(&closed);
        assert!(!open && confidence > 80.0, "{confidence}");
    }

    #[test]
    fn landmarks_are_ratios_of_the_image_with_the_default_five_first() {
        let marks = landmarks(&frontal(), 400.0, 200.0);
        assert_eq!(marks.len(), 30);
        let names: Vec<&str> = marks[..DEFAULT_LANDMARKS]
            .iter()
            .map(|m| m.0.as_str())
            .collect();
        assert_eq!(
            names,
            ["eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose"]
        );
        assert!((marks[0].1 - 60.0 / 400.0).abs() < 1e-6 && (marks[0].2 - 0.4).abs() < 1e-6);
        assert!(marks[0].1 < marks[1].1, "eyeLeft is the image's left");
    }
}
