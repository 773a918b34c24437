//! Time helpers shared by the storage layer.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// A UTC instant as stored: rounded to microseconds, because PostgreSQL keeps
/// microseconds and SQLite keeps more, and both must agree.
pub fn db_time(at: DateTime<Utc>) -> NaiveDateTime {
    at.trunc_subsecs(6).naive_utc()
}

/// A stored time read back as UTC.
pub fn from_db(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// The injected clock: production reads the system clock, tests set it.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A fixed instant, moved by tests.
    Fixed(std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// A clock fixed at `at`.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Clock::Fixed(std::sync::Arc::new(std::sync::Mutex::new(at)))
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => *at.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Sets a fixed clock to `at`; the system clock cannot be set.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Clock::Fixed(now) = self {
            *now.lock().unwrap_or_else(|p| p.into_inner()) = at;
        }
    }

    /// Moves a fixed clock forward; the system clock cannot be moved.
    pub fn advance(&self, by: chrono::Duration) {
        if let Clock::Fixed(at) = self {
            let mut at = at.lock().unwrap_or_else(|p| p.into_inner());
            *at += by;
        }
    }
}
