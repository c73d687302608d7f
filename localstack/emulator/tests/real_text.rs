//! The real engine's text: Tesseract reads the rendered ID card, and the card's labels become AnalyzeID's
//! normalized fields. Needs Debian's tesseract-ocr (`.ci/run` and `cargo xtask local up` install it).

use riv_emulator::photos::{self, CardFields, Person};
use riv_emulator::real::idcard;
use riv_emulator::real::ocr::{Tesseract, NEEDS};

fn tesseract() -> Tesseract {
    Tesseract::find().unwrap_or_else(|| panic!("this test needs {NEEDS}"))
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    &fields.iter().find(|(k, _)| k == key).expect(key).1
}

#[test]
fn the_rendered_card_reads_back_as_its_fields() {
    let card = photos::id_card(
        &Person::Biden.portrait().expect("fixture"),
        &CardFields::sample(),
    );
    // As a client sends it: scaled to 640 px and JPEG-encoded.
    let lines = tesseract()
        .lines(&photos::for_upload(&card))
        .expect("OCR runs");
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    let f = idcard::fields(&texts);
    let sample = CardFields::sample();
    assert_eq!(
        field(&f, "DOCUMENT_NUMBER"),
        sample.document_number,
        "{texts:?}"
    );
    assert_eq!(field(&f, "LAST_NAME"), "DOE", "{texts:?}");
    assert_eq!(field(&f, "FIRST_NAME"), "JOHN", "{texts:?}");
    assert_eq!(field(&f, "MIDDLE_NAME"), "PAUL", "{texts:?}");
    assert_eq!(
        field(&f, "DATE_OF_BIRTH"),
        sample.date_of_birth,
        "{texts:?}"
    );
    assert_eq!(
        field(&f, "DATE_OF_ISSUE"),
        sample.date_of_issue,
        "{texts:?}"
    );
    assert_eq!(
        field(&f, "EXPIRATION_DATE"),
        sample.expiration_date,
        "{texts:?}"
    );
    assert_eq!(field(&f, "ZIP_CODE_IN_ADDRESS"), "62701", "{texts:?}");
    assert_eq!(field(&f, "ID_TYPE"), "DRIVER LICENSE FRONT", "{texts:?}");
    for line in &lines {
        let [w, h, l, t] = line.bounding_box;
        assert!(
            w > 0.0 && h > 0.0 && l >= 0.0 && t >= 0.0 && l + w <= 1.0 && t + h <= 1.0,
            "{line:?}"
        );
    }
}

#[test]
fn a_photo_without_text_yields_no_fields() {
    let lines = tesseract()
        .lines(&photos::jpeg(&photos::no_face()))
        .expect("OCR runs");
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    let f = idcard::fields(&texts);
    assert!(
        f.iter().all(|(k, v)| v.is_empty() || k == "ID_TYPE"),
        "{f:?}"
    );
}

#[test]
fn a_file_that_is_no_image_is_refused_before_tesseract_sees_it() {
    let err = tesseract()
        .lines(b"%PDF-1.4 not an image")
        .expect_err("refused");
    assert_eq!(err.kind, "InvalidImageFormatException", "{err}");
}
