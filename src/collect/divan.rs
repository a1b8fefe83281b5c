//! divan bench targets: the one place that knows how divan is run and what
//! it prints.
//!
//! divan writes no samples out. It prints a tree of benchmarks, each leaf a
//! row of summary statistics (fastest, slowest, median, mean, samples,
//! iters), to four significant figures. A run here is one or more short
//! divan processes; each process's median of a benchmark is one sample of
//! that benchmark's level. A paired round takes one process per side (its
//! round estimate); a stored run takes `STORED_PROCESSES`, so a stored
//! verdict has a spread to judge against.
//!
//! The table is read by its tree (indentation and `│`-separated cells), not
//! by column widths, and a row that cannot be read is an error naming it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use super::BenchExecutable;
use super::Measured;
use crate::error::{Error, Result};
use crate::record::allocations::AllocationCount;
use crate::record::{BenchId, BenchResult, SampleUnit};

/// Whether this reads the output of divan `version`: divan 0.1 (tested:
/// 0.1.21), or codspeed-divan-compat 2 and 3 (its own versions; tested:
/// 3.0.5), a fork of divan 0.1.
fn readable(version: &cargo_metadata::semver::Version) -> bool {
    (version.major, version.minor) == (0, 1) || matches!(version.major, 2 | 3)
}

/// Processes a stored run (no windows given) takes per target: each one
/// sample of every benchmark's level.
pub const STORED_PROCESSES: usize = 10;

/// Seconds each benchmark gets in one process of a stored run.
const STORED_SECONDS: &str = "0.2";

/// Where a divan run leaves its results for `read_results`.
pub(super) const RESULTS_FILE: &str = "divan-results.json";

/// Refuse a divan whose output this cannot read, by name.
pub fn check_version(exe: &BenchExecutable) -> Result<()> {
    match &exe.divan {
        Some(v) if !readable(v) => Err(Error::Usage(format!(
            "bench target {} uses divan {v}, whose output flamegate cannot read yet (it reads divan 0.1 \
             and codspeed-divan-compat 2 and 3); leave the target out with --bench, or pin divan 0.1",
            exe.target.label()
        ))),
        _ => Ok(()),
    }
}

fn divan_command(exe: &BenchExecutable) -> Command {
    let mut command = Command::new(&exe.path);
    command
        .current_dir(&exe.target.package_dir)
        .env("CARGO_MANIFEST_DIR", &exe.target.package_dir)
        .env("CARGO_PKG_NAME", &exe.target.package)
        .env_remove("DIVAN_SAMPLE_COUNT")
        .env_remove("DIVAN_SAMPLE_SIZE")
        .env_remove("DIVAN_MIN_TIME")
        .env_remove("DIVAN_MAX_TIME")
        .stdin(Stdio::null());
    command
}

/// The benchmark ids of `exe` as divan names them (`walk::sum::1000`),
/// those `filter` (a regex, as for criterion ids) matches.
pub fn list(exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>> {
    check_version(exe)?;
    let filter = filter
        .map(|f| {
            regex::Regex::new(f).map_err(|e| {
                Error::Usage(format!("--filter `{f}` is not a regular expression: {e}"))
            })
        })
        .transpose()?;
    let ids = match listed_terse(exe)? {
        Some(ids) if !ids.is_empty() => ids,
        _ => listed_by_test_run(exe)?,
    };
    Ok(ids
        .into_iter()
        .filter(|id| filter.as_ref().is_none_or(|f| f.is_match(id)))
        .collect())
}

/// The ids in the one-per-line form divan gives cargo-nextest; None when
/// the harness has no such form (older divans and the fork in
/// codspeed-divan-compat refuse `--format`).
fn listed_terse(exe: &BenchExecutable) -> Result<Option<Vec<String>>> {
    let output = divan_command(exe)
        .env("NEXTEST", "1")
        .args(["--list", "--format", "terse"])
        .output()
        .map_err(|e| Error::io(&exe.path, e))?;
    if !output.status.success() {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.strip_suffix(": benchmark"))
            .map(str::to_string)
            .collect(),
    ))
}

/// The ids from the tree divan prints in its test mode (each benchmark run
/// once): its `--list` tree leaves out argument variants.
fn listed_by_test_run(exe: &BenchExecutable) -> Result<Vec<String>> {
    let stdout = printed(exe, divan_command(exe).args(["--test", "--color", "never"]))?;
    leaves(&stdout).map_err(|problem| Error::DivanOutput {
        exe: exe.path.clone(),
        problem,
    })
}

/// What a criterion-style argument list (`collect::timing_args`) asks of a
/// divan or command run: its filter and its measurement window.
#[derive(Debug, PartialEq)]
pub(super) struct Asked {
    pub filter: Option<String>,
    /// Seconds per benchmark; `None`: a stored run's several processes.
    pub window: Option<String>,
}

/// What criterion's `args` ask of a `harness` ("divan") that is not
/// criterion: the filter, and the window of a paired round.
pub(super) fn asked(args: &[String], harness: &str) -> Result<Asked> {
    let mut asked = Asked {
        filter: None,
        window: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--noplot" => {}
            "--warm-up-time" | "--sample-size" => {
                args.next();
            }
            "--measurement-time" => asked.window = args.next().cloned(),
            other if other.starts_with("--") => {
                return Err(Error::Usage(format!(
                    "`{other}` has no {harness} equivalent: {harness} benchmarks take flamegate's own \
                     windows, so leave criterion arguments out when checking them"
                )));
            }
            filter => asked.filter = Some(filter.to_string()),
        }
    }
    Ok(asked)
}

/// Run `exe`'s benchmarks that `args` select (criterion's form, translated)
/// and leave their results in `home` for `read_results`.
pub fn run(
    exe: &BenchExecutable,
    args: &[String],
    home: &Path,
    bar: &crate::progress::Bar,
) -> Result<BTreeMap<String, Measured>> {
    let asked = asked(args, "divan")?;
    let ids = list(exe, asked.filter.as_deref())?;
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    if !ids.is_empty() {
        let (processes, window) = match &asked.window {
            Some(window) => (1, window.as_str()),
            None => (STORED_PROCESSES, STORED_SECONDS),
        };
        for _ in 0..processes {
            for (id, median) in run_once(exe, &ids, window)? {
                samples.entry(id).or_default().push(median);
            }
        }
    }
    let results: Vec<BenchResult> = samples
        .into_iter()
        .map(|(id, samples)| result_of(id, samples))
        .collect();
    for result in &results {
        bar.finished_one(result.id.as_str());
    }
    super::write_results(home, RESULTS_FILE, &results)?;
    Ok(results
        .iter()
        .map(|r| (r.id.0.clone(), Measured::default()))
        .collect())
}

fn result_of(id: String, samples: Vec<f64>) -> BenchResult {
    let (group, function) = match id.rsplit_once("::") {
        Some((group, function)) => (group.to_string(), Some(function.to_string())),
        None => (id.clone(), None),
    };
    BenchResult {
        function,
        ..BenchResult::new(BenchId(id), group, SampleUnit::Nanoseconds, samples)
    }
}

/// What `command` (a divan process of `exe`) printed; an error with its
/// output when it failed.
fn printed(exe: &BenchExecutable, command: &mut Command) -> Result<String> {
    let output = command.output().map_err(|e| Error::io(&exe.path, e))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(Error::BenchFailed {
            exe: exe.path.clone(),
            status: output.status.to_string(),
            output_tail: format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
        });
    }
    Ok(stdout)
}

/// One divan process over `ids`, `window` seconds each: the median of each.
fn run_once(exe: &BenchExecutable, ids: &[String], window: &str) -> Result<Vec<(String, f64)>> {
    let stdout = printed(
        exe,
        divan_command(exe)
            .args(["--bench", "--color", "never", "--exact"])
            .args(ids)
            .args(["--min-time", window, "--max-time", window]),
    )?;
    let medians = medians(&stdout).map_err(|problem| Error::DivanOutput {
        exe: exe.path.clone(),
        problem,
    })?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !medians.iter().any(|(found, _)| found == *id))
    {
        return Err(missing_row(&exe.path, missing, &medians));
    }
    Ok(medians)
}

/// One node of the tree divan prints: its path (`walk::sum::1000`), its
/// depth (0 for the bench target's module) and the cells after its name.
struct Node<'a> {
    path: String,
    depth: usize,
    cells: Vec<&'a str>,
    line: &'a str,
    /// The cells of the rows under it (throughput, allocations).
    under: Vec<Vec<&'a str>>,
}

/// The nodes of the trees in `table`, in order. Only a branch ("├─ ",
/// "╰─ ") or a line's start names a node; other lines are blank, divan's
/// preamble ("Timer precision"), or rows under a benchmark (throughput,
/// allocations).
fn nodes(table: &str) -> std::result::Result<Vec<Node<'_>>, String> {
    const TREE: [char; 5] = ['│', '├', '╰', '─', ' '];
    let mut path: Vec<&str> = Vec::new();
    let mut found: Vec<Node> = Vec::new();
    for line in table.lines() {
        let prefix: String = line.chars().take_while(|c| TREE.contains(c)).collect();
        let rest = &line[prefix.len()..];
        // A name ends where the padding before its first cell starts.
        let (name, cells) = rest.split_once("  ").unwrap_or((rest, ""));
        let name = name.trim();
        let cells: Vec<&str> = cells.split('│').map(str::trim).collect();
        let depth = if prefix.is_empty() {
            if name.is_empty() || name.starts_with("Timer precision") {
                continue;
            }
            0
        } else if prefix.ends_with("─ ") && !path.is_empty() {
            prefix.chars().count() / 3
        } else {
            if let Some(last) = found.last_mut() {
                last.under.push(rest.split('│').map(str::trim).collect());
            }
            continue;
        };
        if depth > path.len() {
            return Err(format!(
                "the row `{}` is deeper than its parent",
                line.trim()
            ));
        }
        path.truncate(depth);
        path.push(name);
        found.push(Node {
            path: path.join("::"),
            depth,
            cells,
            line,
            under: Vec::new(),
        });
    }
    Ok(found)
}

/// Why listed benchmark `id` has no row among `medians`: divan's thread
/// counts (rows `id::t=N`), which flamegate does not time, or a table it
/// cannot read.
fn missing_row(exe: &Path, id: &str, medians: &[(String, f64)]) -> Error {
    let threads: Vec<&str> = medians
        .iter()
        .filter_map(|(found, _)| found.strip_prefix(id)?.strip_prefix("::"))
        .filter(|variant| variant.starts_with("t="))
        .collect();
    if threads.is_empty() {
        return Error::DivanOutput {
            exe: exe.to_path_buf(),
            problem: format!("benchmark `{id}` was listed but divan printed no row for it"),
        };
    }
    Error::Usage(format!(
        "divan benchmark `{id}` runs on several thread counts ({}): flamegate does not time divan's \
         thread counts yet; leave it out with --filter",
        threads.join(", ")
    ))
}

/// Each benchmark row's id (its path in the tree) and median in ns.
fn medians(table: &str) -> std::result::Result<Vec<(String, f64)>, String> {
    let mut found = Vec::new();
    for node in nodes(table)? {
        // The top row holds the headings; a parent's cells are empty.
        if node.depth == 0 || node.cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        let median = node
            .cells
            .get(2)
            .and_then(|cell| nanoseconds(cell))
            .ok_or_else(|| format!("the row `{}` has no median time", node.line.trim()))?;
        found.push((node.path, median));
    }
    Ok(found)
}

/// The leaves of the trees in `table` (the benchmarks), by path.
fn leaves(table: &str) -> std::result::Result<Vec<String>, String> {
    let nodes = nodes(table)?;
    Ok(nodes
        .iter()
        .enumerate()
        .filter(|(i, node)| nodes.get(i + 1).is_none_or(|next| next.depth <= node.depth))
        .filter(|(_, node)| node.depth > 0)
        .map(|(_, node)| node.path.clone())
        .collect())
}

/// Whether `exe` installs a global allocator of its own (it then has no
/// `__rdl_alloc`, Rust's default): divan prints allocation counts when that
/// is divan's `AllocProfiler`, whose code is inlined beyond recognition.
pub fn may_count_allocations(exe: &BenchExecutable) -> bool {
    !exe.has_function("__rdl_alloc")
}

/// What one call of benchmark `id` asked of the heap, as divan's
/// `AllocProfiler` counts it: the benchmark alone in a process, one sample
/// of one call. None when divan printed no counts for it: it allocated
/// nothing, or `AllocProfiler` is not the global allocator.
pub fn allocations(exe: &BenchExecutable, id: &str) -> Result<Option<AllocationCount>> {
    let stdout = printed(
        exe,
        divan_command(exe)
            .args(["--bench", "--color", "never", "--exact", id])
            .args(["--sample-count", "1", "--sample-size", "1"]),
    )?;
    let nodes = nodes(&stdout).map_err(|problem| Error::DivanOutput {
        exe: exe.path.clone(),
        problem,
    })?;
    let node = nodes.iter().find(|node| node.path == id);
    Ok(node.and_then(|node| allocation_count(&node.under)))
}

/// divan's allocation rows under a benchmark: a label (`alloc:`,
/// `dealloc:`, `grow:`, `shrink:`, `max alloc:`), then a row of counts and
/// a row of sizes, each in the four statistics' columns (the median's is
/// read; one sample makes them equal).
fn allocation_count(rows: &[Vec<&str>]) -> Option<AllocationCount> {
    let mut tallies: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (at, row) in rows.iter().enumerate() {
        let Some(label) = row.first().filter(|cell| cell.ends_with(':')) else {
            continue;
        };
        let median = |offset: usize| rows.get(at + offset).and_then(|r| r.get(2).copied());
        let count = median(1).and_then(|c| c.parse::<f64>().ok())?;
        let size = median(2).and_then(bytes)?;
        tallies.insert(label, (count.round() as u64, size));
    }
    if tallies.is_empty() {
        return None;
    }
    let tally = |label: &str| tallies.get(label).copied().unwrap_or((0, 0));
    Some(AllocationCount {
        allocations: tally("alloc:").0,
        deallocations: tally("dealloc:").0,
        reallocations: tally("grow:").0 + tally("shrink:").0,
        bytes: tally("alloc:").1 + tally("grow:").1,
        peak_bytes: tally("max alloc:").1,
    })
}

/// A divan size (`8 B`, `1.5 KB`, `2 MiB`) in bytes.
fn bytes(cell: &str) -> Option<u64> {
    let (value, unit) = cell.split_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let scale = match unit {
        "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((value * scale).round() as u64)
}

/// A divan duration (`1.086 µs`) in nanoseconds.
fn nanoseconds(cell: &str) -> Option<f64> {
    let (value, unit) = cell.split_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let scale = match unit {
        "ps" => 1e-3,
        "ns" => 1.0,
        "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    Some(value * scale).filter(|ns| ns.is_finite() && *ns > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// divan 0.1.21's output for the fixture, with a throughput row and
    /// allocation rows under one benchmark.
    const TABLE: &str = "\
Timer precision: 20 ns
walk          fastest       │ slowest       │ median        │ mean          │ samples │ iters
├─ small      96.87 ns      │ 105.3 ns      │ 101.4 ns      │ 101 ns        │ 20      │ 640
├─ bytes      1.5 ms        │ 2 ms          │ 1.75 ms       │ 1.8 ms        │ 3       │ 3
│             1.2 GB/s      │ 1 GB/s        │ 1.1 GB/s      │ 1.1 GB/s      │         │
│             max alloc:    │               │               │               │         │
│               1           │ 1             │ 1             │ 1             │         │
╰─ sum                      │               │               │               │         │
   ├─ 1000    1.081 µs      │ 1.116 µs      │ 1.091 µs      │ 1.092 µs      │ 20      │ 40
   ╰─ 4000    4.345 µs      │ 4.395 µs      │ 4.365 µs      │ 4.365 µs      │ 20      │ 20
";

    #[test]
    fn each_benchmark_row_gives_its_path_and_median_in_nanoseconds() {
        let found = medians(TABLE).unwrap();
        let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "walk::small",
                "walk::bytes",
                "walk::sum::1000",
                "walk::sum::4000"
            ]
        );
        let ns: Vec<f64> = found.iter().map(|(_, ns)| *ns).collect();
        assert_eq!(ns, [101.4, 1.75e6, 1091.0, 4365.0]);
    }

    #[test]
    fn the_leaves_of_a_test_mode_tree_are_the_benchmarks() {
        let tree = "walk\n├─ small\n╰─ sum\n   ├─ 1000\n   ╰─ 4000\n";
        assert_eq!(
            leaves(tree).unwrap(),
            ["walk::small", "walk::sum::1000", "walk::sum::4000"]
        );
        assert_eq!(leaves(TABLE).unwrap().len(), 4);
    }

    #[test]
    fn divans_allocation_rows_become_an_allocation_count() {
        let table = "\
walk        fastest       │ slowest       │ median        │ mean          │ samples │ iters
╰─ vec      1.5 µs        │ 1.5 µs        │ 1.5 µs        │ 1.5 µs        │ 1       │ 1
            max alloc:    │               │               │               │         │
              1           │ 1             │ 1             │ 1             │         │
              8.192 KB    │ 8.192 KB      │ 8.192 KB      │ 8.192 KB      │         │
            alloc:        │               │               │               │         │
              2           │ 2             │ 2             │ 2             │         │
              8.2 KB      │ 8.2 KB        │ 8.2 KB        │ 8.2 KB        │         │
            dealloc:      │               │               │               │         │
              2           │ 2             │ 2             │ 2             │         │
              8.2 KB      │ 8.2 KB        │ 8.2 KB        │ 8.2 KB        │         │
            grow:         │               │               │               │         │
              3           │ 3             │ 3             │ 3             │         │
              1 KiB       │ 1 KiB         │ 1 KiB         │ 1 KiB         │         │
";
        let nodes = nodes(table).unwrap();
        assert_eq!(
            allocation_count(&nodes[1].under),
            Some(AllocationCount {
                allocations: 2,
                deallocations: 2,
                reallocations: 3,
                bytes: 8200 + 1024,
                peak_bytes: 8192,
            })
        );
        assert_eq!(allocation_count(&nodes[0].under), None);
    }

    #[test]
    fn thread_counts_are_refused_by_name_and_a_missing_row_is_named() {
        let table = "\
walk         fastest       │ slowest       │ median        │ mean          │ samples │ iters
╰─ threaded                │               │               │               │         │
   ├─ t=1    527.9 ns      │ 52.8 µs       │ 530.4 ns      │ 534.8 ns      │ 41801   │ 167204
   ╰─ t=2    527.9 ns      │ 6.551 µs      │ 530.4 ns      │ 542.1 ns      │ 2432    │ 9728
";
        let found = medians(table).unwrap();
        let exe = Path::new("walk");
        let threads = missing_row(exe, "walk::threaded", &found).to_string();
        assert!(
            threads.contains("several thread counts (t=1, t=2)"),
            "{threads}"
        );
        let gone = missing_row(exe, "walk::other", &found).to_string();
        assert!(
            gone.contains("`walk::other` was listed but divan printed no row"),
            "{gone}"
        );
    }

    #[test]
    fn a_row_without_a_readable_median_is_an_error_naming_it() {
        let table = TABLE.replace("1.091 µs", "1.091 parsecs");
        let error = medians(&table).unwrap_err();
        assert!(error.contains("1000"), "{error}");
    }

    #[test]
    fn criterion_windows_become_divan_windows_and_other_options_are_refused() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let round = asked(
            &args(&[
                "^walk::sum",
                "--noplot",
                "--warm-up-time",
                "0.1",
                "--measurement-time",
                "0.3",
            ]),
            "divan",
        )
        .unwrap();
        assert_eq!(round.filter.as_deref(), Some("^walk::sum"));
        assert_eq!(round.window.as_deref(), Some("0.3"));
        assert_eq!(asked(&args(&["--noplot"]), "divan").unwrap().window, None);
        assert!(asked(&args(&["--profile-time", "1"]), "divan").is_err());
    }
}
