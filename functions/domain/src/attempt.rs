//! Two-phase writes: every registration and update is an *attempt* recorded before its first write, so that
//! whatever it leaves behind can be found and undone from the record alone, and the states it moves through.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long an attempt may stay pending. Far beyond the flow's 28 s timeout: a pending attempt older than this
/// belongs to an execution that is over, so its claim may be taken over and the reconciler may undo it.
pub const LIFETIME: Duration = Duration::from_secs(120);

/// Finished attempts stay this long for audit, then the table's TTL removes them.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where an attempt stands. Only `Pending` can commit; only `Committed` made anything live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttemptStatus {
    /// Writing; may still commit.
    Pending,
    /// A rollback started: it can no longer commit, and some of its writes may remain.
    Aborted,
    /// Everything it wrote is gone.
    RolledBack,
    /// Its face record is live.
    Committed,
}

impl AttemptStatus {
    pub const ALL: [AttemptStatus; 4] = [
        AttemptStatus::Pending,
        AttemptStatus::Aborted,
        AttemptStatus::RolledBack,
        AttemptStatus::Committed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Pending => "Pending",
            AttemptStatus::Aborted => "Aborted",
            AttemptStatus::RolledBack => "RolledBack",
            AttemptStatus::Committed => "Committed",
        }
    }

    pub fn parse(text: &str) -> Option<AttemptStatus> {
        AttemptStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Nothing more will happen to it: committed, or rolled back completely.
    pub fn is_final(self) -> bool {
        matches!(self, AttemptStatus::RolledBack | AttemptStatus::Committed)
    }
}

/// A user's profile row is either live, or a registration's claim on the UserId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProfileStatus {
    Active,
    /// Claimed by a registration that has not committed yet: the user does not exist for anyone else.
    Pending,
}

impl ProfileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileStatus::Active => "Active",
            ProfileStatus::Pending => "Pending",
        }
    }

    pub fn parse(text: &str) -> Option<ProfileStatus> {
        [ProfileStatus::Active, ProfileStatus::Pending]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// When an attempt begun at `now_ms` expires.
pub fn expiry(now_ms: u64) -> u64 {
    now_ms + LIFETIME.as_millis() as u64
}

/// The TTL value (epoch seconds) of an attempt finished at `now_ms`.
pub fn purge_at(now_ms: u64) -> u64 {
    now_ms / 1000 + RETENTION.as_secs()
}

/// Still able to commit at `now_ms`.
pub fn in_flight(status: AttemptStatus, expires_at_ms: u64, now_ms: u64) -> bool {
    status == AttemptStatus::Pending && expires_at_ms > now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_by_name() {
        for s in AttemptStatus::ALL {
            assert_eq!(AttemptStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(AttemptStatus::parse("Done"), None);
        assert_eq!(
            ProfileStatus::parse("Pending"),
            Some(ProfileStatus::Pending)
        );
    }

    #[test]
    fn only_an_unexpired_pending_attempt_is_in_flight() {
        let now = 1_000_000;
        let cases = [
            (AttemptStatus::Pending, expiry(now), true),
            (AttemptStatus::Pending, now, false),
            (AttemptStatus::Aborted, expiry(now), false),
            (AttemptStatus::Committed, expiry(now), false),
        ];
        for (status, expires, want) in cases {
            assert_eq!(
                in_flight(status, expires, now),
                want,
                "{status:?} {expires}"
            );
        }
        assert!(!AttemptStatus::Aborted.is_final());
        assert!(AttemptStatus::RolledBack.is_final());
        assert_eq!(purge_at(5_000), 5 + RETENTION.as_secs());
    }
}
