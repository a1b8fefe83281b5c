//! The one place that knows the order of the stages:
//! collect → baseline → compare → render → publish.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::baseline::{self, BaseSpec, Baseline};
use crate::cli::{
    BaseArgs, BaselineCommand, BenchArgs, CheckArgs, Cli, ColorChoice, Command, CompareArgs,
    EvalCommand, EvalFormat, GithubArgs, HookCommand, HookInstallArgs, MergeArgs, OutputArgs,
    PrePushArgs, ProjectArgs, PublishArgs, RunArgs, StatsArgs, UpdateArgs,
};
use crate::collect::shard::{Balance, ShardPlan, ShardSpec};
use crate::collect::{self, Progress, Project, RunSelection};
use crate::compare::{self, Settings};
use crate::config::{self, CONFIG_FILE, FileConfig, StatsOverrides};
use crate::error::{Error, Result, exit_code, short_sha};
use crate::publish;
use crate::publish::github::PublishOptions;
use crate::publish::github::client::RetryPolicy;
use crate::publish::github::env::ActionsEnv;
use crate::publish::github::event::{Origin, read_origin};
use crate::publish::github::workflow::StopCommands;
use crate::record::{RunRecord, write_atomic};
use crate::render::{self, Format, Renderer, Terminal};
use crate::report::{Outcome, Report};

/// How output should look, decided once from the command line and terminal.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub color: bool,
    pub progress: Progress,
}

impl Output {
    pub fn from_cli(cli: &Cli) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stdout().is_terminal() && !no_color,
        };
        Output {
            color,
            progress: if cli.quiet {
                Progress::Silent
            } else {
                Progress::Stderr
            },
        }
    }
}

/// Run the command; the returned value is the process exit code.
pub fn execute(cli: Cli) -> Result<u8> {
    let output = Output::from_cli(&cli);
    match cli.command {
        Command::Check(args) => check(args, output),
        Command::Run(args) => run(args, output),
        Command::Compare(args) => compare_records(args, output),
        Command::Baseline(BaselineCommand::Update(args)) => baseline_update(args, output),
        Command::Publish(args) => publish_report(args, output),
        Command::Merge(args) => merge_shards(args, output),
        Command::Hook(HookCommand::Install(args)) => hook_install(args, output),
        Command::Hook(HookCommand::Uninstall(args)) => {
            let loaded = load_project(&args.project)?;
            output
                .progress
                .note(&crate::hook::uninstall(&loaded.project.dir)?);
            Ok(exit_code::PASS)
        }
        Command::Hook(HookCommand::PrePush(args)) => hook_pre_push(args, output),
        Command::Demo(args) => crate::demo::run(args.dir, args.markdown_out, args.measure, output),
        Command::Eval(EvalCommand::Collect(args)) => {
            if !(args.minutes > 0.0 && args.minutes.is_finite()) {
                return Err(Error::Usage("--minutes must be a positive number".into()));
            }
            if args.rounds < 2 {
                return Err(Error::Usage("--rounds must be at least 2".into()));
            }
            let limits = crate::eval::collect::Limits {
                trials: args.trials,
                time: Duration::from_secs_f64(args.minutes * 60.0),
                rounds: args.rounds,
            };
            crate::eval::collect::collect(&args.suite, &args.corpus, limits, &output.progress)?;
            Ok(exit_code::PASS)
        }
        Command::Eval(EvalCommand::Score(args)) => {
            let corpus = crate::eval::corpus::Corpus::load(&args.corpus)?;
            let scores = crate::eval::score::score(&corpus, &output.progress);
            let text = match args.format {
                EvalFormat::Text => crate::eval::score::table(&scores),
                EvalFormat::Json => {
                    serde_json::to_string_pretty(&scores).expect("scores serialize") + "\n"
                }
            };
            print!("{text}");
            Ok(exit_code::PASS)
        }
    }
}

/// A project with its config file.
pub struct LoadedProject {
    pub project: Project,
    pub file: FileConfig,
    pub file_path: PathBuf,
}

/// Inspect the project and read its `flamegate.toml`.
pub fn load_project(args: &ProjectArgs) -> Result<LoadedProject> {
    let project = collect::cargo::inspect(&args.manifest_path, None)?;
    let (file_path, must_exist) = match &args.config {
        Some(path) => (path.clone(), true),
        None => (project.dir.join(CONFIG_FILE), false),
    };
    let file = FileConfig::load(&file_path, must_exist)?;
    Ok(LoadedProject {
        project,
        file,
        file_path,
    })
}

fn stats_overrides(args: &StatsArgs) -> StatsOverrides {
    let StatsArgs {
        min_change,
        fdr,
        noise_limit,
    } = args.clone();
    StatsOverrides {
        min_change,
        fdr,
        noise_limit,
    }
}

fn selection(args: &BenchArgs, file: &FileConfig) -> Result<RunSelection> {
    let BenchArgs {
        benches,
        filter,
        profile_time,
        no_profile,
        criterion_args,
        measure,
    } = args.clone();
    let profile_time = match (no_profile, profile_time.or(file.profile_time)) {
        (true, _) => None,
        // criterion refuses shorter profiling runs.
        (false, Some(s)) if !(s.is_finite() && s >= 1.0) => {
            return Err(Error::Usage(format!(
                "--profile-time must be at least 1 second (criterion's minimum), got {s}"
            )));
        }
        (false, seconds) => Some(seconds.unwrap_or(collect::DEFAULT_PROFILE_SECONDS)),
    };
    Ok(RunSelection {
        shard: None,
        measure,
        profile_time,
        benches: if benches.is_empty() {
            file.benches.clone().unwrap_or_default()
        } else {
            benches
        },
        filter,
        criterion_args: if criterion_args.is_empty() {
            file.criterion_args.clone().unwrap_or_default()
        } else {
            criterion_args
        },
    })
}

/// Run the project's benchmarks at the current work tree.
pub fn measure(
    project: &Project,
    selection: &RunSelection,
    progress: Progress,
) -> Result<RunRecord> {
    let head = baseline::head_state(&project.dir);
    collect::run(project, selection, &[], head.commit, head.dirty, &progress)
}

fn base_spec(args: &BaseArgs, file: &FileConfig) -> (BaseSpec, usize) {
    let BaseArgs {
        base,
        base_file,
        base_ref,
        history,
    } = args.clone();
    (
        config::base_spec(base, base_file, base_ref, file),
        history.or(file.history).unwrap_or(config::DEFAULT_HISTORY),
    )
}

/// The gate's core, shared by `check` and the demo: baseline first (fail
/// fast when there is none), then the run, then the comparison.
pub fn gate(
    project: &Project,
    suite: &str,
    spec: &BaseSpec,
    history: usize,
    settings: &Settings,
    head: HeadSource<'_>,
    progress: Progress,
) -> Result<Gated> {
    let baseline: Baseline = baseline::load(&project.dir, suite, spec, history)?;
    progress.note(&format!(
        "baseline: {} ({}), {} earlier version(s)",
        baseline.source,
        baseline.chosen_as,
        baseline.history.len()
    ));
    let (record, chosen_as) = match head {
        HeadSource::File(path) => (RunRecord::load(path)?, format!("file {}", path.display())),
        HeadSource::Record(record, chosen_as) => (*record, chosen_as),
        HeadSource::Run(selection) => (measure(project, selection, progress)?, "work tree".into()),
    };
    let report = match (record.is_instructions(), baseline.record.is_instructions()) {
        (false, false) => compare::against_stored(suite, &record, &chosen_as, &baseline, settings),
        (true, true) => compare::instructions::against_instructions(
            suite, &record, &chosen_as, &baseline, settings,
        ),
        (head_counts, _) => {
            let kind = |counts: bool| {
                if counts {
                    "instruction counts"
                } else {
                    "times"
                }
            };
            return Err(Error::Usage(format!(
                "the baseline ({}) holds {} but this run holds {}; compare like with like \
                 (instruction baselines are baselines/<suite>.instructions.json)",
                baseline.source,
                kind(!head_counts),
                kind(head_counts)
            )));
        }
    };
    Ok(Gated {
        report,
        head: record,
        base: baseline.record,
    })
}

/// The paired gate: check the base revision out, build both sides in their
/// own target directories, run them in alternating rounds, compare.
pub fn gate_paired(
    project: &Project,
    suite: &str,
    spec: &BaseSpec,
    settings: &Settings,
    selection: &RunSelection,
    plan: collect::paired::RoundPlan,
    progress: Progress,
) -> Result<Gated> {
    let measured = measure_paired(project, spec, selection, plan, settings, progress)?;
    Ok(judge_paired(suite, measured, settings))
}

/// Compare a paired run (measured here, or merged from shards).
fn judge_paired(suite: &str, measured: collect::paired::PairedShard, settings: &Settings) -> Gated {
    let collect::paired::PairedShard {
        run,
        head_side,
        base_side,
        notes,
        ..
    } = measured;
    let mut report = compare::paired::against_paired(suite, &run, head_side, base_side, settings);
    report.notes.splice(0..0, notes);
    Gated {
        report,
        head: run.head,
        base: run.base,
    }
}

/// Both sides of a paired run: the base revision checked out beside the work
/// tree (removed when this is dropped) and each side's project with its own
/// target directory.
struct PairedSides {
    checkout: baseline::BaseCheckout,
    head: Project,
    base: Project,
}

impl PairedSides {
    fn prepare(project: &Project, spec: &BaseSpec, progress: Progress) -> Result<PairedSides> {
        let under = project.target_dir.join("flamegate").join("paired");
        let mut checkout = baseline::checkout_base(&project.dir, spec, &under)?;
        progress.note(&format!(
            "base: {} ({}), checked out beside the work tree",
            checkout.chosen_as,
            crate::error::short_sha(&checkout.commit)
        ));
        // One lock for both sides where the base has none: same dependencies.
        let head_lock = project.dir.join("Cargo.lock");
        let base_lock = checkout.project_dir.join("Cargo.lock");
        if head_lock.exists() && !base_lock.exists() {
            std::fs::copy(&head_lock, &base_lock).map_err(|e| Error::io(&base_lock, e))?;
        }
        let manifest_name = project
            .manifest_path
            .file_name()
            .map_or_else(|| "Cargo.toml".into(), |n| n.to_os_string());
        // A target directory per side, apart from the user's own: cargo names
        // a workspace member's artifacts from its path relative to the
        // workspace, so in one shared directory the base's bench executable
        // replaced the head's (both sides then ran the base's code; the
        // paired tests caught it).
        let mut base = collect::cargo::inspect(
            &checkout.project_dir.join(manifest_name),
            Some(&under.join("base-target")),
        )?;
        let head =
            collect::cargo::inspect(&project.manifest_path, Some(&under.join("head-target")))?;
        // Both sides build with the head's toolchain and cargo configuration
        // (cargo and rustup read them from where cargo runs). Where the pull
        // request changes them, their effect is not measured: say so.
        base.build_dir = head.build_dir.clone();
        checkout
            .notes
            .extend(collect::paired::build_settings_changed(
                &base.dir, &head.dir,
            ));
        Ok(PairedSides {
            checkout,
            head,
            base,
        })
    }

    fn base_side(&self, how: &str) -> crate::report::Side {
        crate::report::Side {
            commit: Some(self.checkout.commit.clone()),
            dirty: false,
            chosen_as: format!("{}, {how}", self.checkout.chosen_as),
        }
    }
}

fn work_tree_side(head: &baseline::HeadState) -> crate::report::Side {
    crate::report::Side {
        commit: head.commit.clone(),
        dirty: head.dirty,
        chosen_as: "work tree".into(),
    }
}

/// Check the base revision out, build both sides in their own target
/// directories, run them in alternating rounds.
fn measure_paired(
    project: &Project,
    spec: &BaseSpec,
    selection: &RunSelection,
    plan: collect::paired::RoundPlan,
    settings: &Settings,
    progress: Progress,
) -> Result<collect::paired::PairedShard> {
    let sides = PairedSides::prepare(project, spec, progress)?;
    let head = baseline::head_state(&project.dir);
    let run = collect::paired::run_paired(
        &sides.head,
        &sides.base,
        selection,
        plan,
        (head.commit.clone(), head.dirty),
        sides.checkout.commit.clone(),
        settings,
        &progress,
    )?;
    Ok(collect::paired::PairedShard {
        paired_shard: collect::paired::PAIRED_SHARD_FORMAT,
        run,
        head_side: work_tree_side(&head),
        base_side: sides.base_side("built and run in this job"),
        notes: sides.checkout.notes.clone(),
        round_windows: collect::paired::round_windows(selection),
    })
}

/// Instruction counts of both sides, built and counted in this job: exact,
/// so no rounds; the base needs no stored baseline (and no other machine's).
fn gate_paired_instructions(
    project: &Project,
    suite: &str,
    spec: &BaseSpec,
    settings: &Settings,
    selection: &RunSelection,
    progress: Progress,
) -> Result<Gated> {
    let sides = PairedSides::prepare(project, spec, progress)?;
    let head_state = baseline::head_state(&project.dir);
    let env = collect::paired::build_env(&sides.base, &sides.head);
    let head = collect::run(
        &sides.head,
        selection,
        &env,
        head_state.commit.clone(),
        head_state.dirty,
        &progress,
    )?;
    let base = collect::run(
        &sides.base,
        selection,
        &env,
        Some(sides.checkout.commit.clone()),
        false,
        &progress,
    )?;
    let base_side = sides.base_side("built and counted in this job");
    let baseline = Baseline {
        record: base,
        source: crate::error::RecordSource::Git {
            commit: sides.checkout.commit.clone(),
            path: "(built and counted in this job)".into(),
        },
        commit: base_side.commit.clone(),
        chosen_as: base_side.chosen_as.clone(),
        history: Vec::new(),
        notes: sides.checkout.notes.clone(),
    };
    let mut report =
        compare::instructions::against_instructions(suite, &head, "work tree", &baseline, settings);
    report.head = work_tree_side(&head_state);
    Ok(Gated {
        report,
        head,
        base: baseline.record,
    })
}

/// The paired run's rounds from `--rounds` (fixed) or `--budget` (adaptive).
fn round_plan(rounds: Option<usize>, budget: Option<f64>) -> Result<collect::paired::RoundPlan> {
    use collect::paired::RoundPlan;
    match (rounds, budget) {
        (Some(n), _) if n < 2 => Err(Error::Usage(
            "--rounds must be at least 2: one round cannot separate a change from noise".into(),
        )),
        (Some(n), _) => Ok(RoundPlan::Fixed(n)),
        (None, Some(seconds)) if !(seconds > 0.0 && seconds.is_finite()) => Err(Error::Usage(
            "--budget must be a positive number of seconds".into(),
        )),
        (None, budget) => Ok(RoundPlan::Adaptive {
            budget: budget.map(Duration::from_secs_f64),
        }),
    }
}

/// A comparison with the records behind it (their profiles feed the flamegraphs).
pub struct Gated {
    pub report: Report,
    pub head: RunRecord,
    pub base: RunRecord,
}

/// Write flamegraphs, report.md and report.json into `out_dir`.
pub fn write_outputs(gated: &mut Gated, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let flamegraphs =
        publish::files::write_flamegraphs(&mut gated.report, &gated.head, &gated.base, out_dir)?;
    let mut written = publish::files::write_reports(&gated.report, out_dir)?;
    if flamegraphs > 0 {
        written.push(out_dir.join(publish::files::FLAMEGRAPH_DIR));
    }
    Ok(written)
}

/// Where the head record comes from.
pub enum HeadSource<'a> {
    Run(&'a RunSelection),
    File(&'a Path),
    /// A record already in memory (merged shards), and how it was made.
    Record(Box<RunRecord>, String),
}

fn check(args: CheckArgs, output: Output) -> Result<u8> {
    let CheckArgs {
        project: project_args,
        bench,
        base,
        stats,
        output: output_args,
        record,
        paired,
        rounds,
        budget,
        publish,
        github,
        shard,
    } = args;
    if let Some(spec) = shard {
        if publish || record.is_some() {
            return Err(Error::Usage(
                "--shard measures one part of the suite for `flamegate merge`, which compares and publishes once; \
                 it cannot be combined with --publish or --record"
                    .into(),
            ));
        }
        let loaded = load_project(&project_args)?;
        let suite = config::suite(
            project_args.suite.clone(),
            &loaded.file,
            &loaded.project.name,
        )?;
        let mut selection = selection(&bench, &loaded.file)?;
        let suite = selection.measure.suite(&suite);
        selection.shard = Some(if paired {
            // No stored baseline is needed, nor read: equal counts balance
            // paired rounds (collect::shard, `Balance::EqualCounts`).
            ShardPlan {
                spec,
                suite: suite.clone(),
                balance: Balance::EqualCounts,
            }
        } else {
            shard_plan(spec, &loaded, &suite, &base, output.progress)
        });
        let out_dir = output_args
            .out_dir
            .clone()
            .unwrap_or_else(|| loaded.project.target_dir.join("flamegate"));
        let path = out_dir.join(format!("shard-{}-of-{}.json", spec.index, spec.count));
        if paired && selection.measure == collect::Measure::Instructions {
            return Err(Error::Usage(
                "--paired --shard with --measure instructions is not supported: shard instruction counts with \
                 `check --shard K/N --measure instructions` against the stored baseline (counts are exact, so \
                 a baseline from this machine kind gives the same answer)"
                    .into(),
            ));
        }
        let (json, measured) = if paired {
            let (spec_base, _) = base_spec(&base, &loaded.file);
            let settings =
                config::settings(&stats_overrides(&stats), &loaded.file, &loaded.file_path)?;
            let shard = measure_paired(
                &loaded.project,
                &spec_base,
                &selection,
                round_plan(rounds, budget)?,
                &settings,
                output.progress,
            )?;
            let count = shard.run.head.benches.len();
            let json = serde_json::to_string(&shard).expect("a paired shard serialises") + "\n";
            (json, count)
        } else {
            let record = measure(&loaded.project, &selection, output.progress)?;
            (record.to_json(), record.benches.len())
        };
        write_atomic(&path, json.as_bytes())?;
        output.progress.note(&format!(
            "shard {spec}: wrote {} ({measured} benchmarks). The verdict comes from `flamegate merge` over all {} shard records",
            path.display(),
            spec.count
        ));
        return Ok(exit_code::PASS);
    }
    let actions = ActionsEnv::from_process();
    // Benchmark output and names are untrusted: while they are printed, the
    // runner must not read workflow commands from stdout. (JSON on stdout
    // stays pure JSON; names in it are escaped strings, never a line start.)
    let stop_commands =
        (actions.in_actions && output_args.format != Format::Json).then(StopCommands::begin);
    let loaded = load_project(&project_args)?;
    let suite = config::suite(
        project_args.suite.clone(),
        &loaded.file,
        &loaded.project.name,
    )?;
    let settings = config::settings(&stats_overrides(&stats), &loaded.file, &loaded.file_path)?;
    let (spec, history) = base_spec(&base, &loaded.file);
    let selection = selection(&bench, &loaded.file)?;
    let suite = selection.measure.suite(&suite);
    let gated = if paired && selection.measure == collect::Measure::Instructions {
        if rounds.is_some() || budget.is_some() {
            return Err(Error::Usage(
                "--rounds and --budget do not apply to instruction counts: they are exact, each side is counted once".into(),
            ));
        }
        gate_paired_instructions(
            &loaded.project,
            &suite,
            &spec,
            &settings,
            &selection,
            output.progress,
        )?
    } else if paired {
        gate_paired(
            &loaded.project,
            &suite,
            &spec,
            &settings,
            &selection,
            round_plan(rounds, budget)?,
            output.progress,
        )?
    } else {
        let head = match &record {
            Some(path) => HeadSource::File(path),
            None => HeadSource::Run(&selection),
        };
        gate(
            &loaded.project,
            &suite,
            &spec,
            history,
            &settings,
            head,
            output.progress,
        )?
    };
    finish_check(
        gated,
        &output_args,
        &loaded.project.target_dir,
        output,
        CheckPublish {
            actions: &actions,
            stop_commands,
            publish: publish.then_some(&github),
        },
    )
}

/// What `check` does with GitHub after the comparison.
struct CheckPublish<'a> {
    actions: &'a ActionsEnv,
    stop_commands: Option<StopCommands>,
    publish: Option<&'a GithubArgs>,
}

/// Record the pull request's head (GitHub checks out a merge commit), write
/// and print the report, publish it if asked. The exit code is the gate's.
fn finish_check(
    mut gated: Gated,
    args: &OutputArgs,
    target_dir: &Path,
    output: Output,
    github: CheckPublish<'_>,
) -> Result<u8> {
    if let Ok(Origin::PullRequest { head_sha, .. }) = read_origin(github.actions, false)
        && gated.report.head.commit.as_deref() != Some(head_sha.as_str())
    {
        gated.report.pull_request_head = Some(head_sha);
    }
    let (code, report) = emit(gated, args, target_dir, output)?;
    drop(github.stop_commands);
    if let Some(args) = github.publish {
        let options = publish_options(args, false);
        let lines =
            match publish::github::publish(&report, &options, github.actions, output.progress) {
                Ok(published) => published,
                Err(refused) => publish::github::Published {
                    done: Vec::new(),
                    problems: vec![refused.to_string()],
                },
            };
        for line in &lines.done {
            output.progress.note(line);
        }
        for problem in &lines.problems {
            warn(github.actions, &format!("publishing to GitHub: {problem}"));
        }
    }
    Ok(code)
}

/// A warning that must be seen: an annotation in Actions, stderr elsewhere.
fn warn(actions: &ActionsEnv, text: &str) {
    if actions.in_actions {
        println!(
            "::warning title=flamegate::{}",
            publish::github::workflow::escape_data(text)
        );
    }
    publish::github::workflow::eprint_inert(
        actions.in_actions,
        &format!("flamegate: warning: {text}"),
    );
}

fn publish_options(args: &GithubArgs, from_workflow_run: bool) -> PublishOptions {
    PublishOptions {
        comment: args.comment,
        check_run: args.check_run,
        from_workflow_run,
        comment_author: args.comment_author.clone(),
        policy: RetryPolicy {
            backoff_base: Duration::from_millis(args.retry_backoff_ms),
            request_timeout: Duration::from_secs(args.request_timeout.max(1)),
            deadline: Duration::from_secs(args.publish_deadline.max(1)),
            ..RetryPolicy::default()
        },
    }
}

/// `flamegate publish`: exit 0 when everything asked was published.
fn publish_report(args: PublishArgs, output: Output) -> Result<u8> {
    let report = Report::load(&args.report)?;
    let actions = ActionsEnv::from_process();
    let options = publish_options(&args.github, args.from_workflow_run);
    let published = publish::github::publish(&report, &options, &actions, output.progress)?;
    for line in &published.done {
        output.progress.note(line);
    }
    for problem in &published.problems {
        publish::github::workflow::eprint_inert(
            actions.in_actions,
            &format!("flamegate: error: {problem}"),
        );
    }
    Ok(if published.problems.is_empty() {
        exit_code::PASS
    } else {
        exit_code::USAGE_OR_ENVIRONMENT
    })
}

/// Write the outputs, print the report, return the exit code and the report.
pub fn emit(
    mut gated: Gated,
    args: &OutputArgs,
    target_dir: &Path,
    output: Output,
) -> Result<(u8, Report)> {
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| target_dir.join("flamegate"));
    let written = write_outputs(&mut gated, &out_dir)?;
    let report = &gated.report;
    let bytes = render::renderer(args.format, output.color && args.format == Format::Terminal)
        .render(report);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&bytes)
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::io("stdout", e))?;
    for path in written {
        output.progress.note(&format!("wrote {}", path.display()));
    }
    let code = match report.outcome {
        Outcome::Pass => exit_code::PASS,
        Outcome::Fail => exit_code::REGRESSION,
    };
    Ok((code, gated.report))
}

/// The shard plan for `--shard K/N`: durations from the stored baseline at
/// the merge-base (the same file in every job of the matrix, so every job
/// splits alike); without one, the split falls back to the id hash.
fn shard_plan(
    spec: ShardSpec,
    loaded: &LoadedProject,
    suite: &str,
    base: &BaseArgs,
    progress: Progress,
) -> ShardPlan {
    let (base_spec, _) = base_spec(base, &loaded.file);
    let durations = match baseline::load(&loaded.project.dir, suite, &base_spec, 0) {
        Ok(baseline) => baseline
            .record
            .benches
            .iter()
            .filter_map(|b| Some((b.id.clone(), b.seconds?)))
            .collect(),
        Err(error) => {
            progress.note(&format!(
                "shard {spec}: no baseline durations to balance the split ({error}); splitting by id hash"
            ));
            Default::default()
        }
    };
    ShardPlan {
        spec,
        suite: suite.to_string(),
        balance: Balance::Durations(durations),
    }
}

fn run(args: RunArgs, output: Output) -> Result<u8> {
    let RunArgs {
        project: project_args,
        bench,
        out,
        force,
        shard,
        base,
    } = args;
    let loaded = load_project(&project_args)?;
    let path = match out {
        Some(path) => {
            if path.exists() && !force {
                return Err(Error::WouldOverwrite {
                    path,
                    why: "the file exists".into(),
                });
            }
            path
        }
        None => loaded.project.target_dir.join("flamegate").join("run.json"),
    };
    let mut selection = selection(&bench, &loaded.file)?;
    if let Some(spec) = shard {
        let suite = config::suite(
            project_args.suite.clone(),
            &loaded.file,
            &loaded.project.name,
        )?;
        let suite = selection.measure.suite(&suite);
        selection.shard = Some(shard_plan(spec, &loaded, &suite, &base, output.progress));
    }
    let record = measure(&loaded.project, &selection, output.progress)?;
    write_atomic(&path, record.to_json().as_bytes())?;
    let samples: usize = record.benches.iter().map(|b| b.samples.len()).sum();
    output.progress.note(&format!(
        "wrote {} ({} benchmarks, {samples} samples)",
        path.display(),
        record.benches.len()
    ));
    Ok(exit_code::PASS)
}

fn compare_records(args: CompareArgs, output: Output) -> Result<u8> {
    let CompareArgs {
        project: project_args,
        base,
        stats,
        output: output_args,
        head_file,
        head,
    } = args;
    let loaded = load_project(&project_args)?;
    let suite = config::suite(
        project_args.suite.clone(),
        &loaded.file,
        &loaded.project.name,
    )?;
    let settings = config::settings(&stats_overrides(&stats), &loaded.file, &loaded.file_path)?;
    let (spec, history) = base_spec(&base, &loaded.file);
    let gated = match (head_file, head) {
        (Some(path), _) => gate(
            &loaded.project,
            &suite,
            &spec,
            history,
            &settings,
            HeadSource::File(&path),
            output.progress,
        )?,
        (None, Some(rev)) => {
            let baseline = baseline::load(&loaded.project.dir, &suite, &spec, history)?;
            let at_rev = baseline::load(
                &loaded.project.dir,
                &suite,
                &BaseSpec::Revision(rev.clone()),
                0,
            )?;
            let report = compare::against_stored(
                &suite,
                &at_rev.record,
                &format!("revision {rev}"),
                &baseline,
                &settings,
            );
            Gated {
                report,
                head: at_rev.record,
                base: baseline.record,
            }
        }
        (None, None) => return Err(Error::Usage("pass --head-file PATH or --head REV".into())),
    };
    Ok(emit(gated, &output_args, &loaded.project.target_dir, output)?.0)
}

fn baseline_update(args: UpdateArgs, output: Output) -> Result<u8> {
    let UpdateArgs {
        project: project_args,
        bench,
        record,
        force,
    } = args;
    let loaded = load_project(&project_args)?;
    let suite = config::suite(
        project_args.suite.clone(),
        &loaded.file,
        &loaded.project.name,
    )?;
    let suite = match &record {
        Some(_) => suite,
        None => bench.measure.suite(&suite),
    };
    let record = match record {
        Some(path) => RunRecord::load(&path)?,
        None => {
            // Refuse before spending minutes on a run that could not be stored.
            let head = baseline::head_state(&loaded.project.dir);
            if head.dirty && !force {
                return Err(Error::WouldOverwrite {
                    path: loaded.project.dir.join(baseline::suite_file(&suite)),
                    why: "the work tree has uncommitted changes, so the baseline would not describe any commit; commit first".into(),
                });
            }
            measure(
                &loaded.project,
                &selection(&bench, &loaded.file)?,
                output.progress,
            )?
        }
    };
    // A record of instruction counts is the instruction suite's baseline.
    let suite = if record.is_instructions() && !suite.ends_with(".instructions") {
        collect::Measure::Instructions.suite(&suite)
    } else {
        suite
    };
    let path = baseline::update(&loaded.project.dir, &suite, &record, force)?;
    let commit = record
        .commit
        .as_deref()
        .map(short_sha)
        .unwrap_or("no commit");
    output.progress.note(&format!(
        "wrote {} ({} benchmarks, measured at {commit}). Commit it so pull requests compare against it:\n  git add {} && git commit -m \"flamegate: update {suite} baseline\"",
        path.display(),
        record.benches.len(),
        baseline::suite_file(&suite),
    ));
    Ok(exit_code::PASS)
}

fn hook_install(args: HookInstallArgs, output: Output) -> Result<u8> {
    let loaded = load_project(&args.project)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("the flamegate executable", e))?;
    let criterion_args = if args.criterion_args.is_empty() {
        crate::hook::QUICK_CRITERION_ARGS
            .iter()
            .map(|a| a.to_string())
            .collect()
    } else {
        args.criterion_args
    };
    // The hook runs from the top of the work tree: name a project below it.
    let manifest = (args.project.manifest_path != Path::new("Cargo.toml"))
        .then_some(loaded.project.manifest_path.as_path());
    let installed = crate::hook::install(
        &loaded.project.dir,
        &exe,
        manifest,
        &criterion_args,
        args.force,
        args.chain,
    )?;
    let line = match installed {
        crate::hook::Installed::New(path) => format!("installed {}", path.display()),
        crate::hook::Installed::Replaced(path) => format!("replaced {}", path.display()),
        crate::hook::Installed::Chained { hook, chained } => format!(
            "installed {}; the earlier hook, now {}, runs first",
            hook.display(),
            chained.display()
        ),
    };
    output.progress.note(&format!(
        "{line}. Every `git push` now runs a quick gate; skip it once with `git push --no-verify` or FLAMEGATE_SKIP=1"
    ));
    Ok(exit_code::PASS)
}

/// The quick gate the pre-push hook runs. A regression blocks the push
/// (exit 1); a check that cannot run (no baseline yet, a build error) is
/// reported and lets the push through: the hook is a convenience, CI is
/// the gate.
fn hook_pre_push(args: PrePushArgs, output: Output) -> Result<u8> {
    let stdin = crate::hook::read_stdin()?;
    let refs = crate::hook::parse_pre_push(&stdin)?;
    let say = |line: &str| output.progress.note(&format!("pre-push: {line}"));
    let project_args = args.project.clone();
    let criterion_args = args.criterion_args;
    let loaded = load_project(&project_args)?;
    let positional: Vec<String> = [args.remote, args.url].into_iter().flatten().collect();
    if let Some(code) = crate::hook::run_chained(&loaded.project.dir, &positional, &stdin)?
        && code != 0
    {
        say(&format!(
            "the chained pre-push hook exited {code}: push blocked by it"
        ));
        return Ok(u8::try_from(code).unwrap_or(1).max(1));
    }
    let head = baseline::head_state(&loaded.project.dir);
    let (measure, notes) = crate::hook::plan(&refs, head.commit.as_deref());
    for note in &notes {
        say(note);
    }
    if !measure {
        return Ok(exit_code::PASS);
    }
    if head.dirty {
        say("the work tree has uncommitted changes: they are measured too");
    }
    let quick = || -> Result<Gated> {
        let suite = config::suite(
            project_args.suite.clone(),
            &loaded.file,
            &loaded.project.name,
        )?;
        let settings =
            config::settings(&StatsOverrides::default(), &loaded.file, &loaded.file_path)?;
        let spec = config::base_spec(None, None, None, &loaded.file);
        let selection = RunSelection {
            profile_time: None,
            benches: loaded.file.benches.clone().unwrap_or_default(),
            filter: None,
            criterion_args: criterion_args.clone(),
            shard: None,
            measure: collect::Measure::Time,
        };
        gate(
            &loaded.project,
            &suite,
            &spec,
            config::DEFAULT_HISTORY,
            &settings,
            HeadSource::Run(&selection),
            output.progress,
        )
    };
    let gated = match quick() {
        Ok(gated) => gated,
        Err(error) => {
            eprintln!(
                "flamegate pre-push: could not check this push ({error}); pushing anyway, CI will gate it"
            );
            return Ok(exit_code::PASS);
        }
    };
    let table = Terminal {
        color: output.color,
    }
    .render(&gated.report);
    eprint!("{}", String::from_utf8_lossy(&table));
    match gated.report.outcome {
        Outcome::Pass => Ok(exit_code::PASS),
        Outcome::Fail => {
            eprintln!(
                "flamegate pre-push: push blocked: {} (quick check against the stored baseline).\n\
                 Fix the slowdown, or push anyway with `git push --no-verify` (or FLAMEGATE_SKIP=1 git push).",
                render::headline(&gated.report)
            );
            Ok(exit_code::REGRESSION)
        }
    }
}

/// `flamegate merge`: shard records into one record, compared once (so the
/// suite-wide false discovery rate applies once, over the whole suite),
/// one report, one exit code, and with --publish one comment.
fn merge_shards(args: MergeArgs, output: Output) -> Result<u8> {
    let MergeArgs {
        records,
        allow_incomplete,
        project: project_args,
        base,
        stats,
        output: output_args,
        publish,
        github,
    } = args;
    let labels: Vec<String> = records.iter().map(|p| p.display().to_string()).collect();
    let (merged, paired_run) = match read_paired_shards(&records)? {
        Some(shards) => {
            let (run, merged) = crate::collect::shard::merge_paired(shards, &labels)?;
            (merged, Some(run))
        }
        None => {
            let shards: Vec<RunRecord> = records
                .iter()
                .map(|path| RunRecord::load(path))
                .collect::<Result<_>>()?;
            (crate::collect::shard::merge_records(shards, &labels)?, None)
        }
    };
    if !merged.missing.is_empty() && !allow_incomplete {
        return Err(Error::ShardMismatch(format!(
            "shard {} missing (given {} of {}); pass every shard record, or --allow-incomplete to report \
             the missing benchmarks as missing",
            merged.missing_list(),
            merged.given,
            merged.count
        )));
    }
    let suite_of_shards = merged.suite.clone();
    let missing_list = merged.missing_list();
    let loaded = load_project(&project_args)?;
    let suite = config::suite(
        project_args.suite.clone(),
        &loaded.file,
        &loaded.project.name,
    )?;
    let suite = if merged.record.is_instructions() {
        collect::Measure::Instructions.suite(&suite)
    } else {
        suite
    };
    if suite != suite_of_shards {
        return Err(Error::ShardMismatch(format!(
            "the shards measured suite `{suite_of_shards}`, this project's suite is `{suite}`"
        )));
    }
    let settings = config::settings(&stats_overrides(&stats), &loaded.file, &loaded.file_path)?;
    let (spec, history) = base_spec(&base, &loaded.file);
    let mut gated = match paired_run {
        Some(run) => judge_paired(&suite, run, &settings),
        None => gate(
            &loaded.project,
            &suite,
            &spec,
            history,
            &settings,
            HeadSource::Record(
                Box::new(merged.record),
                format!("{} shards merged", merged.given),
            ),
            output.progress,
        )?,
    };
    if merged.machines_differ {
        gated.report.notes.push(
            "the shards ran on different kinds of machine: their benchmarks carry those machines' differences".into(),
        );
    }
    if !merged.missing.is_empty() {
        gated.report.notes.insert(
            0,
            format!(
                "INCOMPLETE: shard {missing_list} missing, so {} benchmark(s) were not measured (shown as missing)",
                merged.missing_ids
            ),
        );
    }
    let actions = ActionsEnv::from_process();
    finish_check(
        gated,
        &output_args,
        &loaded.project.target_dir,
        output,
        CheckPublish {
            actions: &actions,
            stop_commands: None,
            publish: publish.then_some(&github),
        },
    )
}

/// The paired shards among `paths`, if they are paired shards (all or none).
fn read_paired_shards(paths: &[PathBuf]) -> Result<Option<Vec<collect::paired::PairedShard>>> {
    let mut shards = Vec::new();
    for path in paths {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| Error::ShardMismatch(format!("{}: not JSON: {e}", path.display())))?;
        match value
            .get("paired_shard")
            .and_then(serde_json::Value::as_u64)
        {
            Some(version) if version == u64::from(collect::paired::PAIRED_SHARD_FORMAT) => {
                let shard: collect::paired::PairedShard =
                    serde_json::from_value(value).map_err(|e| {
                        Error::ShardMismatch(format!("{}: not a paired shard: {e}", path.display()))
                    })?;
                shards.push(shard);
            }
            Some(version) => {
                return Err(Error::ShardMismatch(format!(
                    "{}: paired shard format {version}, this flamegate reads {}",
                    path.display(),
                    collect::paired::PAIRED_SHARD_FORMAT
                )));
            }
            None => {}
        }
    }
    match shards.len() {
        0 => Ok(None),
        n if n == paths.len() => Ok(Some(shards)),
        _ => Err(Error::ShardMismatch(
            "some shards are paired runs and some are not: merge the shards of one matrix".into(),
        )),
    }
}
