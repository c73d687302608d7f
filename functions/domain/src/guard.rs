//! The lockout: a counter per UserId of attempts to authenticate or update that have not succeeded. Every
//! attempt is counted *before* any face is compared, so concurrent guesses cannot slip past the limit; a
//! success clears the counter. The counter exists for unknown UserIds too: a lockout must not reveal who is
//! registered.

use crate::config::GuardConfig;

/// A UserId's counter: attempts within a fixed window that starts at the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub attempts: u64,
    pub window_ends_at_ms: u64,
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead; the counter to store in place of the current one.
    Admit(Counter),
    /// Refused until the window ends.
    Locked { until_ms: u64 },
}

/// Decides an attempt against the stored counter.
pub fn admit(current: Option<Counter>, now_ms: u64, config: &GuardConfig) -> Verdict {
    match current {
        Some(c) if c.window_ends_at_ms > now_ms => {
            if c.attempts >= config.max_failed_attempts {
                Verdict::Locked {
                    until_ms: c.window_ends_at_ms,
                }
            } else {
                Verdict::Admit(Counter {
                    attempts: c.attempts + 1,
                    ..c
                })
            }
        }
        _ => Verdict::Admit(Counter {
            attempts: 1,
            window_ends_at_ms: now_ms + config.lockout_ms,
        }),
    }
}

/// Whole seconds until `until_ms`, at least 1 (for the caller's "try again in" and `Retry-After`).
pub fn retry_after_seconds(until_ms: u64, now_ms: u64) -> u64 {
    until_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
}

/// When a counter may be purged by the table's TTL (epoch seconds): a while after its window, never before.
pub fn purge_at(counter: &Counter) -> u64 {
    counter.window_ends_at_ms / 1000 + 3_600
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GuardConfig {
        GuardConfig {
            max_failed_attempts: 5,
            lockout_ms: 60_000,
            denial_floor_ms: 0,
        }
    }

    #[test]
    fn the_sixth_attempt_in_a_window_is_locked_out() {
        let mut counter = None;
        for n in 1..=5 {
            match admit(counter, 1_000 + n, &config()) {
                Verdict::Admit(c) => {
                    assert_eq!(c.attempts, n);
                    assert_eq!(
                        c.window_ends_at_ms, 61_001,
                        "the window starts at the first"
                    );
                    counter = Some(c);
                }
                Verdict::Locked { .. } => panic!("attempt {n} locked"),
            }
        }
        assert_eq!(
            admit(counter, 2_000, &config()),
            Verdict::Locked { until_ms: 61_001 }
        );
        assert_eq!(retry_after_seconds(61_001, 2_000), 60);
    }

    #[test]
    fn a_new_window_starts_after_the_old_one_ends() {
        let old = Counter {
            attempts: 5,
            window_ends_at_ms: 10_000,
        };
        assert_eq!(
            admit(Some(old), 10_000, &config()),
            Verdict::Admit(Counter {
                attempts: 1,
                window_ends_at_ms: 70_000
            })
        );
    }

    #[test]
    fn purge_comes_after_the_window() {
        let c = Counter {
            attempts: 1,
            window_ends_at_ms: 10_000_000,
        };
        assert!(purge_at(&c) * 1000 > c.window_ends_at_ms);
        assert_eq!(retry_after_seconds(5, 10), 1);
    }
}
