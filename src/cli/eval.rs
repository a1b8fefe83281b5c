//! `eval`: collecting and scoring the verdict-quality corpus.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run trials and append them to the corpus (resumable: stop any time).
    Collect(EvalCollectArgs),
    /// Score every rule on the corpus: suite false-alarm rate, per-benchmark
    /// false positives and power, with Clopper-Pearson 95% intervals.
    Score(EvalScoreArgs),
}

#[derive(Debug, Args)]
pub struct EvalCollectArgs {
    /// The evaluation suite's Cargo.toml.
    #[arg(long, value_name = "PATH", default_value = "eval/suite/Cargo.toml")]
    pub suite: PathBuf,
    /// The corpus directory (created if missing; trials are appended).
    #[arg(long, value_name = "DIR", default_value = "eval/corpus/rounds-12")]
    pub corpus: PathBuf,
    /// Stop when the corpus holds this many trials.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub trials: usize,
    /// Start no new trial after this many minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 60.0)]
    pub minutes: f64,
    /// Rounds per trial (scoring replays fixed plans and the adaptive plan
    /// on the first rounds of each trial).
    #[arg(long, value_name = "N", default_value_t = crate::eval::collect::DEFAULT_ROUNDS_PER_TRIAL)]
    pub rounds: usize,
    /// A placement corpus: build the suite four times with flags that only
    /// move code (function and block alignment), count each build's
    /// instructions, and pair different builds in null trials, to score
    /// false alarms from code layout with and without the instruction check
    #[arg(long, conflicts_with = "input_size")]
    pub placement: bool,
    /// An input-size corpus: every trial grows one benchmark's work and its
    /// declared input (criterion's throughput) by the same 12% or 25%, the
    /// same cost per element, to score false alarms from inputs that grew
    /// with and without the per-element comparison
    #[arg(long)]
    pub input_size: bool,
    /// What else runs meanwhile: `quiet` runs nothing else (and records each
    /// window's interference to show it); `contended` keeps one core busy
    /// with a shell loop it starts and stops, the same load on every machine.
    /// A corpus keeps one condition.
    #[arg(long, value_enum, value_name = "CONDITION")]
    pub condition: ConditionArg,
}

/// `eval collect --condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConditionArg {
    Quiet,
    Contended,
}

#[derive(Debug, Args)]
pub struct EvalScoreArgs {
    /// The corpus directory.
    #[arg(long, value_name = "DIR", default_value = "eval/corpus/rounds-12")]
    pub corpus: PathBuf,
    /// Also score N pseudo-suites a level (A/A, +1, +2, +5, +10%), each
    /// benchmark's rounds drawn from a real trial of the corpus that did not
    /// inject it and one benchmark's head slowed by exactly that much: rates
    /// with intervals narrow enough to compare with the targets. Seeded:
    /// reproducible.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub synthetic: usize,
    /// text (a table) or json.
    #[arg(long, value_enum, default_value_t = EvalFormat::Text)]
    pub format: EvalFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    Text,
    Json,
}
