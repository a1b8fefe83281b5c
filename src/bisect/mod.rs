//! `flamegate bisect`: from a change between two commits to the commit that
//! made it. Each commit looked at is checked out into one folder, built in
//! one target directory (the dependencies compile once) and its
//! benchmarks' instructions counted under callgrind; counts are exact, so a
//! plain binary search (`search`) decides each benchmark in about log₂ of
//! the commits. A commit whose bench executables load the machine code of
//! one already counted is not counted again; one that does not build, or
//! lacks the benchmark, is skipped and named.

pub mod search;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use git2::Oid;

use crate::baseline::git::{ProjectRepo, summary};
use crate::collect::{self, Progress, Project, RunSelection, Runner};
use crate::compare::Settings;
use crate::compare::instructions::{count_change, hotspots_between, level};
use crate::error::{Error, Result, short_sha};
use crate::profile::hotspots::crate_of;
use crate::record::commit::CommitSummary;
use crate::record::{BenchId, BenchResult, UNIT_INSTRUCTIONS};
use crate::report::bisect::{
    BISECT_SCHEMA, BenchBisection, BisectOutcome, BisectReport, Culprit, DependencyChange, Step,
    StepOutcome,
};
use search::{Next, Status};

/// What to bisect.
pub struct Request<'a> {
    pub project: &'a Project,
    pub suite: String,
    /// A commit at the level the benchmarks should have (older).
    pub good: String,
    /// A commit at the changed level (newer); `good` is on its first-parent
    /// history.
    pub bad: String,
    /// The benchmarks: `--bench`, `--package`, `--filter`.
    pub selection: RunSelection,
    pub settings: &'a Settings,
    /// Bisect any change in the counts, not only growth.
    pub any_change: bool,
}

/// A measured commit: each benchmark's counts, or why it has none.
enum Measurement {
    Counted(BTreeMap<BenchId, BenchResult>),
    Skipped(String),
}

/// Checks commits out, builds and counts them, each at most once.
struct Bench<'a> {
    repo: ProjectRepo,
    range: Vec<CommitSummary>,
    ids: Vec<Oid>,
    source: PathBuf,
    manifest: PathBuf,
    target: PathBuf,
    selection: RunSelection,
    runner: &'a dyn Runner,
    progress: &'a Progress,
    measured: BTreeMap<usize, Measurement>,
    /// The executables' digest of each counted commit, with its index.
    by_executables: BTreeMap<String, usize>,
    /// Between the ends, only the benchmarks being bisected are counted.
    only: Option<std::collections::BTreeSet<BenchId>>,
    steps: Vec<Step>,
}

/// Find, for each selected benchmark whose count changed between
/// `request.good` and `request.bad`, the first-parent commit that changed it.
pub fn bisect(
    request: &Request<'_>,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<BisectReport> {
    let started = Instant::now();
    // Fail before minutes of building when valgrind is missing.
    collect::callgrind::valgrind_version()?;
    let under = request.project.target_dir.join("flamegate").join("bisect");
    // One bisection per target folder: a second would check other commits
    // out into the same source folder.
    let _lock =
        crate::record::FolderLock::acquire(&under.join(".lock"), |line| progress.note(line))?;
    let mut bench = Bench::open(request, &under, runner, progress)?;
    let last = bench.range.len() - 1;
    progress.note(&format!(
        "bisect: {} commit(s) after {} up to {}; counting instructions at both ends",
        last,
        short_sha(&bench.range[0].sha),
        short_sha(&bench.range[last].sha),
    ));
    let good = bench.end(0, "--good")?;
    // Only what both ends have can be bisected.
    bench.only = Some(good.keys().cloned().collect());
    let bad = bench.end(last, "--bad")?;
    let changed = changed_between(&good, &bad, request);
    if changed.is_empty() {
        return Err(Error::Usage(format!(
            "no selected benchmark's instruction count {} by more than its min_change between {} and {}; \
             bisect follows instruction counts (exact): a change in time alone is not found this way \
             (compare the two commits with `flamegate check --paired`)",
            if request.any_change {
                "changed"
            } else {
                "grew"
            },
            short_sha(&bench.range[0].sha),
            short_sha(&bench.range[last].sha)
        )));
    }
    bench.only = Some(changed.iter().cloned().collect());
    let mut benchmarks = Vec::new();
    for id in changed {
        progress.note(&format!("bisect: {id}"));
        let outcome = bench.search(&id, &good[&id], &bad[&id])?;
        benchmarks.push(BenchBisection {
            unit: UNIT_INSTRUCTIONS.into(),
            good_level: level(&good[&id]),
            bad_level: level(&bad[&id]),
            change: level(&bad[&id]) / level(&good[&id]) - 1.0,
            id: id.0,
            outcome,
        });
    }
    Ok(BisectReport {
        schema: BISECT_SCHEMA,
        suite: request.suite.clone(),
        good: bench.range[0].clone(),
        bad: bench.range[last].clone(),
        commits: last,
        any_change: request.any_change,
        benchmarks,
        steps: bench.steps,
        seconds: started.elapsed().as_secs_f64(),
        notes: Vec::new(),
    })
}

/// The benchmarks on both ends whose counts changed (grew, unless
/// `any_change`), largest change first.
fn changed_between(
    good: &BTreeMap<BenchId, BenchResult>,
    bad: &BTreeMap<BenchId, BenchResult>,
    request: &Request<'_>,
) -> Vec<BenchId> {
    let mut changed: Vec<(f64, BenchId)> = good
        .iter()
        .filter_map(|(id, before)| {
            let change = count_change(request.settings, id, before, bad.get(id)?)?;
            (request.any_change || change > 0.0).then(|| (change, id.clone()))
        })
        .collect();
    changed.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()).then(a.1.cmp(&b.1)));
    changed.into_iter().map(|(_, id)| id).collect()
}

impl<'a> Bench<'a> {
    fn open(
        request: &Request<'_>,
        under: &Path,
        runner: &'a dyn Runner,
        progress: &'a Progress,
    ) -> Result<Bench<'a>> {
        let project = request.project;
        let repo = ProjectRepo::open(&project.dir)?;
        let ids = {
            let (good, bad) = (
                repo.commit_at(&request.good)?,
                repo.commit_at(&request.bad)?,
            );
            if good.id() == bad.id() {
                return Err(Error::Usage(format!(
                    "--good and --bad are the same commit ({}): name an older commit as --good",
                    short_sha(&good.id().to_string())
                )));
            }
            let mut ids = vec![good.id()];
            ids.extend(repo.first_parent_range(&good, &bad)?);
            ids
        };
        let range = ids
            .iter()
            .map(|id| repo.find(*id).map(|c| summary(&c)))
            .collect::<Result<Vec<_>>>()?;
        let source = under.join("source");
        let project_dir = if repo.project_prefix.is_empty() {
            source.clone()
        } else {
            source.join(&repo.project_prefix)
        };
        let manifest = project_dir.join(
            project
                .manifest_path
                .file_name()
                .unwrap_or_else(|| "Cargo.toml".as_ref()),
        );
        let target = under.join("target");
        if collect::paired::seed_target(&project.target_dir, &target)? {
            progress.note("bisect: starting from your target directory's compiled dependencies");
        }
        Ok(Bench {
            repo,
            range,
            ids,
            source,
            manifest,
            target,
            selection: RunSelection {
                measure: collect::Measure::Instructions,
                ..request.selection.clone()
            },
            runner,
            progress,
            measured: BTreeMap::new(),
            by_executables: BTreeMap::new(),
            only: None,
            steps: Vec::new(),
        })
    }

    /// An end of the range: it must be measurable.
    fn end(&mut self, index: usize, flag: &str) -> Result<BTreeMap<BenchId, BenchResult>> {
        self.measure(index)?;
        match &self.measured[&index] {
            Measurement::Counted(counts) => Ok(counts.clone()),
            Measurement::Skipped(reason) => Err(Error::Usage(format!(
                "{flag} {} cannot be measured: {reason}",
                short_sha(&self.range[index].sha)
            ))),
        }
    }

    /// Binary search for the first commit at `bad`'s level of benchmark `id`.
    fn search(
        &mut self,
        id: &BenchId,
        good: &BenchResult,
        bad: &BenchResult,
    ) -> Result<BisectOutcome> {
        let mut statuses = vec![Status::Unknown; self.range.len()];
        statuses[0] = Status::Good;
        *statuses.last_mut().expect("two ends") = Status::Bad;
        let whole = (level(bad) / level(good)).ln();
        loop {
            match search::next(&statuses) {
                Next::Probe(index) => {
                    self.measure(index)?;
                    statuses[index] = match &self.measured[&index] {
                        Measurement::Counted(counts) => match counts.get(id) {
                            // Nearer the bad end's count than the good end's.
                            Some(bench) if (level(bench) / level(good)).ln() / whole > 0.5 => {
                                Status::Bad
                            }
                            Some(_) => Status::Good,
                            None => Status::Skipped,
                        },
                        Measurement::Skipped(_) => Status::Skipped,
                    };
                    let level = match statuses[index] {
                        Status::Good => "at the good end's level",
                        Status::Bad => "at the bad end's level",
                        _ => "skipped",
                    };
                    self.progress.note(&format!(
                        "bisect: {id} at {}: {level}; {} commit(s) may still be the first",
                        short_sha(&self.range[index].sha),
                        search::remaining(&statuses)
                    ));
                }
                Next::Culprit(index) => {
                    return self
                        .culprit(id, index, whole)
                        .map(|c| BisectOutcome::Culprit(Box::new(c)));
                }
                Next::Undecided { first, last } => {
                    return Ok(BisectOutcome::Undecided {
                        candidates: self.range[first..=last].to_vec(),
                    });
                }
            }
        }
    }

    /// The culprit at `index` and its parent at `index - 1`, both counted.
    fn culprit(&self, id: &BenchId, index: usize, whole: f64) -> Result<Culprit> {
        let counts = |i: usize| match &self.measured[&i] {
            Measurement::Counted(counts) => counts.get(id),
            Measurement::Skipped(_) => None,
        };
        let (Some(parent), Some(culprit)) = (counts(index - 1), counts(index)) else {
            unreachable!("the search names a culprit only after counting it and its parent")
        };
        let (parent_level, culprit_level) = (level(parent), level(culprit));
        let commit = self.repo.find(self.ids[index])?;
        Ok(Culprit {
            commit: self.range[index].clone(),
            parent: self.range[index - 1].sha.clone(),
            parent_level,
            level: culprit_level,
            change: culprit_level / parent_level - 1.0,
            share: (culprit_level / parent_level).ln() / whole,
            diff: self.repo.diff_stat(&commit)?,
            hotspots: hotspots_between(Some(parent), culprit),
            dependencies: self.dependency_changes(index, parent, culprit)?,
        })
    }

    /// The packages the commit at `index` changed in `Cargo.lock`, each
    /// with what its crate's functions execute themselves at the parent
    /// and at the commit, largest share of the change first.
    fn dependency_changes(
        &self,
        index: usize,
        parent: &BenchResult,
        culprit: &BenchResult,
    ) -> Result<Vec<DependencyChange>> {
        let (before, after) = (self.lock_at(index - 1)?, self.lock_at(index)?);
        if before == after {
            return Ok(Vec::new());
        }
        let (own_before, own_after) = (own_by_crate(parent), own_by_crate(culprit));
        let whole = level(culprit) - level(parent);
        let mut changes: Vec<DependencyChange> = collect::cargo::lock_changes(&before, &after)
            .into_iter()
            .map(|package| {
                // Package `foo-bar` is crate `foo_bar` in symbols.
                let krate = package.name.replace('-', "_");
                let instructions_before = own_before.get(&krate).copied().unwrap_or(0.0);
                let instructions_after = own_after.get(&krate).copied().unwrap_or(0.0);
                DependencyChange {
                    package,
                    instructions_before,
                    instructions_after,
                    share: if whole == 0.0 {
                        0.0
                    } else {
                        (instructions_after - instructions_before) / whole
                    },
                }
            })
            .collect();
        changes.sort_by(|a, b| b.share.abs().total_cmp(&a.share.abs()));
        Ok(changes)
    }

    /// The text of the `Cargo.lock` that applies to the project at commit
    /// `index`: the project's own, else the nearest folder's above it.
    fn lock_at(&self, index: usize) -> Result<String> {
        let commit = self.repo.find(self.ids[index])?;
        let prefix = &self.repo.project_prefix;
        let mut folders: Vec<&str> = (0..=prefix.len())
            .rev()
            .filter(|end| *end == prefix.len() || prefix.as_bytes()[*end] == b'/')
            .map(|end| &prefix[..end])
            .collect();
        folders.push("");
        for folder in folders {
            let path = if folder.is_empty() {
                "Cargo.lock".to_string()
            } else {
                format!("{folder}/Cargo.lock")
            };
            if let Some((_, bytes)) = self.repo.blob_at(&commit, &path)? {
                return Ok(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        Ok(String::new())
    }

    /// Check commit `index` out, build it and count its benchmarks, once.
    fn measure(&mut self, index: usize) -> Result<()> {
        if self.measured.contains_key(&index) {
            return Ok(());
        }
        let commit = self.range[index].clone();
        self.progress.note(&format!(
            "bisect: building {} {}",
            short_sha(&commit.sha),
            commit.subject
        ));
        let started = Instant::now();
        let built = self.build(index)?;
        let build_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let (measurement, outcome) = match built {
            Err(reason) => (
                Measurement::Skipped(reason.clone()),
                StepOutcome::Skipped { reason },
            ),
            Ok((listed, digest)) => match self.by_executables.get(&digest) {
                Some(&same) => (
                    match &self.measured[&same] {
                        Measurement::Counted(counts) => Measurement::Counted(counts.clone()),
                        Measurement::Skipped(reason) => Measurement::Skipped(reason.clone()),
                    },
                    StepOutcome::SameExecutables {
                        as_commit: self.range[same].sha.clone(),
                    },
                ),
                None => {
                    let counts = self.count(index, &listed)?;
                    self.by_executables.insert(digest, index);
                    (Measurement::Counted(counts), StepOutcome::Measured)
                }
            },
        };
        self.steps.push(Step {
            commit,
            outcome,
            build_seconds,
            measure_seconds: started.elapsed().as_secs_f64(),
        });
        self.measured.insert(index, measurement);
        Ok(())
    }

    /// Commit `index` checked out and built: its executables and their
    /// digest, or why it cannot be measured.
    fn build(
        &self,
        index: usize,
    ) -> Result<std::result::Result<(collect::Listed, String), String>> {
        let commit = self.repo.find(self.ids[index])?;
        self.repo.checkout_into(&commit, &self.source)?;
        let listed =
            collect::cargo::inspect(&self.manifest, Some(&self.target)).and_then(|project| {
                collect::build_and_list(&project, &self.selection, &[], self.runner, self.progress)
            });
        let listed = match listed {
            Ok(listed) => listed,
            // What the commit's sources make: skipped. Anything else (a
            // full disk, a missing toolchain) is no property of the commit.
            Err(
                error @ (Error::BuildFailed { .. }
                | Error::CargoMetadata { .. }
                | Error::NotCriterion { .. }
                | Error::Usage(_)),
            ) => return Ok(Err(first_line(&error))),
            Err(error) => return Err(error),
        };
        let mut digest = String::new();
        for (exe, ids) in &listed {
            digest.push_str(&collect::machine_code::machine_code_digest(&exe.path)?);
            digest.push_str(&ids.join("\n"));
        }
        Ok(Ok((listed, digest)))
    }

    /// Every listed benchmark's instructions at commit `index`.
    fn count(
        &self,
        index: usize,
        listed: &collect::Listed,
    ) -> Result<BTreeMap<BenchId, BenchResult>> {
        let wanted = |id: &String| {
            self.only
                .as_ref()
                .is_none_or(|only| only.contains(&BenchId(id.clone())))
        };
        let total = listed
            .iter()
            .flat_map(|(_, ids)| ids)
            .filter(|id| wanted(id))
            .count();
        let bar = self.progress.bar(
            total as u64,
            &format!(
                "counting instructions at {}",
                short_sha(&self.range[index].sha)
            ),
        );
        let scratch = tempfile::Builder::new()
            .prefix("flamegate-bisect-")
            .tempdir_in(&self.target)
            .map_err(|e| Error::io(&self.target, e))?;
        let mut counts = BTreeMap::new();
        for (n, (exe, ids)) in listed.iter().enumerate() {
            for (m, id) in ids.iter().enumerate().filter(|(_, id)| wanted(id)) {
                bar.working_on(id);
                let out = scratch.path().join(format!("callgrind-{n}-{m}"));
                let result = collect::count_one(exe, id, &out)?;
                counts.insert(result.id.clone(), result);
                bar.finished_one(id);
            }
        }
        bar.finish();
        Ok(counts)
    }
}

/// The instructions each crate's functions execute themselves, per
/// iteration, by the crate their symbols name.
fn own_by_crate(bench: &BenchResult) -> BTreeMap<String, f64> {
    let mut by_crate = BTreeMap::new();
    for (name, cost) in bench.functions.iter().flatten() {
        if let Some(krate) = crate_of(name) {
            *by_crate.entry(krate.to_string()).or_insert(0.0) += cost.own as f64;
        }
    }
    by_crate
}

/// An error's first line: why a commit was skipped, for the report.
fn first_line(error: &Error) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
