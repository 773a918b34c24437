//! A circuit breaker per provider: after repeated failures the hub stops
//! calling a provider for a while, answering at once instead of waiting for
//! timeouts, then lets one trial request through.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consecutive failures that open the circuit.
const FAILURES_TO_OPEN: u32 = 5;
/// How long an open circuit refuses calls before a trial.
const OPEN_FOR: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    trial_running: bool,
}

/// The breakers of every provider.
#[derive(Default)]
pub struct Breakers {
    states: Mutex<HashMap<String, State>>,
}

impl Breakers {
    /// Whether a call to `provider` may go ahead now.
    pub fn allow(&self, provider: &str) -> bool {
        let Ok(mut states) = self.states.lock() else {
            return true;
        };
        let state = states.entry(provider.to_owned()).or_default();
        match state.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) if state.trial_running => false,
            Some(_) => {
                state.trial_running = true;
                true
            }
        }
    }

    /// Records a call that worked: the circuit closes.
    pub fn success(&self, provider: &str) {
        if let Ok(mut states) = self.states.lock() {
            states.insert(provider.to_owned(), State::default());
        }
    }

    /// Records a call that failed (unreachable, timed out, 5xx).
    pub fn failure(&self, provider: &str) {
        if let Ok(mut states) = self.states.lock() {
            let state = states.entry(provider.to_owned()).or_default();
            state.failures = state.failures.saturating_add(1);
            if state.trial_running || state.failures >= FAILURES_TO_OPEN {
                state.open_until = Some(Instant::now() + OPEN_FOR);
                state.trial_running = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_closes_on_success() {
        let breakers = Breakers::default();
        for _ in 0..FAILURES_TO_OPEN - 1 {
            breakers.failure("p");
            assert!(breakers.allow("p"));
        }
        breakers.failure("p");
        assert!(!breakers.allow("p"));
        assert!(breakers.allow("other"));
        breakers.success("p");
        assert!(breakers.allow("p"));
    }
}
