//! `flamegate check`: the gate.

use std::path::Path;

use super::*;
use crate::cli::gate::{CheckArgs, GithubArgs};
use crate::cli::shared::OutputArgs;
use crate::collect;
use crate::collect::rounds::RoundPlan;
use crate::collect::shard::{Balance, ShardPlan};
use crate::error::{Error, Result, exit_code};
use crate::pipeline::{Gated, HeadSource, Output, RunDescription, measure_paired};
use crate::publish;
use crate::publish::github::env::ActionsEnv;
use crate::publish::github::event::{Origin, read_origin};
use crate::publish::github::workflow::StopCommands;
use crate::record::note::Note;
use crate::record::shard::ShardSpec;
use crate::record::write_atomic;
use crate::render::Format;

/// A check against the stored baseline (of the run, or of `record`); with
/// `paired_if_no_baseline`, paired when the target branch has none yet.
fn check_stored(
    config: &Config,
    suite: &str,
    described: RunDescription,
    record: Option<&std::path::Path>,
    paired_if_no_baseline: bool,
    rounds: RoundPlan,
    output: Output,
) -> Result<Gated> {
    let head = match record {
        Some(path) => HeadSource::File(path),
        None => HeadSource::Run(&config.selection, &collect::runner::Processes),
    };
    let stored =
        config
            .gate(suite, described.clone())
            .stored(config.history, head, output.progress);
    match stored {
        Err(Error::NoBaseline { path, commit, .. }) if paired_if_no_baseline => {
            first_pull_request(config, suite, described, rounds, (&path, &commit), output)
        }
        other => other,
    }
}

/// What the check's report says of the run itself: where the suite's name
/// came from, how to reproduce it (`paired` as asked; a check made paired
/// for want of a baseline reproduces paired too), the pull request's head.
fn run_description(
    config: &Config,
    paired: bool,
    instructions: bool,
    actions: &ActionsEnv,
) -> RunDescription {
    RunDescription {
        notes: config.suite_origin.iter().cloned().collect(),
        reproduce: Some(crate::report::Reproduce {
            paired,
            instructions,
        }),
        pull_request_head: pull_request_head(actions),
    }
}

pub(crate) fn check(args: CheckArgs, output: Output) -> Result<u8> {
    let CheckArgs {
        project,
        bench,
        base,
        stats,
        output: output_args,
        record,
        paired,
        rounds,
        budget,
        time_identical,
        time_all,
        no_instruction_check,
        paired_if_no_baseline,
        publish,
        github,
        defer_acceptances,
        bisect,
        shard,
    } = args;
    if shard.is_some() && (publish || record.is_some()) {
        return Err(Error::Usage(
            "--shard measures one part of the suite for `flamegate merge`, which compares and publishes once; \
             it cannot be combined with --publish or --record"
                .into(),
        ));
    }
    let actions = ActionsEnv::from_process();
    // Benchmark output and names are untrusted: while they are printed, the
    // runner must not read workflow commands from stdout. (JSON on stdout
    // stays pure JSON; names in it are escaped strings, never a line start.)
    let stop_commands =
        (shard.is_none() && actions.in_actions && Format::from(output_args.format) != Format::Json)
            .then(StopCommands::begin);
    let mut config = Config::resolve(&project, Flags::all(&bench, &base, &stats))?;
    config.selection.time_identical = time_identical || time_all;
    config.selection.time_same_code = time_identical || time_all;
    if time_all {
        config.selection.executed = collect::ExecutedCheck::Off;
    }
    config.selection.check_instructions = !no_instruction_check;
    let instructions = config.selection.measure == collect::Measure::Instructions;
    if paired && instructions && shard.is_some() {
        return Err(Error::Usage(
            "--paired --shard with --measure instructions is not supported: shard instruction counts with \
             `check --shard K/N --measure instructions` against the stored baseline (counts are exact, so \
             a baseline from this machine kind gives the same answer)"
                .into(),
        ));
    }
    if paired && instructions && (rounds.is_some() || budget.is_some()) {
        return Err(Error::Usage(
            "--rounds and --budget do not apply to instruction counts: they are exact, each side is counted once".into(),
        ));
    }
    let rounds = round_plan(rounds, budget)?;
    if let Some(spec) = shard {
        let out_dir = output_args
            .out_dir
            .unwrap_or_else(|| config.project.target_dir.join("flamegate"));
        let path = out_dir.join(format!("shard-{}-of-{}.json", spec.index, spec.count));
        return check_shard(config, spec, paired.then_some(rounds), &path, output);
    }
    let suite = config.measured_suite();
    let described = run_description(&config, paired, instructions, &actions);
    let mut gated = if paired {
        check_paired(&config, &suite, described, rounds, output)?
    } else {
        check_stored(
            &config,
            &suite,
            described,
            record.as_deref(),
            paired_if_no_baseline,
            rounds,
            output,
        )?
    };
    let out_dir = output_args
        .out_dir
        .clone()
        .unwrap_or_else(|| config.project.target_dir.join("flamegate"));
    write_history_page(&config, &suite, &mut gated.report, &out_dir, output);
    name_dependencies(&config, &mut gated);
    if bisect && gated.report.outcome == crate::report::Outcome::Fail {
        name_culprits(&config, &mut gated.report, output);
    }
    finish_check(
        gated,
        &output_args,
        &config.project.target_dir,
        output,
        CheckPublish {
            actions: &actions,
            stop_commands,
            publish: publish.then_some(&github),
            defer_acceptances,
        },
    )
}

/// When `Cargo.lock` differs between the base commit and the work tree: a
/// note naming the packages, and on each regression counted with
/// per-function instructions on both sides, the packages whose crates'
/// functions execute more or less (`compare::instructions::dependency_shares`).
/// A lock file that cannot be read names nothing.
fn name_dependencies(config: &Config, gated: &mut Gated) {
    let Some(base) = gated.report.base.commit.clone() else {
        return;
    };
    let locks = crate::baseline::git::ProjectRepo::open(&config.project.dir).and_then(|repo| {
        Ok((
            repo.lock_at(&repo.commit_at(&base)?)?,
            repo.work_tree_lock()?,
        ))
    });
    let Ok((before, after)) = locks else {
        return;
    };
    if after.is_empty() {
        return;
    }
    let changes = collect::cargo::lock_changes(&before, &after);
    if changes.is_empty() {
        return;
    }
    gated.report.notes.push(Note::LockChanged {
        packages: changes.clone(),
    });
    let (base, head) = (&gated.base, &gated.head);
    for c in gated
        .report
        .comparisons
        .iter_mut()
        .filter(|c| c.verdict == crate::report::Verdict::Regressed)
    {
        let sides = base.bench(&c.id).zip(head.bench(&c.id));
        let Some(sides) = sides.filter(|(b, h)| b.functions.is_some() && h.functions.is_some())
        else {
            continue;
        };
        c.dependencies =
            crate::compare::instructions::dependency_shares(changes.clone(), Some(sides))
                .into_iter()
                .filter(|d| d.share.is_some_and(|share| share != 0.0))
                .collect();
    }
}

/// `check --bisect` on a failing gate: bisect the regressions between the
/// base commit and HEAD, when more than one commit lies between them; what
/// stands in the way is a note, never a failure of the check.
fn name_culprits(config: &Config, report: &mut crate::report::Report, output: Output) {
    let regressed: Vec<crate::record::BenchId> = report
        .with(crate::report::Verdict::Regressed)
        .map(|c| c.id.clone())
        .collect();
    // A gate failed by allocations or scaling alone has nothing to bisect.
    if regressed.is_empty() {
        return;
    }
    let Some(base) = report.base.commit.clone() else {
        report.notes.push(Note::BisectNotStarted {
            problem: "the base is no commit, so there are no commits to bisect".into(),
        });
        return;
    };
    let several = crate::baseline::git::ProjectRepo::open(&config.project.dir).and_then(|repo| {
        let (good, bad) = (repo.commit_at(&base)?, repo.head_commit()?);
        Ok(repo.first_parent_range(&good, &bad)?.len() > 1)
    });
    match several {
        Ok(true) => {}
        Ok(false) => return,
        Err(error) => {
            report.notes.push(Note::BisectNotStarted {
                problem: error.to_string(),
            });
            return;
        }
    }
    let request = crate::bisect::Request {
        project: &config.project,
        suite: config.suite.clone(),
        good: base,
        bad: "HEAD".into(),
        selection: collect::RunSelection {
            benches: config.selection.benches.clone(),
            packages: config.selection.packages.clone(),
            filter: collect::exact_filter(&regressed),
            ..Default::default()
        },
        settings: &config.settings,
        any_change: false,
        measure: (config.selection.measure == collect::Measure::Instructions)
            .then_some(collect::Measure::Instructions),
        profile_time: config.selection.profile_time,
    };
    match crate::bisect::bisect(&request, &collect::runner::Processes, &output.progress) {
        Ok(found) => report.bisect = Some(Box::new(found)),
        Err(error) => report.notes.push(Note::BisectFailed {
            problem: error.to_string(),
        }),
    }
}

/// `check --paired-if-no-baseline` without a stored baseline (at `path`
/// of `commit`): the paired check (time or instruction counts), with a
/// note that says why.
fn first_pull_request(
    config: &Config,
    suite: &str,
    mut described: RunDescription,
    rounds: RoundPlan,
    (path, commit): (&str, &str),
    output: Output,
) -> Result<Gated> {
    let why = Note::FirstPullRequest {
        baseline_file: path.to_string(),
        commit: commit.to_string(),
    };
    output.progress.note(&why.to_string());
    described.notes.insert(0, why);
    check_paired(config, suite, described, rounds, output)
}

/// The paired check: instruction counts of both sides, or timed rounds.
fn check_paired(
    config: &Config,
    suite: &str,
    described: RunDescription,
    rounds: RoundPlan,
    output: Output,
) -> Result<Gated> {
    let gate = config.gate(suite, described);
    let runner = &collect::runner::Processes;
    if config.selection.measure == collect::Measure::Instructions {
        gate.paired_instructions(&config.selection, runner, output.progress)
    } else {
        gate.paired(&config.selection, rounds, runner, output.progress)
    }
}

/// `check --shard K/N`: measure one shard and write its record for
/// `flamegate merge`; `paired` carries the round plan of a paired shard.
fn check_shard(
    mut config: Config,
    spec: ShardSpec,
    paired: Option<RoundPlan>,
    path: &Path,
    output: Output,
) -> Result<u8> {
    config.selection.shard = Some(match paired {
        // No stored baseline is needed, nor read: equal counts balance
        // paired rounds (collect::shard, `Balance::EqualCounts`).
        Some(_) => ShardPlan {
            spec,
            suite: config.measured_suite(),
            balance: Balance::EqualCounts,
        },
        None => shard_plan(spec, &config, output.progress),
    });
    let (json, measured) = match paired {
        Some(rounds) => {
            let shard = measure_paired(
                &config.project,
                &config.base,
                &config.selection,
                rounds,
                &config.settings,
                &collect::runner::Processes,
                output.progress,
            )?;
            let count = shard.run.head.benches.len();
            let json = serde_json::to_string(&shard).expect("a paired shard serialises") + "\n";
            (json, count)
        }
        None => {
            let record = config.measure(output.progress)?;
            (record.to_json(), record.benches.len())
        }
    };
    write_atomic(path, json.as_bytes())?;
    output.progress.note(&format!(
        "shard {spec}: wrote {} ({measured} benchmarks). The verdict comes from `flamegate merge` over all {} shard records",
        path.display(),
        spec.count
    ));
    Ok(exit_code::PASS)
}

/// What `check` does with GitHub after the comparison.
pub(crate) struct CheckPublish<'a> {
    pub(crate) actions: &'a ActionsEnv,
    pub(crate) stop_commands: Option<StopCommands>,
    pub(crate) publish: Option<&'a GithubArgs>,
    /// `--defer-acceptances`: a later `publish --gate` step checks them.
    pub(crate) defer_acceptances: bool,
}

/// Record the pull request's head (GitHub checks out a merge commit), write
/// and print the report, publish it if asked. The exit code is the gate's.
/// The pull request's head commit, in a job for one: the run measured
/// GitHub's merge commit of it when the checkout's HEAD differs.
pub(crate) fn pull_request_head(actions: &ActionsEnv) -> Option<String> {
    match read_origin(actions, false) {
        Ok(Origin::PullRequest { head_sha, .. }) => Some(head_sha),
        _ => None,
    }
}

pub(crate) fn finish_check(
    mut gated: Gated,
    args: &OutputArgs,
    target_dir: &Path,
    output: Output,
    github: CheckPublish<'_>,
) -> Result<u8> {
    let options = github.publish.map(|args| publish_options(args, false));
    settle_acceptances(&mut gated.report, options.as_ref(), &github, output);
    let (code, report) = emit(gated, args, target_dir, output)?;
    drop(github.stop_commands);
    if let Some(options) = options {
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

/// Where the gate decides a merge, an acceptance counts only once checked
/// on GitHub (`publish::github::accept`): publishing checks it; in GitHub
/// Actions without publishing it is refused, unless a later `publish
/// --gate` step checks it. A local check honours it, marked unverified.
fn settle_acceptances(
    report: &mut crate::report::Report,
    options: Option<&publish::github::PublishOptions>,
    github: &CheckPublish<'_>,
    output: Output,
) {
    let line = match options {
        Some(options) => {
            publish::github::accept::settle(report, options, github.actions, output.progress)
        }
        None if github.actions.in_actions
            && !github.defer_acceptances
            && report.settings.accept_policy
                == crate::record::acceptance::AcceptPolicy::Writers
            && report.has_acceptances() =>
        {
            report.judge_acceptances(&crate::record::acceptance::Standing::Refused {
                why: "in GitHub Actions an acceptance counts only once checked on GitHub: add \
                      --publish, or --defer-acceptances with a later `flamegate publish --gate` step"
                    .into(),
            });
            Some("acceptances not honoured: not checked on GitHub (see the report)".into())
        }
        None => None,
    };
    if let Some(line) = line {
        output.progress.note(&line);
    }
}

/// The history page beside the report: every committed baseline of the
/// target branch with this head as the last point (`history.html`). Best
/// effort and quiet: without committed baselines (a paired check of a
/// project that has none) there is no history to draw.
fn write_history_page(
    config: &Config,
    suite: &str,
    report: &mut crate::report::Report,
    out_dir: &Path,
    output: Output,
) {
    let branch = match &config.base {
        crate::baseline::BaseSpec::MergeBase { target_branch } => target_branch.clone(),
        _ => None,
    };
    let history = crate::history::read(
        &crate::history::Request {
            project_dir: &config.project.dir,
            suite,
            branch: branch.as_deref(),
            limit: 200,
            filter: None,
            min_change: config.settings.min_change,
            head: Some(report),
            pending: None,
        },
        crate::progress::Progress::Silent,
    );
    let Ok(history) = history else { return };
    let path = out_dir.join(HISTORY_PAGE);
    match write_atomic(&path, &crate::render::history::html(&history)) {
        Ok(()) => {
            report.history_page = Some(HISTORY_PAGE.to_string());
            output.progress.note(&format!(
                "wrote {} ({} baselines of {suite}, this head last)",
                path.display(),
                history.commits.len()
            ));
        }
        Err(e) => output
            .progress
            .note(&format!("the history page was not written: {e}")),
    }
}

/// The history page's file name beside report.json.
const HISTORY_PAGE: &str = "history.html";
