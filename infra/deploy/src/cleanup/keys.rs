//! The KMS keys Riv stacks make (`KmsKey=create`): found by their `riv:stack` tag, and scheduled for deletion
//! once the stack and everything the key encrypted are gone. A key given to a stack by ARN carries no such tag
//! (unless its owner tagged it so) and is never touched.

use super::plan::Found;
use crate::stack::{aws, DeployError};
use crate::Target;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{KeyManagerType, KeyState};
use riv_infra::names::{KEY_DELETION_WINDOW_DAYS, STACK_TAG};

/// Customer-managed keys of the region tagged `riv:stack`, not already pending deletion.
pub async fn tagged_keys(target: &Target) -> Result<Vec<Found>, DeployError> {
    let kms = &target.kms;
    let mut ids = Vec::new();
    let mut pages = kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("kms ListKeys"))?;
        ids.extend(
            page.keys()
                .iter()
                .filter_map(|k| k.key_arn())
                .map(str::to_string),
        );
    }
    let mut found = Vec::new();
    for arn in ids {
        // A key deleted meanwhile, or one this identity may not describe, is not provably Riv's.
        let Ok(described) = kms.describe_key().key_id(&arn).send().await else {
            continue;
        };
        let Some(metadata) = described.key_metadata() else {
            continue;
        };
        let pending = matches!(
            metadata.key_state(),
            Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
        );
        if metadata.key_manager() != Some(&KeyManagerType::Customer) || pending {
            continue;
        }
        let Ok(tags) = kms.list_resource_tags().key_id(&arn).send().await else {
            continue;
        };
        let Some(stack) = tags
            .tags()
            .iter()
            .find(|t| t.tag_key() == STACK_TAG)
            .map(|t| t.tag_value().to_string())
        else {
            continue;
        };
        found.push(Found {
            name: arn,
            stack_tag: Some(stack),
            created: metadata.creation_date().map(|d| d.secs()),
            ..Found::default()
        });
    }
    Ok(found)
}

/// Schedules the key's deletion after [`KEY_DELETION_WINDOW_DAYS`]; a key already scheduled, or gone, counts
/// as done.
pub async fn schedule_deletion(target: &Target, key: &str) -> Result<(), DeployError> {
    let result = target
        .kms
        .schedule_key_deletion()
        .key_id(key)
        .pending_window_in_days(KEY_DELETION_WINDOW_DAYS)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("NotFoundException") => Ok(()),
        Err(e) if e.code() == Some("KMSInvalidStateException") => {
            let state = target
                .kms
                .describe_key()
                .key_id(key)
                .send()
                .await
                .ok()
                .and_then(|d| d.key_metadata().and_then(|m| m.key_state().cloned()));
            if state == Some(KeyState::PendingDeletion) {
                Ok(())
            } else {
                Err(aws(&format!("kms ScheduleKeyDeletion {key}"))(e))
            }
        }
        Err(e) => Err(aws(&format!("kms ScheduleKeyDeletion {key}"))(e)),
    }
}
