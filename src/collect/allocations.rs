//! The allocation pass: each benchmark alone in criterion's `--test` mode
//! (one call of its routine), `REPEATS` times, with the bench-side counter
//! (`profile::allocations`, installed by `count_allocations!`) asked to
//! write what the routine asked of the heap. Separate from the timing and
//! profiling passes, so the counter's stack walks distort neither.

use std::collections::BTreeMap;
use std::path::Path;

use super::runner::Limit;
use super::{BenchExecutable, Listed, Progress, Runner};
use crate::error::{Error, Result};
use crate::record::BenchId;
use crate::record::allocations::AllocationCount;
use flamegate_sampler::{FORMAT_LINE, KEYS, LOOPS_ENV, MAX_LOOPS, OUTPUT_ENV, is_timing_loop};

/// Counts per benchmark: the same code and input allocate the same each
/// time; where they differ (a randomly seeded `HashMap` that grows at
/// other moments), the spread is the benchmark's own A/A jitter.
pub const REPEATS: usize = 3;

/// How long one counted run may take: one iteration and criterion's
/// start-up, with room for a slow set-up.
pub const ALLOCATION_RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Where criterion's timing loops are in the executable at `path`, as the
/// counter reads them (`LOOPS_ENV`): the entry point, then each
/// `Bencher::iter*` function's address and size from the symbol table. Or
/// why the executable cannot be counted.
pub fn timing_loops(path: &Path) -> std::result::Result<String, String> {
    use object::{Object, ObjectSymbol, SymbolKind};
    let data = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let file = object::File::parse(&*data).map_err(|e| format!("cannot parse it: {e}"))?;
    let mut ranges: Vec<(u64, u64)> = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.size() > 0)
        .filter(|s| {
            s.name()
                .is_ok_and(|name| is_timing_loop(&format!("{:#}", rustc_demangle::demangle(name))))
        })
        .map(|s| (s.address(), s.size()))
        .collect();
    ranges.sort_unstable();
    ranges.dedup();
    if ranges.is_empty() {
        return Err(
            "its symbol table names no criterion `Bencher::iter` function (a stripped \
                    executable? keep symbols for benches: `[profile.bench] strip = false`)"
                .into(),
        );
    }
    if ranges.len() > MAX_LOOPS {
        return Err(format!(
            "it has {} criterion timing-loop functions, more than the counter takes ({MAX_LOOPS})",
            ranges.len()
        ));
    }
    let mut text = format!("{:x}", file.entry());
    for (start, length) in ranges {
        text.push_str(&format!(" {start:x}+{length:x}"));
    }
    Ok(text)
}

/// Whether `exe` installs the counter: only then do its bytes hold the
/// name of the variable the counter reads.
pub fn installed(exe: &BenchExecutable) -> bool {
    exe.holds_text(OUTPUT_ENV)
}

/// Count the listed benchmarks of every executable that installs the
/// counter; the others are named once and left uncounted.
pub(crate) fn allocation_pass(
    listed: &Listed,
    scratch: &Path,
    tag: &str,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<BTreeMap<BenchId, Vec<AllocationCount>>> {
    let mut counts = divan_allocations(listed, tag, progress)?;
    let counting: Vec<(usize, &BenchExecutable, &Vec<String>)> = listed
        .iter()
        .enumerate()
        .filter(|(_, (exe, ids))| !ids.is_empty() && !exe.is_divan() && installed(exe))
        .map(|(index, (exe, ids))| (index, exe, ids))
        .collect();
    if counting.is_empty() {
        return Ok(counts);
    }
    let total: usize = counting.iter().map(|(_, _, ids)| ids.len()).sum();
    progress.note(&format!(
        "counting allocations{tag}: {total} benchmark(s), each {REPEATS} times alone for one iteration \
         (criterion's --test mode)"
    ));
    let bar = progress.bar(total as u64, &format!("counting allocations{tag}"));
    for (index, exe, ids) in counting {
        let loops = match timing_loops(&exe.path) {
            Ok(loops) => loops,
            Err(why) => {
                progress.note(&format!(
                    "allocations of bench target {} not counted: {why}",
                    exe.target.label()
                ));
                continue;
            }
        };
        for (n, id) in ids.iter().enumerate() {
            bar.working_on(id);
            let mut runs = Vec::with_capacity(REPEATS);
            for repeat in 0..REPEATS {
                let home = scratch.join(format!("allocations{tag}-{index}-{n}-{repeat}"));
                std::fs::create_dir_all(&home).map_err(|e| Error::io(&home, e))?;
                let out = home.join("allocations.txt");
                let args = ["--test".to_string(), format!("^{}$", regex::escape(id))];
                let env = [
                    (OUTPUT_ENV.to_string(), out.to_string_lossy().into_owned()),
                    (LOOPS_ENV.to_string(), loops.clone()),
                ];
                let limit = Limit::of(
                    "the allocation pass",
                    ALLOCATION_RUN_LIMIT,
                    Some(id.clone()),
                );
                runner.run_limited(exe, &args, &home, &env, &bar, &limit)?;
                match std::fs::read_to_string(&out) {
                    Ok(text) => runs.push(parse(&text).map_err(|problem| Error::Profile {
                        path: out.clone(),
                        problem,
                    })?),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        progress.note(&format!(
                            "allocations of `{id}` not counted: bench target {} links flamegate's counter but it \
                             wrote nothing; install it as the global allocator with `flamegate_hook::count_allocations!();` \
                             at the top of the bench file",
                            exe.target.label()
                        ));
                        break;
                    }
                    Err(e) => return Err(Error::io(&out, e)),
                }
            }
            if runs.len() == REPEATS {
                counts.insert(BenchId(id.clone()), runs);
            }
            bar.finished_one(id);
        }
    }
    bar.finish();
    Ok(counts)
}

/// divan's own counts (`AllocProfiler`) of the listed benchmarks of every
/// divan executable with a global allocator of its own, each `REPEATS`
/// times alone. divan prints nothing for a benchmark that allocates
/// nothing, so that is a count of zero, unless no benchmark of the
/// executable printed counts: then `AllocProfiler` is not its allocator.
fn divan_allocations(
    listed: &Listed,
    tag: &str,
    progress: &Progress,
) -> Result<BTreeMap<BenchId, Vec<AllocationCount>>> {
    let mut counts = BTreeMap::new();
    let counting: Vec<(&BenchExecutable, &Vec<String>)> = listed
        .iter()
        .filter(|(exe, ids)| !ids.is_empty() && exe.is_divan())
        .filter(|(exe, _)| super::divan::may_count_allocations(exe))
        .map(|(exe, ids)| (exe, ids))
        .collect();
    let total: usize = counting.iter().map(|(_, ids)| ids.len()).sum();
    if total == 0 {
        return Ok(counts);
    }
    progress.note(&format!(
        "counting allocations{tag}: {total} divan benchmark(s), each {REPEATS} times alone for one call \
         (divan's AllocProfiler)"
    ));
    let bar = progress.bar(total as u64, &format!("counting allocations{tag}"));
    for (exe, ids) in counting {
        let mut printed = false;
        let mut mine = BTreeMap::new();
        for id in ids {
            bar.working_on(id);
            let mut runs = Vec::with_capacity(REPEATS);
            for _ in 0..REPEATS {
                let count = super::divan::allocations(exe, id)?;
                printed |= count.is_some();
                runs.push(count.unwrap_or_default());
            }
            mine.insert(BenchId(id.clone()), runs);
            bar.finished_one(id);
        }
        if printed {
            counts.extend(mine);
        } else {
            progress.note(&format!(
                "allocations of bench target {} not counted: divan printed no allocation counts for its {} \
                 benchmark(s) here, so they allocate nothing or divan's AllocProfiler is not the global \
                 allocator (for the counts: `#[global_allocator] static ALLOC: divan::AllocProfiler = \
                 divan::AllocProfiler::system();`)",
                exe.target.label(),
                ids.len()
            ));
        }
    }
    bar.finish();
    Ok(counts)
}

/// The counter's file: its format line, then `key value` for each of `KEYS`.
pub fn parse(text: &str) -> std::result::Result<AllocationCount, String> {
    let mut lines = text.lines();
    if lines.next() != Some(FORMAT_LINE) {
        return Err(format!(
            "not a counts file of this flamegate (it expects `{FORMAT_LINE}` first): rebuild the bench with the \
             flamegate version that runs it"
        ));
    }
    let mut values = [0u64; KEYS.len()];
    for (slot, key) in values.iter_mut().zip(KEYS) {
        let line = lines.next().ok_or_else(|| format!("`{key}` is missing"))?;
        let value = line
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| format!("expected `{key} <count>`, found `{line}`"))?;
        *slot = value
            .parse()
            .map_err(|_| format!("`{key}` is not a count: `{value}`"))?;
    }
    let [allocations, deallocations, reallocations, bytes, peak_bytes] = values;
    Ok(AllocationCount {
        allocations,
        deallocations,
        reallocations,
        bytes,
        peak_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_file_is_read_and_damage_is_named() {
        let text = format!(
            "{FORMAT_LINE}\nallocations 3\ndeallocations 2\nreallocations 5\nbytes 1024\npeak_bytes 512\n"
        );
        assert_eq!(
            parse(&text).unwrap(),
            AllocationCount {
                allocations: 3,
                deallocations: 2,
                reallocations: 5,
                bytes: 1024,
                peak_bytes: 512
            }
        );
        assert!(
            parse("flamegate allocations 0\n")
                .unwrap_err()
                .contains("rebuild")
        );
        let cut = format!("{FORMAT_LINE}\nallocations 3\n");
        assert!(
            parse(&cut)
                .unwrap_err()
                .contains("`deallocations` is missing")
        );
        let bad = format!("{FORMAT_LINE}\nallocations -1\n");
        assert!(parse(&bad).unwrap_err().contains("not a count"));
    }
}
