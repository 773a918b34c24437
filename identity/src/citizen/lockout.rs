//! Locking an account after repeated failed logins.
//!
//! After `max_failures` consecutive failures the account is locked for
//! `base_lock`; each further failure doubles the lock, up to `max_lock`.
//! With the defaults: the 5th failure locks for 1 minute, the 6th for 2, the
//! 7th for 4, … the 11th and later for 1 hour. A success resets everything.
//!
//! Callers check [`LockoutState::check`] before verifying credentials and
//! neither verify nor record anything while it refuses.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Login refused because the account is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the account is locked until {until}")]
pub struct Locked {
    /// When the lock ends.
    pub until: DateTime<Utc>,
}

impl Locked {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "account_locked"
    }
}

/// How failures lock an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that trigger the first lock (default 5).
    pub max_failures: u32,
    /// The first lock's length (default 1 minute).
    pub base_lock: TimeDelta,
    /// The longest lock (default 1 hour).
    pub max_lock: TimeDelta,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            base_lock: TimeDelta::minutes(1),
            max_lock: TimeDelta::hours(1),
        }
    }
}

impl LockoutPolicy {
    /// How long `failures` consecutive failures lock the account; `None`
    /// below the threshold.
    pub fn lock_duration(&self, failures: u32) -> Option<TimeDelta> {
        let threshold = self.max_failures.max(1);
        if failures < threshold {
            return None;
        }
        let doublings = failures - threshold;
        let duration = if doublings >= 31 {
            self.max_lock
        } else {
            self.base_lock
                .checked_mul(1i32 << doublings)
                .unwrap_or(self.max_lock)
        };
        Some(duration.min(self.max_lock))
    }
}

/// A login's failure count and lock, as stored per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockoutState {
    /// Consecutive failures since the last success.
    pub failures: u32,
    /// The end of the current lock, if any.
    pub locked_until: Option<DateTime<Utc>>,
}

impl LockoutState {
    /// Refuses while the account is locked at `now`.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), Locked> {
        match self.locked_until {
            Some(until) if now < until => Err(Locked { until }),
            _ => Ok(()),
        }
    }

    /// Records a failed login at `now`, locking the account when the policy
    /// says so. Returns the end of the lock, if one is now in force.
    pub fn record_failure(
        &mut self,
        policy: &LockoutPolicy,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.failures = self.failures.saturating_add(1);
        if let Some(duration) = policy.lock_duration(self.failures) {
            self.locked_until = Some(now.checked_add_signed(duration).unwrap_or(now));
        }
        self.locked_until.filter(|until| now < *until)
    }

    /// Records a successful login: failures and lock are cleared.
    pub fn record_success(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("date"))
    }

    #[test]
    fn locks_after_five_and_doubles_up_to_an_hour() {
        let policy = LockoutPolicy::default();
        let mut state = LockoutState::default();
        let now = t0();
        for _ in 0..4 {
            assert_eq!(state.record_failure(&policy, now), None);
            assert_eq!(state.check(now), Ok(()));
        }
        let until = state.record_failure(&policy, now);
        assert_eq!(until, Some(now + TimeDelta::minutes(1)));
        assert_eq!(
            state.check(now + TimeDelta::seconds(59)),
            Err(Locked {
                until: now + TimeDelta::minutes(1)
            })
        );
        assert_eq!(state.check(now + TimeDelta::minutes(1)), Ok(()));

        let expected = [2, 4, 8, 16, 32, 60, 60, 60];
        let mut now = now + TimeDelta::minutes(1);
        for minutes in expected {
            let until = state.record_failure(&policy, now);
            assert_eq!(until, Some(now + TimeDelta::minutes(minutes)), "{minutes}");
            now += TimeDelta::minutes(minutes);
        }

        state.record_success();
        assert_eq!(state, LockoutState::default());
        assert_eq!(state.check(now), Ok(()));
        assert_eq!(Locked { until: now }.code(), "account_locked");
    }

    #[test]
    fn durations() {
        let policy = LockoutPolicy::default();
        assert_eq!(policy.lock_duration(4), None);
        assert_eq!(policy.lock_duration(5), Some(TimeDelta::minutes(1)));
        assert_eq!(policy.lock_duration(10), Some(TimeDelta::minutes(32)));
        assert_eq!(policy.lock_duration(11), Some(TimeDelta::hours(1)));
        assert_eq!(policy.lock_duration(u32::MAX), Some(TimeDelta::hours(1)));
    }

    #[test]
    fn serde_form() {
        let state = LockoutState {
            failures: 5,
            locked_until: Some(t0()),
        };
        let json = serde_json::to_string(&state).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"failures":5,"locked_until":"2025-01-01T12:00:00Z"}"#
        );
    }

    proptest! {
        #[test]
        fn lock_never_exceeds_max_and_never_shrinks(failures in 0u32..200) {
            let policy = LockoutPolicy::default();
            let now = t0();
            let mut state = LockoutState::default();
            let mut previous = TimeDelta::zero();
            for _ in 0..failures {
                if let Some(until) = state.record_failure(&policy, now) {
                    let lock = until - now;
                    prop_assert!(lock <= policy.max_lock);
                    prop_assert!(lock >= previous);
                    previous = lock;
                }
            }
            prop_assert_eq!(state.check(now).is_err(), failures >= policy.max_failures);
        }
    }
}
