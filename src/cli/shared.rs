//! Flags several commands share: the project, which benchmarks, the base,
//! the statistics, the outputs.

use std::path::PathBuf;

use clap::Args;

use crate::config::{Percent, parse_percent};

use super::{FormatArg, MeasureArg};

/// Which project, suite and config.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// The project's Cargo.toml (or its directory).
    #[arg(long, value_name = "PATH", default_value = "Cargo.toml")]
    pub manifest_path: PathBuf,

    /// Suite name; the baseline is baselines/<suite>.json: 1-100 of A-Z a-z 0-9 - _ . [default: from
    /// flamegate.toml, else the root package's name or the workspace folder's, other characters made `-`]
    #[arg(long)]
    pub suite: Option<String>,

    /// Config file [default: flamegate.toml beside Cargo.toml, if present]
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// Which benchmarks to run, and how.
#[derive(Debug, Clone, Default, Args)]
pub struct BenchArgs {
    /// Bench target to run (repeatable) [default: all bench targets]
    #[arg(long = "bench", value_name = "NAME")]
    pub benches: Vec<String>,

    /// Workspace package whose bench targets run (repeatable) [default: the
    /// packages `cargo bench` builds: the root package, else the workspace's
    /// default members]
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,

    /// Only benchmarks whose id matches this regular expression (criterion's filter).
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,

    /// Seconds of sampling per benchmark in the profiling pass, which runs
    /// after the timing pass (benches that install `flamegate_hook::criterion()`)
    #[arg(long, value_name = "SECONDS", conflicts_with = "no_profile")]
    pub profile_time: Option<f64>,

    /// Skip the profiling pass: timing verdicts only, no flamegraphs or hotspots.
    #[arg(long)]
    pub no_profile: bool,

    /// What to measure: wall-clock time (criterion), or instructions per
    /// iteration under valgrind's callgrind: exact, immune to noisy runners,
    /// with exact per-function hotspots; blind to cache and IPC effects.
    /// Instruction baselines are baselines/<suite>.instructions.json.
    #[arg(long, value_enum, default_value_t = MeasureArg::Time)]
    pub measure: MeasureArg,

    /// Extra criterion arguments, after `--` (e.g. `-- --measurement-time 2`).
    #[arg(last = true, value_name = "CRITERION_ARGS")]
    pub criterion_args: Vec<String>,
}

/// Where the baseline comes from.
#[derive(Debug, Clone, Default, Args)]
pub struct BaseArgs {
    /// Compare with the baseline file as committed at this revision, instead of the merge-base.
    #[arg(long, value_name = "REV", conflicts_with = "base_file")]
    pub base: Option<String>,

    /// Compare with this record file (no history: low-confidence verdicts).
    #[arg(long, value_name = "PATH")]
    pub base_file: Option<PathBuf>,

    /// The branch pull requests merge into [default: origin/main, then main, origin/master, master]
    #[arg(long, value_name = "BRANCH")]
    pub base_ref: Option<String>,

    /// Earlier baseline versions read from history for the noise model
    #[arg(long, value_name = "N")]
    pub history: Option<usize>,
}

pub(super) fn percent(text: &str) -> Result<Percent, String> {
    parse_percent(text)
}

/// Statistics.
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// Smallest slowdown worth failing for
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    pub min_change: Option<Percent>,

    /// False discovery rate across the suite (Benjamini-Hochberg)
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    pub fdr: Option<Percent>,

    /// No longer used: "unchanged" means the interval lies within ±min-change
    #[arg(hide = true)]
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    pub noise_limit: Option<Percent>,
}

/// Output.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = FormatArg::Terminal)]
    pub format: FormatArg,

    /// Where report.md and report.json go [default: <target-dir>/flamegate]
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Which benchmarks a command that only builds them looks at.
#[derive(Debug, Clone, Default, Args)]
pub struct SelectArgs {
    /// Bench target (repeatable) [default: all bench targets]
    #[arg(long = "bench", value_name = "NAME")]
    pub benches: Vec<String>,
    /// Workspace package whose bench targets are used (repeatable)
    /// [default: the packages `cargo bench` builds]
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,
    /// Only benchmarks whose id matches this regular expression (criterion's filter).
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,
}
