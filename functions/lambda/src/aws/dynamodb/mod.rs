//! [`FaceRecords`] over the DynamoDB face table: users (`PK` = `USER#<UserId>`, `SK` = `PROFILE` |
//! `FACE#<FaceId>`) and attempts (`PK` = `ATTEMPT#<AttemptId>`, `SK` = `ATTEMPT`). Every write is conditional.

use super::classify;
use crate::ports::{
    Attempt, Commit, FaceRecord, FaceRecords, Profile, ProfileChange, ServiceError,
    ServiceErrorKind,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use riv_domain::attempt::{self, AttemptStatus, ProfileStatus};
use riv_domain::guard::Counter;
use riv_domain::names::table as t;

mod items;

use items::*;

const SERVICE: &str = "dynamodb";

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

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, ServiceError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key(t::PK, s(pk))
            .key(t::SK, s(sk))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "GetItem", e))?;
        Ok(out.item().cloned())
    }

    /// All of a user's rows.
    async fn user_rows(&self, user_id: &str) -> Result<Vec<Item>, ServiceError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", t::PK)
                .expression_attribute_values(":pk", s(t::user_pk(user_id)))
                .set_exclusive_start_key(start)
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

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), ServiceError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(transact_error)?;
        Ok(())
    }
}

pub(crate) fn build_error(operation: &'static str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(SERVICE, operation, ServiceErrorKind::Other, e.to_string())
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
        let row = self.get(t::user_pk(user_id), t::PROFILE).await?;
        Ok(row.as_ref().and_then(parse_profile))
    }

    async fn faces(&self, user_id: &str) -> Result<Vec<FaceRecord>, ServiceError> {
        let rows = self.user_rows(user_id).await?;
        Ok(rows
            .iter()
            .filter(|i| is_face_row(i))
            .filter_map(parse_face)
            .collect())
    }

    async fn face(&self, user_id: &str, face_id: &str) -> Result<Option<FaceRecord>, ServiceError> {
        let row = self.get(t::user_pk(user_id), &t::face_sk(face_id)).await?;
        Ok(row.as_ref().and_then(parse_face))
    }

    async fn attempt(&self, attempt_id: &str) -> Result<Option<Attempt>, ServiceError> {
        let row = self.get(t::attempt_pk(attempt_id), t::ATTEMPT_SK).await?;
        Ok(row.as_ref().and_then(parse_attempt))
    }

    async fn begin(&self, attempt: &Attempt, claim: Option<&Profile>) -> Result<(), ServiceError> {
        let mut items = vec![put(
            &self.table,
            attempt_item(attempt),
            Condition::new("attribute_not_exists(PK) OR #status = :rolled_back")
                .name("#status", t::STATUS)
                .value(":rolled_back", s(AttemptStatus::RolledBack.as_str())),
        )?];
        if let Some(claim) = claim {
            items.push(put(
                &self.table,
                profile_item(claim),
                Condition::new(
                    "attribute_not_exists(PK) OR (#status = :pending AND #expires < :now)",
                )
                .name("#status", t::STATUS)
                .name("#expires", t::EXPIRES_AT_MS)
                .value(":pending", s(ProfileStatus::Pending.as_str()))
                .value(":now", n(attempt::now_ms())),
            )?);
        }
        self.transact(items).await
    }

    async fn record_face(
        &self,
        attempt_id: &str,
        face_id: &str,
        image_key: &str,
    ) -> Result<(), ServiceError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(t::PK, s(t::attempt_pk(attempt_id)))
            .key(t::SK, s(t::ATTEMPT_SK))
            .update_expression("SET #face = :face, #image = :image")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#face", t::FACE_ID)
            .expression_attribute_names("#image", t::IMAGE_KEY)
            .expression_attribute_names("#status", t::STATUS)
            .expression_attribute_values(":face", s(face_id))
            .expression_attribute_values(":image", s(image_key))
            .expression_attribute_values(":pending", s(AttemptStatus::Pending.as_str()))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "UpdateItem", e))?;
        Ok(())
    }

    async fn commit(&self, c: &Commit) -> Result<(), ServiceError> {
        let evicted: Vec<String> = c.evict.iter().map(|f| f.face.face_id.clone()).collect();
        let mut set = "SET #status = :committed, #purge = :purge".to_string();
        let mut condition = Condition::new(
            "#status = :pending AND #expires > :now AND attribute_not_exists(#beaten)",
        )
        .name("#status", t::STATUS)
        .name("#expires", t::EXPIRES_AT_MS)
        .name("#beaten", t::BEATEN_BY)
        .name("#purge", t::PURGE_AT)
        .value(":pending", s(AttemptStatus::Pending.as_str()))
        .value(":committed", s(AttemptStatus::Committed.as_str()))
        .value(":now", n(c.now_ms))
        .value(":purge", n(attempt::purge_at(c.now_ms)));
        if !evicted.is_empty() {
            // Noted on the attempt so whoever finishes the removal (or audits it) knows what went.
            set.push_str(", #evicted = :evicted");
            condition = condition
                .name("#evicted", t::EVICTED)
                .value(":evicted", AttributeValue::Ss(evicted));
        }
        let mut items = vec![update(
            &self.table,
            t::attempt_pk(&c.attempt_id),
            t::ATTEMPT_SK,
            &set,
            condition,
        )?];
        for old in &c.evict {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key(t::PK, s(t::user_pk(&old.user_id)))
                .key(t::SK, s(t::face_sk(&old.face.face_id)))
                .condition_expression("attribute_exists(PK)")
                .build()
                .map_err(|e| build_error("TransactWriteItems", e))?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        items.push(match &c.profile {
            ProfileChange::Create(profile) => put(
                &self.table,
                profile_item(profile),
                Condition::new("#status = :pending AND #attempt = :me")
                    .name("#status", t::STATUS)
                    .name("#attempt", t::ATTEMPT_ID)
                    .value(":pending", s(ProfileStatus::Pending.as_str()))
                    .value(":me", s(&c.attempt_id)),
            )?,
            ProfileChange::Update {
                properties,
                expected_version,
                updated_at,
            } => {
                let versioned = if *expected_version == 0 {
                    "#status = :active AND attribute_not_exists(#version)"
                } else {
                    "#status = :active AND #version = :expected"
                };
                let mut condition = Condition::new(versioned)
                    .name("#status", t::STATUS)
                    .name("#version", t::VERSION)
                    .name("#props", t::PROPERTIES)
                    .name("#updated", t::UPDATED_AT)
                    .value(":active", s(ProfileStatus::Active.as_str()))
                    .value(":next", n(expected_version + 1))
                    .value(":props", properties_value(properties))
                    .value(":updated", s(updated_at));
                if *expected_version != 0 {
                    condition = condition.value(":expected", n(*expected_version));
                }
                update(
                    &self.table,
                    t::user_pk(&c.face.user_id),
                    t::PROFILE,
                    "SET #props = :props, #version = :next, #updated = :updated",
                    condition,
                )?
            }
        });
        items.push(put(
            &self.table,
            face_item(&c.face),
            Condition::new("attribute_not_exists(PK)"),
        )?);
        for (user, face) in &c.passed_over {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .key(t::PK, s(t::user_pk(user)))
                .key(t::SK, s(t::face_sk(face)))
                .condition_expression("attribute_not_exists(PK)")
                .build()
                .map_err(|e| build_error("TransactWriteItems", e))?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        for defeated in &c.defeats {
            items.push(update(
                &self.table,
                t::attempt_pk(defeated),
                t::ATTEMPT_SK,
                "SET #beaten = :me",
                is_pending()
                    .name("#beaten", t::BEATEN_BY)
                    .value(":me", s(&c.attempt_id)),
            )?);
        }
        self.transact(items).await
    }

    async fn set_attempt_status(
        &self,
        attempt_id: &str,
        status: AttemptStatus,
    ) -> Result<(), ServiceError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(t::PK, s(t::attempt_pk(attempt_id)))
            .key(t::SK, s(t::ATTEMPT_SK))
            .condition_expression("attribute_exists(PK) AND #status <> :committed")
            .expression_attribute_names("#status", t::STATUS)
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":committed", s(AttemptStatus::Committed.as_str()));
        request = if status.is_final() {
            request
                .update_expression("SET #status = :status, #purge = :purge")
                .expression_attribute_names("#purge", t::PURGE_AT)
                .expression_attribute_values(":purge", n(attempt::purge_at(attempt::now_ms())))
        } else {
            request.update_expression("SET #status = :status")
        };
        request
            .send()
            .await
            .map_err(|e| classify(SERVICE, "UpdateItem", e))?;
        Ok(())
    }

    async fn release_claim(&self, user_id: &str, attempt_id: &str) -> Result<(), ServiceError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(t::PK, s(t::user_pk(user_id)))
            .key(t::SK, s(t::PROFILE))
            .condition_expression("#status = :pending AND #attempt = :me")
            .expression_attribute_names("#status", t::STATUS)
            .expression_attribute_names("#attempt", t::ATTEMPT_ID)
            .expression_attribute_values(":pending", s(ProfileStatus::Pending.as_str()))
            .expression_attribute_values(":me", s(attempt_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Gone, live, or another attempt's claim: nothing of ours to release.
            Err(e) => match classify(SERVICE, "DeleteItem", e) {
                lost if lost.kind == ServiceErrorKind::Conflict => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn guard_counter(&self, user_id: &str) -> Result<Option<Counter>, ServiceError> {
        let row = self.get(t::guard_pk(user_id), t::GUARD_SK).await?;
        Ok(row.as_ref().and_then(parse_guard))
    }

    async fn store_guard_counter(
        &self,
        user_id: &str,
        counter: &Counter,
        expected: Option<&Counter>,
    ) -> Result<(), ServiceError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(guard_item(user_id, counter)));
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(PK)"),
            Some(old) => request
                .condition_expression("#attempts = :attempts AND #window = :window")
                .expression_attribute_names("#attempts", t::ATTEMPTS)
                .expression_attribute_names("#window", t::WINDOW_ENDS_AT_MS)
                .expression_attribute_values(":attempts", n(old.attempts))
                .expression_attribute_values(":window", n(old.window_ends_at_ms)),
        };
        request
            .send()
            .await
            .map_err(|e| classify(SERVICE, "PutItem", e))?;
        Ok(())
    }

    async fn clear_guard_counter(&self, user_id: &str) -> Result<(), ServiceError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(t::PK, s(t::guard_pk(user_id)))
            .key(t::SK, s(t::GUARD_SK))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "DeleteItem", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_smithy_mocks::{mock, mock_client};
    use riv_domain::events::{IndexMode, Properties, WrittenFace, WrittenObject};

    fn profile() -> Profile {
        Profile {
            user_id: "ann@x.com".into(),
            status: ProfileStatus::Active,
            properties: [("dept".to_string(), "sales".to_string())].into(),
            id_card: Some(WrittenObject {
                key: "idcards/ann@x.com/a.png".into(),
                version_id: Some("v1".into()),
            }),
            id_card_data: Some(riv_domain::events::IdCardData {
                fields: [("LAST_NAME".to_string(), "LEE".to_string())].into(),
                method: "analyze-id".into(),
                read_at: "2026-11-26T00:00:00Z".into(),
            }),
            attempt_id: "a1".into(),
            created_at: "2026-11-26T00:00:00Z".into(),
            version: 3,
            expires_at_ms: 0,
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

    fn attempt() -> Attempt {
        Attempt {
            attempt_id: "a1".into(),
            user_id: "ann@x.com".into(),
            mode: IndexMode::Register,
            status: AttemptStatus::Pending,
            collection: "riv-1".into(),
            face_id: Some("f1".into()),
            image_key: Some("faces/ann@x.com/f1.png".into()),
            id_card_key: None,
            created_at: "2026-11-26T00:00:00Z".into(),
            expires_at_ms: 1_000,
            beaten_by: Some("a0".into()),
        }
    }

    #[test]
    fn rows_round_trip_through_items() {
        assert_eq!(parse_profile(&profile_item(&profile())), Some(profile()));
        let claim = Profile {
            status: ProfileStatus::Pending,
            expires_at_ms: 42,
            ..profile()
        };
        assert_eq!(parse_profile(&profile_item(&claim)), Some(claim));
        assert_eq!(parse_face(&face_item(&face())), Some(face()));
        assert_eq!(parse_attempt(&attempt_item(&attempt())), Some(attempt()));
        let row = face_item(&face());
        assert_eq!(text(&row, "PK").as_deref(), Some("USER#ann@x.com"));
        assert_eq!(text(&row, "SK").as_deref(), Some("FACE#f1"));
        let row = attempt_item(&attempt());
        assert_eq!(text(&row, "PK").as_deref(), Some("ATTEMPT#a1"));
    }

    #[test]
    fn a_profile_without_status_is_live() {
        let mut row = profile_item(&profile());
        row.remove(t::STATUS);
        row.remove(t::VERSION);
        let parsed = parse_profile(&row).unwrap();
        assert!(parsed.is_active());
        assert_eq!(parsed.version, 0);
    }

    fn canceled(reason: &'static str) -> TransactWriteItemsError {
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .meta(
                    ErrorMetadata::builder()
                        .code("TransactionCanceledException")
                        .build(),
                )
                .cancellation_reasons(CancellationReason::builder().code(reason).build())
                .cancellation_reasons(CancellationReason::builder().code("None").build())
                .build(),
        )
    }

    #[tokio::test]
    async fn a_lost_condition_is_a_conflict_and_other_cancellations_are_not() {
        let rule =
            mock!(Client::transact_write_items).then_error(|| canceled("ConditionalCheckFailed"));
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&rule]), "t");
        let err = records.begin(&attempt(), None).await.unwrap_err();
        assert_eq!(err.kind, ServiceErrorKind::Conflict);
        let rule =
            mock!(Client::transact_write_items).then_error(|| canceled("TransactionConflict"));
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&rule]), "t");
        let err = records.begin(&attempt(), None).await.unwrap_err();
        assert_ne!(err.kind, ServiceErrorKind::Conflict);
    }

    #[tokio::test]
    async fn begin_records_the_attempt_and_claims_the_user_in_one_transaction() {
        let rule = mock!(Client::transact_write_items)
            .match_requests(|r| {
                let items = r.transact_items();
                let conditions: Vec<_> = items
                    .iter()
                    .filter_map(|i| i.put().and_then(|p| p.condition_expression()))
                    .collect();
                conditions.len() == 2
                    && conditions[0].contains("attribute_not_exists(PK)")
                    && conditions[1].contains("#expires < :now")
            })
            .then_output(|| TransactWriteItemsOutput::builder().build());
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&rule]), "t");
        let claim = Profile {
            status: ProfileStatus::Pending,
            ..profile()
        };
        records.begin(&attempt(), Some(&claim)).await.unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_commit_is_conditional_on_every_item() {
        let rule = mock!(Client::transact_write_items)
            .match_requests(|r| {
                let items = r.transact_items();
                items.len() == 4
                    && items.iter().all(|i| {
                        i.put().and_then(|p| p.condition_expression()).is_some()
                            || i.update().and_then(|u| u.condition_expression()).is_some()
                    })
                    && items[1]
                        .update()
                        .and_then(|u| u.condition_expression())
                        .is_some_and(|c| c.contains("#version = :expected"))
            })
            .then_output(|| TransactWriteItemsOutput::builder().build());
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&rule]), "t");
        let commit = Commit {
            attempt_id: "a1".into(),
            face: face(),
            profile: ProfileChange::Update {
                properties: Properties::new(),
                expected_version: 3,
                updated_at: "t".into(),
            },
            defeats: vec!["a9".into()],
            passed_over: Vec::new(),
            evict: Vec::new(),
            now_ms: 5,
        };
        records.commit(&commit).await.unwrap();
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
}
