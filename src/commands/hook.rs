//! `flamegate hook install | uninstall | pre-push`.

use std::path::Path;

use super::*;
use crate::baseline;
use crate::cli::hook::{HookInstallArgs, PrePushArgs};
use crate::collect::RunSelection;
use crate::error::{Error, Result, exit_code};
use crate::pipeline::{Gated, HeadSource, Output};
use crate::render::terminal::Terminal;
use crate::render::{self, Renderer};
use crate::report::Outcome;

pub(crate) fn hook_install(args: HookInstallArgs, output: Output) -> Result<u8> {
    let config = Config::resolve(&args.project, Flags::default())?;
    let exe = std::env::current_exe().map_err(|e| Error::io("the flamegate executable", e))?;
    let criterion_args = if args.criterion_args.is_empty() {
        crate::hook::QUICK_CRITERION_ARGS
            .iter()
            .map(|a| a.to_string())
            .collect()
    } else {
        args.criterion_args
    };
    // The hook runs from the top of the work tree: name a project below it
    // relative to that, so a moved or re-cloned repository still finds it.
    let top = crate::hook::work_tree_top(&config.project.dir)?;
    let manifest = config
        .project
        .manifest_path
        .strip_prefix(&top)
        .unwrap_or(&config.project.manifest_path);
    let manifest = (manifest != Path::new("Cargo.toml")).then_some(manifest);
    let installed = crate::hook::install(
        &config.project.dir,
        &exe,
        crate::hook::QuickGate {
            manifest,
            budget: args.budget,
            criterion_args: &criterion_args,
            time_new: args.time_new,
        },
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
/// (exit 1); a check that cannot run (no baseline yet, a build error, a
/// setting it does not know, a crash) or that outlives its budget is
/// reported and lets the push through: the hook is a convenience, CI is
/// the gate. The check runs in a child process (`--supervised`) so that
/// none of that can hold or block the push.
pub(crate) fn hook_pre_push(args: PrePushArgs, output: Output) -> Result<u8> {
    if args.supervised {
        return quick_gate(args, output);
    }
    let budget = std::time::Duration::from_secs(args.budget);
    Ok(match crate::hook::supervise(budget) {
        Ok(crate::hook::Supervised::Exited(code)) if code == crate::hook::BLOCKS_PUSH => code,
        Ok(crate::hook::Supervised::Exited(0)) => exit_code::PASS,
        Ok(crate::hook::Supervised::Exited(_)) => {
            let how = "skip the hook with FLAMEGATE_SKIP=1 git push, or git push --no-verify";
            eprintln!(
                "flamegate pre-push: the check did not run to a verdict (see above); pushing anyway, CI gates it ({how})"
            );
            exit_code::PASS
        }
        Ok(crate::hook::Supervised::OutOfTime) => {
            eprintln!(
                "flamegate pre-push: the check ran out of its {} s budget and was stopped: this push is not checked \
                 (CI gates it). Give it longer with `flamegate hook install --budget SECONDS`",
                budget.as_secs()
            );
            exit_code::PASS
        }
        // The push stops: git was interrupted too, and an interrupted check
        // must not push unchecked when only flamegate got the signal.
        Ok(crate::hook::Supervised::Interrupted) => {
            eprintln!("flamegate pre-push: interrupted; the check was stopped and so is the push");
            exit_code::INTERRUPTED
        }
        Err(error) => {
            eprintln!(
                "flamegate pre-push: could not start the check ({error}); pushing anyway, CI gates it"
            );
            exit_code::PASS
        }
    })
}

/// The check itself, in the supervised child.
fn quick_gate(args: PrePushArgs, output: Output) -> Result<u8> {
    let stdin = crate::hook::read_stdin()?;
    let refs = crate::hook::parse_pre_push(&stdin)?;
    let say = |line: &str| output.progress.note(&format!("pre-push: {line}"));
    let project_args = args.project.clone();
    let criterion_args = args.criterion_args;
    let config = Config::resolve(&project_args, Flags::default())?;
    let positional: Vec<String> = [args.remote, args.url].into_iter().flatten().collect();
    if let Some(code) = crate::hook::run_chained(&config.project.dir, &positional, &stdin)?
        && code != 0
    {
        say(&format!(
            "the chained pre-push hook exited {code}: push blocked by it"
        ));
        return Ok(crate::hook::BLOCKS_PUSH);
    }
    let head = baseline::git::head_state(&config.project.dir);
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
    // The quick gate: time, no profiling pass, the hook's own criterion
    // windows; benchmarks, thresholds and baseline from flamegate.toml.
    // Only the stored baseline's benchmarks unless installed with
    // --time-new: one without a baseline can only read `new`, and timing it
    // would spend the push's time on nothing (on a real crate, 39 of 43).
    // The others are listed. A missing baseline is reported by `gate`.
    let stored_ids = if args.time_new {
        None
    } else {
        baseline::load(&config.project.dir, &config.suite, &config.base, 0)
            .ok()
            .map(|stored| {
                stored
                    .record
                    .benches
                    .iter()
                    .map(|bench| bench.id.clone())
                    .collect::<std::collections::BTreeSet<_>>()
            })
    };
    if let Some(ids) = &stored_ids {
        say(&format!(
            "measuring the {} benchmark(s) of the stored baseline; benchmarks added since are listed, not timed (CI times them; `flamegate hook install --time-new` times them here too)",
            ids.len()
        ));
    }
    let selection = RunSelection {
        profile_time: None,
        criterion_args,
        timed_ids: stored_ids,
        ..config.selection.clone()
    };
    let quick = || -> Result<Gated> {
        config.gate(&config.suite, Default::default()).stored(
            config.history,
            HeadSource::Run(&selection, &crate::collect::runner::Processes),
            output.progress,
        )
    };
    let started = std::time::Instant::now();
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
    say(&format!(
        "checked {} benchmark(s) in {:.0} s",
        gated.report.comparisons.len(),
        started.elapsed().as_secs_f64()
    ));
    if gated.report.outcome == Outcome::Pass {
        return Ok(exit_code::PASS);
    }
    let budget = std::time::Duration::from_secs(args.budget).saturating_sub(started.elapsed());
    confirm_paired(&config, &selection, &gated.report, budget, output)
}

/// A stored baseline was measured at another time, often under another
/// load: the quick check's regression is a suspicion until a paired run
/// (the merge-base built here, both sides timed in alternating rounds, so
/// the machine's drift falls on both) finds it too. Only the flagged
/// benchmarks are timed; half the budget left goes to rounds, the rest to
/// building. Where the paired run cannot be made, the quick verdict stands.
fn confirm_paired(
    config: &Config,
    selection: &RunSelection,
    quick: &crate::report::Report,
    budget: std::time::Duration,
    output: Output,
) -> Result<u8> {
    let flagged = flagged_ids(quick);
    output.progress.note(&format!(
        "pre-push: {}; confirming with a paired run of the {} flagged benchmark(s) against the merge-base",
        render::headline(quick),
        flagged.len()
    ));
    let selection = RunSelection {
        filter: crate::collect::exact_filter(&flagged),
        timed_ids: None,
        ..selection.clone()
    };
    let plan = crate::collect::rounds::RoundPlan::Adaptive {
        budget: Some(budget / 2),
    };
    let paired = config.gate(&config.suite, Default::default()).paired(
        &selection,
        plan,
        &crate::collect::runner::Processes,
        output.progress,
    );
    let (report, how) = match &paired {
        Ok(gated) => {
            let table = Terminal {
                color: output.color,
            }
            .render(&gated.report);
            eprint!("{}", String::from_utf8_lossy(&table));
            (
                &gated.report,
                "confirmed by a paired run against the merge-base",
            )
        }
        Err(error) => {
            eprintln!("flamegate pre-push: the paired run could not be made ({error})");
            (
                quick,
                "quick check against the stored baseline, not confirmed",
            )
        }
    };
    if report.outcome == Outcome::Pass {
        eprintln!(
            "flamegate pre-push: not confirmed: with both sides timed now, the paired run finds no regression \
             (the stored baseline was measured at another time, most often under another load); pushing"
        );
        return Ok(exit_code::PASS);
    }
    eprintln!(
        "flamegate pre-push: push blocked: {} ({how}).\n\
         Fix the slowdown, or push anyway with `git push --no-verify` (or FLAMEGATE_SKIP=1 git push).",
        render::headline(report)
    );
    Ok(exit_code::REGRESSION)
}

/// The benchmarks behind a failed report: those that fail the gate, and
/// every member of a sized group that does.
fn flagged_ids(
    report: &crate::report::Report,
) -> std::collections::BTreeSet<crate::record::BenchId> {
    let failing = report
        .comparisons
        .iter()
        .filter(|c| c.verdict.fails_gate())
        .map(|c| c.id.clone());
    let scaling = report
        .scaling
        .iter()
        .filter(|s| s.fails)
        .flat_map(|s| s.members.iter().map(|m| m.id.clone()));
    failing.chain(scaling).collect()
}
