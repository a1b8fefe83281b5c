//! Command-line definitions (clap derive). Raw flags only: `pipeline` turns
//! them, with `flamegate.toml`, into checked settings.

use clap::{Parser, Subcommand, ValueEnum};

pub mod eval;
pub mod gate;
pub mod history;
pub mod hook;
pub mod run;
pub mod shared;

use eval::EvalCommand;
use gate::{CheckArgs, MergeArgs, PublishArgs};
use history::{BisectArgs, HistoryArgs};
use hook::HookCommand;
use run::{BaselineCommand, CompareArgs, DemoArgs, ListArgs, RunArgs};

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
