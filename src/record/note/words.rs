//! The words of every note: the one place a note becomes a sentence, for
//! the terminal, the Markdown comment and report.json's `text` alike.

use std::fmt;

use super::{Detectable, Disagreement, Note, PerUnit};
use crate::error::short_sha;

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds = [
            Note::fmt_set_up,
            Note::fmt_acceptance,
            Note::fmt_reading,
            Note::fmt_untimed,
            Note::fmt_counts,
            Note::fmt_rounds,
            Note::fmt_written,
            Note::fmt_bisect_and_history,
        ];
        kinds
            .iter()
            .find_map(|words| words(self, f))
            .expect("every note has its words in one of the kinds")
    }
}

impl Note {
    /// How the run was set up: the baseline, the clone, the shards.
    fn fmt_set_up(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Note::FirstPullRequest {
                baseline_file,
                commit,
            } => write!(
                f,
                "no stored baseline ({baseline_file}) at commit {}, so this is a paired check: the base commit was built \
                 and measured in this job. To compare with a stored baseline, run `flamegate baseline update` on \
                 the base branch and commit {baseline_file}",
                short_sha(commit)
            ),
            Note::SuiteNamedAfterPackage { suite, package } => write!(
                f,
                "suite `{suite}` is named after `{package}` (the package or workspace folder), made a valid file name; \
                 choose another with `suite = \"...\"` in flamegate.toml or --suite"
            ),
            Note::TargetBranchFallback { branch } => {
                write!(f, "origin/main not found; compared against `{branch}`")
            }
            Note::Deepened { remote, fetched } => write!(
                f,
                "this was a shallow clone: fetched the full history of HEAD and {} from {remote}",
                fetched.join(", ")
            ),
            Note::NotDeepened { problem } => {
                write!(f, "shallow clone, not deepened: {problem}")
            }
            Note::BaselineFromFile => f.write_str(
                "baseline from a file: no history, so the noise estimate comes from the run itself",
            ),
            Note::HistoryCutByShallowClone => f.write_str(
                "the baseline's history is cut by a shallow clone; fetch full history (`fetch-depth: 0`) for a better noise estimate",
            ),
            Note::EarlierBaselineSkipped { problem } => {
                write!(f, "skipped an earlier baseline: {problem}")
            }
            Note::BaselineCommitNotInClone { commit } => write!(
                f,
                "the baseline was measured at commit {}, which this clone does not have: \
                 slowdowns accepted on the target branch since then are not known here \
                 (fetch more history)",
                short_sha(commit)
            ),
            Note::BuildSettingChanged { file } => write!(
                f,
                "`{file}` differs between base and head; both sides were built with the head's, \
                 so its effect is not in this comparison"
            ),
            Note::ShardsOnDifferentMachines => f.write_str(
                "the shards ran on different kinds of machine: their benchmarks carry those machines' differences",
            ),
            Note::ShardsMissing { shards, benchmarks } => write!(
                f,
                "INCOMPLETE: shard {shards} missing, so {benchmarks} benchmark(s) were not measured (shown as missing)"
            ),
            _ => return None,
        })
    }

    /// The pull request's acceptance lines.
    fn fmt_acceptance(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Note::AcceptLineProblem { commit, problem } => {
                write!(f, "commit {}: {problem}", short_sha(commit))
            }
            Note::AcceptancesUnreadable { trailer, problem } => write!(
                f,
                "accepted slowdowns (`{trailer}` lines in the pull request's commits) could not be read: {problem}"
            ),
            Note::AcceptancePolicyOff { lines } => write!(
                f,
                "{lines} acceptance line(s) in the pull request's commits accept nothing: \
                 flamegate.toml sets `[accept] policy = \"off\"`"
            ),
            Note::AcceptGlobInvalid {
                commit,
                glob,
                problem,
            } => write!(
                f,
                "commit {}: `{glob}` is not a benchmark glob ({problem}); it accepts nothing",
                short_sha(commit)
            ),
            _ => return None,
        })
    }

    /// How far the comparison's numbers can be read.
    fn fmt_reading(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Note::OtherMachine { base, head } => write!(
                f,
                "the baseline was recorded on another machine ({}, {} cores, {}) than this run ({}, {} cores, {}); \
                 verdicts are low-confidence. Same-machine baselines (or paired runs) give trustworthy verdicts",
                base.cpu_model,
                base.logical_cores,
                base.rustc,
                head.cpu_model,
                head.logical_cores,
                head.rustc
            ),
            Note::FewSharedBenchmarks { minimum } => write!(
                f,
                "fewer than {minimum} shared benchmarks: the machine's overall speed difference is not removed"
            ),
            Note::NoHistoryYet => f.write_str(
                "the baseline has no history yet, so run-to-run noise is estimated from each run's own spread and \
                 verdicts are low-confidence; each `flamegate baseline update` commit adds history",
            ),
            Note::NoProfiler => f.write_str(
                "to see where the time went (hotspots and flamegraphs), install flamegate's profiler in your benches: \
                 on criterion 0.8 `criterion_group! { name = benches; config = flamegate_hook::criterion(); targets = ... }` \
                 (dev-dependency flamegate-hook), on criterion 0.5 `config = flamegate_hook_criterion05::criterion()` \
                 (dev-dependency flamegate-hook-criterion05); other criterion versions and divan have no hook yet",
            ),
            Note::HeldBackByRounds {
                benchmarks,
                min_rounds,
            } => write!(
                f,
                "{} benchmark(s) read slower beyond the threshold, but from fewer than the {min_rounds} rounds a \
                 regression is called from (round ratios can be bimodal): {}; they read `likely slower` and \
                 do not fail the gate. Run `--rounds {min_rounds}` or more, or give the adaptive plan a larger `--budget`",
                benchmarks.len(),
                listed(benchmarks, |b| format!("{} ({} rounds)", b.id, b.rounds)),
            ),
            Note::Insensitive {
                aim,
                benchmarks,
                paired,
            } => insensitive(f, *aim, benchmarks, *paired),
            Note::InputChanged {
                unit,
                base,
                head,
                counted,
                benchmarks,
            } => input_changed(f, unit, (*base, *head), *counted, benchmarks),
            Note::LockChanged { packages } => write!(
                f,
                "Cargo.lock differs between the base and the head: {}",
                packages
                    .iter()
                    .map(|p| format!(
                        "`{}` {} → {}",
                        p.name,
                        p.before.join(", "),
                        p.after.join(", ")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            _ => return None,
        })
    }

    /// What was not timed, and why.
    fn fmt_untimed(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Note::SameCodeAsRecorded { benchmarks } => write!(
                f,
                "{benchmarks} benchmark(s) not timed: same code executed. Each ran once under callgrind and executed \
                 what the baseline's record says it executed (the same functions, with the same machine \
                 code, the same number of instructions each), so timing it again would measure only the \
                 machine. `--time-all` times them anyway"
            ),
            Note::EveryBenchmarkTimed => f.write_str(
                "every benchmark timed: the baseline's record says what each benchmark executed, but this \
                 run did not look (`--time-all`, or valgrind is not installed: `apt-get install valgrind` \
                 to time only what executes differently)",
            ),
            Note::IdenticalNotTimed { benchmarks } => write!(
                f,
                "{benchmarks} benchmark(s) not timed: both sides' bench executables load identical machine code \
                 (code, read-only data and data compared byte for byte; debug information and build ids \
                 ignored), so they cannot differ but by noise. `--time-identical` times them anyway"
            ),
            Note::SameCodeOnBothSides { benchmarks } => write!(
                f,
                "{benchmarks} benchmark(s) not timed: same code executed. Run once under callgrind on each side, \
                 each executed the same functions, with the same machine code (placement aside), the same \
                 number of instructions each; timing them again would measure only the machine. \
                 `--time-all` times them anyway"
            ),
            Note::SameCodeUnchecked { why } => f.write_str(why),
            _ => return None,
        })
    }

    /// What the instruction counts add to the times.
    fn fmt_counts(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        let disagreeing = |benchmarks: &[Disagreement]| {
            listed(benchmarks, |b| {
                format!(
                    "`{}` (time {:+.1}%, instructions {:+.1}%)",
                    b.id,
                    b.time * 100.0,
                    b.instructions * 100.0
                )
            })
        };
        Some(match self {
            Note::FasterWithMoreInstructions { benchmarks } => write!(
                f,
                "faster although more instructions run: {}. The work grew and this machine runs the new \
                 code faster all the same (fewer mispredicted branches, more memory accesses in flight at once, \
                 vector units); the verdict follows the time, which is what users wait for, but the speed-up \
                 rests on the hardware and may be smaller on another CPU",
                disagreeing(benchmarks)
            ),
            Note::SlowerWithFewerInstructions { benchmarks } => write!(
                f,
                "slower although fewer instructions run: {}. The work shrank but this machine runs it slower \
                 (cache misses, mispredicted branches, longer dependency chains or slower instructions such \
                 as division); the verdict follows the time, which is what users wait for; the simulated \
                 cycles, where shown, say whether caches and branches explain it",
                disagreeing(benchmarks)
            ),
            Note::CountedWithOtherTools {
                base_rustc,
                base_valgrind,
                head_rustc,
                head_valgrind,
            } => write!(
                f,
                "the baseline was counted with {base_rustc} and {}, this run with {head_rustc} and {}: counts can differ for that reason alone",
                base_valgrind.as_deref().unwrap_or("no valgrind"),
                head_valgrind.as_deref().unwrap_or("no valgrind"),
            ),
            Note::TimeChangesCounted { benchmarks } => write!(
                f,
                "{benchmarks} benchmark(s) whose time changed were counted on both sides under callgrind: a change \
                 with the same instructions and the same simulated cache and branch behaviour is `layout` \
                 (where the code sits moved the time, not what it executes) and does not fail the gate; \
                 set `fail_on_layout = true` under `[thresholds]` in flamegate.toml to fail on it"
            ),
            Note::NotCounted { benchmarks, why } => write!(
                f,
                "not checked against instruction counts ({}): {why}; their timing verdicts stand",
                benchmarks.join(", ")
            ),
            _ => return None,
        })
    }

    /// How the paired rounds went.
    fn fmt_rounds(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Note::DisturbedRounds {
                benchmarks,
                wait,
                steal,
            } => write!(
                f,
                "{} disturbed round(s) set aside ({}): something else took the benchmark's CPU \
                 while it was measured (its process waited for a CPU for {:.0}% or more of its \
                 measurement window beyond the least it waited in any window, or the hypervisor stole {:.0}% or more); the round plan runs more \
                 rounds in their place (past its budget too, until four count, at most four more), and \
                 the verdicts come from the undisturbed rounds",
                benchmarks.iter().map(|b| b.rounds).sum::<usize>(),
                listed(benchmarks, |b| format!("{} {}", b.id, b.rounds)),
                100.0 * wait,
                100.0 * steal,
            ),
            Note::SingleRound => f.write_str(
                "a single round cannot separate change from noise; use --rounds 2 or more",
            ),
            _ => return None,
        })
    }

    /// A note as it was written (an older report's, or an unknown kind's).
    fn fmt_written(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        match self {
            Note::Written { text } => Some(f.write_str(text)),
            _ => None,
        }
    }

    /// What `bisect` and `history` say beside their findings, and what
    /// stood in the way of `check --bisect`.
    fn fmt_bisect_and_history(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Note::BisectNotStarted { problem } => write!(f, "--bisect: {problem}"),
            Note::BisectFailed { problem } => {
                write!(f, "--bisect could not name the commits: {problem}")
            }
            Note::BisectedByTiming {
                any_change,
                good,
                bad,
            } => write!(
                f,
                "no instruction count {} by more than its min_change between {} and {}: \
                 bisected by paired timing",
                if *any_change { "changed" } else { "grew" },
                short_sha(good),
                short_sha(bad)
            ),
            Note::ChangeSpread {
                id,
                commit,
                verdict,
            } => write!(
                f,
                "{id}: {} alone reads {verdict} against its parent; the change may be spread over \
                 several commits, or within this machine's noise",
                short_sha(commit)
            ),
            Note::OlderVersionsMissing => f.write_str(
                "this is a shallow clone, so older versions are missing: fetch the full history \
                 (actions/checkout with `fetch-depth: 0`)",
            ),
            Note::NewestVersionsOnly {
                limit,
                path,
                branch,
            } => write!(
                f,
                "the newest {limit} versions of {path} on {branch} (--limit)"
            ),
            Note::VersionSkipped {
                stored_in,
                summary,
                problem,
            } => write!(
                f,
                "skipped the version stored in {} (\"{summary}\"): {problem}",
                short_sha(stored_in)
            ),
            Note::ShiftBisectFailed { commit, problem } => {
                write!(f, "--bisect at {}: {problem}", short_sha(commit))
            }
            Note::ShiftNotPlaced { id, commit } => write!(
                f,
                "--bisect: {id} could not be placed on one commit before {}",
                short_sha(commit)
            ),
            _ => return None,
        })
    }
}

/// The benchmarks that could not have shown a slowdown of `aim`.
fn insensitive(
    f: &mut fmt::Formatter<'_>,
    aim: f64,
    benchmarks: &[Detectable],
    paired: bool,
) -> fmt::Result {
    let remedy = if paired {
        "their rounds spread too widely for the rounds they had: more rounds (`--rounds N`, a \
             larger `--budget`) or a quieter runner narrow it"
    } else {
        "their baseline history spreads too widely: `check --paired` measures both sides in this \
             job and usually narrows it"
    };
    write!(
        f,
        "{} benchmark(s) could not have shown a {:.0}% slowdown with 80% probability in this run: {}; {remedy}",
        benchmarks.len(),
        100.0 * aim,
        listed(benchmarks, |b| format!(
            "{} (≥ {:.1}%)",
            b.id,
            100.0 * b.detectable
        ))
    )
}

/// Benchmarks whose declared input changed from `base` to `head` units.
fn input_changed(
    f: &mut fmt::Formatter<'_>,
    unit: &str,
    (base, head): (u64, u64),
    counted: bool,
    benchmarks: &[PerUnit],
) -> fmt::Result {
    let unit = crate::record::unit_word(unit);
    let measure = if counted { "instructions" } else { "time" };
    let growth = head as f64 / base as f64 - 1.0;
    let how = format!(
        "{} {:.1}% ({base} → {head} {unit}s per iteration)",
        if growth > 0.0 { "grew" } else { "shrank" },
        growth.abs() * 100.0,
    );
    match benchmarks {
        [one] => write!(
            f,
            "`{}`: its declared input {how}, so its change is {measure} per {unit}: {:+.1}% (the medians are as measured)",
            one.id,
            one.change * 100.0
        ),
        _ => write!(
            f,
            "{} benchmarks' declared input {how} ({}), so their changes are {measure} per {unit} (the medians are as measured)",
            benchmarks.len(),
            listed(benchmarks, |b| format!("`{}`", b.id))
        ),
    }
}

/// Items in words, comma-separated.
fn listed<T>(items: &[T], word: impl Fn(&T) -> String) -> String {
    items.iter().map(word).collect::<Vec<_>>().join(", ")
}
