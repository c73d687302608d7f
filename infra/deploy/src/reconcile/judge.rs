//! The invariants of a stack's data, as pure rules over an inventory: every live face record names exactly one
//! face in its collection and one stored image; every face and image belongs to a live record or to an attempt
//! still in flight; every attempt past its expiry is finished. What breaks a rule is a [`Finding`] with the fix.

use riv_domain::attempt::{self, AttemptStatus};
use riv_domain::collections;
use riv_domain::names::bucket;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A user's profile row as the reconciler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRow {
    pub user_id: String,
    pub pending: bool,
    pub attempt_id: String,
    pub id_card_key: Option<String>,
    pub expires_at_ms: u64,
}

/// A live face row.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRow {
    pub user_id: String,
    pub face_id: String,
    pub collection: String,
    pub image_key: String,
}

/// An attempt record.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub attempt_id: String,
    pub user_id: String,
    pub register: bool,
    pub status: AttemptStatus,
    pub collection: String,
    pub face_id: Option<String>,
    pub image_key: Option<String>,
    pub id_card_key: Option<String>,
    pub expires_at_ms: u64,
}

/// A face in one of the stack's collections.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionFace {
    pub collection: String,
    pub face_id: String,
    pub external_image_id: Option<String>,
}

/// A key of the image bucket with its versions.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub key: String,
    pub versions: usize,
    /// A GET of the key finds an object (its latest version is not a delete marker).
    pub current: bool,
    pub modified_secs: i64,
}

/// Everything the rules look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub profiles: Vec<ProfileRow>,
    pub faces: Vec<FaceRow>,
    pub attempts: Vec<AttemptRow>,
    pub collection_faces: Vec<CollectionFace>,
    pub objects: Vec<StoredObject>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An attempt past its expiry that never finished, or a rollback that could not.
    UnfinishedAttempt,
    /// A registration's claim on a UserId whose attempt is over.
    StaleClaim,
    /// A live face record whose face or image is missing.
    BrokenRecord,
    /// A face in a collection that no live record holds.
    OrphanFace,
    /// An image object that no live record names.
    OrphanImage,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::UnfinishedAttempt => "unfinished-attempt",
            Kind::StaleClaim => "stale-claim",
            Kind::BrokenRecord => "broken-record",
            Kind::OrphanFace => "orphan-face",
            Kind::OrphanImage => "orphan-image",
        }
    }
}

/// What fixing a finding does; each step treats "already gone" as done.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fix", rename_all = "kebab-case")]
pub enum Fix {
    DeleteFace {
        collection: String,
        face_id: String,
    },
    /// Every version and delete marker of the key.
    DeleteObject {
        key: String,
    },
    /// The user's profile row, if it is still this attempt's pending claim.
    ReleaseClaim {
        user_id: String,
        attempt_id: String,
    },
    /// The face row, then its face and image.
    DeleteRecord {
        user_id: String,
        face_id: String,
        collection: String,
        image_key: String,
    },
    /// Removes what the attempt names that no live record holds, releases its claim, marks it rolled back.
    FinishAttempt {
        attempt_id: String,
        deletes: Vec<Fix>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub id: String,
    pub user: Option<String>,
    pub age_secs: Option<i64>,
    pub action: String,
    #[serde(flatten)]
    pub fix: Fix,
}

/// What is still in flight, and so must be left alone.
struct InFlight<'a> {
    faces: BTreeSet<&'a str>,
    objects: BTreeSet<&'a str>,
    /// Users with an in-flight attempt that has not noted its face yet: any unrecorded face of theirs may be it.
    users_indexing: BTreeSet<&'a str>,
}

fn in_flight(inventory: &Inventory, now_ms: u64) -> InFlight<'_> {
    let mut spared = InFlight {
        faces: BTreeSet::new(),
        objects: BTreeSet::new(),
        users_indexing: BTreeSet::new(),
    };
    for a in &inventory.attempts {
        if !attempt::in_flight(a.status, a.expires_at_ms, now_ms) {
            continue;
        }
        match &a.face_id {
            Some(face) => {
                spared.faces.insert(face);
            }
            None => {
                spared.users_indexing.insert(&a.user_id);
            }
        }
        spared.objects.extend(
            [&a.image_key, &a.id_card_key]
                .into_iter()
                .flatten()
                .map(String::as_str),
        );
    }
    spared
}

fn age(now_secs: i64, then_secs: i64) -> Option<i64> {
    (then_secs > 0).then_some((now_secs - then_secs).max(0))
}

/// The user a bucket key belongs to, from `faces/<user>/…` or `idcards/<user>/…`.
fn user_of_key(key: &str) -> Option<&str> {
    let rest = key
        .strip_prefix(bucket::FACES_PREFIX)
        .or_else(|| key.strip_prefix(bucket::IDCARDS_PREFIX))?;
    rest.split_once('/').map(|(user, _)| user)
}

/// Every broken invariant, in a stable order, with the fix for each.
pub fn judge(inventory: &Inventory, now_ms: u64) -> Vec<Finding> {
    let now_secs = (now_ms / 1000) as i64;
    let spared = in_flight(inventory, now_ms);
    let live_faces: BTreeMap<(&str, &str), &FaceRow> = inventory
        .faces
        .iter()
        .map(|f| ((f.user_id.as_str(), f.face_id.as_str()), f))
        .collect();
    let live_objects: BTreeSet<&str> = inventory
        .faces
        .iter()
        .map(|f| f.image_key.as_str())
        .chain(
            inventory
                .profiles
                .iter()
                .filter(|p| !p.pending)
                .filter_map(|p| p.id_card_key.as_deref()),
        )
        .collect();
    let in_collections: BTreeSet<(&str, &str)> = inventory
        .collection_faces
        .iter()
        .map(|f| (f.collection.as_str(), f.face_id.as_str()))
        .collect();
    let current_objects: BTreeSet<&str> = inventory
        .objects
        .iter()
        .filter(|o| o.current)
        .map(|o| o.key.as_str())
        .collect();
    let lifetime_secs = attempt::LIFETIME.as_secs() as i64;
    let mut findings = Vec::new();

    let mut finished_by_attempt: BTreeSet<&str> = BTreeSet::new();
    for a in &inventory.attempts {
        let over = !a.status.is_final() && !attempt::in_flight(a.status, a.expires_at_ms, now_ms);
        if !over {
            continue;
        }
        let mut deletes = Vec::new();
        if let Some(face) = &a.face_id {
            if !live_faces.contains_key(&(a.user_id.as_str(), face.as_str())) {
                deletes.push(Fix::DeleteFace {
                    collection: a.collection.clone(),
                    face_id: face.clone(),
                });
            }
        }
        for key in [&a.image_key, &a.id_card_key].into_iter().flatten() {
            if !live_objects.contains(key.as_str()) {
                deletes.push(Fix::DeleteObject { key: key.clone() });
            }
        }
        if a.register {
            deletes.push(Fix::ReleaseClaim {
                user_id: a.user_id.clone(),
                attempt_id: a.attempt_id.clone(),
            });
        }
        finished_by_attempt.insert(&a.attempt_id);
        let started = (a.expires_at_ms / 1000) as i64 - lifetime_secs;
        findings.push(Finding {
            kind: Kind::UnfinishedAttempt,
            id: a.attempt_id.clone(),
            user: Some(a.user_id.clone()),
            age_secs: age(now_secs, started),
            action: format!(
                "{} attempt: remove its writes, mark it rolled back",
                a.status.as_str().to_lowercase()
            ),
            fix: Fix::FinishAttempt {
                attempt_id: a.attempt_id.clone(),
                deletes,
            },
        });
    }

    let attempts: BTreeMap<&str, &AttemptRow> = inventory
        .attempts
        .iter()
        .map(|a| (a.attempt_id.as_str(), a))
        .collect();
    for p in inventory.profiles.iter().filter(|p| p.pending) {
        let holder = attempts.get(p.attempt_id.as_str());
        let alive = holder.is_some_and(|a| attempt::in_flight(a.status, a.expires_at_ms, now_ms));
        if alive || finished_by_attempt.contains(p.attempt_id.as_str()) {
            continue;
        }
        findings.push(Finding {
            kind: Kind::StaleClaim,
            id: format!("USER#{}", p.user_id),
            user: Some(p.user_id.clone()),
            age_secs: age(now_secs, (p.expires_at_ms / 1000) as i64 - lifetime_secs),
            action: "release the claim on the UserId".into(),
            fix: Fix::ReleaseClaim {
                user_id: p.user_id.clone(),
                attempt_id: p.attempt_id.clone(),
            },
        });
    }

    for f in &inventory.faces {
        let face_there = in_collections.contains(&(f.collection.as_str(), f.face_id.as_str()));
        let image_there = current_objects.contains(f.image_key.as_str());
        if face_there && image_there {
            continue;
        }
        let missing = match (face_there, image_there) {
            (false, false) => "face and image",
            (false, true) => "face",
            _ => "image",
        };
        findings.push(Finding {
            kind: Kind::BrokenRecord,
            id: f.face_id.clone(),
            user: Some(f.user_id.clone()),
            age_secs: None,
            action: format!("its {missing} is missing: delete the record and what is left of it"),
            fix: Fix::DeleteRecord {
                user_id: f.user_id.clone(),
                face_id: f.face_id.clone(),
                collection: f.collection.clone(),
                image_key: f.image_key.clone(),
            },
        });
    }

    // Faces and objects a fix above already removes are not reported twice.
    let removed_faces: BTreeSet<String> = findings
        .iter()
        .flat_map(|f| match &f.fix {
            Fix::FinishAttempt { deletes, .. } => deletes.clone(),
            other => vec![other.clone()],
        })
        .filter_map(|fix| match fix {
            Fix::DeleteFace { face_id, .. } | Fix::DeleteRecord { face_id, .. } => Some(face_id),
            _ => None,
        })
        .collect();
    for face in &inventory.collection_faces {
        let owner = face
            .external_image_id
            .as_deref()
            .map(collections::user_of_external_image_id);
        let held = owner
            .as_deref()
            .and_then(|o| live_faces.get(&(o, face.face_id.as_str())))
            .is_some_and(|row| row.collection == face.collection);
        let indexing = owner
            .as_deref()
            .is_some_and(|o| spared.users_indexing.contains(o));
        if held
            || indexing
            || spared.faces.contains(face.face_id.as_str())
            || removed_faces.contains(&face.face_id)
        {
            continue;
        }
        findings.push(Finding {
            kind: Kind::OrphanFace,
            id: face.face_id.clone(),
            user: owner,
            age_secs: None,
            action: format!(
                "no live record holds it: delete it from {}",
                face.collection
            ),
            fix: Fix::DeleteFace {
                collection: face.collection.clone(),
                face_id: face.face_id.clone(),
            },
        });
    }

    let removed_objects: BTreeSet<String> = findings
        .iter()
        .flat_map(|f| match &f.fix {
            Fix::FinishAttempt { deletes, .. } => deletes.clone(),
            other => vec![other.clone()],
        })
        .filter_map(|fix| match fix {
            Fix::DeleteObject { key } => Some(key),
            Fix::DeleteRecord { image_key, .. } => Some(image_key),
            _ => None,
        })
        .collect();
    for object in &inventory.objects {
        let key = object.key.as_str();
        if user_of_key(key).is_none()
            || live_objects.contains(key)
            || spared.objects.contains(key)
            || removed_objects.contains(key)
        {
            continue;
        }
        findings.push(Finding {
            kind: Kind::OrphanImage,
            id: object.key.clone(),
            user: user_of_key(key).map(str::to_string),
            age_secs: age(now_secs, object.modified_secs),
            action: format!(
                "no live record names it: delete its {} version(s)",
                object.versions
            ),
            fix: Fix::DeleteObject {
                key: object.key.clone(),
            },
        });
    }
    findings.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000_000;

    fn attempt(id: &str, user: &str, status: AttemptStatus, expires: u64) -> AttemptRow {
        AttemptRow {
            attempt_id: id.into(),
            user_id: user.into(),
            register: true,
            status,
            collection: "riv-1".into(),
            face_id: Some(format!("f-{id}")),
            image_key: Some(format!("faces/{user}/f-{id}.png")),
            id_card_key: None,
            expires_at_ms: expires,
        }
    }

    fn face(collection: &str, id: &str, user: &str) -> CollectionFace {
        CollectionFace {
            collection: collection.into(),
            face_id: id.into(),
            external_image_id: Some(collections::external_image_id(user)),
        }
    }

    fn object(key: &str) -> StoredObject {
        StoredObject {
            key: key.into(),
            versions: 1,
            current: true,
            modified_secs: 1,
        }
    }

    /// ann registered (f1), whole and consistent.
    fn healthy() -> Inventory {
        Inventory {
            profiles: vec![ProfileRow {
                user_id: "ann@x.com".into(),
                pending: false,
                attempt_id: "a1".into(),
                id_card_key: Some("idcards/ann@x.com/a1.png".into()),
                expires_at_ms: 0,
            }],
            faces: vec![FaceRow {
                user_id: "ann@x.com".into(),
                face_id: "f1".into(),
                collection: "riv-1".into(),
                image_key: "faces/ann@x.com/f1.png".into(),
            }],
            attempts: vec![AttemptRow {
                face_id: Some("f1".into()),
                image_key: Some("faces/ann@x.com/f1.png".into()),
                ..attempt("a1", "ann@x.com", AttemptStatus::Committed, NOW - 1)
            }],
            collection_faces: vec![face("riv-1", "f1", "ann@x.com")],
            objects: vec![
                object("faces/ann@x.com/f1.png"),
                object("idcards/ann@x.com/a1.png"),
            ],
        }
    }

    fn kinds(inventory: &Inventory) -> Vec<(Kind, String)> {
        judge(inventory, NOW)
            .into_iter()
            .map(|f| (f.kind, f.id))
            .collect()
    }

    #[test]
    fn a_consistent_stack_has_no_findings() {
        assert_eq!(kinds(&healthy()), []);
    }

    #[test]
    fn each_broken_invariant_is_found_once() {
        let mut inv = healthy();
        // A face planted under ann's id, an image nobody names, a record whose image is gone.
        inv.collection_faces
            .push(face("riv-1", "planted", "ann@x.com"));
        inv.objects.push(object("faces/bob/f9.png"));
        inv.faces.push(FaceRow {
            user_id: "ann@x.com".into(),
            face_id: "f2".into(),
            collection: "riv-1".into(),
            image_key: "faces/ann@x.com/f2.png".into(),
        });
        inv.collection_faces.push(face("riv-1", "f2", "ann@x.com"));
        assert_eq!(
            kinds(&inv),
            [
                (Kind::BrokenRecord, "f2".to_string()),
                (Kind::OrphanFace, "planted".to_string()),
                (Kind::OrphanImage, "faces/bob/f9.png".to_string()),
            ]
        );
    }

    #[test]
    fn an_expired_attempt_is_finished_and_its_writes_are_not_reported_twice() {
        let mut inv = healthy();
        let dead = attempt("a2", "bob", AttemptStatus::Pending, NOW - 1);
        inv.collection_faces.push(face("riv-1", "f-a2", "bob"));
        inv.objects.push(object("faces/bob/f-a2.png"));
        inv.profiles.push(ProfileRow {
            user_id: "bob".into(),
            pending: true,
            attempt_id: "a2".into(),
            id_card_key: None,
            expires_at_ms: NOW - 1,
        });
        inv.attempts.push(dead);
        let findings = judge(&inv, NOW);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let Fix::FinishAttempt { deletes, .. } = &findings[0].fix else {
            panic!("{findings:?}")
        };
        assert_eq!(deletes.len(), 3, "face, image, claim: {deletes:?}");
    }

    #[test]
    fn what_an_attempt_in_flight_wrote_is_left_alone() {
        let mut inv = healthy();
        inv.attempts
            .push(attempt("a3", "carol", AttemptStatus::Pending, NOW + 10));
        inv.collection_faces.push(face("riv-1", "f-a3", "carol"));
        inv.objects.push(object("faces/carol/f-a3.png"));
        // One that has not noted its face yet: any face of dave without a record may be it.
        let mut indexing = attempt("a4", "dave", AttemptStatus::Pending, NOW + 10);
        indexing.face_id = None;
        indexing.image_key = None;
        inv.attempts.push(indexing);
        inv.collection_faces.push(face("riv-1", "unnoted", "dave"));
        assert_eq!(kinds(&inv), []);
    }

    #[test]
    fn an_aborted_attempt_is_unfinished_whatever_its_age() {
        let mut inv = healthy();
        let mut aborted = attempt("a5", "erin", AttemptStatus::Aborted, NOW + 10);
        aborted.face_id = None;
        aborted.image_key = None;
        inv.attempts.push(aborted);
        inv.collection_faces.push(face("riv-1", "lost", "erin"));
        assert_eq!(
            kinds(&inv),
            [
                (Kind::UnfinishedAttempt, "a5".to_string()),
                (Kind::OrphanFace, "lost".to_string()),
            ]
        );
    }

    #[test]
    fn a_claim_whose_attempt_is_gone_is_stale() {
        let mut inv = healthy();
        inv.profiles.push(ProfileRow {
            user_id: "frank".into(),
            pending: true,
            attempt_id: "vanished".into(),
            id_card_key: None,
            expires_at_ms: NOW + 10,
        });
        assert_eq!(kinds(&inv), [(Kind::StaleClaim, "USER#frank".to_string())]);
    }
}
