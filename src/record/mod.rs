//! The `RunRecord`: one benchmark run of one commit, as stored on disk and in git.
//!
//! Every stored JSON carries `schema`; reading checks it before anything else,
//! then validates the samples, so no later stage sees NaN, zero or negative times.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, RecordSource, Result};

pub mod acceptance;
pub mod allocations;
pub mod command;
pub mod commit;
pub mod instructions;
pub mod interference;
pub mod note;
pub mod paired;
pub mod shard;

/// The commit a side describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub commit: Option<String>,
    pub dirty: bool,
    /// How this side was chosen ("merge-base of HEAD and main", "work tree").
    pub chosen_as: String,
}

/// What a benchmark's samples count, per iteration. A record holds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SampleUnit {
    /// Nanoseconds (timing mode).
    #[serde(rename = "ns")]
    Nanoseconds,
    /// Instructions (instruction mode, callgrind): exact counts.
    #[serde(rename = "instructions")]
    Instructions,
}

impl SampleUnit {
    /// The unit as records and reports spell it: `ns`, `instructions`.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleUnit::Nanoseconds => "ns",
            SampleUnit::Instructions => "instructions",
        }
    }
}

impl std::fmt::Display for SampleUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The schema version this flamegate writes and reads.
pub const RECORD_SCHEMA: u32 = 1;

/// A benchmark's full criterion id (`group/function/parameter`).
///
/// Owns the one safe conversion of a benchmark name into a file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BenchId(pub String);

impl BenchId {
    /// A `[[command]]` entry's id (`command/<name>`): a whole program, not
    /// a bench harness's benchmark.
    pub fn is_command(&self) -> bool {
        self.0
            .strip_prefix(command::GROUP)
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// A file-name stem safe on every OS: ASCII alphanumerics, `-` and `_` kept,
    /// everything else (`/`, `..`, spaces, control and non-ASCII characters) as `_`,
    /// length capped, and a short hash appended so distinct ids never collide.
    pub fn file_stem(&self) -> String {
        let mut stem: String = self
            .0
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(80)
            .collect();
        if stem.is_empty() {
            stem.push('_');
        }
        // FNV-1a: stable across versions and platforms, unlike std's hasher.
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.0.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        format!("{stem}-{hash:08x}")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BenchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The machine a run was measured on. Records are comparable as a noise
/// history only when their fingerprints match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub logical_cores: u32,
    pub os: String,
    pub rustc: String,
    /// CPU frequency governor, where the OS tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<String>,
    /// valgrind's version, for instruction counts (they depend on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valgrind: Option<String>,
}

impl Machine {
    /// Whether two runs come from the same kind of machine and toolchain.
    pub fn same_fingerprint(&self, other: &Machine) -> bool {
        self.cpu_model == other.cpu_model
            && self.logical_cores == other.logical_cores
            && self.os == other.os
            && self.rustc == other.rustc
            && self.valgrind == other.valgrind
    }
}

/// Throughput a benchmark declared, per iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    /// criterion's unit name: `Bytes`, `BytesDecimal`, `Elements`, `Bits`.
    pub unit: String,
    pub per_iteration: u64,
}

/// A criterion throughput unit in words, singular: "byte", "element", "bit".
pub fn unit_word(unit: &str) -> &str {
    match unit {
        "Bytes" | "BytesDecimal" => "byte",
        "Elements" => "element",
        "Bits" => "bit",
        other => other,
    }
}

/// A benchmark whose declared input differs between base and head (same
/// throughput unit, other amount per iteration): its time is compared per
/// unit of input, so a pull request that grows a benchmark's input (a file
/// it reads, a generated size) does not read as a slowdown of the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputChange {
    /// criterion's unit name (`Bytes`, `Elements`, …).
    pub unit: String,
    pub base: u64,
    pub head: u64,
}

impl InputChange {
    /// The change when both sides declare the same unit with different,
    /// non-zero amounts; otherwise none (time is compared as measured).
    pub fn between(base: &BenchResult, head: &BenchResult) -> Option<InputChange> {
        let (b, h) = (base.throughput.as_ref()?, head.throughput.as_ref()?);
        (b.unit == h.unit
            && b.per_iteration != h.per_iteration
            && b.per_iteration > 0
            && h.per_iteration > 0)
            .then(|| InputChange {
                unit: h.unit.clone(),
                base: b.per_iteration,
                head: h.per_iteration,
            })
    }

    /// `ln(head amount / base amount)`: what a time's log ratio loses when
    /// it is taken per unit of input.
    pub fn log_ratio(&self) -> f64 {
        (self.head as f64 / self.base as f64).ln()
    }
}

/// Collapsed stacks: `root;caller;leaf` → sample count. The one profile
/// format downstream (flamegraphs, differential flamegraphs, hotspots).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FoldedStacks(BTreeMap<String, u64>);

impl FoldedStacks {
    /// Add `count` samples of the stack `frames` (root first).
    pub fn add(&mut self, frames: &[&str], count: u64) {
        *self.0.entry(frames.join(";")).or_default() += count;
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Add every stack of `other`.
    pub fn merge(&mut self, other: FoldedStacks) {
        for (stack, count) in other.0 {
            *self.0.entry(stack).or_default() += count;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (stack, count) pairs in stack order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &u64)> {
        self.0.iter()
    }

    /// Folded text, one `stack count` line each, as inferno reads it.
    pub fn to_folded_text(&self) -> String {
        let mut text = String::new();
        for (stack, count) in &self.0 {
            text.push_str(stack);
            text.push(' ');
            text.push_str(&count.to_string());
            text.push('\n');
        }
        text
    }
}

/// One benchmark's measurement in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    pub id: BenchId,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// Unit of `samples`: nanoseconds (time per iteration), or
    /// instructions (per iteration, one exact sample per repeat).
    pub unit: SampleUnit,
    /// Raw samples: time per iteration in nanoseconds, one per criterion sample.
    pub samples: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    /// Where the time went, from the profiling pass (when the bench installs
    /// `flamegate_hook::criterion()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<FoldedStacks>,
    /// Wall-clock seconds the timing pass spent on it (warm-up included):
    /// what balances a suite split into shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Instruction mode: each function's instructions in one iteration
    /// (callgrind), for exact hotspot notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<BTreeMap<String, instructions::FunctionCost>>,
    /// Instruction mode: callgrind's simulated cache misses and branch
    /// mispredictions per iteration (advisory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<instructions::Simulated>,
    /// Heap operations per iteration, one entry per run of the allocation
    /// pass (when the bench installs `flamegate_hook::count_allocations!()`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocations: Vec<allocations::AllocationCount>,
    /// A digest of what the benchmark's routine executed (functions by
    /// their machine code, with instruction counts; `collect::executed`):
    /// a later check whose benchmark executes the same does not time it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed: Option<String>,
    /// What that execution's data misses and mispredicted branches add to
    /// callgrind's cycle estimate: the same code on other data costs
    /// differently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed_data_cycles: Option<f64>,
    /// Commands (`collect::command`): each timed run's peak resident
    /// memory, in KiB (the kernel's `ru_maxrss`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peak_memory: Vec<u64>,
}

impl BenchResult {
    /// A result of `samples` alone: nothing else measured yet.
    pub fn new(id: BenchId, group: String, unit: SampleUnit, samples: Vec<f64>) -> BenchResult {
        BenchResult {
            id,
            group,
            function: None,
            parameter: None,
            unit,
            samples,
            throughput: None,
            profile: None,
            seconds: None,
            functions: None,
            simulated: None,
            allocations: Vec::new(),
            executed: None,
            executed_data_cycles: None,
            peak_memory: Vec::new(),
        }
    }
}

/// One benchmark run of one commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: u32,
    /// The commit measured, if the project is in git.
    pub commit: Option<String>,
    /// Whether the work tree had uncommitted changes to tracked files.
    pub dirty: bool,
    pub machine: Machine,
    #[serde(with = "time::serde::rfc3339")]
    pub created: time::OffsetDateTime,
    /// Benchmarks not timed in this run: they executed what the stored
    /// baseline's record says its benchmark executed (`BenchResult::executed`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub same_code: BTreeSet<BenchId>,
    pub benches: Vec<BenchResult>,
    /// Set when this run measured one shard of a split suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<shard::ShardInfo>,
}

impl RunRecord {
    /// Parse and validate a record from JSON text.
    pub fn from_json(text: &[u8], source: &RecordSource) -> Result<RunRecord> {
        let damaged = |problem: String| Error::DamagedRecord {
            source_of: source.clone(),
            problem,
        };
        let value: serde_json::Value =
            serde_json::from_slice(text).map_err(|e| damaged(format!("invalid JSON: {e}")))?;
        let schema = match value.get("schema") {
            None => return Err(damaged("it has no `schema` field".into())),
            Some(s) => s
                .as_u64()
                .ok_or_else(|| damaged(format!("`schema` is {s}, not a version number")))?,
        };
        if schema != u64::from(RECORD_SCHEMA) {
            return Err(Error::UnknownSchema {
                source_of: source.clone(),
                found: schema,
                supported: RECORD_SCHEMA,
            });
        }
        let record: RunRecord =
            serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
        record.validate(source)?;
        Ok(record)
    }

    /// Read a record from a file.
    pub fn load(path: &Path) -> Result<RunRecord> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        RunRecord::from_json(&text, &RecordSource::File(path.to_path_buf()))
    }

    /// Check the invariants every later stage relies on.
    pub fn validate(&self, source: &RecordSource) -> Result<()> {
        let mut seen = HashSet::new();
        for bench in &self.benches {
            let invalid = |problem: String| Error::InvalidSamples {
                source_of: source.clone(),
                bench: bench.id.to_string(),
                problem,
            };
            if !seen.insert(&bench.id) {
                return Err(invalid("appears twice".into()));
            }
            if bench.unit != self.benches[0].unit {
                return Err(invalid(format!(
                    "has unit `{}` but `{}` has `{}`: one record holds one kind of measurement",
                    bench.unit, self.benches[0].id, self.benches[0].unit
                )));
            }
            if bench.samples.is_empty() {
                return Err(invalid("has no samples".into()));
            }
            if let Some((i, t)) = bench
                .samples
                .iter()
                .enumerate()
                .find(|(_, t)| !t.is_finite() || **t <= 0.0)
            {
                return Err(invalid(format!("has sample {i} = {t}")));
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a RunRecord always serialises") + "\n"
    }

    /// Whether this record holds instruction counts (instruction mode).
    pub fn is_instructions(&self) -> bool {
        self.benches
            .first()
            .is_some_and(|b| b.unit == SampleUnit::Instructions)
    }

    /// The benchmark `id`. flamegate writes `benches` sorted by id (runs
    /// and merges sort them), so this is a binary search; an unsorted
    /// hand-made record still gets a correct, slower answer.
    pub fn bench(&self, id: &BenchId) -> Option<&BenchResult> {
        match self.benches.binary_search_by(|b| b.id.cmp(id)) {
            Ok(index) => Some(&self.benches[index]),
            Err(_) => self.benches.iter().find(|b| &b.id == id),
        }
    }
}

/// Write `path` atomically and durably: the bytes go to a temp file beside
/// it (`.<name>.<random>.flamegate-tmp`), are synced to disk, and the temp
/// file is renamed over `path`; then the folder is synced so the rename
/// itself survives a crash. A temp file left by a run that was killed
/// between the write and the rename is removed by the next write of the
/// same file, so `git add baselines` does not pick it up.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!(".{name}.");
    remove_stale_temp_files(dir, &prefix);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(contents).map_err(|e| Error::io(path, e))?;
    // Temp files are private (0600); reports and baselines are for everyone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    Ok(())
}

const TEMP_SUFFIX: &str = ".flamegate-tmp";

/// Remove temp files of earlier, interrupted writes of the same file. Only
/// those older than a minute: a write takes milliseconds, and a younger one
/// may belong to another flamegate writing the same file right now.
fn remove_stale_temp_files(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if file_name.starts_with(prefix) && file_name.ends_with(TEMP_SUFFIX) && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An exclusive lock on a folder flamegate writes, held until dropped: two
/// runs sharing a target or output folder take turns instead of timing each
/// other's code or mixing their files. The lock file stays (removing it
/// would race the next run); the lock goes with the process, even a killed
/// one.
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
}

impl FolderLock {
    /// Lock `lock_path` (created with its folders), telling `waiting` once
    /// when another run holds it, then waiting for it.
    pub fn acquire(lock_path: &Path, waiting: impl FnOnce(&str)) -> Result<FolderLock> {
        if let Some(dir) = lock_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path)
            .map_err(|e| Error::io(lock_path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting(&format!(
                    "another flamegate run is using this folder (it holds {}); waiting for it to finish",
                    lock_path.display()
                ));
                file.lock().map_err(|e| Error::io(lock_path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(lock_path, e)),
        }
        Ok(FolderLock { _file: file })
    }
}

/// Whether `suite` is plain enough to be a file name.
fn is_plain_suite_name(suite: &str) -> bool {
    !suite.is_empty()
        && suite.len() <= 100
        && !suite.starts_with('.')
        && suite
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// What a suite name must be, for messages.
pub const SUITE_NAME_RULE: &str =
    "1-100 characters of A-Z, a-z, 0-9, `-`, `_`, `.` and not starting with `.`";

/// Check a suite name: it becomes a file name, so it is kept plain.
pub fn check_suite_name(suite: &str) -> Result<()> {
    if is_plain_suite_name(suite) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "suite name `{suite}` must be {SUITE_NAME_RULE}"
        )))
    }
}

/// A valid suite name made from `name` (a package or folder name nobody
/// chose as a suite name): other characters become `-`, leading dots go,
/// and it is cut to 100 characters.
pub fn plain_suite_name(name: &str) -> String {
    let plain: String = name
        .trim_start_matches('.')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    if plain.is_empty() {
        "benches".into()
    } else {
        plain
    }
}

#[cfg(test)]
impl RunRecord {
    /// A record of `benches` on a fixed machine (valgrind known), for unit
    /// tests that build records by hand.
    pub(crate) fn for_tests(benches: Vec<BenchResult>) -> RunRecord {
        RunRecord {
            same_code: Default::default(),
            schema: RECORD_SCHEMA,
            commit: None,
            dirty: false,
            machine: Machine {
                cpu_model: "x".into(),
                logical_cores: 2,
                os: "x".into(),
                rustc: "x".into(),
                governor: None,
                valgrind: Some("valgrind-3.19.0".into()),
            },
            created: time::OffsetDateTime::UNIX_EPOCH,
            shard: None,
            benches,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_write_leaves_nothing_for_the_next_to_trip_on() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("suite.json");
        // What a run killed between write and rename leaves, an hour old,
        // and one another writer is using right now.
        let stale = dir.path().join(".suite.json.abc123.flamegate-tmp");
        let fresh = dir.path().join(".suite.json.def456.flamegate-tmp");
        let other = dir.path().join(".other.json.abc123.flamegate-tmp");
        for file in [&stale, &fresh, &other] {
            std::fs::write(file, "half").unwrap();
        }
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for file in [&stale, &other] {
            std::fs::File::options()
                .write(true)
                .open(file)
                .unwrap()
                .set_modified(hour_ago)
                .unwrap();
        }
        write_atomic(&target, b"{}").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
        assert!(
            !stale.exists(),
            "the stale temp file of this target is gone"
        );
        assert!(fresh.exists(), "a young one may be another writer's");
        assert!(
            other.exists(),
            "another file's temp files are not ours to judge"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 3, "no temp file of this write left: {left:?}");
    }

    #[test]
    fn file_stem_is_safe_and_distinct() {
        let a = BenchId("../../.git/hooks/pre-push".into()).file_stem();
        assert!(!a.contains('/') && !a.contains(".."), "{a}");
        let b = BenchId("a/b".into()).file_stem();
        let c = BenchId("a_b".into()).file_stem();
        assert_ne!(b, c);
        assert!(BenchId("x".repeat(10_000)).file_stem().len() < 100);
    }
}
