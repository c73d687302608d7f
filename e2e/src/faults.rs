//! Scenarios of the emulator as the local stack's Rekognition: pushing back through fault injection
//! (`/_riv/faults`), where a throttled call is retried and the flow succeeds and faults that do not stop end the
//! request 500 with nothing stored (each rule scoped to the scenario's own image, so the scenarios share the
//! stack with the rest of the suite); and reading `S3Object` images from the stack's own S3.

use crate::ensure;
use crate::scenarios::{body, Outcome, Scenario};
use crate::{b64, digest, photo_bytes, stack, unique, Case, Stack};
use serde_json::json;

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        (
            "a_throttled_rekognition_call_is_retried_and_registration_succeeds",
            || Box::pin(throttled_then_served()),
        ),
        (
            "persistent_rekognition_faults_end_500_with_nothing_stored",
            || Box::pin(persistent_faults()),
        ),
        (
            "rekognition_reads_s3_object_images_from_the_local_s3",
            || Box::pin(s3_object_images()),
        ),
    ]
}

/// Calls of `operation` that sent the image `digest`, per the emulator's log.
async fn calls_with(s: &Stack, operation: &str, digest: &str) -> Result<usize, String> {
    let target = format!("RekognitionService.{operation}");
    Ok(s.emulator_calls()
        .await?
        .iter()
        .filter(|(t, images)| *t == target && images.iter().any(|i| i == digest))
        .count())
}

async fn throttled_then_served() -> Outcome {
    let s = stack();
    let user = unique("throttled");
    let image = photo_bytes(Case::Selfie, &user);
    let sha = digest(&image);
    s.emulator_control(
        "POST",
        "/_riv/faults",
        Some(&json!({"Rules": [{
            "Operation": "SearchFacesByImage", "Error": "ThrottlingException", "Times": 2, "Image": sha,
        }]})),
    )
    .await?;
    let (status, answer) = s.post("register", &body(&user, &b64(&image))).await;
    let searched = calls_with(s, "SearchFacesByImage", &sha).await?;
    let left = s.emulator_control("GET", "/_riv/faults", None).await?;
    ensure!(
        status == 200 && answer["Status"] == "Registered",
        "register through two ThrottlingExceptions: {status} {answer}"
    );
    ensure!(
        searched >= 3,
        "SearchFacesByImage was called {searched} time(s) for the image: two throttled calls and one served were wanted"
    );
    ensure!(
        !left.to_string().contains(&sha),
        "the scenario's fault rule should be spent: {left}"
    );
    let state = s.user_state(&user).await?;
    ensure!(
        state.faces.len() == 1 && state.objects.len() == 1,
        "the registration should have stored one face and one image: {state:?}"
    );
    eprintln!("    SearchFacesByImage called {searched} times for one registration (2 throttled)");
    Ok(())
}

async fn persistent_faults() -> Outcome {
    let s = stack();
    let user = unique("faulted");
    let image = photo_bytes(Case::Selfie, &user);
    let sha = digest(&image);
    s.emulator_control(
        "POST",
        "/_riv/faults",
        Some(&json!({"Rules": [{"Operation": "IndexFaces", "Error": "InternalServerError", "Image": sha}]})),
    )
    .await?;
    let request = body(&user, &b64(&image));
    let (status, answer) = s.post("register", &request).await;
    let indexed = calls_with(s, "IndexFaces", &sha).await?;
    let state = s.user_state(&user).await?;
    s.emulator_control("DELETE", &format!("/_riv/faults?image={sha}"), None)
        .await?;
    ensure!(
        status == 500 && answer["Reason"] == "InternalError",
        "register while IndexFaces always fails: wanted 500 InternalError, got {status} {answer}"
    );
    ensure!(
        state.is_empty(),
        "a registration that failed must leave nothing: {state:?}"
    );
    ensure!(
        indexed >= 2,
        "IndexFaces was tried {indexed} time(s): the functions should retry it"
    );
    // With the fault gone, the same request goes through: nothing half-done stands in its way.
    let (status, answer) = s.post("register", &request).await;
    ensure!(
        status == 200,
        "the same registration once IndexFaces works again: {status} {answer}"
    );
    eprintln!("    IndexFaces tried {indexed} times before the request ended 500");
    Ok(())
}

async fn s3_object_images() -> Outcome {
    use aws_sdk_rekognition::types::{Image, S3Object};
    let s = stack();
    let target = riv_deploy::Target::local(&s.endpoint, &s.region).await;
    let bucket = s.output(riv_infra::names::output::IMAGE_BUCKET)?;
    let key = format!("uploads/{}.png", unique("s3-image"));
    target
        .s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(photo_bytes(Case::Selfie, "s3-reader").into())
        .send()
        .await
        .map_err(|e| format!("PutObject {bucket}/{key}: {e:?}"))?;
    let object = |name: &str| {
        Image::builder()
            .s3_object(S3Object::builder().bucket(bucket).name(name).build())
            .build()
    };
    let found = target
        .rekognition
        .detect_faces()
        .image(object(&key))
        .send()
        .await
        .map_err(|e| format!("DetectFaces of s3://{bucket}/{key}: {e:?}"));
    let missing = target
        .rekognition
        .detect_faces()
        .image(object("uploads/nobody.png"))
        .send()
        .await;
    target
        .s3
        .delete_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| format!("DeleteObject {bucket}/{key}: {e:?}"))?;
    ensure!(
        found?.face_details().len() == 1,
        "DetectFaces of an S3 object showing one face should find it"
    );
    let code = missing
        .as_ref()
        .err()
        .and_then(|e| aws_sdk_rekognition::error::ProvideErrorMetadata::code(e))
        .map(str::to_string);
    ensure!(
        code.as_deref() == Some("InvalidS3ObjectException"),
        "DetectFaces of a missing object: wanted InvalidS3ObjectException, got {missing:?}"
    );
    Ok(())
}
