//! Paired runs time only what changed: before any round, each benchmark
//! runs once under callgrind on each side (`executed`), and a benchmark
//! whose two sides executed the same code is set aside with no rounds. A
//! pull request that touches one module then pays rounds for that module's
//! benchmarks alone, and the false-discovery family holds only benchmarks
//! that could have changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::executed::{Execution, Recorded, execution};
use super::fingerprint::CodeIndex;
use super::{BenchExecutable, ExecutedCheck, Listed, Progress, Project, RunSelection};
use crate::error::Result;
use crate::record::BenchId;

/// What the pass found, by benchmark.
#[derive(Debug, Default)]
pub struct Executions {
    /// Executed the same code on both sides: not timed.
    pub same_code: BTreeSet<BenchId>,
    /// Executed different machine code (not only different counts): an
    /// equal instruction count later is not the same instructions.
    pub code_changed: BTreeSet<BenchId>,
    /// Why nothing was looked at (every benchmark timed), when so.
    pub unchecked: Option<String>,
}

/// Why a run without valgrind times every benchmark: said on stderr and in
/// the report.
pub const WITHOUT_VALGRIND: &str = "valgrind is not installed, so what each benchmark executed \
     was not looked at and every benchmark is timed, also those whose code the change did not \
     touch (install valgrind, `apt-get install valgrind`, to time only the changed ones)";

/// Take the benchmarks that executed the same code on both sides out of
/// both lists. Returns what is left to time and what the pass found.
/// Anything that stops the comparison of one benchmark (it fails under
/// callgrind, its executable cannot be read) leaves it to be timed, with a
/// note; without valgrind every benchmark is timed.
pub fn set_aside_same_code(
    mut head_listed: Listed,
    mut base_listed: Listed,
    scratch: &Path,
    progress: &Progress,
) -> (Listed, Listed, Executions) {
    let mut found = Executions::default();
    if super::callgrind::valgrind_version().is_err() {
        progress.note(&format!("paired: {WITHOUT_VALGRIND}"));
        found.unchecked = Some(WITHOUT_VALGRIND.to_string());
        return (head_listed, base_listed, found);
    }
    let total: usize = head_listed.iter().map(|(_, ids)| ids.len()).sum();
    let bar = progress.bar(total as u64, "comparing what each benchmark executed");
    for (index, (head_exe, head_ids)) in head_listed.iter_mut().enumerate() {
        // A whole process never executes the same on both sides: the
        // loader and the runtime read where its binary sits, which differs.
        // Commands are timed unless their binaries are identical.
        if head_exe.is_command() {
            continue;
        }
        let Some((base_exe, base_ids)) = base_listed
            .iter_mut()
            .find(|(base, _)| base.target.is(&head_exe.target))
        else {
            continue;
        };
        let (Some(mut head_code), Some(mut base_code)) =
            (code_of(head_exe, progress), code_of(base_exe, progress))
        else {
            continue;
        };
        for (n, id) in head_ids.iter().enumerate() {
            bar.working_on(id);
            if base_ids.contains(id) {
                let out = scratch.join(format!("executed-{index}-{n}"));
                let mut run = |attempt: usize| {
                    both_sides(
                        (head_exe, &mut head_code),
                        (base_exe, &mut base_code),
                        id,
                        &out.join(attempt.to_string()),
                    )
                };
                match compare_sides(&mut run) {
                    Ok(Sides::SameCode) => {
                        found.same_code.insert(BenchId(id.clone()));
                    }
                    Ok(Sides::CodeChanged) => {
                        found.code_changed.insert(BenchId(id.clone()));
                    }
                    Ok(Sides::CountsDiffer) => {}
                    Ok(Sides::EventsDiffer(events)) => progress.note(&format!(
                        "benchmark {id}: the same code on both sides, but it uses memory or branches \
                         differently ({events}); timing it"
                    )),
                    Err(error) => progress.note(&format!(
                        "benchmark {id}: could not see what it executed ({error}); timing it"
                    )),
                }
            }
            bar.finished_one(id);
        }
    }
    bar.finish();
    let timed = |id: &BenchId| !found.same_code.contains(id);
    let (head_listed, _) = super::restrict(head_listed, timed);
    let (base_listed, _) = super::restrict(base_listed, timed);
    if !found.same_code.is_empty() {
        progress.note(&format!(
            "paired: {} benchmark(s) executed the same code on both sides and are not timed",
            found.same_code.len()
        ));
    }
    (head_listed, base_listed, found)
}

/// How the two sides' executions of one benchmark compare.
enum Sides {
    SameCode,
    /// Different machine code ran.
    CodeChanged,
    /// The same machine code, run a different number of times.
    CountsDiffer,
    /// The same code and counts, but data misses or mispredictions apart by
    /// more than repeated runs of each side are (described).
    EventsDiffer(String),
}

/// Compare what one benchmark executed on each side (`run(attempt)` runs
/// both). Equal code with unequal simulated events is run a second time
/// to see how far each side's own events move between runs.
fn compare_sides(run: &mut impl FnMut(usize) -> Result<(Execution, Execution)>) -> Result<Sides> {
    let (head, base) = run(0)?;
    if !head.differences(&base).is_empty() {
        return Ok(if head.code_differs(&base) {
            Sides::CodeChanged
        } else {
            Sides::CountsDiffer
        });
    }
    if base.events_differ(&head, 0.0).is_none() {
        return Ok(Sides::SameCode);
    }
    let (head_again, base_again) = run(1)?;
    let apart =
        |a: &Execution, b: &Execution| (a.events.extra_cycles() - b.events.extra_cycles()).abs();
    let spread = apart(&head, &head_again).max(apart(&base, &base_again));
    Ok(match base.events_differ(&head, spread) {
        None => Sides::SameCode,
        Some(events) => Sides::EventsDiffer(events),
    })
}

/// What benchmark `id` executed on each side, both run at once: callgrind
/// counts do not depend on what else the machine does.
fn both_sides(
    head: (&BenchExecutable, &mut CodeIndex),
    base: (&BenchExecutable, &mut CodeIndex),
    id: &str,
    out: &Path,
) -> Result<(Execution, Execution)> {
    for side in ["base", "head"] {
        let dir = out.join(side);
        std::fs::create_dir_all(&dir).map_err(|e| crate::error::Error::io(&dir, e))?;
    }
    std::thread::scope(|scope| {
        let base_run = scope.spawn(|| execution(base.0, base.1, id, &out.join("base/callgrind")));
        let head_run = execution(head.0, head.1, id, &out.join("head/callgrind"));
        let base_run = base_run
            .join()
            .expect("the base side's thread does not panic");
        Ok((head_run?, base_run?))
    })
}

/// A run against a stored record (`ExecutedCheck`): what each listed
/// benchmark executes, as a record keeps it, and the benchmarks that
/// execute what the record says its benchmark did, taken out of the list
/// (not timed). Off, or without valgrind: nothing looked at, everything
/// timed.
pub fn against_record(
    project: &Project,
    listed: Listed,
    selection: &RunSelection,
    progress: &Progress,
) -> Result<(Listed, BTreeMap<BenchId, Recorded>, BTreeSet<BenchId>)> {
    let mut same = BTreeSet::new();
    if selection.executed == ExecutedCheck::Off {
        return Ok((listed, BTreeMap::new(), same));
    }
    if super::callgrind::valgrind_version().is_err() {
        progress.note(&format!(
            "{WITHOUT_VALGRIND}; what each benchmark executes is not recorded"
        ));
        return Ok((listed, BTreeMap::new(), same));
    }
    let scratch = super::scratch_dir(project)?;
    // What each benchmark executes now, as a record keeps it, and how many
    // instructions that is (what the cost floor is a share of).
    let seen: BTreeMap<BenchId, (Recorded, u64)> = executions(&listed, scratch.path(), progress)
        .into_iter()
        .filter_map(|(id, execution)| Some((id, (execution.recorded()?, execution.instructions()))))
        .collect();
    if let ExecutedCheck::Against(before) = &selection.executed {
        same = seen
            .iter()
            .filter(|(id, (now, instructions))| {
                before
                    .get(*id)
                    .is_some_and(|earlier| now.matches(earlier, *instructions))
            })
            .map(|(id, _)| id.clone())
            .collect();
    }
    let (listed, _) = super::restrict(listed, |id| !same.contains(id));
    if !same.is_empty() {
        progress.note(&format!(
            "{} benchmark(s) executed what the baseline recorded and are not timed",
            same.len()
        ));
    }
    let recorded = seen.into_iter().map(|(id, (now, _))| (id, now)).collect();
    Ok((listed, recorded, same))
}

/// What each listed benchmark executes. A benchmark that cannot be looked
/// at has none, and is timed.
fn executions(
    listed: &Listed,
    scratch: &Path,
    progress: &Progress,
) -> BTreeMap<BenchId, Execution> {
    let total: usize = listed.iter().map(|(_, ids)| ids.len()).sum();
    let bar = progress.bar(total as u64, "seeing what each benchmark executes");
    let mut executions = BTreeMap::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        if exe.is_command() {
            continue;
        }
        let Some(mut code) = code_of(exe, progress) else {
            continue;
        };
        for (n, id) in ids.iter().enumerate() {
            bar.working_on(id);
            let out = scratch.join(format!("executed-{index}-{n}"));
            let seen = std::fs::create_dir_all(&out)
                .map_err(|e| crate::error::Error::io(&out, e))
                .and_then(|()| execution(exe, &mut code, id, &out.join("callgrind")));
            match seen {
                Ok(execution) => {
                    executions.insert(BenchId(id.clone()), execution);
                }
                Err(error) => progress.note(&format!(
                    "benchmark {id}: could not see what it executed ({error}); timing it"
                )),
            }
            bar.finished_one(id);
        }
    }
    bar.finish();
    executions
}

/// The executable's code index, or a note that its benchmarks are timed.
fn code_of(exe: &BenchExecutable, progress: &Progress) -> Option<CodeIndex> {
    CodeIndex::read(&exe.path)
        .map_err(|error| {
            progress.note(&format!(
                "bench target {}: could not read its machine code ({error}); timing it",
                exe.target.label()
            ))
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::executed::{DataAndBranches, ExecutedFunction};

    fn run(instructions: u64, code: &str, mispredicts: u64) -> Execution {
        Execution {
            functions: [(
                code.to_string(),
                ExecutedFunction {
                    name: "work".into(),
                    instructions,
                },
            )]
            .into(),
            threads: 1,
            events: DataAndBranches {
                mispredicts,
                ..DataAndBranches::default()
            },
        }
    }

    /// Compare two sides whose runs are `runs[attempt]` = (head, base);
    /// returns the verdict and how many times both sides ran.
    fn compare(runs: &[(Execution, Execution)]) -> (Sides, usize) {
        let mut ran = 0;
        let sides = compare_sides(&mut |attempt| {
            ran += 1;
            Ok(runs[attempt].clone())
        })
        .unwrap();
        (sides, ran)
    }

    #[test]
    fn same_code_needs_equal_events_or_a_difference_within_each_sides_own_spread() {
        let same = (run(100, "a", 10), run(100, "a", 10));
        assert!(matches!(compare(&[same]), (Sides::SameCode, 1)));
        let moved = (run(100, "b", 10), run(100, "a", 10));
        assert!(matches!(compare(&[moved]), (Sides::CodeChanged, 1)));
        let counted = (run(101, "a", 10), run(100, "a", 10));
        assert!(matches!(compare(&[counted]), (Sides::CountsDiffer, 1)));
        // Sorted data for the same loop: far fewer mispredictions, and each
        // side repeats its own exactly.
        let sorted = (run(100, "a", 3), run(100, "a", 900));
        match compare(&[sorted.clone(), sorted]) {
            (Sides::EventsDiffer(events), 2) => {
                assert_eq!(events, "mispredicted branches 900 → 3")
            }
            (_, ran) => panic!("not told apart ({ran} runs)"),
        }
        // A benchmark whose mispredictions move by 2 between runs: 5 apart
        // across the sides is its own noise.
        let noisy = [
            (run(100, "a", 15), run(100, "a", 10)),
            (run(100, "a", 13), run(100, "a", 10)),
        ];
        assert!(matches!(compare(&noisy), (Sides::SameCode, 2)));
    }
}
