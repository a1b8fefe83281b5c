//! `check`, `merge` and `publish`: the gate and its GitHub side.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::record::shard::ShardSpec;

use super::CommentArg;
use super::shared::{BaseArgs, BenchArgs, OutputArgs, ProjectArgs, StatsArgs};

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub bench: BenchArgs,
    #[command(flatten)]
    pub base: BaseArgs,
    #[command(flatten)]
    pub stats: StatsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Use this RunRecord as the head instead of running the benchmarks.
    #[arg(long, value_name = "PATH", conflicts_with = "paired")]
    pub record: Option<PathBuf>,

    /// Also publish to GitHub (in GitHub Actions): the comment, summary and
    /// annotations. The exit code stays the gate's verdict whatever
    /// publishing does; its problems are printed as warnings.
    #[arg(long)]
    pub publish: bool,
    #[command(flatten)]
    pub github: GithubArgs,

    /// In GitHub Actions without --publish, acceptances (`Flamegate-Accept`)
    /// are refused, since they cannot be checked here; with this flag they
    /// pass this step, and a later `flamegate publish --gate` step checks
    /// them on GitHub and gives the final verdict (the Action does this, so
    /// the step that runs benchmark code never holds the token).
    #[arg(long, conflicts_with = "publish")]
    pub defer_acceptances: bool,

    /// When the gate fails and the pull request has several commits, find
    /// the commit that introduced each regression (`flamegate bisect`
    /// between the base commit and HEAD: instruction counts where they
    /// show the change, else paired timing) and name it in the report and
    /// the comment
    #[arg(long)]
    pub bisect: bool,

    /// Build the base revision too and run both in alternating rounds in
    /// this job, instead of comparing with the stored baseline. Slower, but
    /// machine differences cancel out: the trustworthy mode for CI.
    #[arg(long, conflicts_with = "base_file")]
    pub paired: bool,

    /// Fixed rounds for every benchmark of a paired run (each round runs
    /// it once per side) instead of the adaptive plan. A round that other
    /// work on the machine disturbed is set aside and run again (up to half
    /// as many rounds more)
    #[arg(long, value_name = "N", requires = "paired", conflicts_with = "budget")]
    pub rounds: Option<usize>,

    /// Seconds a paired run may spend in rounds. Every benchmark gets the
    /// minimum of rounds; benchmarks whose verdict is still open get more
    /// (up to the maximum) while the budget lasts; when it runs out they are
    /// judged on the rounds they had, and usually read "inconclusive" or
    /// "likely slower", which do not fail. A benchmark that reads slower
    /// beyond the threshold still gets the rounds a regression is called
    /// from, past the budget
    #[arg(long, value_name = "SECONDS", requires = "paired")]
    pub budget: Option<f64>,

    /// Time every bench target, also those whose two sides compiled to
    /// identical machine code. By default those are not timed (their
    /// benchmarks get the verdict "identical"): a pull request that changes
    /// only docs or tests costs the two builds and no rounds. Use it for an
    /// A/A run that shows this machine's noise. Identical code is also the
    /// same code, so this times every benchmark, as --time-all does
    #[arg(long, requires = "paired")]
    pub time_identical: bool,

    /// Time every benchmark, also those that executed the same code on
    /// both sides (and identical bench targets, as --time-identical). By
    /// default each benchmark first runs once under valgrind's callgrind
    /// on each side; one that executed the same functions, with the same
    /// machine code the same number of times, gets the verdict "same code"
    /// and no rounds, so a pull request pays rounds only for the
    /// benchmarks whose code it changed. Against a stored baseline the same
    /// holds for each benchmark that executes what the baseline's record
    /// says it executed (records in time keep a digest of that). Without
    /// valgrind every benchmark is timed
    #[arg(long)]
    pub time_all: bool,

    /// Skip the instruction check of a paired run in time. By default every
    /// benchmark whose time changed is then counted on both sides under
    /// valgrind's callgrind: the same instructions and simulated cache and
    /// branch behaviour make its verdict "layout" (where the code sits moved
    /// the time, not what it executes), which does not fail the gate
    #[arg(long, requires = "paired")]
    pub no_instruction_check: bool,

    /// When the stored baseline is missing at the merge-base (a repository's
    /// first pull requests), check paired instead of failing: the base
    /// commit is built and timed in this job, and the report says so. The
    /// GitHub Action passes it in stored mode
    #[arg(long, conflicts_with_all = ["paired", "record"])]
    pub paired_if_no_baseline: bool,

    /// Run only shard K of N of the suite and write its record to
    /// <out-dir>/shard-K-of-N.json for `flamegate merge` (no verdict here).
    /// The split is the same in every job: by the stored baseline's
    /// durations, or with --paired into equal counts (no baseline needed).
    #[arg(long, value_name = "K/N", value_parser = shard_spec)]
    pub shard: Option<ShardSpec>,
}

/// How to publish to GitHub.
#[derive(Debug, Clone, Args)]
pub struct GithubArgs {
    /// When to write the sticky pull-request comment: always, only when a
    /// benchmark regressed, improved, appeared or disappeared (an existing
    /// comment is still updated), or never.
    #[arg(long, value_enum, default_value_t = CommentArg::Always)]
    pub comment: CommentArg,

    /// Also create a check run on the pull request's head commit, with an
    /// annotation per regression (needs `checks: write`).
    #[arg(long)]
    pub check_run: bool,

    /// The login the sticky comment is written as [default: the token's user;
    /// github-actions[bot] for the workflow's GITHUB_TOKEN]
    #[arg(long, value_name = "LOGIN")]
    pub comment_author: Option<String>,

    /// Seconds each GitHub request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub request_timeout: u64,

    /// Seconds all of publishing may take, waits for rate limits included.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub publish_deadline: u64,

    /// First backoff after a GitHub server error, doubling each retry (tests shorten it).
    #[arg(
        long,
        hide = true,
        env = "FLAMEGATE_GITHUB_BACKOFF_MS",
        default_value_t = 1000
    )]
    pub retry_backoff_ms: u64,
}

pub(super) fn shard_spec(text: &str) -> Result<ShardSpec, String> {
    ShardSpec::parse(text)
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' record files.
    #[arg(required = true, value_name = "SHARD_RECORD")]
    pub records: Vec<PathBuf>,
    /// Report the benchmarks of missing shards as missing instead of refusing.
    #[arg(long)]
    pub allow_incomplete: bool,
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub base: BaseArgs,
    #[command(flatten)]
    pub stats: StatsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Also publish to GitHub (as `check --publish`).
    #[arg(long)]
    pub publish: bool,
    #[command(flatten)]
    pub github: GithubArgs,

    /// In GitHub Actions without --publish, acceptances (`Flamegate-Accept`)
    /// are refused, since they cannot be checked here; with this flag they
    /// pass this step, and a later `flamegate publish --gate` step checks
    /// them on GitHub and gives the final verdict (the Action does this, so
    /// the step that runs benchmark code never holds the token).
    #[arg(long, conflicts_with = "publish")]
    pub defer_acceptances: bool,
}

/// `--accept-policy`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AcceptPolicyArg {
    Off,
    Anyone,
    Writers,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The report to publish: report.json as `flamegate check` wrote it.
    #[arg(long, value_name = "PATH")]
    pub report: PathBuf,

    /// Fork-safe mode: this is a `workflow_run` job publishing the results
    /// of a `pull_request` run; the report is untrusted.
    #[arg(long)]
    pub from_workflow_run: bool,

    /// Exit 1 when the report fails the gate once its acceptances are
    /// checked: the step that gives the verdict after `check
    /// --defer-acceptances`.
    #[arg(long)]
    pub gate: bool,

    /// Who may accept a failure: off, anyone, or writers (a user with write
    /// access approved the pull request at the checked commit) [default:
    /// the report's policy, from flamegate.toml's `[accept] policy`;
    /// writers with --from-workflow-run, whose report is untrusted]
    #[arg(long, value_enum, value_name = "POLICY")]
    pub accept_policy: Option<AcceptPolicyArg>,

    #[command(flatten)]
    pub github: GithubArgs,
}
