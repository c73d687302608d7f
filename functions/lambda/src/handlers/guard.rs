//! Not a function; shared by `detect-faces`, `compare-faces` and `search-faces`. What auth and update share
//! against a hostile caller: the per-UserId lockout (counted before any face is compared, cleared by a
//! success) and the time a denial is due (a "no" takes as long for an unknown UserId as for a wrong face).

use crate::ports::{FaceRecords, ServiceErrorKind};
use crate::HandlerError;
use riv_domain::config::GuardConfig;
use riv_domain::guard::{self, Verdict};
use riv_domain::{attempt, clock, Rejection};

/// Writes lost to a concurrent attempt of the same UserId before giving up.
const COUNT_TRIES: usize = 8;

/// Counts an attempt of `user_id`, or refuses it with `TooManyAttempts` while the UserId is locked out.
pub async fn admit(
    records: &dyn FaceRecords,
    user_id: &str,
    config: &GuardConfig,
) -> Result<(), HandlerError> {
    for _ in 0..COUNT_TRIES {
        let current = records.guard_counter(user_id).await?;
        let now = attempt::now_ms();
        match guard::admit(current, now, config) {
            Verdict::Locked { until_ms } => {
                tracing::warn!(until_ms, "locked out: refused before any face was compared");
                return Err(Rejection::TooManyAttempts {
                    retry_after_seconds: guard::retry_after_seconds(until_ms, now),
                }
                .into());
            }
            Verdict::Admit(next) => {
                match records
                    .store_guard_counter(user_id, &next, current.as_ref())
                    .await
                {
                    Ok(()) => {
                        tracing::info!(attempts = next.attempts, "attempt counted");
                        return Ok(());
                    }
                    Err(e) if e.kind == ServiceErrorKind::Conflict => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    // Only a storm of attempts on one UserId gets here: refusing it is the safe answer.
    Err(Rejection::TooManyAttempts {
        retry_after_seconds: 1,
    }
    .into())
}

/// A verified face clears the UserId's counter.
pub async fn succeeded(records: &dyn FaceRecords, user_id: &str) -> Result<(), HandlerError> {
    records.clear_guard_counter(user_id).await?;
    Ok(())
}

/// The earliest a denial may be answered: the first whole second at least `floor_ms` after the flow started
/// (RFC 3339), so that
/// every denial takes at least that long whatever work led to it. The flow waits for it in a Wait state, which
/// holds no Lambda environment. Without a readable start time the floor counts from now, which only makes the
/// wait longer.
pub fn deny_at(started_at: Option<&str>, floor_ms: u64) -> String {
    let now = attempt::now_ms();
    let start = started_at
        .and_then(clock::parse_rfc3339_ms)
        .unwrap_or_else(|| {
            tracing::warn!(
                ?started_at,
                "no usable flow start time; the floor counts from now"
            );
            now
        });
    // Step Functions reads a Wait's timestamp to the second: round up, so the wait never ends before the floor.
    let due_secs = (start.min(now) + floor_ms).div_ceil(1000);
    clock::rfc3339(due_secs as i64, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::FakeRecords;
    use riv_domain::Reason;

    fn config() -> GuardConfig {
        GuardConfig {
            max_failed_attempts: 3,
            lockout_ms: 60_000,
            denial_floor_ms: 200,
        }
    }

    #[tokio::test]
    async fn attempts_are_counted_until_the_lockout_and_a_success_clears_them() {
        let records = FakeRecords::default();
        for n in 1..=3 {
            admit(&records, "ann", &config()).await.unwrap();
            assert_eq!(records.counter("ann").unwrap().attempts, n);
        }
        let err = admit(&records, "ann", &config()).await.unwrap_err();
        assert_eq!(err.reason(), Reason::TooManyAttempts);
        assert!(err.to_string().contains("try again in"), "{err}");
        // Another UserId, registered or not, has its own counter.
        admit(&records, "nobody", &config()).await.unwrap();
        succeeded(&records, "ann").await.unwrap();
        assert_eq!(records.counter("ann"), None);
        admit(&records, "ann", &config()).await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_attempts_never_exceed_the_limit() {
        let records = std::sync::Arc::new(FakeRecords::default());
        let tries = (0..10).map(|_| {
            let records = records.clone();
            tokio::spawn(async move { admit(&*records, "ann", &config()).await.is_ok() })
        });
        let mut admitted = 0;
        for t in tries {
            admitted += usize::from(t.await.unwrap());
        }
        assert_eq!(admitted, 3);
        assert_eq!(records.counter("ann").unwrap().attempts, 3);
    }

    #[test]
    fn a_denial_is_due_the_floor_after_the_flow_started() {
        let due = |started: &str| clock::parse_rfc3339_ms(&deny_at(Some(started), 1_500)).unwrap();
        assert_eq!(due("2026-12-02T01:00:00.250Z"), 1_796_173_202_000);
        assert_eq!(due("2026-12-02T01:00:00.500Z"), 1_796_173_202_000);
        // A start in the future (clock skew) counts from now; no start counts from now too.
        let now = attempt::now_ms();
        assert!(due("2099-01-01T00:00:00Z") <= attempt::now_ms() + 2_500);
        let unknown = clock::parse_rfc3339_ms(&deny_at(None, 1_500)).unwrap();
        assert!((now + 1_500..=attempt::now_ms() + 2_500).contains(&unknown));
    }
}
