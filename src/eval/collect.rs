//! Collect a corpus: the synthetic suite run in paired trials on this
//! machine, exactly as `check --paired` runs rounds (same criterion windows,
//! alternating order, one process per side and round).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::collect::{self, RunSelection, rounds::ROUND_ARGS};
use crate::error::{Error, Result};
use crate::progress::Progress;

use super::corpus::{
    Build, CORPUS_FORMAT, Condition, Corpus, Header, Round, Side, Trial, compact, input_plan, plan,
};

/// Rounds per trial by default. Scoring replays the paired rule on the
/// first `R` of them, so fixed plans and the adaptive plan up to this many
/// rounds are scored on the same trials (12 rounds of both sides take
/// about criterion's default time for one benchmark on one side).
pub const DEFAULT_ROUNDS_PER_TRIAL: usize = 12;

/// When to stop collecting.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Stop once the corpus holds this many trials.
    pub trials: usize,
    /// Start no new trial after this long.
    pub time: Duration,
    /// Rounds per trial (a corpus keeps one value).
    pub rounds: usize,
    /// A placement corpus: null trials between two builds of the suite
    /// whose code is placed differently (`PLACEMENTS`).
    pub placement: bool,
    /// An input-size corpus: each trial grows one benchmark's declared
    /// input with its work (`corpus::input_plan`).
    pub input_size: bool,
    /// What else runs meanwhile.
    pub condition: Condition,
}

/// The contended condition's background load: one core kept busy by a
/// shell loop (no I/O, no memory traffic to speak of), stopped when dropped.
struct BackgroundLoad(std::process::Child);

impl BackgroundLoad {
    fn start() -> Result<BackgroundLoad> {
        let shell = Path::new("/bin/sh");
        std::process::Command::new(shell)
            .args(["-c", "while :; do :; done"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .map(BackgroundLoad)
            .map_err(|e| Error::io(shell, e))
    }
}

impl Drop for BackgroundLoad {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The builds of a placement corpus: the same source, flags that move code
/// (LLVM's alignment of every function and of every block not entered by
/// falling through) without adding executed instructions, as a change
/// elsewhere in a crate moves the code of an untouched benchmark.
pub const PLACEMENTS: [(&str, &str); 4] = [
    ("default", ""),
    ("functions-64", "-C llvm-args=-align-all-functions=6"),
    ("blocks-32", "-C llvm-args=-align-all-nofallthru-blocks=5"),
    (
        "functions-128-blocks-64",
        "-C llvm-args=-align-all-functions=7 -C llvm-args=-align-all-nofallthru-blocks=6",
    ),
];

/// The builds trial `index` pairs (base, head): every ordered pair of
/// different builds in turn.
pub fn placement_pair(index: usize, builds: usize) -> [usize; 2] {
    let pairs: Vec<[usize; 2]> = (0..builds)
        .flat_map(|a| (0..builds).filter(move |&b| b != a).map(move |b| [a, b]))
        .collect();
    pairs[index % pairs.len()]
}

/// The suite's one bench target and its benchmark ids.
fn single_target<'a>(
    listed: &'a [(collect::cargo::BenchExecutable, Vec<String>)],
    suite_manifest: &Path,
) -> Result<(&'a collect::cargo::BenchExecutable, &'a Vec<String>)> {
    match listed {
        [(exe, ids)] => Ok((exe, ids)),
        _ => Err(Error::Usage(format!(
            "{}: the evaluation suite must have exactly one bench target",
            suite_manifest.display()
        ))),
    }
}

/// Build the suite once per placement, each in its own target directory,
/// and count every benchmark of each build under callgrind.
fn build_placements(
    suite_manifest: &Path,
    target_dir: &Path,
    progress: &Progress,
) -> Result<(Vec<collect::cargo::BenchExecutable>, Vec<Build>)> {
    let mut exes = Vec::new();
    let mut builds = Vec::new();
    for (name, flags) in PLACEMENTS {
        let project = collect::cargo::inspect(
            suite_manifest,
            Some(&target_dir.join("placement").join(name)),
        )?;
        // The suite's own crate placed differently; criterion's timing
        // loop is generic, so it is compiled (and placed) there too.
        let workspace_flags: Vec<String> = flags.split_whitespace().map(str::to_string).collect();
        progress.note(&format!(
            "placement build `{name}`: the suite's crate with `{flags}`"
        ));
        let listed = collect::build_and_list(
            &project,
            &RunSelection::default(),
            &workspace_flags,
            &collect::runner::Processes,
            progress,
        )?;
        let (exe, ids) = single_target(&listed, suite_manifest)?;
        let scratch = collect::scratch_dir(&project)?;
        let bar = progress.bar(ids.len() as u64, &format!("counting build `{name}`"));
        let mut counts = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            bar.working_on(id);
            let mut counted =
                collect::counting::count_one(exe, id, &scratch.path().join(format!("count-{n}")))?;
            // The header keeps the counts, not the per-function detail.
            counted.functions = None;
            counts.push(counted);
            bar.finished_one(id);
        }
        bar.finish();
        exes.push(exe.clone());
        builds.push(Build {
            name: name.to_string(),
            rustflags: flags.to_string(),
            counts,
        });
    }
    Ok((exes, builds))
}

/// What a trial's progress bar says it is.
fn trial_label(
    index: usize,
    injected: Option<&super::corpus::Injection>,
    pair: Option<[usize; 2]>,
    builds: &[Build],
) -> String {
    match injected {
        Some(i) if i.input => format!(
            "trial {index}: input of {} +{}% (same cost per element)",
            i.bench, i.percent
        ),
        Some(i) => format!("trial {index}: +{}% in {}", i.percent, i.bench),
        None => match pair {
            Some([a, b]) => format!(
                "trial {index}: build `{}` against `{}`",
                builds[a].name, builds[b].name
            ),
            None => format!("trial {index}: A/A"),
        },
    }
}

/// One side's run in a round: each benchmark's samples, its measurement
/// windows, and the inputs it declared.
struct SideRun {
    samples: std::collections::BTreeMap<String, Vec<f64>>,
    windows: std::collections::BTreeMap<String, crate::record::interference::Interference>,
    declared: std::collections::BTreeMap<String, crate::record::Throughput>,
}

/// Run one side of a round in `home`: the head with the trial's injection,
/// the base without (both set the variable, padded to the same length).
fn run_side(
    exe: &collect::cargo::BenchExecutable,
    side: Side,
    injected: Option<&super::corpus::Injection>,
    args: &[String],
    home: &Path,
    bar: &crate::progress::Bar,
) -> Result<SideRun> {
    let value = match (side, injected) {
        (Side::Head, Some(i)) => injection_value(&i.bench, i.percent, i.input),
        _ => injection_value("none", 0, false),
    };
    let env = [(INJECT_VAR.to_string(), value)];
    let measured = crate::collect::runner::Runner::run(
        &crate::collect::runner::Processes,
        exe,
        args,
        home,
        &env,
        bar,
    )?;
    let windows = measured
        .into_iter()
        .filter_map(|(id, m)| Some((id, m.interference?)))
        .collect();
    let results = collect::criterion_output::read_criterion_dirs(home)?;
    let declared = results
        .iter()
        .filter_map(|(_, r)| Some((r.id.as_str().to_string(), r.throughput.clone()?)))
        .collect();
    let samples = results
        .into_iter()
        .map(|(_, result)| (result.id.as_str().to_string(), compact(&result.samples)))
        .collect();
    std::fs::remove_dir_all(home).map_err(|e| Error::io(home, e))?;
    Ok(SideRun {
        samples,
        windows,
        declared,
    })
}

/// What every trial of one collection runs with.
struct Trials<'a> {
    exes: &'a [collect::cargo::BenchExecutable],
    args: &'a [String],
    scratch: &'a Path,
    limits: &'a Limits,
    benchmarks: usize,
}

/// One trial: its rounds, each side in alternating order, the head with
/// the injection (or the second build of a placement pair).
fn run_trial(
    trials: &Trials,
    index: usize,
    injected: Option<super::corpus::Injection>,
    pair: Option<[usize; 2]>,
    builds: &[Build],
    progress: &Progress,
) -> Result<Trial> {
    let trial_started = Instant::now();
    let label = trial_label(index, injected.as_ref(), pair, builds);
    let bar = progress.bar(
        (2 * trials.limits.rounds * trials.benchmarks) as u64,
        &label,
    );
    let mut rounds = Vec::with_capacity(trials.limits.rounds);
    // Input-size corpora: each side's declared inputs (first round).
    let mut declared: [std::collections::BTreeMap<String, crate::record::Throughput>; 2] =
        Default::default();
    for round in 0..trials.limits.rounds {
        // Alternate within a trial and between trials, so neither side
        // is systematically first.
        let first = if (round + index).is_multiple_of(2) {
            Side::Base
        } else {
            Side::Head
        };
        let load = load_average();
        let mut base = Default::default();
        let mut head = Default::default();
        let mut base_windows = Default::default();
        let mut head_windows = Default::default();
        let order = match first {
            Side::Base => [Side::Base, Side::Head],
            Side::Head => [Side::Head, Side::Base],
        };
        for side in order {
            let exe = match (side, pair) {
                (Side::Base, Some([a, _])) => &trials.exes[a],
                (Side::Head, Some([_, b])) => &trials.exes[b],
                (_, None) => &trials.exes[0],
            };
            let home = trials.scratch.join(format!("{index}-{round}-{side:?}"));
            let ran = run_side(exe, side, injected.as_ref(), trials.args, &home, &bar)?;
            if round == 0 && trials.limits.input_size {
                declared[side as usize] = ran.declared;
            }
            match side {
                Side::Base => (base, base_windows) = (ran.samples, ran.windows),
                Side::Head => (head, head_windows) = (ran.samples, ran.windows),
            }
        }
        rounds.push(Round {
            first,
            load,
            base,
            head,
            base_windows,
            head_windows,
        });
    }
    bar.finish();
    Ok(Trial {
        trial: index,
        started: time::OffsetDateTime::now_utc() - trial_started.elapsed(),
        injected,
        seconds: trial_started.elapsed().as_secs_f64(),
        rounds,
        builds: pair,
        throughput: {
            let [base, mut head] = declared;
            base.into_iter()
                .filter_map(|(id, b)| {
                    let h = head.remove(&id)?;
                    Some((id, [b, h]))
                })
                .collect()
        },
    })
}

/// Append trials to the corpus in `corpus_dir` until a limit is reached.
/// Returns how many trials this call added.
pub fn collect(
    suite_manifest: &Path,
    corpus_dir: &Path,
    limits: Limits,
    progress: &Progress,
) -> Result<usize> {
    let project = collect::cargo::inspect(suite_manifest, None)?;
    let runner = collect::runner::Processes;
    let listed =
        collect::build_and_list(&project, &RunSelection::default(), &[], &runner, progress)?;
    let (exe, ids) = single_target(&listed, suite_manifest)?;
    let (exes, builds) = if limits.placement {
        build_placements(suite_manifest, &project.target_dir, progress)?
    } else {
        (vec![exe.clone()], Vec::new())
    };
    let header = Header {
        builds,
        format: CORPUS_FORMAT,
        machine: collect::machine::fingerprint(&project.dir),
        round_args: ROUND_ARGS.iter().map(|a| a.to_string()).collect(),
        rounds_per_trial: limits.rounds,
        benchmarks: ids.clone(),
        suite_source: suite_source(&project.dir)?,
        condition: Some(limits.condition),
        input_size: limits.input_size,
    };
    let mut corpus = Corpus::open_or_create(corpus_dir, header)?;
    progress.note(&format!(
        "corpus {}: {} trial(s) so far; collecting up to {} trial(s) or {} minute(s)",
        corpus_dir.display(),
        corpus.trials.len(),
        limits.trials,
        limits.time.as_secs() / 60
    ));
    let _load = match limits.condition {
        Condition::Contended => {
            progress.note(
                "condition contended: one core kept busy by a shell loop until collection ends",
            );
            Some(BackgroundLoad::start()?)
        }
        Condition::Quiet => None,
    };
    let args = collect::timing_args(&RunSelection::default(), &ROUND_ARGS);
    let scratch = collect::scratch_dir(&project)?;
    let started = Instant::now();
    let mut added = 0;
    while corpus.trials.len() < limits.trials && started.elapsed() < limits.time {
        let index = corpus.trials.len();
        // Placement trials are all null: two builds of the same code.
        let pair = limits
            .placement
            .then(|| placement_pair(index, corpus.header.builds.len()));
        let injected = if limits.placement {
            None
        } else if limits.input_size {
            Some(input_plan(index, ids))
        } else {
            plan(index, ids)
        };
        let trial = run_trial(
            &Trials {
                exes: &exes,
                args: &args,
                scratch: scratch.path(),
                limits: &limits,
                benchmarks: ids.len(),
            },
            index,
            injected,
            pair,
            &corpus.header.builds,
            progress,
        )?;
        corpus.append(trial)?;
        added += 1;
    }
    progress.note(&format!(
        "added {added} trial(s) in {:.0} s; the corpus holds {}",
        started.elapsed().as_secs_f64(),
        corpus.trials.len()
    ));
    Ok(added)
}

/// The suite's injection variable (the suite crate defines the same name).
const INJECT_VAR: &str = "FLAMEGATE_EVAL_INJECT";

/// `<id>@<percent>`, with the suite's `i` when the declared input grows with
/// the work (else a space), padded so every value has the same length.
fn injection_value(bench: &str, percent: u32, input: bool) -> String {
    format!("{bench:<40}@{percent:03}{}", if input { 'i' } else { ' ' })
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A stable hash of the suite's sources (Cargo.toml, src/, benches/).
fn suite_source(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    for sub in ["src", "benches"] {
        let path = dir.join(sub);
        let entries = std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))?;
        for entry in entries {
            files.push(entry.map_err(|e| Error::io(&path, e))?.path());
        }
    }
    files.sort();
    files.insert(0, dir.join("Cargo.toml"));
    let mut text = String::new();
    for file in files {
        text.push_str(&std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?);
    }
    Ok(format!("{:016x}", collect::shard::stable_hash(&text)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn placement_trials_pair_every_ordered_pair_of_different_builds() {
        let pairs: Vec<[usize; 2]> = (0..12).map(|i| super::placement_pair(i, 4)).collect();
        let distinct: std::collections::BTreeSet<[usize; 2]> = pairs.iter().copied().collect();
        assert_eq!(distinct.len(), 12, "{pairs:?}");
        assert!(pairs.iter().all(|[a, b]| a != b));
        assert_eq!(super::placement_pair(12, 4), pairs[0]);
    }

    #[test]
    fn injection_values_have_one_length() {
        assert_eq!(
            super::injection_value("none", 0, false).len(),
            super::injection_value("branch/unpredictable", 10, false).len()
        );
        assert_eq!(
            super::injection_value("none", 0, false).len(),
            super::injection_value("cpu/fnv_10ms", 12, true).len()
        );
        assert_eq!(
            super::injection_value("a/b", 5, false).trim_end(),
            "a/b                                     @005"
        );
        assert_eq!(
            super::injection_value("a/b", 12, true),
            "a/b                                     @012i"
        );
    }
}
