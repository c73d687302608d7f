//! [`ImageStore`] over the versioned image bucket.

use super::classify;
use crate::ports::{
    ImageStore, ObjectHead, PresignedPut, ServiceError, ServiceErrorKind, UploadSigner,
};
use async_trait::async_trait;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use riv_domain::events::WrittenObject;
use riv_domain::uploads;
use std::time::Duration;

const SERVICE: &str = "s3";

pub struct S3Images {
    client: Client,
    bucket: String,
}

impl S3Images {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Images {
            client,
            bucket: bucket.into(),
        }
    }

    /// Every version id and delete marker of exactly this key.
    async fn versions_of(&self, key: &str) -> Result<Vec<String>, ServiceError> {
        let mut ids = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let out = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "ListObjectVersions", e))?;
            let versions = out.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = out
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            ids.extend(
                versions
                    .chain(markers)
                    .filter(|(k, _)| *k == Some(key))
                    .filter_map(|(_, v)| v.map(str::to_string)),
            );
            if out.is_truncated() != Some(true) {
                return Ok(ids);
            }
            key_marker = out.next_key_marker().map(str::to_string);
            version_marker = out.next_version_id_marker().map(str::to_string);
        }
    }

    async fn get_object(
        &self,
        key: &str,
        version: Option<String>,
        range: Option<String>,
    ) -> Result<Vec<u8>, ServiceError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version)
            .set_range(range)
            .send()
            .await
            .map_err(|e| classify(SERVICE, "GetObject", e))?;
        let data = out.body.collect().await.map_err(|e| {
            ServiceError::new(SERVICE, "GetObject", ServiceErrorKind::Other, e.to_string())
        })?;
        Ok(data.into_bytes().to_vec())
    }

    async fn delete_version(&self, key: &str, version: Option<&str>) -> Result<(), ServiceError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_string))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match classify(SERVICE, "DeleteObject", e) {
                gone if gone.kind == ServiceErrorKind::NotFound => Ok(()),
                other => Err(other),
            },
        }
    }
}

/// `bucket/key?versionId=V` for CopyObject's `x-amz-copy-source`: the key percent-encoded (keeping `/`), as S3
/// requires of that header.
fn copy_source(bucket: &str, object: &WrittenObject) -> String {
    let key: String = object
        .key
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    match &object.version_id {
        Some(version) => format!("{bucket}/{key}?versionId={version}"),
        None => format!("{bucket}/{key}"),
    }
}

#[async_trait]
impl ImageStore for S3Images {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, ServiceError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectHead {
                content_type: out.content_type().map(str::to_string),
                content_length: out
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                owner: out
                    .metadata()
                    .and_then(|m| m.get(uploads::OWNER_METADATA))
                    .cloned(),
                version_id: out.version_id().map(str::to_string),
                e_tag: out.e_tag().map(str::to_string),
            })),
            Err(e) => match classify(SERVICE, "HeadObject", e) {
                gone if gone.kind == ServiceErrorKind::NotFound => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn read_start(
        &self,
        object: &WrittenObject,
        length: u64,
    ) -> Result<Vec<u8>, ServiceError> {
        let range = format!("bytes=0-{}", length.saturating_sub(1));
        let mut bytes = self
            .get_object(&object.key, object.version_id.clone(), Some(range))
            .await?;
        // A server that ignores Range sends the whole object: only the start was asked for.
        bytes.truncate(usize::try_from(length).unwrap_or(usize::MAX));
        Ok(bytes)
    }

    async fn copy(
        &self,
        from: &WrittenObject,
        key: &str,
        content_type: &str,
    ) -> Result<WrittenObject, ServiceError> {
        let out = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(key)
            .copy_source(copy_source(&self.bucket, from))
            .content_type(content_type)
            // The upload's owner metadata stays behind: the stored face's row says whose it is.
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .send()
            .await
            .map_err(|e| classify(SERVICE, "CopyObject", e))?;
        Ok(WrittenObject {
            key: key.to_string(),
            version_id: out.version_id().map(str::to_string),
        })
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<WrittenObject, ServiceError> {
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "PutObject", e))?;
        Ok(WrittenObject {
            key: key.to_string(),
            version_id: out.version_id().map(str::to_string),
        })
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, ServiceError> {
        self.get_object(key, None, None).await
    }

    async fn delete(&self, object: &WrittenObject) -> Result<(), ServiceError> {
        // A plain DeleteObject on a versioned bucket only stacks a delete marker on top; naming the version
        // removes the bytes for good.
        match &object.version_id {
            Some(version) => self.delete_version(&object.key, Some(version)).await,
            None => {
                for version in self.versions_of(&object.key).await? {
                    self.delete_version(&object.key, Some(&version)).await?;
                }
                Ok(())
            }
        }
    }
}

#[async_trait]
impl UploadSigner for S3Images {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        owner: &str,
        seconds: u64,
    ) -> Result<PresignedPut, ServiceError> {
        let config = PresigningConfig::expires_in(Duration::from_secs(seconds)).map_err(|e| {
            ServiceError::new(SERVICE, "PutObject", ServiceErrorKind::Other, e.to_string())
        })?;
        let length = i64::try_from(content_length).map_err(|e| {
            ServiceError::new(SERVICE, "PutObject", ServiceErrorKind::Other, e.to_string())
        })?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .metadata(uploads::OWNER_METADATA, owner)
            .presigned(config)
            .await
            .map_err(|e| classify(SERVICE, "PutObject", e))?;
        Ok(PresignedPut {
            url: presigned.uri().to_string(),
            headers: signed_headers(&presigned),
        })
    }
}

/// The headers an uploader must send: those the signature covers, except `host` (the URL carries it).
fn signed_headers(presigned: &PresignedRequest) -> Vec<(String, String)> {
    let signed: Vec<String> = presigned
        .uri()
        .split_once('?')
        .into_iter()
        .flat_map(|(_, query)| query.split('&'))
        .filter_map(|pair| pair.strip_prefix("X-Amz-SignedHeaders="))
        .flat_map(|list| list.split("%3B").flat_map(|l| l.split(';')))
        .map(str::to_ascii_lowercase)
        .collect();
    presigned
        .headers()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            name != "host" && signed.contains(&name)
        })
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_sdk_s3::types::error::NoSuchKey;
    use aws_sdk_s3::types::{DeleteMarkerEntry, ObjectVersion};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    #[test]
    fn a_copy_source_names_the_version_and_encodes_the_key() {
        let object = WrittenObject {
            key: "uploads/a b/selfie".into(),
            version_id: Some("v 1".replace(' ', "")),
        };
        assert_eq!(
            copy_source("bkt", &object),
            "bkt/uploads/a%20b/selfie?versionId=v1"
        );
    }

    #[tokio::test]
    async fn put_reports_the_version_written() {
        let rule = mock!(Client::put_object)
            .match_requests(|r| {
                r.key() == Some("faces/ann/f.png") && r.content_type() == Some("image/png")
            })
            .then_output(|| PutObjectOutput::builder().version_id("v7").build());
        let store = S3Images::new(mock_client!(aws_sdk_s3, [&rule]), "b");
        let written = store
            .put("faces/ann/f.png", vec![1], "image/png")
            .await
            .unwrap();
        assert_eq!(written.version_id.as_deref(), Some("v7"));
    }

    #[tokio::test]
    async fn a_missing_key_is_not_found() {
        let rule = mock!(Client::get_object).then_error(|| {
            GetObjectError::NoSuchKey(
                NoSuchKey::builder()
                    .meta(ErrorMetadata::builder().code("NoSuchKey").build())
                    .build(),
            )
        });
        let store = S3Images::new(mock_client!(aws_sdk_s3, [&rule]), "b");
        assert_eq!(
            store.get("k").await.unwrap_err().kind,
            ServiceErrorKind::NotFound
        );
    }

    #[tokio::test]
    async fn deleting_without_a_version_removes_every_version_of_that_key_only() {
        let list = mock!(Client::list_object_versions).then_output(|| {
            ListObjectVersionsOutput::builder()
                .versions(ObjectVersion::builder().key("k").version_id("v1").build())
                .versions(
                    ObjectVersion::builder()
                        .key("k2")
                        .version_id("other")
                        .build(),
                )
                .delete_markers(
                    DeleteMarkerEntry::builder()
                        .key("k")
                        .version_id("m1")
                        .build(),
                )
                .build()
        });
        let delete = mock!(Client::delete_object)
            .match_requests(|r| {
                r.key() == Some("k") && matches!(r.version_id(), Some("v1") | Some("m1"))
            })
            .then_output(|| {
                aws_sdk_s3::operation::delete_object::DeleteObjectOutput::builder().build()
            });
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&list, &delete]);
        let store = S3Images::new(client, "b");
        store
            .delete(&WrittenObject {
                key: "k".into(),
                version_id: None,
            })
            .await
            .unwrap();
        assert_eq!(delete.num_calls(), 2);
    }

    #[tokio::test]
    async fn an_upload_url_is_signed_for_its_type_size_and_owner() {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .endpoint_url("http://127.0.0.1:4566")
            .force_path_style(true)
            .build();
        let store = S3Images::new(Client::from_conf(config), "images");
        let put = store
            .presign_put("uploads/u/selfie", "image/jpeg", 3_000_000, "ann", 300)
            .await
            .unwrap();
        assert!(
            put.url
                .starts_with("http://127.0.0.1:4566/images/uploads/u/selfie?"),
            "{}",
            put.url
        );
        assert!(put.url.contains("X-Amz-Expires=300"), "{}", put.url);
        let mut names: Vec<&str> = put.headers.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["content-length", "content-type", "x-amz-meta-riv-user"]
        );
        for name in names {
            assert!(put.url.contains(name), "{name} is not signed: {}", put.url);
        }
        assert!(put
            .headers
            .contains(&("x-amz-meta-riv-user".into(), "ann".into())));
        assert!(put
            .headers
            .contains(&("content-length".into(), "3000000".into())));
    }
}
