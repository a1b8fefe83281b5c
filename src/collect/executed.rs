//! What one benchmark executed: the functions its timed routine ran (inside
//! criterion's `Bencher::iter*`, under callgrind, one iteration in
//! criterion's test mode), each with its own instruction count and, for the
//! bench executable's own functions, a fingerprint of its machine code
//! (`fingerprint`). Two sides whose benchmark executed the same functions,
//! with the same code, the same number of times, ran the same code: timing
//! them again measures nothing but the machine.
//!
//! The same code can still cost differently when it touches memory or
//! branches differently (the same loop over sorted or shuffled data), so
//! callgrind also simulates the data cache and the branch predictor; the
//! two sides' data misses and mispredictions must match too, within what
//! the benchmark's own repeated runs differ by. criterion's clock, read
//! inside `iter` around the routine, is left out of those: its branches
//! follow the clock's values and, in callgrind's predictor (a table indexed
//! by address), where its code sits, which a change anywhere before it in
//! the executable moves (measured: `Timespec::now` 4 mispredictions at one
//! address, 2 at 48 bytes further, the routine's own 8 on both).
//!
//! What this cannot see, and so never calls the same: code on other threads
//! (callgrind counts only the thread inside `iter`; a benchmark that starts
//! threads is always timed), and a change in the data the routine runs on
//! that leaves every function's instruction count, the data misses and the
//! mispredictions equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::BenchExecutable;
use super::fingerprint::CodeIndex;
use crate::error::{Error, Result};

/// One executed function: its name (demangled, for messages) and its own
/// instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutedFunction {
    pub name: String,
    pub instructions: u64,
}

/// What a benchmark's routine executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// The bench executable's functions by the fingerprint of their machine
    /// code (not by name: identical functions are folded into one address
    /// with several names, and which one a side shows is chance); shared
    /// libraries' (the same files on both sides) by name and library.
    pub functions: BTreeMap<String, ExecutedFunction>,
    /// Threads the process ran: more than one means code callgrind did not
    /// attribute to the routine.
    pub threads: usize,
    /// What the same instructions cost in memory and branches.
    pub events: DataAndBranches,
}

/// callgrind's simulated events that depend on the data, not on where the
/// code sits: data-cache misses at both levels and mispredicted branches.
/// Instruction-cache misses are left out: they follow code placement, which
/// is layout, not a change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataAndBranches {
    pub l1_data_misses: u64,
    pub ll_data_misses: u64,
    pub mispredicts: u64,
}

impl DataAndBranches {
    /// Read from one function's costs, named by a callgrind file's
    /// `events:` line (run with `--cache-sim=yes --branch-sim=yes`).
    fn of(events: &[String], costs: &[u64]) -> Self {
        let sum = |names: &[&str]| {
            events
                .iter()
                .zip(costs)
                .filter(|(event, _)| names.contains(&event.as_str()))
                .map(|(_, cost)| cost)
                .sum()
        };
        DataAndBranches {
            l1_data_misses: sum(&["D1mr", "D1mw"]),
            ll_data_misses: sum(&["DLmr", "DLmw"]),
            mispredicts: sum(&["Bcm", "Bim"]),
        }
    }

    fn add(self, other: Self) -> Self {
        DataAndBranches {
            l1_data_misses: self.l1_data_misses + other.l1_data_misses,
            ll_data_misses: self.ll_data_misses + other.ll_data_misses,
            mispredicts: self.mispredicts + other.mispredicts,
        }
    }

    fn values(self) -> [(&'static str, u64); 3] {
        [
            ("data L1 misses", self.l1_data_misses),
            ("data last-level misses", self.ll_data_misses),
            ("mispredicted branches", self.mispredicts),
        ]
    }

    /// What these events add to callgrind's cycle estimate.
    pub fn extra_cycles(self) -> f64 {
        use crate::record::instructions::{L1_MISS_CYCLES, LL_MISS_CYCLES, MISPREDICT_CYCLES};
        L1_MISS_CYCLES * self.l1_data_misses as f64
            + LL_MISS_CYCLES * self.ll_data_misses as f64
            + MISPREDICT_CYCLES * self.mispredicts as f64
    }
}

impl Execution {
    /// One digest of the whole execution (each function's key and count),
    /// for a record to keep; None when it ran more than one thread, which
    /// callgrind cannot see whole.
    pub fn digest(&self) -> Option<String> {
        use sha2::Digest;
        if self.threads > 1 {
            return None;
        }
        let mut hasher = sha2::Sha256::new();
        for (key, function) in &self.functions {
            hasher.update(key.as_bytes());
            hasher.update(function.instructions.to_le_bytes());
        }
        Some(format!("{:x}", hasher.finalize()))
    }

    /// Whether the two ran different machine code: a function run on one
    /// side only, or one whose fingerprint differs. Equal instruction
    /// counts then are not the same instructions.
    pub fn code_differs(&self, other: &Execution) -> bool {
        !self.functions.keys().eq(other.functions.keys())
    }

    /// Whether `self` and `other` ran the same code, or why not (the first
    /// few functions that differ).
    pub fn differences(&self, other: &Execution) -> Vec<String> {
        if self.threads > 1 || other.threads > 1 {
            return vec!["it runs more than one thread".into()];
        }
        let keys: std::collections::BTreeSet<&String> = self
            .functions
            .keys()
            .chain(other.functions.keys())
            .collect();
        let runs = |side: &Execution, name: &str| side.functions.values().any(|f| f.name == name);
        keys.into_iter()
            .filter_map(
                |key| match (self.functions.get(key), other.functions.get(key)) {
                    (Some(a), Some(b)) if a.instructions != b.instructions => Some(format!(
                        "{}: {} → {} instructions",
                        a.name, a.instructions, b.instructions
                    )),
                    (Some(a), None) if runs(other, &a.name) => {
                        Some(format!("{}: code changed", a.name))
                    }
                    (Some(a), None) => Some(format!("{}: run on one side only", a.name)),
                    // A changed function is named once, from this side.
                    (None, Some(b)) if runs(self, &b.name) => None,
                    (None, Some(b)) => Some(format!("{}: run on one side only", b.name)),
                    _ => None,
                },
            )
            .collect()
    }
}

/// The smallest change the gate reports by default (`min_change`, 1%).
const SMALLEST_REPORTED_CHANGE: f64 = 0.01;

/// The smallest share of a benchmark's estimated cycles that different
/// data misses or mispredictions must add up to before the same code
/// counts as running differently: a tenth of the smallest change the gate
/// reports by default. Identical executables started from different
/// folders were measured a mispredicted branch apart.
pub const SAME_COST_FLOOR: f64 = SMALLEST_REPORTED_CHANGE / 10.0;

/// One first-level miss or mispredicted branch, the least two runs of the
/// same code can differ by. A tenth of a percent of a small benchmark is
/// less than that: identical runs of a 2,850-cycle divan benchmark were one
/// miss apart in 2 of 18 runs. Allowed only where it stays under the
/// smallest change the gate reports.
const ONE_EVENT_CYCLES: f64 = crate::record::instructions::L1_MISS_CYCLES;

/// What a record keeps of an execution (`BenchResult::executed` and
/// `executed_data_cycles`).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub digest: String,
    pub data_cycles: Option<f64>,
}

/// Whether two executions of the same instructions spend the same on data
/// misses and mispredictions (`mine`, `theirs`, in estimated cycles): apart
/// by no more than `JITTER_MULTIPLE` times `spread` (how far repeated runs
/// of one side were apart) or `SAME_COST_FLOOR` of the whole.
impl Recorded {
    /// Whether this execution (of `instructions` in all) is what `earlier`
    /// recorded: the same digest, and data misses and mispredictions that
    /// cost the same within `SAME_COST_FLOOR` (a record has no second run
    /// to show the spread). A record from before they were kept is not
    /// matched.
    pub fn matches(&self, earlier: &Recorded, instructions: u64) -> bool {
        self.digest == earlier.digest
            && match (self.data_cycles, earlier.data_cycles) {
                (Some(mine), Some(theirs)) => same_cost(instructions, mine, theirs, 0.0),
                _ => false,
            }
    }
}

fn same_cost(instructions: u64, mine: f64, theirs: f64, spread: f64) -> bool {
    let whole = instructions as f64 + mine;
    let one_event = ONE_EVENT_CYCLES.min(SMALLEST_REPORTED_CHANGE * whole);
    let allowed = (crate::record::instructions::JITTER_MULTIPLE * spread)
        .max(SAME_COST_FLOOR * whole)
        .max(one_event);
    (mine - theirs).abs() <= allowed
}

impl Execution {
    /// Every executed function's own instructions, added up.
    pub fn instructions(&self) -> u64 {
        self.functions.values().map(|f| f.instructions).sum()
    }

    /// What a record keeps of this execution; None when it ran more than
    /// one thread.
    pub fn recorded(&self) -> Option<Recorded> {
        Some(Recorded {
            digest: self.digest()?,
            data_cycles: Some(self.events.extra_cycles()),
        })
    }

    /// Whether `self` and `other`, which ran the same code the same number
    /// of times, spent different cycles on data misses and mispredictions
    /// (the events that differ, described): apart by more than
    /// `JITTER_MULTIPLE` times `spread` (the cycles repeated runs of one
    /// side were apart, the larger side's) and more than `SAME_COST_FLOOR`.
    pub fn events_differ(&self, other: &Execution, spread: f64) -> Option<String> {
        let (mine, theirs) = (self.events.extra_cycles(), other.events.extra_cycles());
        if same_cost(self.instructions(), mine, theirs, spread) {
            return None;
        }
        let described: Vec<String> = self
            .events
            .values()
            .into_iter()
            .zip(other.events.values())
            .filter(|((_, a), (_, b))| a != b)
            .map(|((name, a), (_, b))| format!("{name} {a} → {b}"))
            .collect();
        Some(described.join(", "))
    }
}

/// The callgrind pattern of criterion's timing loops, matched against the
/// symbol names callgrind sees with demangling off (legacy `_ZN…` and v0
/// `_R…` names both spell these words in this order).
const TIMING_LOOPS: &str = "*criterion*bencher*Bencher*iter*";

/// Run benchmark `id` of `exe` once under callgrind and read what it
/// executed; callgrind's files go to `out_file` and beside it.
pub fn execution(
    exe: &BenchExecutable,
    code: &mut CodeIndex,
    id: &str,
    out_file: &Path,
) -> Result<Execution> {
    let mut options = super::callgrind::toggle_options(exe, TIMING_LOOPS);
    options.extend([
        format!("--callgrind-out-file={}", out_file.display()),
        "--demangle=no".into(),
        "--separate-threads=yes".into(),
        "--cache-sim=yes".into(),
        "--branch-sim=yes".into(),
    ]);
    super::callgrind::run_benchmark(exe, id, &options)?;
    let files = thread_files(out_file)?;
    let mut functions = BTreeMap::new();
    let mut events = DataAndBranches::default();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        let (names, costs) = own_costs(&text);
        for ((object, name), own) in costs {
            let instructions = own.first().copied().unwrap_or(0);
            if instructions == 0 {
                continue;
            }
            let shown = format!("{:#}", rustc_demangle::demangle(comparable_name(&name)));
            if !is_the_timer(&shown) {
                events = events.add(DataAndBranches::of(&names, &own));
            }
            let key = if Path::new(&object) == exe.path {
                code.digest(&name)
                    .map_or_else(|| shown.clone(), |digest| format!("code {digest}"))
            } else {
                format!("{shown} ({})", library_name(&object))
            };
            functions
                .entry(key)
                .or_insert(ExecutedFunction {
                    name: shown,
                    instructions: 0,
                })
                .instructions += instructions;
        }
    }
    if functions.is_empty() {
        return Err(Error::Usage(format!(
            "callgrind saw nothing executed inside criterion's `iter` for benchmark `{id}`: its timing \
             loop was inlined away or it does not use `b.iter(...)`"
        )));
    }
    Ok(Execution {
        functions,
        threads: files.len(),
        events,
    })
}

/// callgrind's per-thread files (`out_file-01`, `out_file-02`, …).
fn thread_files(out_file: &Path) -> Result<Vec<PathBuf>> {
    let dir = out_file.parent().unwrap_or(Path::new("."));
    let stem = out_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(stem.as_str()))
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// `name.llvm.1234` → `name`: the suffix is a hash of the code unit the
/// function was promoted from, which changes with its neighbours.
fn comparable_name(name: &str) -> &str {
    match name.find(".llvm.") {
        Some(at) => &name[..at],
        None => name,
    }
}

/// `/usr/lib/x86_64-linux-gnu/libc.so.6` → `libc.so.6`.
fn library_name(object: &str) -> &str {
    object.rsplit('/').next().unwrap_or(object)
}

/// Each function's own costs, by (object, function name).
type OwnCosts = BTreeMap<(String, String), Vec<u64>>;

/// Each function's own costs in a callgrind file, every event in the
/// order of its `events:` line (instructions first), by (object, function
/// name). Lines after `calls=` carry a callee's inclusive cost and are not
/// the caller's own.
fn own_costs(text: &str) -> (Vec<String>, OwnCosts) {
    let mut objects: BTreeMap<String, String> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut events: Vec<String> = Vec::new();
    let mut object = String::new();
    let mut function: Option<(String, String)> = None;
    let mut call_cost_next = false;
    let mut costs = OwnCosts::new();
    for line in text.lines() {
        if let Some(spec) = line.strip_prefix("events:") {
            events = spec.split_whitespace().map(String::from).collect();
        } else if let Some(spec) = line.strip_prefix("ob=") {
            object = compressed(spec, &mut objects);
        } else if let Some(spec) = line.strip_prefix("fn=") {
            function = Some((object.clone(), compressed(spec, &mut names)));
        } else if let Some(spec) = line.strip_prefix("cfn=") {
            // Defines a name a later `fn=` may refer to by number.
            compressed(spec, &mut names);
        } else if let Some(spec) = line.strip_prefix("cob=") {
            compressed(spec, &mut objects);
        } else if line.starts_with("calls=") {
            call_cost_next = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '*')) {
            if std::mem::take(&mut call_cost_next) {
                continue;
            }
            let Some(key) = &function else {
                continue;
            };
            let own = costs.entry(key.clone()).or_default();
            // The first field is the position; absent trailing events are 0.
            for (index, value) in line.split_whitespace().skip(1).enumerate() {
                if own.len() <= index {
                    own.resize(index + 1, 0);
                }
                own[index] += value.parse::<u64>().unwrap_or(0);
            }
        }
    }
    (events, costs)
}

/// criterion's clock, read before and after the routine inside `iter`
/// (`Instant::now`, `elapsed`, the system's `clock_gettime`): the same code
/// on both sides, whose branches follow the clock's values and where the
/// code sits, not the routine. Its instructions count in what was executed;
/// its misses and mispredictions are left out of what the routine costs.
fn is_the_timer(name: &str) -> bool {
    [
        "std::time::Instant",
        "::time::Timespec",
        "clock_gettime",
        "criterion::measurement::",
    ]
    .iter()
    .any(|part| name.contains(part))
}

/// callgrind's name compression: `(12) name` defines 12, `(12)` refers to it.
fn compressed(spec: &str, table: &mut BTreeMap<String, String>) -> String {
    let spec = spec.trim();
    let Some(rest) = spec.strip_prefix('(') else {
        return spec.to_string();
    };
    let Some((id, name)) = rest.split_once(')') else {
        return spec.to_string();
    };
    let name = name.trim();
    if name.is_empty() {
        table.get(id).cloned().unwrap_or_default()
    } else {
        table.insert(id.to_string(), name.to_string());
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_costs_leave_out_what_callees_cost_and_follow_compressed_names() {
        let text = "\
events: Ir
ob=(1) /lib/libc.so.6
fn=(1) memcpy
0 40
ob=(2) /t/bench
fn=(2) _ZN4tiny4work17h0E
7 10
+1 5
cob=(1)
cfn=(1)
calls=2 0
* 40
* 1
fn=(3) _ZN9criterion7bencher4iter17h1E
3 2
cfn=(2)
calls=1 0
3 56
fn=(2)
+2 4
";
        let (events, costs) = own_costs(text);
        assert_eq!(events, ["Ir"]);
        let cost = |object: &str, name: &str| costs[&(object.to_string(), name.to_string())][0];
        assert_eq!(cost("/lib/libc.so.6", "memcpy"), 40);
        assert_eq!(cost("/t/bench", "_ZN4tiny4work17h0E"), 10 + 5 + 1 + 4);
        assert_eq!(cost("/t/bench", "_ZN9criterion7bencher4iter17h1E"), 2);
        assert_eq!(costs.len(), 3);
    }

    #[test]
    fn every_event_is_read_per_function_and_the_clock_is_told_from_the_routine() {
        let text = "\
events: Ir D1mr Bcm
ob=(1) /t/bench
fn=(1) routine
3 100 2 8
fn=(2) _ZN3std3sys3pal4unix4time8Timespec3now17h0E
5 30 1
+1 4 0 4
";
        let (events, costs) = own_costs(text);
        assert_eq!(events, ["Ir", "D1mr", "Bcm"]);
        let own = |name: &str| costs[&("/t/bench".to_string(), name.to_string())].clone();
        assert_eq!(own("routine"), [100, 2, 8]);
        let clock = own("_ZN3std3sys3pal4unix4time8Timespec3now17h0E");
        assert_eq!(clock, [34, 1, 4]);
        assert_eq!(
            DataAndBranches::of(&events, &clock),
            DataAndBranches {
                l1_data_misses: 1,
                ll_data_misses: 0,
                mispredicts: 4
            }
        );
        for clock in [
            "<std::sys::pal::unix::time::Timespec>::now",
            "<std::sys::pal::unix::time::Timespec>::sub_timespec",
            "<std::time::Instant>::elapsed",
            "clock_gettime@@GLIBC_2.17",
            "<criterion::measurement::WallTime as criterion::measurement::Measurement>::end",
        ] {
            assert!(is_the_timer(clock), "{clock}");
        }
        for routine in [
            "two_modules::parse::number",
            "criterion::bencher::Bencher<M>::iter",
        ] {
            assert!(!is_the_timer(routine), "{routine}");
        }
    }

    #[test]
    fn two_executions_differ_by_code_count_presence_or_threads() {
        let run = |pairs: &[(&str, u64, &str)], threads| Execution {
            functions: pairs
                .iter()
                .map(|(name, n, code)| {
                    (
                        code.to_string(),
                        ExecutedFunction {
                            name: name.to_string(),
                            instructions: *n,
                        },
                    )
                })
                .collect(),
            threads,
            events: DataAndBranches::default(),
        };
        let base = run(&[("work", 100, "a"), ("iter", 5, "b")], 1);
        assert!(base.differences(&base.clone()).is_empty());
        assert!(!base.code_differs(&run(&[("work", 101, "a"), ("iter", 5, "b")], 1)));
        assert!(base.code_differs(&run(&[("work", 100, "c"), ("iter", 5, "b")], 1)));
        // The same code under another name (folded aliases) is the same.
        assert!(
            base.differences(&run(&[("other", 100, "a"), ("iter", 5, "b")], 1))
                .is_empty()
        );
        assert_eq!(
            base.differences(&run(&[("work", 100, "c"), ("iter", 5, "b")], 1)),
            ["work: code changed"]
        );
        assert_eq!(
            base.differences(&run(&[("work", 101, "a"), ("iter", 5, "b")], 1)),
            ["work: 100 → 101 instructions"]
        );
        assert_eq!(
            base.differences(&run(&[("iter", 5, "b")], 1)),
            ["work: run on one side only"]
        );
        assert_eq!(
            base.differences(&base.clone().with_threads(2)),
            ["it runs more than one thread"]
        );
        assert_eq!(comparable_name("f.llvm.8826"), "f");
    }

    #[test]
    fn data_misses_and_mispredictions_differ_beyond_their_spread_and_a_floor() {
        let run = |l1_data_misses, ll_data_misses, mispredicts| {
            one_function(
                30_000,
                DataAndBranches {
                    l1_data_misses,
                    ll_data_misses,
                    mispredicts,
                },
            )
        };
        let base = run(4, 0, 285);
        assert_eq!(base.events_differ(&base, 0.0), None);
        // The same loop over sorted data: 270 mispredictions fewer.
        assert_eq!(
            base.events_differ(&run(4, 0, 15), 0.0).as_deref(),
            Some("mispredicted branches 285 → 15")
        );
        // One apart is under a tenth of a percent of 33k cycles.
        assert_eq!(base.events_differ(&run(4, 0, 284), 0.0), None);
        // Last-level misses weigh ten times more: one is 100 of 32,890
        // cycles (0.3%), unless repeated runs of a side move by 40.
        assert!(base.events_differ(&run(4, 1, 285), 0.0).is_some());
        assert_eq!(base.events_differ(&run(4, 1, 285), 40.0), None);

        // Against a record: the digest, and the same floor.
        let recorded = base.recorded().unwrap();
        let matches = |now: &Execution, earlier: &Recorded| {
            now.recorded().unwrap().matches(earlier, now.instructions())
        };
        assert!(matches(&run(4, 0, 284), &recorded));
        assert!(!matches(&run(4, 0, 15), &recorded));
        let older = Recorded {
            data_cycles: None,
            ..recorded
        };
        assert!(!matches(&base, &older), "a record without data cycles");
    }

    #[test]
    fn a_small_benchmark_one_miss_apart_is_the_same_unless_one_miss_is_a_reportable_change() {
        let run = |instructions, l1_data_misses| {
            one_function(
                instructions,
                DataAndBranches {
                    l1_data_misses,
                    ll_data_misses: 0,
                    mispredicts: 50,
                },
            )
        };
        // 1,500 instructions and 500 cycles of mispredictions: a tenth of
        // a percent is 2 cycles, one miss 10 (0.5%).
        let small = run(1_500, 0);
        assert_eq!(small.events_differ(&run(1_500, 1), 0.0), None);
        assert!(small.events_differ(&run(1_500, 2), 0.0).is_some());
        let recorded = small.recorded().unwrap();
        assert!(run(1_500, 1).recorded().unwrap().matches(&recorded, 1_500));
        // 510 cycles in all: one miss would be a 2% change, so it counts.
        assert!(run(10, 0).events_differ(&run(10, 1), 0.0).is_some());
    }

    /// One thread running one function, `work`, with these events.
    fn one_function(instructions: u64, events: DataAndBranches) -> Execution {
        Execution {
            functions: [(
                "a".to_string(),
                ExecutedFunction {
                    name: "work".into(),
                    instructions,
                },
            )]
            .into(),
            threads: 1,
            events,
        }
    }

    impl Execution {
        fn with_threads(mut self, threads: usize) -> Self {
            self.threads = threads;
            self
        }
    }
}
