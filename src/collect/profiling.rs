//! The profiling pass: each benchmark run again under the flamegate hook's
//! sampler, apart from the timing pass, so profiling never distorts the
//! timings.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::progress::Progress;
use crate::record::BenchId;

use super::cargo::BenchExecutable;
use super::runner::Runner;
use super::{RunSelection, command, runner};

/// Say which bench targets the profiling pass leaves out, and why: their
/// criterion has no flamegate hook, or their config installs no profiler.
pub(crate) fn note_unprofiled(listed: &[(BenchExecutable, Vec<String>)], progress: &Progress) {
    let commands: Vec<&str> = listed
        .iter()
        .filter(|(exe, _)| exe.is_command() && !exe.profiles_itself())
        .flat_map(|(_, ids)| ids.iter().map(String::as_str))
        .collect();
    if !commands.is_empty() {
        progress.note(&format!(
            "not profiled: command(s) {}: their program does not sample itself, so they get timing \
             verdicts without flamegraphs (`let _profile = flamegate_sampler::profile_command();` first in \
             its `main` does, with the crate flamegate-sampler as a dependency)",
            commands.join(", ")
        ));
    }
    let no_hook: Vec<String> = listed
        .iter()
        .filter(|(exe, ids)| !ids.is_empty() && !exe.fits_profiler_hook() && !exe.is_command())
        .map(|(exe, _)| match (&exe.criterion, &exe.divan) {
            (Some(version), _) => format!("{} (criterion {version})", exe.target.label()),
            (None, Some(version)) => format!("{} (divan {version})", exe.target.label()),
            (None, None) => exe.target.label(),
        })
        .collect();
    let no_profiler: Vec<String> = listed
        .iter()
        .filter(|(exe, ids)| !ids.is_empty() && exe.fits_profiler_hook())
        .filter(|(exe, _)| !exe.installs_a_profiler())
        .map(|(exe, _)| exe.target.label())
        .collect();
    if !no_profiler.is_empty() {
        progress.note(&format!(
            "not profiled: bench target(s) {}: no profiler installed in their criterion config \
             (`config = flamegate_hook::criterion()` in `criterion_group!` installs flamegate's), so they \
             get timing verdicts without flamegraphs",
            no_profiler.join(", ")
        ));
    }
    if !no_hook.is_empty() {
        progress.note(&format!(
            "not profiled: bench target(s) {}: flamegate's profiler hooks plug into criterion {}, so \
             they get timing verdicts without flamegraphs",
            no_hook.join(", "),
            crate::profile::CRITERION_VERSIONS
                .iter()
                .map(|(major, minor)| format!("{major}.{minor}"))
                .collect::<Vec<_>>()
                .join(" and "),
        ));
    }
}

/// The profiling pass, separate from timing so sampling never distorts it:
/// each executable once in criterion's `--profile-time` mode; the profiles
/// of the benchmarks in `dirs` (executable index, criterion directory, id)
/// folded. Benchmarks without the hook have no profile. Each executable
/// runs in its own folder under `scratch`, named with `tag` (a paired
/// run's side).
pub(crate) fn profile_pass(
    listed: &[(BenchExecutable, Vec<String>)],
    dirs: &[(usize, PathBuf, BenchId)],
    selection: &RunSelection,
    seconds: f64,
    (scratch, tag): (&Path, &str),
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<std::collections::BTreeMap<BenchId, crate::record::FoldedStacks>> {
    let profiled: Vec<bool> = listed
        .iter()
        .map(|(exe, ids)| {
            !ids.is_empty()
                && (exe.profiles_itself() || exe.fits_profiler_hook() && exe.installs_a_profiler())
        })
        .collect();
    let total: usize = listed
        .iter()
        .zip(&profiled)
        .filter(|(_, profiled)| **profiled)
        .map(|((_, ids), _)| ids.len())
        .sum();
    let bar = progress.bar(total as u64, &format!("profiling{tag}"));
    let mut args: Vec<String> = selection.filter.iter().cloned().collect();
    args.extend(["--profile-time".to_string(), seconds.to_string()]);
    let mut profiles = std::collections::BTreeMap::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        if !profiled[index] {
            continue;
        }
        let home = scratch.join(format!("profile{tag}-{index}"));
        if exe.is_command() {
            for (n, id) in ids.iter().enumerate() {
                bar.working_on(id);
                let stacks = command::profile(exe, id, seconds, &home.join(n.to_string()))?;
                if !stacks.is_empty() {
                    profiles.insert(BenchId(id.clone()), stacks);
                }
                bar.finished_one(id);
            }
            continue;
        }
        // Each benchmark profiles for `seconds`, after criterion's set-up:
        // a minute each on top is far beyond any that works.
        let limit = runner::Limit::of(
            "the profiling pass",
            std::time::Duration::from_secs_f64((seconds + 60.0) * ids.len() as f64),
            None,
        );
        runner.run_limited(exe, &args, &home, &[], &bar, &limit)?;
        for (_, dir, id) in dirs.iter().filter(|(i, _, _)| *i == index) {
            let file = home
                .join(dir)
                .join("profile")
                .join(flamegate_sampler::PROFILE_FILE);
            if file.exists() {
                let stacks = crate::profile::fold::fold_file(
                    &file,
                    crate::profile::fold::Sampled::Benchmark,
                )?;
                if !stacks.is_empty() {
                    profiles.insert(id.clone(), stacks);
                }
            }
        }
    }
    bar.finish();
    Ok(profiles)
}
