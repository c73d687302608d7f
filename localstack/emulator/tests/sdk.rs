//! The emulator driven by the unmodified AWS SDK clients: every operation, every documented error, and
//! concurrent writers.

mod common;

use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::{Attribute, Image};
use common::{endpoint, image, sdk_config, sdk_config_in};
use riv_emulator::manifest::FaceSpec;
use riv_emulator::testimage::{self, Case, Format};

async fn rekognition() -> aws_sdk_rekognition::Client {
    aws_sdk_rekognition::Client::new(&sdk_config(&endpoint().await).await)
}

fn code<E: aws_sdk_rekognition::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

#[tokio::test]
async fn collections_have_a_lifecycle_and_say_when_they_are_missing() {
    let c = rekognition().await;
    let created = c
        .create_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status_code(), Some(200));
    let again = c
        .create_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&again), "ResourceAlreadyExistsException");
    c.create_collection()
        .collection_id("riv-2")
        .send()
        .await
        .unwrap();
    let listed = c.list_collections().max_results(1).send().await.unwrap();
    assert_eq!(listed.collection_ids(), ["riv-1"]);
    let next = c
        .list_collections()
        .next_token(listed.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(next.collection_ids(), ["riv-2"]);
    let described = c
        .describe_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    assert_eq!(described.face_count(), Some(0));
    c.delete_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    let gone = c
        .delete_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), "ResourceNotFoundException");
    let bad = c
        .create_collection()
        .collection_id("no spaces")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "ValidationException");
}

#[tokio::test]
async fn collections_are_regional_and_keep_their_tags() {
    let url = endpoint().await;
    let east = aws_sdk_rekognition::Client::new(&sdk_config_in(&url, "us-east-1").await);
    let west = aws_sdk_rekognition::Client::new(&sdk_config_in(&url, "eu-west-1").await);
    let created = east
        .create_collection()
        .collection_id("Riv-Prod-1")
        .tags("riv:stack", "Riv-Prod")
        .send()
        .await
        .unwrap();
    // The same id in another region is another collection.
    west.create_collection()
        .collection_id("Riv-Prod-1")
        .send()
        .await
        .unwrap();
    let listed = west.list_collections().send().await.unwrap();
    assert_eq!(listed.collection_ids(), ["Riv-Prod-1"]);
    west.delete_collection()
        .collection_id("Riv-Prod-1")
        .send()
        .await
        .unwrap();
    assert!(east
        .describe_collection()
        .collection_id("Riv-Prod-1")
        .send()
        .await
        .is_ok());

    let arn = created.collection_arn().unwrap().to_string();
    let tags = east
        .list_tags_for_resource()
        .resource_arn(format!("arn:{arn}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags()
            .and_then(|t| t.get("riv:stack"))
            .map(String::as_str),
        Some("Riv-Prod")
    );
    east.tag_resource()
        .resource_arn(&arn)
        .tags("owner", "platform")
        .send()
        .await
        .unwrap();
    east.untag_resource()
        .resource_arn(&arn)
        .tag_keys("riv:stack")
        .send()
        .await
        .unwrap();
    let tags = east
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags = tags.tags().cloned().unwrap_or_default();
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags["owner"], "platform");
    let gone = west
        .list_tags_for_resource()
        .resource_arn(arn.replace("us-east-1", "eu-west-1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&gone.into_service_error()),
        "ResourceNotFoundException"
    );
}

#[test]
fn the_region_comes_from_the_credential_scope() {
    let header = "AWS4-HMAC-SHA256 Credential=test/20261126/eu-west-1/rekognition/aws4_request, \
                  SignedHeaders=host;x-amz-date, Signature=abc";
    assert_eq!(
        riv_emulator::server::signed_region(header),
        Some("eu-west-1")
    );
    assert_eq!(riv_emulator::server::signed_region(""), None);
}

#[tokio::test]
async fn detect_faces_reports_what_each_case_shows() {
    let c = rekognition().await;
    let detect = |case| {
        c.detect_faces()
            .image(image(case, "ann"))
            .attributes(Attribute::All)
            .send()
    };
    assert_eq!(detect(Case::NoFace).await.unwrap().face_details().len(), 0);
    assert_eq!(
        detect(Case::TwoFaces).await.unwrap().face_details().len(),
        2
    );
    let yaw = detect(Case::PoseYaw).await.unwrap();
    assert_eq!(yaw.face_details()[0].pose().unwrap().yaw(), Some(55.0));
    let shades = detect(Case::Sunglasses).await.unwrap();
    assert!(shades.face_details()[0].sunglasses().unwrap().value());
    let closed = detect(Case::EyesClosed).await.unwrap();
    assert!(!closed.face_details()[0].eyes_open().unwrap().value());
    let dark = detect(Case::Dark).await.unwrap();
    assert_eq!(
        dark.face_details()[0].quality().unwrap().brightness(),
        Some(12.0)
    );
    assert_eq!(dark.face_details()[0].landmarks().len(), 5);
}

#[tokio::test]
async fn detect_faces_answers_the_attributes_asked_for() {
    let c = rekognition().await;
    let only_shades = c
        .detect_faces()
        .image(image(Case::Selfie, "ann"))
        .attributes(Attribute::Sunglasses)
        .send()
        .await
        .unwrap();
    let face = &only_shades.face_details()[0];
    assert!(face.sunglasses().is_some() && face.eyes_open().is_none());
    let plain = c
        .detect_faces()
        .image(image(Case::Selfie, "ann"))
        .send()
        .await
        .unwrap();
    let face = &plain.face_details()[0];
    assert!(face.sunglasses().is_none() && face.pose().is_some());
    let names: Vec<&str> = face
        .landmarks()
        .iter()
        .filter_map(|l| l.r#type().map(|t| t.as_str()))
        .collect();
    assert_eq!(
        names,
        ["eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose"]
    );
    let e = c
        .detect_faces()
        .image(image(Case::Selfie, "ann"))
        .attributes(Attribute::from("FOO"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
}

#[tokio::test]
async fn index_search_and_compare_tell_people_apart() {
    let c = rekognition().await;
    c.create_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    let indexed = c
        .index_faces()
        .collection_id("riv-1")
        .image(image(Case::Selfie, "ann"))
        .external_image_id("ann:example.com")
        .max_faces(1)
        .send()
        .await
        .unwrap();
    let face_id = indexed.face_records()[0]
        .face()
        .unwrap()
        .face_id()
        .unwrap()
        .to_string();
    // Any MaxFaces of at least 1 is valid (IndexFaces caps at 100 itself).
    c.index_faces()
        .collection_id("riv-1")
        .image(image(Case::Selfie, "bob"))
        .max_faces(500)
        .send()
        .await
        .unwrap();

    let found = c
        .search_faces_by_image()
        .collection_id("riv-1")
        .image(image(Case::Selfie, "ann"))
        .face_match_threshold(95.0)
        .send()
        .await
        .unwrap();
    assert_eq!(found.face_matches().len(), 1);
    let m = &found.face_matches()[0];
    assert!(m.similarity().unwrap() >= 99.0);
    assert_eq!(
        m.face().unwrap().external_image_id(),
        Some("ann:example.com")
    );

    let by_id = c
        .search_faces()
        .collection_id("riv-1")
        .face_id(&face_id)
        .face_match_threshold(0.0)
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_id.face_matches().len(),
        1,
        "only bob, never the face itself"
    );
    assert!(by_id.face_matches()[0].similarity().unwrap() <= 20.0);

    let same = c
        .compare_faces()
        .source_image(image(Case::Selfie, "ann"))
        .target_image(image(Case::IdCard, "ann"))
        .send()
        .await
        .unwrap();
    let card_similarity = same.face_matches()[0].similarity().unwrap();
    assert!(
        (99.0..100.0).contains(&card_similarity),
        "{card_similarity}"
    );
    // A copy of the very photo scores 100, above any other shot of the person.
    let copy = c
        .compare_faces()
        .source_image(image(Case::Selfie, "ann"))
        .target_image(image(Case::Selfie, "ann"))
        .send()
        .await
        .unwrap();
    assert_eq!(copy.face_matches()[0].similarity(), Some(100.0));
    let compared = copy.face_matches()[0].face().unwrap();
    assert_eq!(compared.landmarks().len(), 5);
    let other = c
        .compare_faces()
        .source_image(image(Case::Selfie, "ann"))
        .target_image(image(Case::Selfie, "bob"))
        .similarity_threshold(0.0)
        .send()
        .await
        .unwrap();
    assert!(other.face_matches()[0].similarity().unwrap() <= 20.0);

    let listed = c
        .list_faces()
        .collection_id("riv-1")
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.faces().len(), 1);
    assert!(listed.next_token().is_some());
    let deleted = c
        .delete_faces()
        .collection_id("riv-1")
        .face_ids(&face_id)
        .face_ids("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted_faces(), [face_id]);
    assert_eq!(deleted.unsuccessful_face_deletions().len(), 1);
    assert_eq!(
        deleted.unsuccessful_face_deletions()[0].reasons(),
        [aws_sdk_rekognition::types::UnsuccessfulFaceDeletionReason::FaceNotFound]
    );
    let described = c
        .describe_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    assert_eq!(described.face_count(), Some(1));
    // Whole, unlike CreateCollection's ARN.
    assert!(described
        .collection_arn()
        .is_some_and(|a| a.starts_with("arn:aws:rekognition:")));
}

#[tokio::test]
async fn documented_errors_use_the_real_exception_names() {
    let c = rekognition().await;
    c.create_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    let gif = Image::builder()
        .bytes(Blob::new(b"GIF89a...".to_vec()))
        .build();
    let e = c.detect_faces().image(gif).send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidImageFormatException");
    let big = testimage::padded_png(&testimage::case(Case::Selfie, "ann"), 5 * 1024 * 1024 + 1);
    let e = c
        .detect_faces()
        .image(Image::builder().bytes(Blob::new(big)).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ImageTooLargeException");
    let e = c
        .search_faces_by_image()
        .collection_id("riv-1")
        .image(image(Case::NoFace, "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let e = c
        .compare_faces()
        .source_image(image(Case::NoFace, "x"))
        .target_image(image(Case::Selfie, "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let e = c
        .index_faces()
        .collection_id("missing")
        .image(image(Case::Selfie, "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .index_faces()
        .collection_id("riv-1")
        .image(image(Case::Selfie, "x"))
        .external_image_id("a@b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    // Not a face id at all: the model's pattern refuses it before the collection is looked at.
    let e = c
        .search_faces()
        .collection_id("riv-1")
        .face_id("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .search_faces()
        .collection_id("riv-1")
        .face_id("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let e = c
        .detect_faces()
        .image(Image::builder().build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_indexing_into_one_collection_loses_nothing() {
    let c = rekognition().await;
    c.create_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.index_faces()
                    .collection_id("riv-1")
                    .image(image(Case::Selfie, &format!("user-{i}")))
                    .external_image_id(format!("user-{i}"))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let described = c
        .describe_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    assert_eq!(described.face_count(), Some(32));
}

#[tokio::test]
async fn detect_text_reads_card_lines_and_words() {
    let c = rekognition().await;
    let out = c
        .detect_text()
        .image(image(Case::IdCard, "ann"))
        .send()
        .await
        .unwrap();
    let lines: Vec<&str> = out
        .text_detections()
        .iter()
        .filter(|t| t.r#type() == Some(&aws_sdk_rekognition::types::TextTypes::Line))
        .filter_map(|t| t.detected_text())
        .collect();
    assert_eq!(lines[0], "DRIVER LICENSE");
    assert!(lines.contains(&"LAST NAME: DOE"));
    assert!(out.text_detections().len() > lines.len(), "words come too");
}

#[tokio::test]
async fn textract_reads_id_fields_with_normalised_dates() {
    use aws_sdk_textract::types::Document;
    let url = endpoint().await;
    let t = aws_sdk_textract::Client::new(&sdk_config(&url).await);
    let card = testimage::render(
        &testimage::id_card_manifest(
            "ann",
            &[("FIRST_NAME", "ANN"), ("DATE_OF_BIRTH", "01/31/1990")],
        ),
        Format::Png,
    );
    let doc = Document::builder()
        .bytes(aws_sdk_textract::primitives::Blob::new(card.clone()))
        .build();
    let out = t
        .analyze_id()
        .document_pages(doc.clone())
        .send()
        .await
        .unwrap();
    let fields = out.identity_documents()[0].identity_document_fields();
    // Every normalized type, empty where the card shows none, as AnalyzeID answers.
    assert_eq!(fields.len(), riv_emulator::real::idcard::NORMALIZED.len());
    let dob = fields
        .iter()
        .find(|f| f.r#type().unwrap().text() == "DATE_OF_BIRTH")
        .unwrap();
    let normalized = dob.value_detection().unwrap().normalized_value().unwrap();
    assert_eq!(normalized.value(), Some("1990-01-31T00:00:00"));
    // The model's enum is DATE: the SDK reads anything else as Unknown.
    assert_eq!(
        normalized.value_type(),
        Some(&aws_sdk_textract::types::ValueType::Date)
    );
    let text = t.detect_document_text().document(doc).send().await.unwrap();
    assert!(text
        .blocks()
        .iter()
        .any(|b| b.text() == Some("FIRST NAME: ANN")));
    let pdf = Document::builder()
        .bytes(aws_sdk_textract::primitives::Blob::new(
            b"%PDF-1.4".to_vec(),
        ))
        .build();
    let e = t.analyze_id().document_pages(pdf).send().await.unwrap_err();
    assert_eq!(
        aws_sdk_textract::error::ProvideErrorMetadata::code(&e),
        Some("UnsupportedDocumentException")
    );
}

#[test]
fn a_face_spec_defaults_to_a_good_frontal_face() {
    let f = FaceSpec::of("ann");
    assert_eq!((f.pose, f.sunglasses, f.eyes_open), ([0.0; 3], false, true));
}
