//! Progress of long commands (`crossroads populate`, `crossroads audit
//! verify`, migrations): a bar with what is done, the rate and the time
//! left, drawn on standard error when it is a terminal and nothing at all
//! otherwise (a log file, a pipe, a test).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `total` items labelled `what` (e.g. `verifying`): drawn on
/// standard error when it is a terminal, hidden otherwise.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(style());
    bar.set_message(what.to_owned());
    bar
}

/// Label, bar, done of total, rate, elapsed and time left.
fn style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:<24} {wide_bar} {human_pos}/{human_len} {rate:>10} {elapsed:>5} elapsed, {eta} left",
    )
    .map(|style| {
        style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
    })
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// One phase of a long command, counted in items.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A phase of `total` items named `label`; hidden unless standard error
    /// is a terminal.
    pub fn new(label: &str, total: u64) -> Self {
        Self {
            bar: bar(total, label),
        }
    }

    /// A phase that draws nothing.
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    /// `n` more items done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Sets the number of items done.
    pub fn set(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// The phase is over: the bar stays on screen with its final count.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // A phase left early (an error) does not leave a half-drawn bar.
        if !self.bar.is_finished() {
            self.bar.abandon();
        }
    }
}
