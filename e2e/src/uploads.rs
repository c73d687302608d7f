//! `POST /uploads`: a photo too large for a request body goes to S3 through the presigned URL the API answers,
//! and lands under `uploads/` with its owner's UserId; declarations the contract does not allow are refused
//! before anything is signed.

use crate::ensure;
use crate::scenarios::{Outcome, Scenario};
use crate::{send, stack, unique, Case, Stack};
use serde_json::{json, Value};

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![("uploads_sign_a_put_that_lands_with_its_owner", || {
        Box::pin(a_signed_put_lands_with_its_owner())
    })]
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
