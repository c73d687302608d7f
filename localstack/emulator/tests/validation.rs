//! Bad requests through the unmodified SDK (which checks nothing itself): refused with AWS's exception class
//! and message, as the model-driven validator words them.

mod common;

use common::{endpoint, image, sdk_config};
use riv_emulator::testimage::Case;

#[tokio::test]
async fn bad_requests_are_refused_in_aws_words() {
    use aws_sdk_rekognition::types::QualityFilter;
    let url = endpoint().await;
    let config = sdk_config(&url).await;
    let c = aws_sdk_rekognition::Client::new(&config);
    c.create_collection()
        .collection_id("riv-1")
        .send()
        .await
        .unwrap();
    let message = |e: &dyn aws_sdk_rekognition::error::ProvideErrorMetadata| {
        format!(
            "{}: {}",
            e.code().unwrap_or("-"),
            e.message().unwrap_or("-")
        )
    };
    let prefix = "ValidationException: 1 validation error detected: Value";
    let got = c
        .search_faces_by_image()
        .collection_id("riv-1")
        .image(image(Case::Selfie, "ann"))
        .max_faces(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(got.as_service_error().unwrap()),
        format!("{prefix} '0' at 'maxFaces' failed to satisfy constraint: Member must have value greater than or equal to 1")
    );
    let got = c
        .index_faces()
        .collection_id("riv-1")
        .image(image(Case::Selfie, "ann"))
        .quality_filter(QualityFilter::from("BEST"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(got.as_service_error().unwrap()),
        format!("{prefix} 'BEST' at 'qualityFilter' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AUTO, LOW, MEDIUM, HIGH]")
    );
    let got = c
        .create_collection()
        .collection_id("no spaces")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(got.as_service_error().unwrap()),
        format!("{prefix} 'no spaces' at 'collectionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+")
    );
    let got = c
        .list_faces()
        .collection_id("riv-1")
        .next_token("made-up")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(got.as_service_error().unwrap()),
        "InvalidPaginationTokenException: Invalid pagination token"
    );
    // Two errors at once are reported together.
    let got = c
        .search_faces()
        .collection_id("a/b")
        .face_id("nope")
        .send()
        .await
        .unwrap_err();
    let text = message(got.as_service_error().unwrap());
    assert!(
        text.starts_with(
            "ValidationException: 2 validation errors detected: Value 'a/b' at 'collectionId'"
        ) && text.contains("; Value 'nope' at 'faceId'"),
        "{text}"
    );
    let textract = aws_sdk_textract::Client::new(&config);
    let got = textract.analyze_id().send().await.unwrap_err();
    let e = got.as_service_error().unwrap();
    assert_eq!(
        format!("{}: {}", aws_sdk_textract::error::ProvideErrorMetadata::code(e).unwrap_or("-"), aws_sdk_textract::error::ProvideErrorMetadata::message(e).unwrap_or("-")),
        "ValidationException: 1 validation error detected: Value null at 'documentPages' failed to satisfy constraint: Member must not be null"
    );
}
