//! What a user left in the stack: table rows, image objects (every version) and indexed faces. Scenarios compare
//! these before and after a request to prove a rejection changed nothing. A reader that cannot read fails: "the
//! rollback left nothing" must never pass because the table could not be read.

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

fn failed(what: &str) -> impl Fn(String) -> String + '_ {
    move |e| format!("could not read {what}: {e}")
}

impl Stack {
    pub async fn user_state(&self, user_id: &str) -> Result<UserState, String> {
        let mut state = UserState {
            rows: self.user_rows(user_id).await?,
            objects: self.user_objects(user_id).await?,
            faces: self.user_faces(user_id).await?,
        };
        state.rows.sort();
        state.objects.sort();
        state.faces.sort();
        Ok(state)
    }

    /// The `SK` of every row in the user's partition.
    async fn user_rows(&self, user_id: &str) -> Result<Vec<String>, String> {
        let config = self.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let out = dynamodb
            .query()
            .table_name(self.output(riv_infra::names::output::FACE_TABLE)?)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))
            .map_err(failed("the face table"))?;
        out.items()
            .iter()
            .map(|i| match i.get("SK").map(AttributeValue::as_s) {
                Some(Ok(sk)) => Ok(sk.clone()),
                _ => Err(format!("a row of {user_id} has no string SK: {i:?}")),
            })
            .collect()
    }

    /// Every version and delete marker under `faces/<user>/` and `idcards/<user>/`.
    async fn user_objects(&self, user_id: &str) -> Result<Vec<String>, String> {
        let s3 = riv_deploy::Target::local(&self.endpoint, &self.region)
            .await
            .s3;
        let mut objects = Vec::new();
        for prefix in ["faces/", "idcards/"] {
            let out = s3
                .list_object_versions()
                .bucket(self.output(riv_infra::names::output::IMAGE_BUCKET)?)
                .prefix(format!("{prefix}{user_id}/"))
                .send()
                .await
                .map_err(|e| format!("{e:?}"))
                .map_err(failed("the image bucket"))?;
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
        Ok(objects)
    }

    /// Face ids carrying the user's ExternalImageId, in every collection of the stack.
    async fn user_faces(&self, user_id: &str) -> Result<Vec<String>, String> {
        let config = self.sdk_config().await;
        let rekognition = aws_sdk_rekognition::Client::new(&config);
        let external = riv_domain::collections::external_image_id(user_id);
        let mut faces = Vec::new();
        for collection in self.collections()? {
            let mut token = None;
            loop {
                let out = rekognition
                    .list_faces()
                    .collection_id(collection)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| format!("{e:?}"))
                    .map_err(failed("a collection"))?;
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
        Ok(faces)
    }

    /// Deletes the faces like `images` (a face search at 80% similarity) from every collection of the stack;
    /// returns how many. For fixtures that are the same people every run, left by an earlier run against a
    /// long-lived LocalStack.
    pub async fn forget_faces_like(&self, images: &[Vec<u8>]) -> Result<usize, String> {
        let config = self.sdk_config().await;
        let rekognition = aws_sdk_rekognition::Client::new(&config);
        let mut forgotten = 0;
        for collection in self.collections()? {
            let mut ids = std::collections::BTreeSet::new();
            for image in images {
                let found = rekognition
                    .search_faces_by_image()
                    .collection_id(collection)
                    .image(
                        aws_sdk_rekognition::types::Image::builder()
                            .bytes(aws_sdk_rekognition::primitives::Blob::new(image.clone()))
                            .build(),
                    )
                    .face_match_threshold(80.0)
                    .max_faces(4096)
                    .send()
                    .await
                    .map_err(|e| format!("{e:?}"))
                    .map_err(failed("a collection"))?;
                ids.extend(
                    found
                        .face_matches()
                        .iter()
                        .filter_map(|m| m.face()?.face_id().map(str::to_string)),
                );
            }
            if ids.is_empty() {
                continue;
            }
            let deleted = rekognition
                .delete_faces()
                .collection_id(collection)
                .set_face_ids(Some(ids.iter().cloned().collect()))
                .send()
                .await
                .map_err(|e| format!("{e:?}"))
                .map_err(failed("a collection"))?;
            if deleted.deleted_faces().len() != ids.len() {
                return Err(format!(
                    "DeleteFaces in {collection} deleted {:?} of {ids:?}",
                    deleted.deleted_faces()
                ));
            }
            forgotten += ids.len();
        }
        Ok(forgotten)
    }

    /// Removes every version of the user's face images, as if they had been lost.
    pub async fn delete_face_images(&self, user_id: &str) -> Result<(), String> {
        let s3 = riv_deploy::Target::local(&self.endpoint, &self.region)
            .await
            .s3;
        let bucket = self.output(riv_infra::names::output::IMAGE_BUCKET)?;
        let out = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(format!("faces/{user_id}/"))
            .send()
            .await
            .map_err(|e| format!("{e:?}"))
            .map_err(failed("the image bucket"))?;
        for v in out.versions() {
            s3.delete_object()
                .bucket(bucket)
                .set_key(v.key().map(str::to_string))
                .set_version_id(v.version_id().map(str::to_string))
                .send()
                .await
                .map_err(|e| format!("deleting {:?}: {e:?}", v.key()))?;
        }
        Ok(())
    }

    /// The stack's data invariants, checked by the reconciler's own survey: what breaks them, as text.
    pub async fn violations(&self) -> Result<Vec<String>, String> {
        let (target, data) = self.data().await?;
        let findings = riv_deploy::reconcile::check(&target, &data)
            .await
            .map_err(|e| format!("invariant check of {}: {e}", self.name))?;
        Ok(findings
            .iter()
            .map(|f| format!("{} {} ({})", f.kind.label(), f.id, f.action))
            .collect())
    }

    /// Runs the reconciler over the stack, as `cargo xtask reconcile --yes` does.
    pub async fn reconcile(&self) -> Result<usize, String> {
        let (target, data) = self.data().await?;
        let findings = riv_deploy::reconcile::check(&target, &data)
            .await
            .map_err(|e| format!("reconcile survey of {}: {e}", self.name))?;
        let outcome = riv_deploy::reconcile::apply(&target, &data, &findings).await;
        match outcome.failed.is_empty() {
            true => Ok(outcome.fixed),
            false => Err(format!("reconcile could not fix: {:?}", outcome.failed)),
        }
    }

    async fn data(&self) -> Result<(riv_deploy::Target, riv_deploy::reconcile::StackData), String> {
        let target = riv_deploy::Target::local(&self.endpoint, &self.region).await;
        let data = riv_deploy::reconcile::StackData::from_outputs(&self.name, &self.outputs)
            .map_err(|e| e.to_string())?;
        Ok((target, data))
    }
}

impl Stack {
    /// The Properties of the user's profile row, as stored.
    pub async fn stored_properties(
        &self,
        user_id: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        self.stored_map(user_id, "Properties").await
    }

    /// The attempts counted against the UserId's lockout; `None` when it has no counter.
    pub async fn stored_attempts(&self, user_id: &str) -> Result<Option<u64>, String> {
        let pk = format!("GUARD#{user_id}");
        let Some(item) = self.table_item(&pk, "GUARD", "the lockout counter").await? else {
            return Ok(None);
        };
        let attempts = match item.get("Attempts") {
            Some(AttributeValue::N(n)) => n,
            other => return Err(format!("{user_id}'s counter has Attempts {other:?}")),
        };
        attempts
            .parse()
            .map(Some)
            .map_err(|e| format!("{user_id}'s Attempts {attempts:?}: {e}"))
    }

    /// One item of the face table, read consistently.
    async fn table_item(
        &self,
        pk: &str,
        sk: &str,
        what: &str,
    ) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, String> {
        let config = self.sdk_config().await;
        let out = aws_sdk_dynamodb::Client::new(&config)
            .get_item()
            .table_name(self.output(riv_infra::names::output::FACE_TABLE)?)
            .key("PK", AttributeValue::S(pk.into()))
            .key("SK", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))
            .map_err(failed(what))?;
        Ok(out.item)
    }

    /// The fields read from the user's ID card, as stored apart from Properties.
    pub async fn stored_id_card(
        &self,
        user_id: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        self.stored_map(user_id, "IdCardFields").await
    }

    async fn stored_map(
        &self,
        user_id: &str,
        attribute: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        let item = self
            .table_item(&format!("USER#{user_id}"), "PROFILE", "the profile row")
            .await?
            .ok_or(format!("{user_id} has no profile row"))?;
        let map = match item.get(attribute) {
            Some(AttributeValue::M(map)) => map,
            other => return Err(format!("{user_id}'s {attribute} are {other:?}")),
        };
        map.iter()
            .map(|(k, v)| match v.as_s() {
                Ok(text) => Ok((k.clone(), text.clone())),
                Err(_) => Err(format!("property {k} of {user_id} is not a string: {v:?}")),
            })
            .collect()
    }

    /// Indexes a face straight into the user's collection under their ExternalImageId, as an attacker with a
    /// leftover face (or a crashed attempt) would leave it: no record.
    pub async fn plant_face(&self, user_id: &str, image: &[u8]) -> Result<String, String> {
        let collections = self.collections()?;
        let config = riv_domain::config::CollectionConfig {
            prefix: self.name.clone(),
            count: collections.len() as u32,
        };
        let collection = riv_domain::collections::for_user(&config, user_id);
        let sdk = self.sdk_config().await;
        let out = aws_sdk_rekognition::Client::new(&sdk)
            .index_faces()
            .collection_id(&collection)
            .external_image_id(riv_domain::collections::external_image_id(user_id))
            .max_faces(1)
            .image(
                aws_sdk_rekognition::types::Image::builder()
                    .bytes(aws_sdk_rekognition::primitives::Blob::new(image.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| format!("IndexFaces into {collection}: {e:?}"))?;
        out.face_records()
            .first()
            .and_then(|r| r.face())
            .and_then(|f| f.face_id())
            .map(str::to_string)
            .ok_or_else(|| format!("IndexFaces indexed no face: {out:?}"))
    }
}
