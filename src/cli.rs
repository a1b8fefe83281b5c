//! Command-line definitions (clap derive). Raw flags only: `pipeline` turns
//! them, with `flamegate.toml`, into checked settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Percent, parse_percent};
use crate::record::shard::ShardSpec;

/// flamegate: catch pull requests that make your Rust code slower.
///
/// flamegate runs your project's criterion benchmarks, compares them with a
/// baseline read from git history (the baseline file at the merge-base of
/// HEAD and your main branch), decides with real statistics which benchmarks
/// regressed, and exits 1 when one did.
///
/// First time? Run `flamegate demo` to watch the whole gate on a sample
/// project. Then, in your project:
///
///   flamegate baseline update   # on main: record baselines/<suite>.json, then commit it
///
///   flamegate check             # on a branch: run, compare with the merge-base, gate
///
/// Exit codes: 0 pass, 1 regression, 2 usage or environment error.
#[derive(Debug, Parser)]
#[command(name = "flamegate", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Colour in terminal output (auto: when stdout is a terminal and NO_COLOR is unset).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// No progress output on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gate: run the benchmarks, compare with the baseline from git, exit 1 on a regression.
    ///
    /// The baseline is `baselines/<suite>.json` as committed at the merge-base
    /// of HEAD and the target branch, never the file in your work tree. Its
    /// earlier versions on the target branch give each benchmark's noise.
    /// Reports are written to <target-dir>/flamegate/ (report.md, report.json).
    Check(CheckArgs),
    /// Run the benchmarks and write a RunRecord (JSON with every raw sample).
    Run(RunArgs),
    /// Build the bench targets and print their benchmark ids, one a line.
    ///
    /// The ids `--filter` matches (a regular expression, criterion's filter)
    /// and `benches` in flamegate.toml or `--bench` select; what a check
    /// or a run would measure. Targets and counts go to stderr.
    List(ListArgs),
    /// Compare two records (files or git revisions) without running anything.
    Compare(CompareArgs),
    /// Manage the stored baseline in baselines/.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Merge the records of a suite split into shards, compare once, gate once.
    ///
    /// A suite too big for one CI job runs as a matrix: each job runs
    /// `flamegate run --shard K/N --out shard-K.json` (or `check --shard K/N`)
    /// and uploads the record; one job downloads them all and runs
    /// `flamegate merge shard-*.json [--publish]`. The shards must all be
    /// there (else exit 2, or --allow-incomplete) and belong together (same
    /// commit, suite and split). The false discovery rate is controlled once,
    /// over the whole suite. Paired shards (`check --paired --shard K/N`) may
    /// have run different numbers of rounds; each benchmark is tested on its
    /// own rounds.
    Merge(MergeArgs),
    /// Publish a report to GitHub: sticky pull-request comment, check run, job summary, annotations.
    ///
    /// Reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL (GitHub
    /// Enterprise works) and the event payload from the environment, as
    /// GitHub Actions sets them. The token needs `pull-requests: write` for
    /// the comment and `checks: write` for --check-run.
    ///
    /// Fork-safe setup: `flamegate check` runs in the untrusted
    /// `pull_request` workflow and uploads report.json; a `workflow_run`
    /// workflow downloads it and runs `flamegate publish --report report.json
    /// --from-workflow-run`, which takes the pull request from the event,
    /// never from the report, and refuses a report for another commit.
    ///
    /// Exit codes: 0 published, 2 refused or not (fully) published.
    Publish(PublishArgs),
    /// A local check before `git push`: install or remove the pre-push hook.
    ///
    /// The hook runs a quick gate (short criterion windows, no profiling)
    /// against the stored baseline at the merge-base with the target branch
    /// and blocks a push that makes a benchmark slower. Skip it once with
    /// `git push --no-verify` or `FLAMEGATE_SKIP=1 git push`.
    #[command(subcommand)]
    Hook(HookCommand),
    /// The whole gate on a bundled sample project in a throw-away git repo.
    ///
    /// Builds a small "shop" backend (SQLite queries, duplicate detection,
    /// a cache), records its baseline, then checks a pull request that
    /// regresses it and one that does not, the second also in paired mode.
    /// Takes 10 to 20 minutes on two cores, most of it compiling.
    Demo(DemoArgs),
    /// flamegate's own verification: false alarms and power, measured.
    ///
    /// `eval collect` runs the synthetic suite in eval/suite in paired trials
    /// (A/A, or +1/2/5/10% of real work injected into one benchmark) and
    /// appends raw samples to a corpus; `eval score` replays flamegate's
    /// paired and stored-baseline rules and criterion's own rule on it.
    /// See docs/verdict-quality.md.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// The suite over the target branch's history: plots, level shifts, trends.
    ///
    /// Reads every committed version of baselines/<suite>.json along the
    /// branch's first-parent line (the file's git history is the data: no
    /// server) and writes one self-contained HTML page (no network, open it
    /// from a CI artifact or GitHub Pages): per benchmark the median of each
    /// baseline and its 95% interval over the commits, the commits where its
    /// level shifted, machine changes, and a pull request's head when given
    /// its report.json. Level shifts are found by PELT with a t-test per
    /// shift, adjusted over the suite (docs/statistics.md, "History").
    ///
    ///   flamegate history                        # target/flamegate/history.html
    ///
    ///   flamegate history --changes              # list the level shifts
    ///
    ///   flamegate history --fail-on-regression   # scheduled workflow: exit 1 on creep
    ///
    /// Exit codes: 0 done, 1 a slowdown still in effect (--fail-on-regression), 2 error.
    History(HistoryArgs),
    /// Find the commit that made a benchmark slower: a binary search of the
    /// first-parent commits between --good and --bad.
    ///
    /// Counts both ends' instructions under callgrind (valgrind must be
    /// installed) and takes the selected benchmarks whose count grew (any
    /// change with --any); for each, it measures the commit halfway between
    /// the last one at the good end's level and the first at the bad end's,
    /// until they are adjacent: about log2(N) commits for N in the range.
    /// Where no count changed (a cache or branch effect), or with --measure
    /// time, it times instead: the bad end against the good end in paired
    /// rounds, then each commit looked at against the good end until its
    /// level is nearer one end than the other (a commit still between them
    /// is stepped around), and finally the culprit against its parent.
    ///
    /// Each commit is checked out into <target-dir>/flamegate/bisect/source
    /// (your work tree is not touched) and built in one target directory
    /// there, which keeps the compiled dependencies from step to step. A
    /// commit whose bench executables load the same machine code as one
    /// already measured is not measured again; one that does not build or
    /// lacks the benchmark is skipped and named.
    ///
    /// Prints the culprit of each benchmark (commit, author, date), the
    /// change it alone makes, its diff stat, the packages its Cargo.lock
    /// changed and (counted) the functions and crates whose own
    /// instructions grew; writes bisect.md and bisect.json.
    ///
    /// Example: flamegate bisect --good v1.2.0 --bad main --filter '^parse/'
    ///
    /// Exit codes: 0 every culprit found, 1 some left undecided (the
    /// commits between were skipped), 2 error (nothing changed between the
    /// ends, an end does not build, not a git repository).
    Bisect(BisectArgs),
}

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

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write the repository's pre-push hook (core.hooksPath honoured).
    ///
    /// Every push then times the stored baseline's benchmarks with short
    /// windows; a regression is confirmed by a paired run against the
    /// merge-base (built and timed here) before it blocks the push.
    Install(HookInstallArgs),
    /// Remove flamegate's pre-push hook; a chained earlier hook is put back.
    Uninstall(HookUninstallArgs),
    /// What the installed hook runs: git passes the remote's name and URL,
    /// and the pushed refs on stdin.
    #[command(hide = true)]
    PrePush(PrePushArgs),
}

#[derive(Debug, Args)]
pub struct HookInstallArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Overwrite a pre-push hook that is not flamegate's.
    #[arg(long, conflicts_with = "chain")]
    pub force: bool,
    /// Keep an existing pre-push hook and run it first (it can still block the push).
    #[arg(long)]
    pub chain: bool,
    /// Also time benchmarks the stored baseline does not have. By default the
    /// hook lists them and leaves them to CI: without a baseline they can
    /// only read `new`, and timing them spends the push's time on nothing.
    #[arg(long)]
    pub time_new: bool,
    /// Seconds a push may wait for the check; past them the hook says what
    /// it did not check and lets the push through (CI still gates it).
    #[arg(id = "push_budget", long = "budget", value_name = "SECONDS", default_value_t = crate::hook::DEFAULT_BUDGET_SECONDS)]
    pub budget: u64,
    /// Criterion arguments for the quick gate, after `--`
    #[arg(last = true, value_name = "CRITERION_ARGS")]
    pub criterion_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HookUninstallArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct PrePushArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The remote's name, as git passes it.
    pub remote: Option<String>,
    /// The remote's URL, as git passes it.
    pub url: Option<String>,
    /// Time benchmarks without a stored baseline too (`hook install --time-new`).
    #[arg(long)]
    pub time_new: bool,
    /// Seconds the push may wait for the check (`hook install --budget`).
    #[arg(id = "push_budget", long = "budget", value_name = "SECONDS", default_value_t = crate::hook::DEFAULT_BUDGET_SECONDS)]
    pub budget: u64,
    /// Run the check itself; without it, this process runs the check as a
    /// child within the budget and lets the push through unless it fails
    /// the gate.
    #[arg(long, hide = true)]
    pub supervised: bool,
    #[arg(last = true, value_name = "CRITERION_ARGS")]
    pub criterion_args: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Run the benchmarks (or take --record) and write baselines/<suite>.json; commit it yourself.
    Update(UpdateArgs),
}

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

fn percent(text: &str) -> Result<Percent, String> {
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

fn shard_spec(text: &str) -> Result<ShardSpec, String> {
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

/// The defaults `--help` shows that are not clap defaults (flamegate.toml can
/// set them too, so the flags stay optional), and the rules it states:
/// rendered from the constants the code uses, never retyped. Argument id →
/// text appended to its help.
fn documented_defaults() -> Vec<(&'static str, String)> {
    let settings = crate::compare::settings::Settings::default();
    let percent = |x: f64| format!("{}%", x * 100.0);
    let six_rounds = format!(
        "A regression is only called from {} rounds.",
        crate::compare::verdict::MIN_ROUNDS_TO_FLAG
    );
    let defaults = vec![
        (
            "profile_time",
            crate::collect::DEFAULT_PROFILE_SECONDS.to_string(),
        ),
        ("history", crate::config::DEFAULT_HISTORY.to_string()),
        ("min_change", percent(settings.min_change)),
        ("fdr", percent(settings.fdr)),
        (
            "budget",
            format!(
                "{} s per benchmark; {} to {} rounds",
                crate::collect::rounds::BUDGET_PER_BENCHMARK.as_secs(),
                crate::collect::rounds::MIN_ROUNDS,
                crate::collect::rounds::MAX_ROUNDS
            ),
        ),
    ];
    defaults
        .into_iter()
        .map(|(id, value)| (id, format!("[default: {value}]")))
        .chain(["rounds", "budget"].map(|id| (id, six_rounds.clone())))
        .collect()
}

/// `command` (and its subcommands) with `documented_defaults` appended to
/// the help of the arguments they name, and the pre-push hook's quick
/// criterion windows to `hook install`'s.
pub fn with_documented_defaults(command: clap::Command) -> clap::Command {
    fn amend(command: clap::Command, defaults: &[(&'static str, String)]) -> clap::Command {
        let mut command = command;
        for (id, value) in defaults {
            if command.get_arguments().any(|a| a.get_id() == *id) {
                command = command.mut_arg(*id, |arg| {
                    let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                    // A sentence after a sentence (clap drops a doc
                    // comment's final full stop).
                    let joint = if value.starts_with('[') || help.ends_with('.') {
                        " "
                    } else {
                        ". "
                    };
                    arg.help(format!("{help}{joint}{value}"))
                });
            }
        }
        let names: Vec<String> = command
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        for name in names {
            command = command.mut_subcommand(name, |sub| amend(sub, defaults));
        }
        command
    }
    let quick = [(
        "criterion_args",
        format!("[default: {}]", crate::hook::QUICK_CRITERION_ARGS.join(" ")),
    )];
    amend(command, &documented_defaults()).mut_subcommand("hook", |hook| {
        hook.mut_subcommand("install", |install| amend(install, &quick))
    })
}

/// Parse a command line (`args` with the program first), with `--help`
/// showing the defaults and usage lines naming the program as `bin_name`
/// (`flamegate`, or `cargo flamegate` when cargo runs it as a subcommand).
pub fn parse_from(bin_name: &'static str, args: Vec<std::ffi::OsString>) -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let matches = with_documented_defaults(Cli::command())
        .bin_name(bin_name)
        .get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// `--measure`: what a run measures (the command line's words for
/// `collect::Measure`; stage types know nothing of clap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum MeasureArg {
    /// Wall-clock time per iteration (criterion's timing).
    #[default]
    Time,
    /// Instructions per iteration under valgrind's callgrind: exact, immune
    /// to noisy machines, blind to cache and IPC effects.
    Instructions,
}

impl From<MeasureArg> for crate::collect::Measure {
    fn from(arg: MeasureArg) -> Self {
        match arg {
            MeasureArg::Time => crate::collect::Measure::Time,
            MeasureArg::Instructions => crate::collect::Measure::Instructions,
        }
    }
}

/// `--format`: how the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// A table for people at a terminal.
    Terminal,
    /// The pull-request comment.
    Markdown,
    /// The versioned `Report`, for tools and the fork-safe publisher.
    Json,
}

impl From<FormatArg> for crate::render::Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Terminal => crate::render::Format::Terminal,
            FormatArg::Markdown => crate::render::Format::Markdown,
            FormatArg::Json => crate::render::Format::Json,
        }
    }
}

/// `--comment`: when to write the sticky pull-request comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CommentArg {
    /// Create or update it on every run.
    Always,
    /// Create it only when a benchmark regressed, improved, appeared or
    /// disappeared; an existing comment is still kept up to date.
    Changed,
    /// Never touch comments.
    Never,
}

impl From<CommentArg> for crate::publish::github::comment::CommentMode {
    fn from(arg: CommentArg) -> Self {
        use crate::publish::github::comment::CommentMode;
        match arg {
            CommentArg::Always => CommentMode::Always,
            CommentArg::Changed => CommentMode::Changed,
            CommentArg::Never => CommentMode::Never,
        }
    }
}
