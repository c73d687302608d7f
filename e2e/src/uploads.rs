//! `POST /uploads`: a photo too large for a request body goes to S3 through the presigned URL the API answers,
//! and lands under `uploads/` with its owner's UserId; declarations the contract does not allow are refused
//! before anything is signed.

use crate::ensure;
use crate::scenarios::{Outcome, Scenario};
use crate::{send, stack, unique, Case, Stack};
use serde_json::{json, Value};

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("uploads_sign_a_put_that_lands_with_its_owner", || {
            Box::pin(a_signed_put_lands_with_its_owner())
        }),
        (
            "uploads_carry_a_3_mb_photo_through_register_and_auth",
            || Box::pin(a_3_mb_photo_registers_and_authenticates()),
        ),
        ("uploads_refuse_bad_keys_and_change_nothing", || {
            Box::pin(bad_keys_are_refused_and_change_nothing())
        }),
    ]
}

/// Asks `POST /uploads` for one selfie URL and PUTs `bytes` to it; the key a flow then takes.
async fn upload_selfie(
    s: &Stack,
    user: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<String, String> {
    let declared = json!({"ContentType": content_type, "ContentLength": bytes.len()});
    let (status, answer) = s
        .post("uploads", &json!({"UserId": user, "Selfie": declared}))
        .await;
    ensure!(status == 200, "POST /uploads for {user}: {status} {answer}");
    let target = &answer["Selfie"];
    let key = target["Key"].as_str().ok_or("no Selfie.Key")?.to_string();
    let (put, body) = put_as_told(target, bytes).await?;
    ensure!(
        put == 200,
        "PUT {key}: {put} {}",
        String::from_utf8_lossy(&body)
    );
    Ok(key)
}

/// Whether any version of `key` is left in the image bucket.
async fn left(s: &Stack, key: &str) -> Result<bool, String> {
    let (target, bucket) = image_bucket(s).await?;
    let out = target
        .s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .map_err(|e| format!("ListObjectVersions {bucket}/{key}: {e:?}"))?;
    Ok(!out.versions().is_empty())
}

async fn a_3_mb_photo_registers_and_authenticates() -> Outcome {
    let s = stack();
    let user = unique("big-photo");
    let photo = riv_emulator::testimage::padded_jpeg(
        &riv_emulator::testimage::case(Case::Selfie, &user),
        PHOTO_BYTES,
    );
    let key = upload_selfie(s, &user, "image/jpeg", photo.clone()).await?;
    let (status, answer) = s
        .post("register", &json!({"UserId": user, "ImageKey": key}))
        .await;
    ensure!(
        status == 200 && answer["Status"] == "Registered",
        "register with ImageKey: {status} {answer}"
    );
    ensure!(
        !left(s, &key).await?,
        "the upload {key} outlived its registration"
    );
    let stored = s.user_state(&user).await?;
    ensure!(
        stored.faces.len() == 1 && stored.objects.len() == 1,
        "one face and its image are stored: {stored:?}"
    );
    let face_id = answer["FaceId"].as_str().ok_or("no FaceId")?;
    let face_key = riv_domain::names::bucket::face_key(&user, face_id, "jpg");
    let (_, size, content_type) = head(s, &face_key).await?;
    ensure!(
        size == photo.len() as i64 && content_type.as_deref() == Some("image/jpeg"),
        "the stored face image is the upload itself: {size} bytes of {content_type:?}"
    );

    let key = upload_selfie(s, &user, "image/jpeg", photo).await?;
    let (status, answer) = s
        .post("auth", &json!({"UserId": user, "ImageKey": key}))
        .await;
    ensure!(
        status == 200 && answer["Status"] == "Verified",
        "auth with ImageKey: {status} {answer}"
    );
    ensure!(
        !left(s, &key).await?,
        "the upload {key} outlived its authentication"
    );
    Ok(())
}

async fn bad_keys_are_refused_and_change_nothing() -> Outcome {
    let s = stack();
    let user = unique("bad-keys");
    let photo = |who: &str| {
        riv_emulator::testimage::padded_jpeg(
            &riv_emulator::testimage::case(Case::Selfie, who),
            64 * 1024,
        )
    };
    let someone = unique("someone-else");
    let theirs = upload_selfie(s, &someone, "image/jpeg", photo(&someone)).await?;
    let never_uploaded =
        riv_domain::uploads::key(&uuid_like(&user), riv_domain::uploads::Slot::Selfie);
    // Declared as a JPEG, but a PDF went up (the URL checks the size and type header, not the bytes).
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(64 * 1024, b' ');
    let pdf_key = upload_selfie(s, &user, "image/jpeg", pdf).await?;
    // Larger than Rekognition reads from S3: only a writer that bypasses the URL could put it there.
    let oversize_key =
        riv_domain::uploads::key(&uuid_like(&someone), riv_domain::uploads::Slot::Selfie);
    let (target, bucket) = image_bucket(s).await?;
    let mut huge = photo(&user);
    huge.resize(16 * 1024 * 1024, 0);
    target
        .s3
        .put_object()
        .bucket(bucket)
        .key(&oversize_key)
        .content_type("image/jpeg")
        .metadata(riv_domain::uploads::OWNER_METADATA, &user)
        .body(huge.into())
        .send()
        .await
        .map_err(|e| format!("PutObject {oversize_key}: {e:?}"))?;

    for (what, key) in [
        ("someone else's key", &theirs),
        ("a key nothing was uploaded to", &never_uploaded),
        ("a PDF", &pdf_key),
        ("an oversize object", &oversize_key),
    ] {
        for route in ["register", "auth"] {
            let (status, answer) = s
                .post(route, &json!({"UserId": user, "ImageKey": key}))
                .await;
            ensure!(
                status == 400 && answer["Reason"] == "InvalidRequest",
                "{route} with {what}: wanted 400 InvalidRequest, got {status} {answer}"
            );
        }
    }
    ensure!(
        s.user_state(&user).await?.is_empty(),
        "refused keys stored something for {user}"
    );
    // A refused flow still discards the caller's own uploads, and never anyone else's.
    ensure!(
        left(s, &theirs).await?,
        "{someone}'s upload was deleted by {user}'s requests"
    );
    ensure!(
        !left(s, &pdf_key).await?,
        "the refused PDF upload was left behind"
    );
    ensure!(
        !left(s, &oversize_key).await?,
        "the refused oversize upload was left behind"
    );
    delete(s, &theirs).await?;
    Ok(())
}

/// A well-formed upload id no one was given.
fn uuid_like(seed: &str) -> String {
    let hex: String = format!("{:032x}", fnv(seed));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn fnv(seed: &str) -> u128 {
    seed.bytes()
        .fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d, |h, b| {
            (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B)
        })
}

/// A 3 MB photo: far over what a request body can carry (Step Functions takes 256 KiB of input).
const PHOTO_BYTES: usize = 3 * 1024 * 1024;

async fn a_signed_put_lands_with_its_owner() -> Outcome {
    let s = stack();
    let user = unique("uploader");
    let photo = riv_emulator::testimage::padded_png(
        &riv_emulator::testimage::case(Case::Selfie, &user),
        PHOTO_BYTES,
    );
    let declared = json!({"ContentType": "image/png", "ContentLength": photo.len()});
    let (status, answer) = s
        .post("uploads", &json!({"UserId": user, "Selfie": declared}))
        .await;
    ensure!(status == 200, "POST /uploads: {status} {answer}");
    ensure!(
        answer.get("IdCard").is_none() && answer["ExpiresInSeconds"] == 300,
        "only a selfie was asked for, for 5 minutes: {answer}"
    );
    let target = &answer["Selfie"];
    let key = target["Key"].as_str().ok_or("no Selfie.Key")?.to_string();
    ensure!(
        key.starts_with("uploads/") && key.ends_with("/selfie"),
        "key {key}"
    );
    let (put, body) = put_as_told(target, photo.clone()).await?;
    ensure!(
        put == 200,
        "PUT to the presigned URL: {put} {}",
        String::from_utf8_lossy(&body)
    );
    let stored = head(s, &key).await;
    delete(s, &key).await?;
    let (owner, length, content_type) = stored?;
    ensure!(
        owner.as_deref() == Some(user.as_str()),
        "owner metadata {owner:?}, wanted {user}"
    );
    ensure!(
        length == photo.len() as i64 && content_type.as_deref() == Some("image/png"),
        "stored {length} bytes of {content_type:?}"
    );

    // Refused before anything is signed, each with the contract's 400 body.
    let refused = [
        json!({"UserId": user, "Selfie": {"ContentType": "application/pdf", "ContentLength": 50_000}}),
        json!({"UserId": user, "Selfie": {"ContentType": "image/jpeg", "ContentLength": 16 * 1024 * 1024}}),
        json!({"UserId": user, "Selfie": {"ContentType": "image/jpeg", "ContentLength": 50_000},
               "IdCard": {"ContentType": "image/jpeg", "ContentLength": 11 * 1024 * 1024}}),
        json!({"UserId": user}),
        json!({"UserId": "not a user id", "Selfie": {"ContentType": "image/jpeg", "ContentLength": 50_000}}),
    ];
    for request in refused {
        let (status, answer) = s.post("uploads", &request).await;
        ensure!(
            status == 400 && answer["Reason"] == "InvalidRequest",
            "{request}: wanted 400 InvalidRequest, got {status} {answer}"
        );
    }
    Ok(())
}

/// PUTs `bytes` to the target's URL with exactly the headers it names (`Content-Length` is the body's own).
async fn put_as_told(target: &Value, bytes: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
    let url = target["Url"].as_str().ok_or("no Url")?;
    ensure!(target["Method"] == "PUT", "method {}", target["Method"]);
    let headers: Vec<(String, String)> = target["Headers"]
        .as_object()
        .ok_or("no Headers")?
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(v) => Ok((k.clone(), v.to_string())),
            None => Err(format!("header {k} is not a string: {v}")),
        })
        .collect::<Result<_, _>>()?;
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(send("PUT", url, &borrowed, bytes).await)
}

/// The local stack's clients and its image bucket.
async fn image_bucket(s: &Stack) -> Result<(riv_deploy::Target, &str), String> {
    let target = riv_deploy::Target::local(&s.endpoint, &s.region).await;
    Ok((target, s.output(riv_infra::names::output::IMAGE_BUCKET)?))
}

/// The stored object's owner metadata, size and content type.
async fn head(s: &Stack, key: &str) -> Result<(Option<String>, i64, Option<String>), String> {
    let (target, bucket) = image_bucket(s).await?;
    let head = target
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("HeadObject {bucket}/{key}: {e:?}"))?;
    let owner = head
        .metadata()
        .and_then(|m| m.get(riv_domain::uploads::OWNER_METADATA))
        .cloned();
    Ok((
        owner,
        head.content_length().unwrap_or(-1),
        head.content_type().map(str::to_string),
    ))
}

async fn delete(s: &Stack, key: &str) -> Result<(), String> {
    let (target, bucket) = image_bucket(s).await?;
    target
        .s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("DeleteObject {bucket}/{key}: {e:?}"))?;
    Ok(())
}
