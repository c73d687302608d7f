//! `reconcile`: reads a stack's table, collections and image bucket, finds what breaks the data invariants
//! (faces and images without a live record, records pointing at missing faces or images, unfinished attempts,
//! stale claims) and fixes them. The same survey is the invariant checker of the end-to-end tests.

mod judge;

pub use judge::{
    judge, AttemptRow, CollectionFace, FaceRow, Finding, Fix, Inventory, Kind, ProfileRow,
    StoredObject,
};

use crate::buckets::{delete_versions, for_each_version, version_ids};
use crate::stack::{aws, gone_is_fine, DeployError};
use crate::Target;
use aws_sdk_dynamodb::types::AttributeValue;
use riv_domain::attempt::{self, AttemptStatus, ProfileStatus};
use riv_domain::names::{bucket, table as t};
use std::collections::{BTreeMap, HashMap};

/// Where a stack keeps its data, from its outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct StackData {
    pub table: String,
    pub bucket: String,
    pub collections: Vec<String>,
}

impl StackData {
    /// Reads the stack's `FaceTable`, `ImageBucket` and `Collections` outputs.
    pub async fn of(target: &Target, stack: &str) -> Result<StackData, DeployError> {
        let outputs = crate::stack::outputs(target, stack).await?;
        StackData::from_outputs(stack, &outputs)
    }

    pub fn from_outputs(
        stack: &str,
        outputs: &BTreeMap<String, String>,
    ) -> Result<StackData, DeployError> {
        let get = |key: &str| {
            outputs.get(key).cloned().ok_or_else(|| {
                DeployError::Other(format!(
                    "stack {stack} has no {key} output: is it a Riv stack, and fully deployed?"
                ))
            })
        };
        Ok(StackData {
            table: get(riv_infra::names::output::FACE_TABLE)?,
            bucket: get(riv_infra::names::output::IMAGE_BUCKET)?,
            collections: get(riv_infra::names::output::COLLECTIONS)?
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

type Item = HashMap<String, AttributeValue>;

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Sorts one table item into the inventory; rows it does not know are left out.
fn file_item(item: &Item, inventory: &mut Inventory) {
    let (Some(pk), Some(sk)) = (text(item, t::PK), text(item, t::SK)) else {
        return;
    };
    if let Some(attempt_id) = pk.strip_prefix(t::ATTEMPT_PREFIX) {
        let status = text(item, t::STATUS).and_then(|s| AttemptStatus::parse(&s));
        if let (Some(status), Some(user_id)) = (status, text(item, t::USER_ID)) {
            inventory.attempts.push(AttemptRow {
                attempt_id: attempt_id.to_string(),
                user_id,
                register: text(item, t::MODE).as_deref() == Some("Register"),
                status,
                collection: text(item, t::COLLECTION).unwrap_or_default(),
                face_id: text(item, t::FACE_ID),
                image_key: text(item, t::IMAGE_KEY),
                id_card_key: text(item, t::ID_CARD_KEY),
                expires_at_ms: number(item, t::EXPIRES_AT_MS).unwrap_or(0),
            });
        }
        return;
    }
    let Some(user_id) = pk.strip_prefix(t::USER_PREFIX).map(str::to_string) else {
        return;
    };
    if sk == t::PROFILE {
        inventory.profiles.push(ProfileRow {
            pending: text(item, t::STATUS).as_deref() == Some(ProfileStatus::Pending.as_str()),
            attempt_id: text(item, t::ATTEMPT_ID).unwrap_or_default(),
            id_card_key: text(item, t::ID_CARD_KEY),
            expires_at_ms: number(item, t::EXPIRES_AT_MS).unwrap_or(0),
            user_id,
        });
    } else if sk.starts_with(t::FACE_PREFIX) {
        inventory.faces.push(FaceRow {
            face_id: text(item, t::FACE_ID).unwrap_or_default(),
            collection: text(item, t::COLLECTION).unwrap_or_default(),
            image_key: text(item, t::IMAGE_KEY).unwrap_or_default(),
            user_id,
        });
    }
}

/// Reads everything the invariants speak of. Fails when any of it cannot be read: a partial inventory would
/// make live data look orphaned.
pub async fn survey(target: &Target, data: &StackData) -> Result<Inventory, DeployError> {
    let mut inventory = Inventory::default();
    let mut start = None;
    loop {
        let page = target
            .dynamodb
            .scan()
            .table_name(&data.table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(aws("dynamodb Scan of the face table"))?;
        for item in page.items() {
            file_item(item, &mut inventory);
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    for collection in &data.collections {
        let mut token = None;
        loop {
            let page = target
                .rekognition
                .list_faces()
                .collection_id(collection)
                .set_next_token(token)
                .send()
                .await
                .map_err(aws("rekognition ListFaces"))?;
            inventory
                .collection_faces
                .extend(page.faces().iter().filter_map(|f| {
                    Some(CollectionFace {
                        collection: collection.clone(),
                        face_id: f.face_id()?.to_string(),
                        external_image_id: f.external_image_id().map(str::to_string),
                    })
                }));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    let mut objects: BTreeMap<String, StoredObject> = BTreeMap::new();
    for prefix in [bucket::FACES_PREFIX, bucket::IDCARDS_PREFIX] {
        for_each_version(target, &data.bucket, Some(prefix), |v| {
            let entry = objects.entry(v.key.clone()).or_insert(StoredObject {
                key: v.key,
                versions: 0,
                current: false,
                modified_secs: 0,
            });
            entry.versions += 1;
            entry.current |= v.current;
            entry.modified_secs = entry.modified_secs.max(v.modified);
        })
        .await?;
    }
    inventory.objects = objects.into_values().collect();
    Ok(inventory)
}

/// Surveys and judges in one go: the invariant checker.
pub async fn check(target: &Target, data: &StackData) -> Result<Vec<Finding>, DeployError> {
    let inventory = survey(target, data).await?;
    Ok(judge(&inventory, attempt::now_ms()))
}

/// Applies one finding's fix. Already gone counts as done; a finished attempt is marked rolled back only after
/// every delete it needs went through.
pub async fn fix(target: &Target, data: &StackData, fix: &Fix) -> Result<(), DeployError> {
    match fix {
        Fix::DeleteFace {
            collection,
            face_id,
        } => {
            let result = target
                .rekognition
                .delete_faces()
                .collection_id(collection)
                .face_ids(face_id)
                .send()
                .await;
            gone_is_fine(
                result,
                "ResourceNotFoundException",
                "rekognition DeleteFaces",
            )
        }
        Fix::DeleteObject { key } => {
            let ids = version_ids(target, &data.bucket, Some(key)).await?;
            delete_versions(target, &data.bucket, ids).await.map(|_| ())
        }
        Fix::ReleaseClaim {
            user_id,
            attempt_id,
        } => {
            let result = target
                .dynamodb
                .delete_item()
                .table_name(&data.table)
                .key(t::PK, AttributeValue::S(t::user_pk(user_id)))
                .key(t::SK, AttributeValue::S(t::PROFILE.into()))
                .condition_expression("#status = :pending AND #attempt = :attempt")
                .expression_attribute_names("#status", t::STATUS)
                .expression_attribute_names("#attempt", t::ATTEMPT_ID)
                .expression_attribute_values(
                    ":pending",
                    AttributeValue::S(ProfileStatus::Pending.as_str().into()),
                )
                .expression_attribute_values(":attempt", AttributeValue::S(attempt_id.clone()))
                .send()
                .await;
            // Not a claim of that attempt any more (taken over, committed, gone): nothing to release.
            gone_is_fine(
                result,
                "ConditionalCheckFailedException",
                "dynamodb DeleteItem",
            )
        }
        Fix::DeleteRecord {
            user_id,
            face_id,
            collection,
            image_key,
        } => {
            target
                .dynamodb
                .delete_item()
                .table_name(&data.table)
                .key(t::PK, AttributeValue::S(t::user_pk(user_id)))
                .key(t::SK, AttributeValue::S(t::face_sk(face_id)))
                .send()
                .await
                .map_err(aws("dynamodb DeleteItem"))?;
            let face = Fix::DeleteFace {
                collection: collection.clone(),
                face_id: face_id.clone(),
            };
            Box::pin(self::fix(target, data, &face)).await?;
            let image = Fix::DeleteObject {
                key: image_key.clone(),
            };
            Box::pin(self::fix(target, data, &image)).await
        }
        Fix::FinishAttempt {
            attempt_id,
            deletes,
        } => {
            for step in deletes {
                Box::pin(self::fix(target, data, step)).await?;
            }
            let result = target
                .dynamodb
                .update_item()
                .table_name(&data.table)
                .key(t::PK, AttributeValue::S(t::attempt_pk(attempt_id)))
                .key(t::SK, AttributeValue::S(t::ATTEMPT_SK.into()))
                .update_expression("SET #status = :rolled_back, #purge = :purge")
                .condition_expression("#status <> :committed")
                .expression_attribute_names("#status", t::STATUS)
                .expression_attribute_names("#purge", t::PURGE_AT)
                .expression_attribute_values(
                    ":rolled_back",
                    AttributeValue::S(AttemptStatus::RolledBack.as_str().into()),
                )
                .expression_attribute_values(
                    ":committed",
                    AttributeValue::S(AttemptStatus::Committed.as_str().into()),
                )
                .expression_attribute_values(
                    ":purge",
                    AttributeValue::N(attempt::purge_at(attempt::now_ms()).to_string()),
                )
                .send()
                .await;
            gone_is_fine(
                result,
                "ConditionalCheckFailedException",
                "dynamodb UpdateItem",
            )
        }
    }
}

/// What a reconcile run did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub fixed: usize,
    /// Findings whose fix failed, with the reason; the others are still fixed.
    pub failed: Vec<(String, String)>,
}

/// Fixes every finding, going on past failures.
pub async fn apply(target: &Target, data: &StackData, findings: &[Finding]) -> Outcome {
    let mut outcome = Outcome::default();
    for finding in findings {
        match fix(target, data, &finding.fix).await {
            Ok(()) => outcome.fixed += 1,
            Err(e) => outcome.failed.push((finding.id.clone(), e.to_string())),
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| {
                let value = if *k == t::EXPIRES_AT_MS {
                    AttributeValue::N(v.to_string())
                } else {
                    AttributeValue::S(v.to_string())
                };
                (k.to_string(), value)
            })
            .collect()
    }

    #[test]
    fn table_items_are_filed_by_their_keys() {
        let mut inv = Inventory::default();
        file_item(
            &item(&[
                ("PK", "USER#ann"),
                ("SK", "PROFILE"),
                ("Status", "Pending"),
                ("AttemptId", "a1"),
                ("ExpiresAtMs", "7"),
            ]),
            &mut inv,
        );
        file_item(
            &item(&[
                ("PK", "USER#ann"),
                ("SK", "FACE#f1"),
                ("FaceId", "f1"),
                ("Collection", "c-1"),
                ("ImageKey", "faces/ann/f1.png"),
            ]),
            &mut inv,
        );
        file_item(
            &item(&[
                ("PK", "ATTEMPT#a1"),
                ("SK", "ATTEMPT"),
                ("UserId", "ann"),
                ("Mode", "Register"),
                ("Status", "Aborted"),
                ("Collection", "c-1"),
                ("ExpiresAtMs", "9"),
            ]),
            &mut inv,
        );
        file_item(
            &item(&[("PK", "LOCK#registration"), ("SK", "LOCK")]),
            &mut inv,
        );
        // Lockout counters are nobody's data: a counter without a user is no broken record.
        file_item(
            &item(&[("PK", "GUARD#ghost"), ("SK", "GUARD"), ("Attempts", "3")]),
            &mut inv,
        );
        assert!(inv.profiles[0].pending && inv.profiles[0].expires_at_ms == 7);
        assert_eq!(inv.faces[0].image_key, "faces/ann/f1.png");
        assert_eq!(inv.attempts[0].status, AttemptStatus::Aborted);
        assert!(inv.attempts[0].register);
        assert_eq!(inv.attempts.len() + inv.faces.len() + inv.profiles.len(), 3);
    }

    #[test]
    fn outputs_name_the_data_or_the_error_says_which_is_missing() {
        let outputs: BTreeMap<String, String> = [
            ("FaceTable", "t"),
            ("ImageBucket", "b"),
            ("Collections", "s-1,s-2"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let data = StackData::from_outputs("s", &outputs).unwrap();
        assert_eq!(data.collections, ["s-1", "s-2"]);
        let err = StackData::from_outputs("s", &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("no FaceTable output"), "{err}");
    }
}
