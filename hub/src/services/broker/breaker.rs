//! A circuit breaker per provider: after repeated failures the hub stops
//! calling a provider for a while, answering at once instead of waiting for
//! timeouts, then lets one trial request through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::metrics::HubMetrics;

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

impl State {
    /// Open (or half open, a trial running or due): not closed.
    fn is_open(&self) -> bool {
        self.open_until.is_some()
    }
}

/// The breakers of every provider.
#[derive(Default)]
pub struct Breakers {
    states: Mutex<HashMap<String, State>>,
    /// Where `crossroads_provider_circuit_open` is kept, if anywhere.
    metrics: Option<Arc<HubMetrics>>,
}

impl Breakers {
    /// Breakers that keep the `provider_circuit_open` gauge of `metrics`.
    pub fn with_metrics(metrics: Arc<HubMetrics>) -> Self {
        Self {
            states: Mutex::default(),
            metrics: Some(metrics),
        }
    }

    /// Whether a call to `provider` may go ahead now.
    pub fn allow(&self, provider: &str) -> bool {
        let Ok(mut states) = self.states.lock() else {
            return true;
        };
        let state = states.entry(provider.to_owned()).or_default();
        let allowed = match state.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) if state.trial_running => false,
            Some(_) => {
                state.trial_running = true;
                true
            }
        };
        self.show(provider, state);
        allowed
    }

    /// Records a call that worked: the circuit closes.
    pub fn success(&self, provider: &str) {
        if let Ok(mut states) = self.states.lock() {
            let state = State::default();
            self.show(provider, &state);
            states.insert(provider.to_owned(), state);
        }
    }

    /// Records a call that failed (unreachable, timed out, 5xx).
    pub fn failure(&self, provider: &str) {
        if let Ok(mut states) = self.states.lock() {
            let state = states.entry(provider.to_owned()).or_default();
            state.failures = state.failures.saturating_add(1);
            if state.trial_running || state.failures >= FAILURES_TO_OPEN {
                if !state.is_open() {
                    tracing::warn!(
                        provider,
                        "provider circuit opened: the hub stops calling it for a while"
                    );
                }
                state.open_until = Some(Instant::now() + OPEN_FOR);
                state.trial_running = false;
            }
            self.show(provider, state);
        }
    }

    /// Whether the circuit of `provider` is open (or half open: a trial
    /// call is running or due); a closed circuit lets every call through.
    pub fn is_open(&self, provider: &str) -> bool {
        self.states
            .lock()
            .is_ok_and(|states| states.get(provider).is_some_and(State::is_open))
    }

    /// Sets the gauge of `provider` to its state.
    fn show(&self, provider: &str, state: &State) {
        if let Some(metrics) = &self.metrics {
            metrics.provider_circuit(provider, state.is_open());
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

    #[test]
    fn the_gauge_follows_the_circuit() {
        let registry = prometheus::Registry::new();
        let metrics = Arc::new(HubMetrics::new(&registry).unwrap());
        let breakers = Breakers::with_metrics(metrics);
        let gauge = |provider: &str| {
            let text = prometheus::TextEncoder::new()
                .encode_to_string(&registry.gather())
                .unwrap();
            let prefix = format!(r#"crossroads_provider_circuit_open{{provider="{provider}"}} "#);
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .map(str::to_owned)
        };
        assert!(breakers.allow("p"));
        assert_eq!(gauge("p").as_deref(), Some("0"));
        assert!(!breakers.is_open("p"));
        for _ in 0..FAILURES_TO_OPEN {
            breakers.failure("p");
        }
        assert!(breakers.is_open("p"));
        assert_eq!(gauge("p").as_deref(), Some("1"));
        assert!(!breakers.allow("p"));
        assert_eq!(gauge("p").as_deref(), Some("1"));
        breakers.success("p");
        assert!(!breakers.is_open("p"));
        assert_eq!(gauge("p").as_deref(), Some("0"));
        assert_eq!(gauge("other"), None);
    }
}
