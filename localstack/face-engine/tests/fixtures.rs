//! The real engine on the fixtures (`localstack/emulator/fixtures/faces`): who matches whom at the stack's
//! default threshold, which variants the default quality gate refuses, and what an ID card yields. Needs dlib
//! (libdlib-dev, libopenblas-dev) to build and the models from PyPI, which it fetches into `.riv/models` once.

use riv_domain::config::QualityConfig;
use riv_domain::quality::{self, Attribute, BoundingBox, DetectedFace, Pose};
use riv_domain::Rejection;
use riv_emulator::photos::{self, Person};
use riv_emulator::real::{self, models, Analysed};
use riv_face_engine::FaceEngine;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The stack's default FaceMatchThreshold.
const THRESHOLD: f32 = 95.0;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One engine for all tests (loading the models takes a second); dlib's detector is not thread-safe.
fn engine() -> std::sync::MutexGuard<'static, FaceEngine> {
    static ENGINE: OnceLock<Mutex<FaceEngine>> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let dir = models::dir_under(&root());
        let python = std::env::var_os("RIV_PYTHON").unwrap_or_else(|| "python3".into());
        models::ensure(&dir, Path::new(&python)).unwrap_or_else(|e| panic!("{e}"));
        Mutex::new(FaceEngine::load(&dir).unwrap_or_else(|e| panic!("{e}")))
    });
    // A test that failed while holding the engine leaves it usable.
    engine
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn faces(bytes: &[u8]) -> Vec<Analysed> {
    engine().analyse(bytes).expect("the fixture decodes")
}

fn one_face(bytes: &[u8], what: &str) -> Analysed {
    let found = faces(bytes);
    assert_eq!(found.len(), 1, "{what}: {} faces", found.len());
    found.into_iter().next().expect("one face")
}

fn similarity(a: &Analysed, b: &Analysed) -> f32 {
    real::similarity(
        &real::signature(&a.embedding),
        &real::signature(&b.embedding),
    )
}

fn gate(face: &Analysed) -> Result<DetectedFace, Rejection> {
    let s = &face.spec;
    let detected = DetectedFace {
        confidence: s.confidence,
        bounding_box: BoundingBox {
            width: s.bounding_box[0],
            height: s.bounding_box[1],
            left: s.bounding_box[2],
            top: s.bounding_box[3],
        },
        pose: Pose {
            pitch: s.pose[0],
            roll: s.pose[1],
            yaw: s.pose[2],
        },
        sunglasses: Some(Attribute {
            value: s.sunglasses,
            confidence: s.sunglasses_confidence,
        }),
        eyes_open: Some(Attribute {
            value: s.eyes_open,
            confidence: s.eyes_open_confidence,
        }),
        brightness: s.brightness,
        sharpness: s.sharpness,
    };
    quality::check(&[detected], &QualityConfig::default())
}

fn photo_face(person: Person) -> Analysed {
    one_face(&person.bytes().expect("fixture"), person.file())
}

#[test]
fn photos_of_one_person_match_and_of_others_do_not() {
    let all: Vec<(Person, Analysed)> = Person::ALL.iter().map(|p| (*p, photo_face(*p))).collect();
    for (a, fa) in &all {
        for (b, fb) in &all {
            if a == b {
                continue;
            }
            let s = similarity(fa, fb);
            if a.identity() == b.identity() {
                assert!(s >= THRESHOLD, "{a:?} ~ {b:?}: {s}");
            } else {
                assert!(s < THRESHOLD, "{a:?} ~ {b:?}: {s}");
            }
        }
    }
}

#[test]
fn every_photo_passes_the_default_gate() {
    for person in Person::ALL {
        let face = photo_face(person);
        if let Err(rejection) = gate(&face) {
            panic!("{person:?} refused: {rejection:?} ({:?})", face.spec);
        }
        assert_eq!(face.spec.landmarks.len(), 30);
    }
}

#[test]
fn a_photo_without_a_face_shows_none_and_a_pair_shows_two() {
    assert!(faces(&photos::jpeg(&photos::no_face())).is_empty());
    let pair = photos::side_by_side(
        &Person::Obama.photo().expect("fixture"),
        &Person::Biden.photo().expect("fixture"),
    );
    assert_eq!(faces(&photos::jpeg(&pair)).len(), 2);
}

#[test]
fn a_photo_turned_sideways_is_not_accepted() {
    let turned = photos::rotated(&Person::Obama.photo().expect("fixture"));
    let found = faces(&photos::jpeg(&turned));
    // The detector is frontal: either it sees no face, or the face it sees is far out of pose.
    assert!(
        found.is_empty() || found.iter().all(|f| gate(f).is_err()),
        "{:?}",
        found.iter().map(|f| f.spec.pose).collect::<Vec<_>>()
    );
}

#[test]
fn dark_and_blurred_photos_fail_the_gate_as_low_quality() {
    let photo = Person::Obama.photo().expect("fixture");
    for (what, variant) in [
        ("dark", photos::dark(&photo)),
        ("blurred", photos::blurred(&photo)),
    ] {
        let face = one_face(&photos::jpeg(&variant), what);
        match gate(&face) {
            Err(Rejection::LowQuality { what: w, .. }) => {
                assert_eq!(w, if what == "dark" { "dark" } else { "blurry" })
            }
            other => panic!("{what}: {other:?} ({:?})", face.spec),
        }
    }
}

#[test]
fn dark_glasses_are_seen() {
    let photo = Person::Obama.photo().expect("fixture");
    let face = photo_face(Person::Obama);
    let eye = |kind: &str| {
        let l = face
            .spec
            .landmarks
            .iter()
            .find(|l| l.kind == kind)
            .expect(kind);
        (l.x * photo.width() as f32, l.y * photo.height() as f32)
    };
    let radius = face.spec.bounding_box[0] * photo.width() as f32 * 0.13;
    let shaded = photos::with_sunglasses(&photo, [eye("eyeLeft"), eye("eyeRight")], radius);
    let found = one_face(&photos::jpeg(&shaded), "sunglasses");
    assert!(found.spec.sunglasses, "{:?}", found.spec);
    assert!(
        matches!(gate(&found), Err(Rejection::SunglassesDetected)),
        "{:?}",
        gate(&found)
    );
    assert!(!face.spec.sunglasses);
}

#[test]
fn a_close_crop_and_the_card_portrait_still_match_the_person() {
    let reference = photo_face(Person::Obama2);
    let crop = one_face(
        &photos::jpeg(&Person::Obama.portrait().expect("portrait")),
        "crop",
    );
    assert!(similarity(&crop, &reference) >= THRESHOLD);
    let card = photos::id_card(
        &Person::Obama.portrait().expect("portrait"),
        &photos::CardFields::sample(),
    );
    let on_card = one_face(&photos::jpeg(&card), "card");
    assert!(
        similarity(&on_card, &reference) >= THRESHOLD,
        "{}",
        similarity(&on_card, &reference)
    );
    let other = photos::id_card(
        &Person::Biden.portrait().expect("portrait"),
        &photos::CardFields::sample(),
    );
    let other = one_face(&photos::jpeg(&other), "other card");
    assert!(similarity(&other, &reference) < THRESHOLD);
}
