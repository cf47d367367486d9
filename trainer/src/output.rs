//! How the command talks: progress bars and notes on stderr for people, results on stdout, and
//! `--quiet` / `--json` for scripts.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// Output settings shared by every subcommand.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    /// No progress bars or notes; results and errors only.
    pub quiet: bool,
    /// Results as one JSON document on stdout; no progress bars.
    pub json: bool,
}

impl Output {
    /// A progress bar with rate and ETA, hidden in quiet/JSON modes and when stderr is not a
    /// terminal.
    pub fn bar(&self, len: u64, what: &str) -> ProgressBar {
        if self.quiet || self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>10.bold} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    }

    /// A note for people (stderr), unless quiet or JSON.
    pub fn note(&self, message: impl AsRef<str>) {
        if !self.quiet && !self.json {
            eprintln!("{}", message.as_ref());
        }
    }

    /// A warning: shown unless quiet (also in JSON mode, on stderr).
    pub fn warn(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("warning: {}", message.as_ref());
        }
    }

    /// Prints `value` as JSON on stdout when in JSON mode, else the human text.
    pub fn result<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).expect("results serialise"));
        } else {
            print!("{}", human());
        }
    }
}
