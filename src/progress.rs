//! Progress for long work: a bar on a terminal, plain lines in CI logs.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Where progress goes.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Nothing (tests, `--quiet`).
    Silent,
    /// A bar when stderr is a terminal, else one line per finished step.
    Stderr,
}

/// A progress bar over a known number of steps.
pub struct Bar {
    bar: Option<ProgressBar>,
    lines: bool,
    total: u64,
    done: std::cell::Cell<u64>,
}

impl Progress {
    /// A one-off message.
    pub fn note(&self, message: &str) {
        if let Progress::Stderr = self {
            eprintln!("flamegate: {message}");
        }
    }

    /// Start a bar of `total` steps.
    pub fn bar(&self, total: u64, label: &str) -> Bar {
        let terminal = std::io::stderr().is_terminal();
        let bar = match self {
            Progress::Stderr if terminal => {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} {wide_msg}",
                    )
                    .expect("the template is valid")
                    .progress_chars("=> "),
                );
                bar.set_prefix(label.to_string());
                Some(bar)
            }
            _ => None,
        };
        Bar {
            bar,
            lines: matches!(self, Progress::Stderr) && !terminal,
            total,
            done: std::cell::Cell::new(0),
        }
    }
}

impl Bar {
    pub fn working_on(&self, item: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(item.to_string());
        }
    }

    pub fn finished_one(&self, item: &str) {
        self.done.set(self.done.get() + 1);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        } else if self.lines {
            eprintln!("flamegate: [{}/{}] {item}", self.done.get(), self.total);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
