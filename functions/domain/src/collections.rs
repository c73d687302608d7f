//! Which Rekognition collection holds a user's faces, and how a UserId is carried in a face's
//! ExternalImageId. Both must be stable across processes, deployments and languages.

use crate::config::CollectionConfig;

/// The collection names a stack creates: `<prefix>-1` … `<prefix>-<count>`.
pub fn names(prefix: &str, count: u32) -> Vec<String> {
    (1..=count.max(1))
        .map(|n| format!("{prefix}-{n}"))
        .collect()
}

/// The collection that holds this user's faces.
///
/// FNV-1a over the UserId's bytes: fixed by specification, so every process and every version maps a user to
/// the same collection (std's `DefaultHasher` is randomised per process and may change between releases).
pub fn for_user(config: &CollectionConfig, user_id: &str) -> String {
    let count = u64::from(config.count.max(1));
    let n = fnv1a64(user_id.as_bytes()) % count + 1;
    format!("{}-{n}", config.prefix)
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// Rekognition's ExternalImageId allows `[a-zA-Z0-9_.\-:]+`; a UserId may also hold `@`, which never appears
/// with `:`. Swapping the two keeps the id readable, the same length and exactly reversible.
pub fn external_image_id(user_id: &str) -> String {
    user_id.replace('@', ":")
}

/// The UserId a face's ExternalImageId stands for.
pub fn user_of_external_image_id(external_id: &str) -> String {
    external_id.replace(':', "@")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate;

    fn config(count: u32) -> CollectionConfig {
        CollectionConfig {
            prefix: "Riv-Prod".into(),
            count,
        }
    }

    #[test]
    fn one_collection_takes_everyone() {
        assert_eq!(for_user(&config(1), "ann"), "Riv-Prod-1");
        assert_eq!(names("Riv-Prod", 1), ["Riv-Prod-1"]);
    }

    #[test]
    fn partitioning_is_stable_and_spreads_users() {
        let c = config(4);
        // Pinned values: a change here would strand every stored face in the wrong collection.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let first = for_user(&c, "user-1");
        assert_eq!(for_user(&c, "user-1"), first);
        let all = names("Riv-Prod", 4);
        let mut used = std::collections::BTreeSet::new();
        for i in 0..200 {
            let name = for_user(&c, &format!("user-{i}"));
            assert!(all.contains(&name), "{name}");
            used.insert(name);
        }
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn external_ids_are_accepted_by_rekognition_and_reversible() {
        let allowed = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
        };
        for id in ["ann", "ann.lee@example.com", "a@b@c", "x_y-z.1"] {
            assert!(validate::user_id(id).is_ok());
            let ext = external_image_id(id);
            assert!(allowed(&ext), "{ext}");
            assert_eq!(ext.len(), id.len());
            assert_eq!(user_of_external_image_id(&ext), id);
        }
        assert_eq!(external_image_id("ann@example.com"), "ann:example.com");
    }
}
