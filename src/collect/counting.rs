//! Instruction mode: each benchmark counted under callgrind, with its
//! declared inputs and allocations.

use std::path::Path;

use crate::error::Result;
use crate::progress::Progress;
use crate::record::{BenchId, BenchResult};

use super::cargo::{BenchExecutable, Project};
use super::runner::Runner;
use super::{Listed, RunSelection, allocations, callgrind, scratch_dir};

/// Each listed benchmark `callgrind::REPEATS` times under callgrind
/// (instruction mode): identical counts for deterministic code; where they
/// differ (a randomly seeded `HashMap`), the spread is the benchmark's own
/// A/A jitter, which the comparison then allows for. Then the allocation
/// pass, as in time mode: heap counts do not depend on how time is measured.
pub(super) fn count_instructions(
    project: &Project,
    listed: &Listed,
    selection: &RunSelection,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<Vec<BenchResult>> {
    let total: usize = listed.iter().map(|(_, ids)| ids.len()).sum();
    let bar = progress.bar(total as u64, "counting instructions");
    let scratch = scratch_dir(project)?;
    let mut benches = Vec::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        for (n, id) in ids.iter().enumerate() {
            bar.working_on(id);
            let out = scratch.path().join(format!("callgrind-{index}-{n}"));
            benches.push(count_one(exe, id, &out)?);
            bar.finished_one(id);
        }
    }
    bar.finish();
    let mut inputs = declared_inputs(listed, selection, scratch.path(), runner, progress)?;
    let mut counts = allocations::allocation_pass(listed, scratch.path(), "", runner, progress)?;
    for result in &mut benches {
        result.throughput = inputs.remove(&result.id);
        result.allocations = counts.remove(&result.id).unwrap_or_default();
    }
    Ok(benches)
}

/// The input each benchmark declares (criterion's `Throughput`), so that
/// counts are compared per unit of input as times are. criterion writes it
/// down only when it measures, so each executable runs once with the
/// shortest windows it accepts (criterion before 0.4: whole seconds).
fn declared_inputs(
    listed: &Listed,
    selection: &RunSelection,
    scratch: &Path,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<std::collections::BTreeMap<BenchId, crate::record::Throughput>> {
    let total: usize = listed.iter().map(|(_, ids)| ids.len()).sum();
    let bar = progress.bar(total as u64, "reading declared inputs");
    let mut inputs = std::collections::BTreeMap::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        if ids.is_empty() {
            continue;
        }
        let seconds = if exe.takes_whole_seconds() {
            "1"
        } else {
            "0.01"
        };
        let mut args: Vec<String> = selection.filter.iter().cloned().collect();
        args.extend(
            [
                "--noplot",
                "--warm-up-time",
                seconds,
                "--measurement-time",
                seconds,
                "--sample-size",
                "10",
            ]
            .map(String::from),
        );
        let home = scratch.join(format!("inputs-{index}"));
        runner.run(exe, &args, &home, &[], &bar)?;
        for (_, result) in super::read_results(&home)? {
            if let Some(throughput) = result.throughput {
                inputs.insert(result.id, throughput);
            }
        }
    }
    bar.finish();
    Ok(inputs)
}

/// One benchmark `callgrind::REPEATS` times under callgrind, callgrind's
/// output in files named from `out` (a path prefix).
pub fn count_one(exe: &BenchExecutable, id: &str, out: &Path) -> Result<BenchResult> {
    let mut counts = Vec::new();
    let mut first_out = None;
    let mut simulated = None;
    for repeat in 0..callgrind::REPEATS {
        let out = out.with_file_name(format!(
            "{}-{repeat}.out",
            out.file_name().unwrap_or_default().to_string_lossy()
        ));
        // The cache and branch simulation (advisory, slower) once.
        let (count, estimates) = callgrind::count(exe, id, &out, repeat == 0)?;
        counts.push(count as f64);
        simulated = simulated.or(estimates);
        first_out.get_or_insert(out);
    }
    // Per-function costs from one of the repeats: the others differ at most
    // by their jitter, and annotating is the slow part.
    let functions = match &first_out {
        Some(out) => Some(callgrind::functions(out)?),
        None => None,
    };
    Ok(BenchResult {
        executed: None,
        executed_data_cycles: None,
        peak_memory: Vec::new(),
        id: BenchId(id.to_string()),
        group: id.split('/').next().unwrap_or(id).to_string(),
        function: None,
        parameter: None,
        unit: crate::record::SampleUnit::Instructions,
        samples: counts,
        throughput: None,
        profile: None,
        seconds: None,
        functions,
        simulated,
        allocations: Vec::new(),
    })
}
