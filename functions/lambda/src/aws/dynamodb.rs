//! [`FaceRecords`] over the DynamoDB face table (`PK` = `USER#<UserId>`, `SK` = `PROFILE` | `FACE#<FaceId>`).

use super::classify;
use crate::ports::{AttemptRow, FaceRecord, FaceRecords, Profile, ServiceError, ServiceErrorKind};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use riv_domain::events::{Properties, RowKey, WrittenFace, WrittenObject};
use riv_domain::names::table as t;
use std::collections::HashMap;

const SERVICE: &str = "dynamodb";
type Item = HashMap<String, AttributeValue>;

pub struct DynamoRecords {
    client: Client,
    table: String,
}

impl DynamoRecords {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoRecords {
            client,
            table: table.into(),
        }
    }

    /// All of a user's rows, optionally only those one attempt wrote.
    async fn user_rows(
        &self,
        user_id: &str,
        attempt_id: Option<&str>,
    ) -> Result<Vec<Item>, ServiceError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", t::PK)
                .expression_attribute_values(":pk", s(t::user_pk(user_id)))
                .set_exclusive_start_key(start);
            if let Some(attempt) = attempt_id {
                query = query
                    .filter_expression("#attempt = :attempt")
                    .expression_attribute_names("#attempt", t::ATTEMPT_ID)
                    .expression_attribute_values(":attempt", s(attempt));
            }
            let out = query
                .send()
                .await
                .map_err(|e| classify(SERVICE, "Query", e))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn object(item: &Item, key: &str, version: &str) -> Option<WrittenObject> {
    Some(WrittenObject {
        key: text(item, key)?,
        version_id: text(item, version),
    })
}

fn put_object_attrs(item: &mut Item, key: &str, version: &str, object: &WrittenObject) {
    item.insert(key.to_string(), s(&object.key));
    if let Some(v) = &object.version_id {
        item.insert(version.to_string(), s(v));
    }
}

fn properties_value(properties: &Properties) -> AttributeValue {
    AttributeValue::M(properties.iter().map(|(k, v)| (k.clone(), s(v))).collect())
}

pub(crate) fn profile_item(p: &Profile) -> Item {
    let mut item: Item = [
        (t::PK, s(t::user_pk(&p.user_id))),
        (t::SK, s(t::PROFILE)),
        (t::STATUS, s("Active")),
        (t::ATTEMPT_ID, s(&p.attempt_id)),
        (t::CREATED_AT, s(&p.created_at)),
        (t::PROPERTIES, properties_value(&p.properties)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(card) = &p.id_card {
        put_object_attrs(&mut item, t::ID_CARD_KEY, t::ID_CARD_VERSION, card);
    }
    item
}

pub(crate) fn face_item(f: &FaceRecord) -> Item {
    let mut item: Item = [
        (t::PK, s(t::user_pk(&f.user_id))),
        (t::SK, s(t::face_sk(&f.face.face_id))),
        (t::COLLECTION, s(&f.face.collection)),
        (t::FACE_ID, s(&f.face.face_id)),
        (t::ATTEMPT_ID, s(&f.attempt_id)),
        (t::CREATED_AT, s(&f.created_at)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    put_object_attrs(&mut item, t::IMAGE_KEY, t::IMAGE_VERSION, &f.image);
    item
}

fn user_of(item: &Item) -> Option<String> {
    text(item, t::PK)?
        .strip_prefix(t::USER_PREFIX)
        .map(str::to_string)
}

pub(crate) fn parse_profile(item: &Item) -> Option<Profile> {
    let properties = match item.get(t::PROPERTIES) {
        Some(AttributeValue::M(map)) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
            .collect(),
        _ => Properties::new(),
    };
    Some(Profile {
        user_id: user_of(item)?,
        properties,
        id_card: object(item, t::ID_CARD_KEY, t::ID_CARD_VERSION),
        attempt_id: text(item, t::ATTEMPT_ID).unwrap_or_default(),
        created_at: text(item, t::CREATED_AT).unwrap_or_default(),
    })
}

pub(crate) fn parse_face(item: &Item) -> Option<FaceRecord> {
    Some(FaceRecord {
        user_id: user_of(item)?,
        face: WrittenFace {
            collection: text(item, t::COLLECTION)?,
            face_id: text(item, t::FACE_ID)?,
        },
        image: object(item, t::IMAGE_KEY, t::IMAGE_VERSION)?,
        attempt_id: text(item, t::ATTEMPT_ID).unwrap_or_default(),
        created_at: text(item, t::CREATED_AT).unwrap_or_default(),
    })
}

fn is_face_row(item: &Item) -> bool {
    text(item, t::SK).is_some_and(|sk| sk.starts_with(t::FACE_PREFIX))
}

fn build_error(operation: &'static str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(SERVICE, operation, ServiceErrorKind::Other, e.to_string())
}

fn put(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, ServiceError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(|e| build_error("TransactWriteItems", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A transaction that lost a condition is a `Conflict`; anything else keeps its own kind.
fn transact_error(
    error: aws_sdk_dynamodb::error::SdkError<
        TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> ServiceError {
    let lost_condition = match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    };
    let mut service_error = classify(SERVICE, "TransactWriteItems", error);
    if lost_condition {
        service_error.kind = ServiceErrorKind::Conflict;
    }
    service_error
}

#[async_trait]
impl FaceRecords for DynamoRecords {
    async fn profile(&self, user_id: &str) -> Result<Option<Profile>, ServiceError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key(t::PK, s(t::user_pk(user_id)))
            .key(t::SK, s(t::PROFILE))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "GetItem", e))?;
        Ok(out.item().and_then(parse_profile))
    }

    async fn faces(&self, user_id: &str) -> Result<Vec<FaceRecord>, ServiceError> {
        let rows = self.user_rows(user_id, None).await?;
        Ok(rows
            .iter()
            .filter(|i| is_face_row(i))
            .filter_map(parse_face)
            .collect())
    }

    async fn create_user(&self, profile: &Profile, face: &FaceRecord) -> Result<(), ServiceError> {
        let absent = "attribute_not_exists(PK)";
        self.client
            .transact_write_items()
            .transact_items(put(&self.table, profile_item(profile), absent)?)
            .transact_items(put(&self.table, face_item(face), absent)?)
            .send()
            .await
            .map_err(transact_error)?;
        Ok(())
    }

    async fn add_face(
        &self,
        face: &FaceRecord,
        properties: &Properties,
        updated_at: &str,
    ) -> Result<(), ServiceError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key(t::PK, s(t::user_pk(&face.user_id)))
            .key(t::SK, s(t::PROFILE))
            .condition_expression("attribute_exists(PK)")
            .update_expression("SET #props = :props, #updated = :updated")
            .expression_attribute_names("#props", t::PROPERTIES)
            .expression_attribute_names("#updated", t::UPDATED_AT)
            .expression_attribute_values(":props", properties_value(properties))
            .expression_attribute_values(":updated", s(updated_at))
            .build()
            .map_err(|e| build_error("TransactWriteItems", e))?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(put(
                &self.table,
                face_item(face),
                "attribute_not_exists(PK)",
            )?)
            .send()
            .await
            .map_err(transact_error)?;
        Ok(())
    }

    async fn delete_row(&self, key: &RowKey) -> Result<(), ServiceError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(t::PK, s(&key.pk))
            .key(t::SK, s(&key.sk))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "DeleteItem", e))?;
        Ok(())
    }

    async fn acquire_lock(
        &self,
        name: &str,
        owner: &str,
        lease: std::time::Duration,
    ) -> Result<bool, ServiceError> {
        let now = now_millis();
        let expires = now + lease.as_millis() as u64;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(t::PK, s(format!("{}{name}", t::LOCK_PREFIX)))
            .item(t::SK, s(t::LOCK_SK))
            .item(t::LOCK_OWNER, s(owner))
            .item(t::LOCK_EXPIRES, AttributeValue::N(expires.to_string()))
            // Free, or held on a lease that ran out (its holder died).
            .condition_expression("attribute_not_exists(PK) OR #expires < :now")
            .expression_attribute_names("#expires", t::LOCK_EXPIRES)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match classify(SERVICE, "PutItem", e) {
                held if held.kind == ServiceErrorKind::Conflict => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), ServiceError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(t::PK, s(format!("{}{name}", t::LOCK_PREFIX)))
            .key(t::SK, s(t::LOCK_SK))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", t::LOCK_OWNER)
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else holds it now (our lease ran out): nothing of ours to release.
            Err(e) => match classify(SERVICE, "DeleteItem", e) {
                lost if lost.kind == ServiceErrorKind::Conflict => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn rows_of_attempt(
        &self,
        user_id: &str,
        attempt_id: &str,
    ) -> Result<Vec<AttemptRow>, ServiceError> {
        let rows = self.user_rows(user_id, Some(attempt_id)).await?;
        Ok(rows
            .iter()
            .filter_map(|item| {
                let key = RowKey {
                    pk: text(item, t::PK)?,
                    sk: text(item, t::SK)?,
                };
                if is_face_row(item) {
                    let face = parse_face(item)?;
                    Some(AttemptRow {
                        key,
                        face: Some(face.face),
                        objects: vec![face.image],
                    })
                } else {
                    let profile = parse_profile(item)?;
                    Some(AttemptRow {
                        key,
                        face: None,
                        objects: profile.id_card.into_iter().collect(),
                    })
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_smithy_mocks::{mock, mock_client};

    fn profile() -> Profile {
        Profile {
            user_id: "ann@x.com".into(),
            properties: [("dept".to_string(), "sales".to_string())].into(),
            id_card: Some(WrittenObject {
                key: "idcards/ann@x.com/a.png".into(),
                version_id: Some("v1".into()),
            }),
            attempt_id: "a1".into(),
            created_at: "2026-11-26T00:00:00Z".into(),
        }
    }

    fn face() -> FaceRecord {
        FaceRecord {
            user_id: "ann@x.com".into(),
            face: WrittenFace {
                collection: "riv-1".into(),
                face_id: "f1".into(),
            },
            image: WrittenObject {
                key: "faces/ann@x.com/f1.png".into(),
                version_id: None,
            },
            attempt_id: "a1".into(),
            created_at: "2026-11-26T00:00:00Z".into(),
        }
    }

    #[test]
    fn rows_round_trip_through_items() {
        assert_eq!(parse_profile(&profile_item(&profile())), Some(profile()));
        assert_eq!(parse_face(&face_item(&face())), Some(face()));
        let item = face_item(&face());
        assert_eq!(text(&item, "PK").as_deref(), Some("USER#ann@x.com"));
        assert_eq!(text(&item, "SK").as_deref(), Some("FACE#f1"));
    }

    #[tokio::test]
    async fn a_lost_condition_is_a_conflict() {
        let rule = mock!(Client::transact_write_items).then_error(|| {
            TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("TransactionCanceledException")
                            .build(),
                    )
                    .cancellation_reasons(
                        CancellationReason::builder()
                            .code("ConditionalCheckFailed")
                            .build(),
                    )
                    .cancellation_reasons(CancellationReason::builder().code("None").build())
                    .build(),
            )
        });
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&rule]), "t");
        let err = records.create_user(&profile(), &face()).await.unwrap_err();
        assert_eq!(err.kind, ServiceErrorKind::Conflict);
    }

    #[tokio::test]
    async fn a_transaction_that_writes_both_rows_conditionally() {
        let rule = mock!(Client::transact_write_items)
            .match_requests(|r| {
                let items = r.transact_items();
                items.len() == 2
                    && items.iter().all(|i| {
                        i.put().is_some_and(|p| p.condition_expression() == Some("attribute_not_exists(PK)"))
                    })
            })
            .then_output(|| aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput::builder().build());
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&rule]), "t");
        records.create_user(&profile(), &face()).await.unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn reads_profile_and_only_face_rows() {
        let get = mock!(Client::get_item).then_output(|| {
            GetItemOutput::builder()
                .set_item(Some(profile_item(&profile())))
                .build()
        });
        let query = mock!(Client::query).then_output(|| {
            QueryOutput::builder()
                .items(profile_item(&profile()))
                .items(face_item(&face()))
                .build()
        });
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&get, &query]), "t");
        assert_eq!(records.profile("ann@x.com").await.unwrap(), Some(profile()));
        assert_eq!(records.faces("ann@x.com").await.unwrap(), vec![face()]);
    }

    #[tokio::test]
    async fn attempt_rows_name_their_face_and_objects() {
        let query = mock!(Client::query)
            .match_requests(|r| r.filter_expression() == Some("#attempt = :attempt"))
            .then_output(|| {
                QueryOutput::builder()
                    .items(profile_item(&profile()))
                    .items(face_item(&face()))
                    .build()
            });
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&query]), "t");
        let rows = records.rows_of_attempt("ann@x.com", "a1").await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].objects, vec![profile().id_card.unwrap()]);
        assert_eq!(rows[1].face, Some(face().face));
    }
}
