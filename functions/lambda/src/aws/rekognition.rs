//! [`FaceEngine`] over Amazon Rekognition.

use super::classify;
use crate::ports::{Comparison, FaceEngine, FaceMatch, Picture, ServiceError, ServiceErrorKind};
use async_trait::async_trait;
use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::{
    Attribute, FaceDetail, Image, QualityFilter, S3Object, TextTypes,
};
use aws_sdk_rekognition::Client;
use riv_domain::quality::{self, DetectedFace};

const SERVICE: &str = "rekognition";

pub struct Rekognition {
    client: Client,
}

impl Rekognition {
    pub fn new(client: Client) -> Self {
        Rekognition { client }
    }
}

fn image(picture: &Picture) -> Image {
    match picture {
        Picture::Bytes(bytes) => Image::builder().bytes(Blob::new(bytes.clone())).build(),
        Picture::Stored(object) => Image::builder()
            .s3_object(
                S3Object::builder()
                    .bucket(&object.bucket)
                    .name(&object.key)
                    .set_version(object.version_id.clone())
                    .build(),
            )
            .build(),
    }
}

/// Rekognition answers `InvalidParameterException` when an input image holds no face.
fn no_face_if_invalid_parameter(mut error: ServiceError) -> ServiceError {
    if error.kind == ServiceErrorKind::Other
        && error.message.starts_with("InvalidParameterException")
    {
        error.kind = ServiceErrorKind::NoFace;
    }
    error
}

fn bounding_box(b: &aws_sdk_rekognition::types::BoundingBox) -> quality::BoundingBox {
    quality::BoundingBox {
        width: b.width().unwrap_or(0.0),
        height: b.height().unwrap_or(0.0),
        left: b.left().unwrap_or(0.0),
        top: b.top().unwrap_or(0.0),
    }
}

pub(crate) fn detected_face(detail: &FaceDetail) -> DetectedFace {
    let b = detail.bounding_box();
    let p = detail.pose();
    let q = detail.quality();
    DetectedFace {
        confidence: detail.confidence().unwrap_or(0.0),
        bounding_box: quality::BoundingBox {
            width: b.and_then(|b| b.width()).unwrap_or(0.0),
            height: b.and_then(|b| b.height()).unwrap_or(0.0),
            left: b.and_then(|b| b.left()).unwrap_or(0.0),
            top: b.and_then(|b| b.top()).unwrap_or(0.0),
        },
        pose: quality::Pose {
            pitch: p.and_then(|p| p.pitch()).unwrap_or(0.0),
            roll: p.and_then(|p| p.roll()).unwrap_or(0.0),
            yaw: p.and_then(|p| p.yaw()).unwrap_or(0.0),
        },
        sunglasses: detail.sunglasses().map(|s| quality::Attribute {
            value: s.value(),
            confidence: s.confidence().unwrap_or(0.0),
        }),
        eyes_open: detail.eyes_open().map(|e| quality::Attribute {
            value: e.value(),
            confidence: e.confidence().unwrap_or(0.0),
        }),
        brightness: q.and_then(|q| q.brightness()).unwrap_or(0.0),
        sharpness: q.and_then(|q| q.sharpness()).unwrap_or(0.0),
    }
}

#[async_trait]
impl FaceEngine for Rekognition {
    async fn detect_faces(&self, bytes: &Picture) -> Result<Vec<DetectedFace>, ServiceError> {
        let out = self
            .client
            .detect_faces()
            .image(image(bytes))
            .attributes(Attribute::All)
            .send()
            .await
            .map_err(|e| classify(SERVICE, "DetectFaces", e))?;
        Ok(out.face_details().iter().map(detected_face).collect())
    }

    async fn search_faces_by_image(
        &self,
        collection: &str,
        bytes: &Picture,
        threshold: f32,
        max_faces: i32,
    ) -> Result<Vec<FaceMatch>, ServiceError> {
        let out = self
            .client
            .search_faces_by_image()
            .collection_id(collection)
            .image(image(bytes))
            .face_match_threshold(threshold)
            .max_faces(max_faces)
            .send()
            .await
            .map_err(|e| {
                no_face_if_invalid_parameter(classify(SERVICE, "SearchFacesByImage", e))
            })?;
        Ok(out
            .face_matches()
            .iter()
            .filter_map(|m| {
                let face = m.face()?;
                Some(FaceMatch {
                    face_id: face.face_id()?.to_string(),
                    external_image_id: face.external_image_id().map(str::to_string),
                    similarity: m.similarity().unwrap_or(0.0),
                })
            })
            .collect())
    }

    async fn compare_faces(
        &self,
        source: &Picture,
        target: &Picture,
    ) -> Result<Option<Comparison>, ServiceError> {
        // Threshold 0 puts every target face in FaceMatches, so the best similarity is known even for strangers.
        let out = self
            .client
            .compare_faces()
            .source_image(image(source))
            .target_image(image(target))
            .similarity_threshold(0.0)
            .send()
            .await
            .map_err(|e| no_face_if_invalid_parameter(classify(SERVICE, "CompareFaces", e)))?;
        let source_box = out
            .source_image_face()
            .and_then(|f| f.bounding_box())
            .map(bounding_box);
        let best = out
            .face_matches()
            .iter()
            .filter_map(|m| Some((m.similarity()?, m.face().and_then(|f| f.bounding_box()))))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        Ok(match best {
            Some((similarity, target_box)) => Some(Comparison {
                similarity,
                source_box,
                target_box: target_box.map(bounding_box),
            }),
            None => (!out.unmatched_faces().is_empty()).then_some(Comparison {
                similarity: 0.0,
                source_box,
                target_box: None,
            }),
        })
    }

    async fn index_face(
        &self,
        collection: &str,
        bytes: &Picture,
        external_image_id: &str,
    ) -> Result<Option<String>, ServiceError> {
        // Our quality gate already decided; Rekognition's own filter must not silently disagree.
        let out = self
            .client
            .index_faces()
            .collection_id(collection)
            .image(image(bytes))
            .external_image_id(external_image_id)
            .max_faces(1)
            .quality_filter(QualityFilter::None)
            .send()
            .await
            .map_err(|e| classify(SERVICE, "IndexFaces", e))?;
        Ok(out
            .face_records()
            .first()
            .and_then(|r| r.face())
            .and_then(|f| f.face_id())
            .map(str::to_string))
    }

    async fn delete_faces(
        &self,
        collection: &str,
        face_ids: &[String],
    ) -> Result<(), ServiceError> {
        match self
            .client
            .delete_faces()
            .collection_id(collection)
            .set_face_ids(Some(face_ids.to_vec()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match classify(SERVICE, "DeleteFaces", e) {
                gone if gone.kind == ServiceErrorKind::NotFound => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn detect_text(&self, bytes: &Picture) -> Result<Vec<String>, ServiceError> {
        let out = self
            .client
            .detect_text()
            .image(image(bytes))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "DetectText", e))?;
        Ok(out
            .text_detections()
            .iter()
            .filter(|t| t.r#type() == Some(&TextTypes::Line))
            .filter_map(|t| t.detected_text().map(str::to_string))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rekognition::error::ErrorMetadata;
    use aws_sdk_rekognition::operation::compare_faces::CompareFacesOutput;
    use aws_sdk_rekognition::operation::delete_faces::DeleteFacesError;
    use aws_sdk_rekognition::operation::search_faces_by_image::{
        SearchFacesByImageError, SearchFacesByImageOutput,
    };
    use aws_sdk_rekognition::types::error::{InvalidParameterException, ResourceNotFoundException};
    use aws_sdk_rekognition::types::{
        BoundingBox, CompareFacesMatch, ComparedFace, Face, FaceMatch as SdkMatch, Pose, Sunglasses,
    };
    use aws_smithy_mocks::{mock, mock_client};

    fn bytes(b: &[u8]) -> Picture {
        Picture::Bytes(b.to_vec())
    }

    #[tokio::test]
    async fn a_stored_picture_is_named_by_bucket_key_and_version() {
        let stored = Picture::Stored(crate::ports::StoredPicture {
            bucket: "bkt".into(),
            key: "uploads/u/selfie".into(),
            version_id: Some("v7".into()),
        });
        let object = image(&stored).s3_object().cloned().expect("an S3Object");
        assert_eq!(
            (object.bucket(), object.name(), object.version()),
            (Some("bkt"), Some("uploads/u/selfie"), Some("v7"))
        );
        assert!(image(&stored).bytes().is_none());
    }

    #[tokio::test]
    async fn detect_faces_maps_every_attribute_the_gate_reads() {
        let detail = FaceDetail::builder()
            .confidence(99.0)
            .bounding_box(
                BoundingBox::builder()
                    .width(0.5)
                    .height(0.4)
                    .left(0.1)
                    .top(0.2)
                    .build(),
            )
            .pose(Pose::builder().pitch(1.0).roll(2.0).yaw(30.0).build())
            .sunglasses(Sunglasses::builder().value(true).confidence(97.0).build())
            .build();
        let rule = mock!(Client::detect_faces).then_output(move || {
            aws_sdk_rekognition::operation::detect_faces::DetectFacesOutput::builder()
                .face_details(detail.clone())
                .build()
        });
        let engine = Rekognition::new(mock_client!(aws_sdk_rekognition, [&rule]));
        let faces = engine.detect_faces(&bytes(b"img")).await.unwrap();
        assert_eq!(faces.len(), 1);
        assert_eq!(faces[0].pose.yaw, 30.0);
        assert_eq!(faces[0].bounding_box.width, 0.5);
        assert_eq!(faces[0].sunglasses.map(|s| s.value), Some(true));
        assert_eq!(faces[0].eyes_open, None);
    }

    #[tokio::test]
    async fn search_maps_matches_and_no_face_errors() {
        let hit = mock!(Client::search_faces_by_image).then_output(|| {
            SearchFacesByImageOutput::builder()
                .face_matches(
                    SdkMatch::builder()
                        .similarity(99.1)
                        .face(
                            Face::builder()
                                .face_id("f1")
                                .external_image_id("ann:x.com")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let none = mock!(Client::search_faces_by_image).then_error(|| {
            SearchFacesByImageError::InvalidParameterException(
                InvalidParameterException::builder()
                    .message("There are no faces in the image")
                    .meta(
                        ErrorMetadata::builder()
                            .code("InvalidParameterException")
                            .build(),
                    )
                    .build(),
            )
        });
        let engine = Rekognition::new(mock_client!(aws_sdk_rekognition, [&hit, &none]));
        let m = engine
            .search_faces_by_image("c", &bytes(b"i"), 95.0, 5)
            .await
            .unwrap();
        assert_eq!(m[0].face_id, "f1");
        assert_eq!(m[0].external_image_id.as_deref(), Some("ann:x.com"));
        let err = engine
            .search_faces_by_image("c", &bytes(b"i"), 95.0, 5)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ServiceErrorKind::NoFace);
    }

    #[tokio::test]
    async fn compare_takes_the_best_target_face_or_none() {
        let two = mock!(Client::compare_faces).then_output(|| {
            CompareFacesOutput::builder()
                .face_matches(CompareFacesMatch::builder().similarity(12.0).build())
                .face_matches(
                    CompareFacesMatch::builder()
                        .similarity(98.5)
                        .face(
                            ComparedFace::builder()
                                .bounding_box(BoundingBox::builder().left(0.4).build())
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let empty =
            mock!(Client::compare_faces).then_output(|| CompareFacesOutput::builder().build());
        let unmatched = mock!(Client::compare_faces).then_output(|| {
            CompareFacesOutput::builder()
                .unmatched_faces(ComparedFace::builder().build())
                .build()
        });
        let engine = Rekognition::new(mock_client!(
            aws_sdk_rekognition,
            [&two, &empty, &unmatched]
        ));
        let similarity = |c: Option<Comparison>| c.map(|c| c.similarity);
        let best = engine
            .compare_faces(&bytes(b"a"), &bytes(b"b"))
            .await
            .unwrap();
        assert_eq!(similarity(best), Some(98.5));
        assert_eq!(
            engine
                .compare_faces(&bytes(b"a"), &bytes(b"b"))
                .await
                .unwrap(),
            None
        );
        let stranger = engine
            .compare_faces(&bytes(b"a"), &bytes(b"b"))
            .await
            .unwrap();
        assert_eq!(similarity(stranger), Some(0.0));
    }

    #[tokio::test]
    async fn deleting_from_a_missing_collection_is_done() {
        let gone = mock!(Client::delete_faces).then_error(|| {
            DeleteFacesError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .build(),
                    )
                    .build(),
            )
        });
        let engine = Rekognition::new(mock_client!(aws_sdk_rekognition, [&gone]));
        engine.delete_faces("c", &["f".into()]).await.unwrap();
    }
}
