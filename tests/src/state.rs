//! What a user left in the stack: table rows, image objects (every version) and indexed faces. Scenarios compare
//! these before and after a request to prove a rejection changed nothing.

use crate::Stack;
use aws_sdk_dynamodb::types::AttributeValue;

/// Everything stored for one user.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserState {
    /// Sort keys of the user's rows (`PROFILE`, `FACE#…`).
    pub rows: Vec<String>,
    /// Every object version and delete marker under the user's prefixes.
    pub objects: Vec<String>,
    /// Face ids indexed for the user, in any collection.
    pub faces: Vec<String>,
}

impl UserState {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.objects.is_empty() && self.faces.is_empty()
    }
}

impl Stack {
    pub async fn user_state(&self, user_id: &str) -> UserState {
        let config = self.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let rows = dynamodb
            .query()
            .table_name(self.output("FaceTable"))
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user_id}")))
            .consistent_read(true)
            .send()
            .await
            .map(|o| {
                o.items()
                    .iter()
                    .filter_map(|i| i.get("SK").and_then(|v| v.as_s().ok()).cloned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();

        let s3 = riv_deploy::Target::local(&self.endpoint, &self.region)
            .await
            .s3;
        let mut objects = Vec::new();
        for prefix in ["faces/", "idcards/"] {
            let out = s3
                .list_object_versions()
                .bucket(self.output("ImageBucket"))
                .prefix(format!("{prefix}{user_id}/"))
                .send()
                .await;
            if let Ok(out) = out {
                objects.extend(
                    out.versions()
                        .iter()
                        .filter_map(|v| v.key().map(str::to_string)),
                );
                objects.extend(
                    out.delete_markers()
                        .iter()
                        .filter_map(|m| m.key().map(|k| format!("{k} (delete marker)"))),
                );
            }
        }

        let rekognition = aws_sdk_rekognition::Client::new(&config);
        let external = riv_domain::collections::external_image_id(user_id);
        let mut faces = Vec::new();
        for collection in self
            .output("Collections")
            .split(',')
            .filter(|c| !c.is_empty())
        {
            let mut token = None;
            loop {
                let Ok(out) = rekognition
                    .list_faces()
                    .collection_id(collection)
                    .set_next_token(token)
                    .send()
                    .await
                else {
                    break;
                };
                faces.extend(
                    out.faces()
                        .iter()
                        .filter(|f| f.external_image_id() == Some(external.as_str()))
                        .filter_map(|f| f.face_id().map(str::to_string)),
                );
                token = out.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        let mut state = UserState {
            rows,
            objects,
            faces,
        };
        state.rows.sort();
        state.objects.sort();
        state.faces.sort();
        state
    }

    /// Removes every version of the user's face images, as if they had been lost.
    pub async fn delete_face_images(&self, user_id: &str) {
        let s3 = riv_deploy::Target::local(&self.endpoint, &self.region)
            .await
            .s3;
        let bucket = self.output("ImageBucket");
        if let Ok(out) = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(format!("faces/{user_id}/"))
            .send()
            .await
        {
            for v in out.versions() {
                let _ = s3
                    .delete_object()
                    .bucket(bucket)
                    .key(v.key().unwrap_or_default())
                    .set_version_id(v.version_id().map(str::to_string))
                    .send()
                    .await;
            }
        }
    }
}
