//! Table items: how profiles, faces and attempts are written as DynamoDB items and read back, and the
//! conditional transaction items the writes are made of.

use super::build_error;
use crate::ports::{Attempt, FaceRecord, Profile, ServiceError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use riv_domain::attempt::{AttemptStatus, ProfileStatus};
use riv_domain::events::{IdCardData, IndexMode, Properties, WrittenFace, WrittenObject};
use riv_domain::guard::Counter;
use riv_domain::names::table as t;
use std::collections::HashMap;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

pub(crate) fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
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

pub(crate) fn properties_value(properties: &Properties) -> AttributeValue {
    AttributeValue::M(properties.iter().map(|(k, v)| (k.clone(), s(v))).collect())
}

fn item(pairs: impl IntoIterator<Item = (&'static str, AttributeValue)>) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn mode_name(mode: IndexMode) -> &'static str {
    match mode {
        IndexMode::Register => "Register",
        IndexMode::Update => "Update",
    }
}

pub(crate) fn profile_item(p: &Profile) -> Item {
    let mut row = item([
        (t::PK, s(t::user_pk(&p.user_id))),
        (t::SK, s(t::PROFILE)),
        (t::STATUS, s(p.status.as_str())),
        (t::ATTEMPT_ID, s(&p.attempt_id)),
        (t::CREATED_AT, s(&p.created_at)),
        (t::PROPERTIES, properties_value(&p.properties)),
        (t::VERSION, n(p.version)),
    ]);
    if p.status == ProfileStatus::Pending {
        row.insert(t::EXPIRES_AT_MS.into(), n(p.expires_at_ms));
    }
    if let Some(card) = &p.id_card {
        put_object_attrs(&mut row, t::ID_CARD_KEY, t::ID_CARD_VERSION, card);
    }
    if let Some(data) = &p.id_card_data {
        row.insert(t::ID_CARD_FIELDS.into(), properties_value(&data.fields));
        row.insert(t::ID_CARD_METHOD.into(), s(&data.method));
        row.insert(t::ID_CARD_READ_AT.into(), s(&data.read_at));
    }
    row
}

pub(crate) fn guard_item(user_id: &str, c: &Counter) -> Item {
    item([
        (t::PK, s(t::guard_pk(user_id))),
        (t::SK, s(t::GUARD_SK)),
        (t::ATTEMPTS, n(c.attempts)),
        (t::WINDOW_ENDS_AT_MS, n(c.window_ends_at_ms)),
        (t::PURGE_AT, n(riv_domain::guard::purge_at(c))),
    ])
}

pub(crate) fn parse_guard(item: &Item) -> Option<Counter> {
    Some(Counter {
        attempts: number(item, t::ATTEMPTS)?,
        window_ends_at_ms: number(item, t::WINDOW_ENDS_AT_MS)?,
    })
}

fn string_map(item: &Item, name: &str) -> Option<Properties> {
    match item.get(name) {
        Some(AttributeValue::M(map)) => Some(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
                .collect(),
        ),
        _ => None,
    }
}

pub(crate) fn face_item(f: &FaceRecord) -> Item {
    let mut row = item([
        (t::PK, s(t::user_pk(&f.user_id))),
        (t::SK, s(t::face_sk(&f.face.face_id))),
        (t::COLLECTION, s(&f.face.collection)),
        (t::FACE_ID, s(&f.face.face_id)),
        (t::ATTEMPT_ID, s(&f.attempt_id)),
        (t::CREATED_AT, s(&f.created_at)),
    ]);
    put_object_attrs(&mut row, t::IMAGE_KEY, t::IMAGE_VERSION, &f.image);
    row
}

pub(crate) fn attempt_item(a: &Attempt) -> Item {
    let mut row = item([
        (t::PK, s(t::attempt_pk(&a.attempt_id))),
        (t::SK, s(t::ATTEMPT_SK)),
        (t::USER_ID, s(&a.user_id)),
        (t::MODE, s(mode_name(a.mode))),
        (t::STATUS, s(a.status.as_str())),
        (t::COLLECTION, s(&a.collection)),
        (t::CREATED_AT, s(&a.created_at)),
        (t::EXPIRES_AT_MS, n(a.expires_at_ms)),
    ]);
    let optional = [
        (t::FACE_ID, &a.face_id),
        (t::IMAGE_KEY, &a.image_key),
        (t::ID_CARD_KEY, &a.id_card_key),
        (t::BEATEN_BY, &a.beaten_by),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            row.insert(name.to_string(), s(v));
        }
    }
    row
}

fn user_of(item: &Item) -> Option<String> {
    text(item, t::PK)?
        .strip_prefix(t::USER_PREFIX)
        .map(str::to_string)
}

pub(crate) fn parse_profile(item: &Item) -> Option<Profile> {
    let properties = string_map(item, t::PROPERTIES).unwrap_or_default();
    let id_card_data = string_map(item, t::ID_CARD_FIELDS).map(|fields| IdCardData {
        fields,
        method: text(item, t::ID_CARD_METHOD).unwrap_or_default(),
        read_at: text(item, t::ID_CARD_READ_AT).unwrap_or_default(),
    });
    // Rows written before claims existed carry no status: they are live.
    let status = match text(item, t::STATUS) {
        Some(status) => ProfileStatus::parse(&status)?,
        None => ProfileStatus::Active,
    };
    Some(Profile {
        user_id: user_of(item)?,
        status,
        properties,
        id_card: object(item, t::ID_CARD_KEY, t::ID_CARD_VERSION),
        id_card_data,
        attempt_id: text(item, t::ATTEMPT_ID).unwrap_or_default(),
        created_at: text(item, t::CREATED_AT).unwrap_or_default(),
        version: number(item, t::VERSION).unwrap_or(0),
        expires_at_ms: number(item, t::EXPIRES_AT_MS).unwrap_or(0),
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

pub(crate) fn parse_attempt(item: &Item) -> Option<Attempt> {
    let mode = match text(item, t::MODE)?.as_str() {
        "Register" => IndexMode::Register,
        "Update" => IndexMode::Update,
        _ => return None,
    };
    Some(Attempt {
        attempt_id: text(item, t::PK)?
            .strip_prefix(t::ATTEMPT_PREFIX)?
            .to_string(),
        user_id: text(item, t::USER_ID)?,
        mode,
        status: AttemptStatus::parse(&text(item, t::STATUS)?)?,
        collection: text(item, t::COLLECTION)?,
        face_id: text(item, t::FACE_ID),
        image_key: text(item, t::IMAGE_KEY),
        id_card_key: text(item, t::ID_CARD_KEY),
        created_at: text(item, t::CREATED_AT).unwrap_or_default(),
        expires_at_ms: number(item, t::EXPIRES_AT_MS)?,
        beaten_by: text(item, t::BEATEN_BY),
    })
}

pub(crate) fn is_face_row(item: &Item) -> bool {
    text(item, t::SK).is_some_and(|sk| sk.starts_with(t::FACE_PREFIX))
}

/// A conditional expression with its names and values, for one transaction item.
pub(crate) struct Condition {
    expression: String,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
}

impl Condition {
    pub(crate) fn new(expression: &str) -> Self {
        Condition {
            expression: expression.to_string(),
            names: Vec::new(),
            values: Vec::new(),
        }
    }

    pub(crate) fn name(mut self, placeholder: &'static str, attribute: &'static str) -> Self {
        self.names.push((placeholder, attribute));
        self
    }

    pub(crate) fn value(mut self, placeholder: &'static str, value: AttributeValue) -> Self {
        self.values.push((placeholder, value));
        self
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| {
            self.names
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| {
            self.values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        })
    }
}

pub(crate) fn put(
    table: &str,
    row: Item,
    condition: Condition,
) -> Result<TransactWriteItem, ServiceError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(row))
        .condition_expression(&condition.expression)
        .set_expression_attribute_names(condition.names())
        .set_expression_attribute_values(condition.values())
        .build()
        .map_err(|e| build_error("TransactWriteItems", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub(crate) fn update(
    table: &str,
    pk: String,
    sk: &str,
    set: &str,
    condition: Condition,
) -> Result<TransactWriteItem, ServiceError> {
    let update = Update::builder()
        .table_name(table)
        .key(t::PK, s(pk))
        .key(t::SK, s(sk))
        .update_expression(set)
        .condition_expression(&condition.expression)
        .set_expression_attribute_names(condition.names())
        .set_expression_attribute_values(condition.values())
        .build()
        .map_err(|e| build_error("TransactWriteItems", e))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

pub(crate) fn is_pending() -> Condition {
    Condition::new("#status = :pending")
        .name("#status", t::STATUS)
        .value(":pending", s(AttemptStatus::Pending.as_str()))
}
