//! What a stack runs, written on the stack as tags at every deploy: the workspace's version, the commit its
//! functions were built from, and the hash of the template, so `fleet status` can tell which release runs where.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const VERSION_TAG: &str = "riv:version";
pub const COMMIT_TAG: &str = "riv:commit";
pub const TEMPLATE_TAG: &str = "riv:template-sha256";

/// A release's identity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stamp {
    pub version: String,
    pub commit: String,
    /// The first 16 hex digits of the rendered template's SHA-256.
    pub template: String,
}

impl Stamp {
    /// The stamp of a template rendered as `yaml`, with functions built from `commit`.
    pub fn new(yaml: &str, commit: Option<&str>) -> Stamp {
        Stamp {
            version: env!("CARGO_PKG_VERSION").into(),
            commit: commit.unwrap_or("unknown").into(),
            template: hex::encode(Sha256::digest(yaml.as_bytes()))[..16].into(),
        }
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (VERSION_TAG.into(), self.version.clone()),
            (COMMIT_TAG.into(), self.commit.clone()),
            (TEMPLATE_TAG.into(), self.template.clone()),
        ])
    }

    /// The stamp a stack's tags carry; `None` for a stack deployed before stamps existed.
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Option<Stamp> {
        Some(Stamp {
            version: tags.get(VERSION_TAG)?.clone(),
            commit: tags.get(COMMIT_TAG)?.clone(),
            template: tags.get(TEMPLATE_TAG)?.clone(),
        })
    }
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, template {})",
            self.version, self.commit, self.template
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_from_its_tags_and_follows_the_template() {
        let stamp = Stamp::new("Resources: {}\n", Some("0123456789ab"));
        assert_eq!(Stamp::from_tags(&stamp.tags()), Some(stamp.clone()));
        assert_eq!(stamp.template.len(), 16);
        assert_ne!(
            Stamp::new("Resources: {A: 1}\n", None).template,
            stamp.template
        );
        assert_eq!(Stamp::new("x", None).commit, "unknown");
        assert_eq!(Stamp::from_tags(&BTreeMap::new()), None);
    }
}
