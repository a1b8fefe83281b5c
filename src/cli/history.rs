//! `history` and `bisect`: a suite over the commits, and the commit that
//! changed it.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::config::Percent;

use super::shared::{ProjectArgs, SelectArgs, percent};
use super::{FormatArg, MeasureArg};

#[derive(Debug, Args)]
pub struct BisectArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// A commit at the level the benchmarks should have (older); it must be
    /// on --bad's first-parent history
    #[arg(long, value_name = "REV")]
    pub good: String,
    /// A commit at the changed level (newer)
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub bad: String,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Find the commit of any change, faster too [default: slowdowns only]
    #[arg(long)]
    pub any: bool,
    /// Bisect by instruction counts or by paired timing [default:
    /// instructions where the change shows in them, else time]
    #[arg(long, value_enum)]
    pub measure: Option<MeasureArg>,
    /// Timed: seconds of profiling per benchmark when the culprit is timed
    /// against its parent, for its flamegraphs (bench targets that install
    /// `flamegate_hook::criterion()`) [default: 3]
    #[arg(long, value_name = "SECONDS", conflicts_with = "no_profile")]
    pub profile_time: Option<f64>,
    /// Timed: no profiling of the culprit, no flamegraphs
    #[arg(long)]
    pub no_profile: bool,
    /// Smallest change in a count that is bisected, e.g. 2% [default:
    /// flamegate.toml's min_change, else 1%; more where counts jitter]
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    pub min_change: Option<Percent>,
    /// What to print on stdout
    #[arg(long, value_enum, default_value_t = FormatArg::Terminal)]
    pub format: FormatArg,
    /// Where bisect.md and bisect.json go [default: <target-dir>/flamegate]
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The branch whose history is read [default: origin/main, then main, origin/master, master]
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Read at most the newest N versions of the baseline file
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub limit: usize,
    /// Only benchmarks whose id matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,
    /// What to write: the HTML page, or the data for plotting elsewhere
    #[arg(long, value_enum, default_value_t = HistoryFormat::Html)]
    pub format: HistoryFormat,
    /// Where to write it; `-` for stdout [default: <target-dir>/flamegate/history.<format>]
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace the file --out names if it exists
    #[arg(long)]
    pub force: bool,
    /// Only print the level shifts (one a line); write no file
    #[arg(long)]
    pub changes: bool,
    /// Exit 1 when a slowdown from the code is still in effect at the
    /// branch's last baseline (for a scheduled workflow that catches creep)
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Bisect each slowdown still in effect whose baseline was recorded
    /// more than one commit after the previous one (`flamegate bisect`
    /// between the two), and name the commit that made it instead of "one
    /// of N commits"
    #[arg(long)]
    pub bisect: bool,
    /// A pull request's report.json (from `flamegate check`): its head is
    /// drawn as each plot's last point
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Smallest level shift reported, e.g. 3% [default: flamegate.toml's min_change, else 1%]
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    pub min_change: Option<Percent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// One self-contained HTML page with a plot per benchmark.
    Html,
    /// The versioned History (schema 1): commits, points, level shifts.
    Json,
    /// One row per benchmark and commit.
    Csv,
}
