//! `run`, `list`, `compare`, `baseline update` and `demo`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::record::shard::ShardSpec;

use super::MeasureArg;
use super::gate::shard_spec;
use super::shared::{BaseArgs, BenchArgs, OutputArgs, ProjectArgs, SelectArgs, StatsArgs};

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Run the benchmarks (or take --record) and write baselines/<suite>.json; commit it yourself.
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub bench: BenchArgs,
    /// Where to write the record [default: <target-dir>/flamegate/run.json]
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Run only shard K of N of the suite (split balanced by the baseline's
    /// measured durations, the same in every job); merge with `flamegate merge`.
    #[arg(long, value_name = "K/N", value_parser = shard_spec)]
    pub shard: Option<ShardSpec>,
    /// Where the baseline that balances --shard comes from.
    #[command(flatten)]
    pub base: BaseArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub base: BaseArgs,
    #[command(flatten)]
    pub stats: StatsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The head record file.
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "head",
        conflicts_with = "head"
    )]
    pub head_file: Option<PathBuf>,
    /// The head: the suite's baseline file as committed at this revision.
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub bench: BenchArgs,
    /// Store this RunRecord instead of running the benchmarks.
    #[arg(long, value_name = "PATH")]
    pub record: Option<PathBuf>,
    /// Write even if the run was measured on a dirty work tree.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the throw-away repository and its build cache go [default: <temp>/flamegate-demo]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// What to measure: time, or instruction counts under callgrind (exact;
    /// needs valgrind).
    #[arg(long, value_enum, default_value_t = MeasureArg::Time)]
    pub measure: MeasureArg,

    /// Also write the pull-request comment flamegate would post for the
    /// regressing pull request to this file (publish its report.json with
    /// `flamegate publish`) [default: reports/comment.md in --dir]
    #[arg(long, value_name = "PATH")]
    pub markdown_out: Option<PathBuf>,

    /// The longer tour: main's baselines recorded after each of its
    /// commits, each pull request checked against them and paired, one more
    /// that adds a heap allocation per request, and main's history page.
    /// Instruction mode always runs the tour.
    #[arg(long)]
    pub tour: bool,
}
