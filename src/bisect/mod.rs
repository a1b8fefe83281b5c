//! `flamegate bisect`: from a change between two commits to the commit that
//! made it. Each commit looked at is checked out into one folder, built in
//! one target directory (the dependencies compile once) and measured:
//! its instructions counted under callgrind where the change shows in
//! them (`counted`: exact, so a plain binary search), else timed in paired
//! rounds against the good end (`timed`). The search itself is `search`. A
//! commit whose bench executables load the machine code of one already
//! measured is not measured again; one that does not build, or lacks the
//! benchmark, is skipped and named.

mod counted;
pub mod search;
mod timed;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use git2::Oid;

use crate::baseline::git::{ProjectRepo, summary};
use crate::collect::cargo::Project;
use crate::collect::runner::Runner;
use crate::collect::{self, Measure, RunSelection};
use crate::compare::instructions::dependency_shares;
use crate::compare::paired::Nearer;
use crate::compare::settings::Settings;
use crate::error::{Error, Result, short_sha};
use crate::progress::Progress;
use crate::record::commit::CommitSummary;
use crate::record::note::Note;
use crate::record::{BenchId, BenchResult};
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
    /// Bisect any change, not only slowdowns.
    pub any_change: bool,
    /// Instructions or time; None: instructions where the change shows in
    /// them, else time.
    pub measure: Option<Measure>,
    /// Timed: seconds of profiling per benchmark when the culprit is timed
    /// against its parent (bench targets with the profiler hook); None
    /// profiles nothing.
    pub profile_time: Option<f64>,
}

/// What a commit's measurement says.
#[derive(Clone)]
enum Measurement {
    /// Each benchmark's instruction counts.
    Counted(BTreeMap<BenchId, BenchResult>),
    /// Each timed benchmark's level, placed between the ends.
    Placed(BTreeMap<BenchId, Nearer>),
    /// Why it has none.
    Skipped(String),
}

/// A benchmark being bisected: its level at the good end and at the bad
/// end, in its unit.
#[derive(Debug, Clone, Copy)]
struct Ends {
    good: f64,
    bad: f64,
}

impl Ends {
    /// The change from the good end to the bad one, in log space.
    fn whole(self) -> f64 {
        (self.bad / self.good).ln()
    }
}

/// Checks commits out, builds and measures them, each at most once.
struct Bench<'a> {
    repo: ProjectRepo,
    range: Vec<CommitSummary>,
    ids: Vec<Oid>,
    under: PathBuf,
    source: PathBuf,
    /// The project's manifest, relative to a checkout's root.
    manifest: PathBuf,
    target: PathBuf,
    suite: String,
    selection: RunSelection,
    settings: &'a Settings,
    runner: &'a dyn Runner,
    progress: &'a Progress,
    measured: BTreeMap<usize, Measurement>,
    /// The executables' digest of each measured commit, with its index.
    by_executables: BTreeMap<String, usize>,
    /// Only these benchmarks are measured (from the bad end on: the good
    /// end's; between the ends: the bisected ones).
    only: Option<BTreeSet<BenchId>>,
    /// The benchmarks being bisected.
    ends: BTreeMap<BenchId, Ends>,
    /// Timing: the good end, checked out apart, that every commit is
    /// paired with.
    good_side: Option<timed::GoodSide>,
    profile_time: Option<f64>,
    steps: Vec<Step>,
    notes: Vec<Note>,
}

/// Find, for each selected benchmark that changed between `request.good`
/// and `request.bad`, the first-parent commit that changed it.
pub fn bisect(
    request: &Request<'_>,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<BisectReport> {
    let started = Instant::now();
    if request.measure != Some(Measure::Time) {
        // Fail before minutes of building when valgrind is missing.
        collect::callgrind::valgrind_version()?;
    }
    let under = request.project.target_dir.join("flamegate").join("bisect");
    // One bisection per target folder: a second would check other commits
    // out into the same source folder.
    let _lock =
        crate::record::FolderLock::acquire(&under.join(".lock"), |line| progress.note(line))?;
    let mut bench = Bench::open(request, &under, runner, progress)?;
    let last = bench.range.len() - 1;
    progress.note(&format!(
        "bisect: {} commit(s) after {} up to {}",
        last,
        short_sha(&bench.range[0].sha),
        short_sha(&bench.range[last].sha),
    ));
    let unit = bench.find_ends(request)?;
    let changed: Vec<BenchId> = bench.ends.keys().cloned().collect();
    bench.only = Some(changed.iter().cloned().collect());
    let mut outcomes = BTreeMap::new();
    for id in &changed {
        progress.note(&format!("bisect: {id}"));
        outcomes.insert(id.clone(), bench.search(id)?);
    }
    let mut culprits = bench.culprits(&outcomes)?;
    let mut benchmarks: Vec<BenchBisection> = changed
        .iter()
        .map(|id| {
            let ends = bench.ends[id];
            let outcome = match &outcomes[id] {
                Next::Culprit(_) => {
                    BisectOutcome::Culprit(Box::new(culprits.remove(id).expect("one per culprit")))
                }
                Next::Undecided { first, last } => BisectOutcome::Undecided {
                    candidates: bench.range[*first..=*last].to_vec(),
                },
                Next::Probe(_) => unreachable!("the search ends with a culprit or undecided"),
            };
            BenchBisection {
                id: id.0.clone(),
                unit,
                good_level: ends.good,
                bad_level: ends.bad,
                change: ends.bad / ends.good - 1.0,
                outcome,
            }
        })
        .collect();
    benchmarks.sort_by(|a, b| b.change.abs().total_cmp(&a.change.abs()));
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
        notes: bench.notes,
    })
}

/// Whether a change of `whole` (log space) is one this bisection follows.
fn followed(whole: f64, any_change: bool) -> bool {
    any_change || whole > 0.0
}

impl<'a> Bench<'a> {
    fn open(
        request: &Request<'a>,
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
        let mut manifest = PathBuf::from(&repo.project_prefix);
        manifest.push(
            project
                .manifest_path
                .file_name()
                .unwrap_or_else(|| "Cargo.toml".as_ref()),
        );
        let target = under.join("target");
        if collect::two_builds::seed_target(&project.target_dir, &target)? {
            progress.note("bisect: starting from your target directory's compiled dependencies");
        }
        Ok(Bench {
            repo,
            range,
            ids,
            under: under.to_path_buf(),
            source: under.join("source"),
            manifest,
            target,
            suite: request.suite.clone(),
            selection: request.selection.clone(),
            settings: request.settings,
            runner,
            progress,
            measured: BTreeMap::new(),
            by_executables: BTreeMap::new(),
            only: None,
            ends: BTreeMap::new(),
            good_side: None,
            profile_time: request.profile_time,
            steps: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// Measure both ends and keep the benchmarks that changed between
    /// them; returns their unit.
    fn find_ends(&mut self, request: &Request<'_>) -> Result<crate::record::SampleUnit> {
        if request.measure == Some(Measure::Time) {
            return self.time_ends(request.any_change);
        }
        self.count_ends(request.any_change)?;
        if !self.ends.is_empty() {
            return Ok(crate::record::SampleUnit::Instructions);
        }
        let (good, bad) = (
            self.range[0].sha.clone(),
            self.range.last().expect("two ends").sha.clone(),
        );
        let what = if request.any_change {
            "changed"
        } else {
            "grew"
        };
        if request.measure == Some(Measure::Instructions) {
            return Err(Error::Usage(format!(
                "no selected benchmark's instruction count {what} by more than its min_change between \
                 {} and {}; a change in time alone is found with `--measure time`",
                short_sha(&good),
                short_sha(&bad)
            )));
        }
        self.notes.push(Note::BisectedByTiming {
            any_change: request.any_change,
            good,
            bad,
        });
        self.progress
            .note("bisect: the counts did not change; timing both ends in paired rounds");
        self.measured.clear();
        self.by_executables.clear();
        self.only = None;
        self.time_ends(request.any_change)
    }

    /// Binary search for the first commit at the bad end's level of
    /// benchmark `id`.
    fn search(&mut self, id: &BenchId) -> Result<Next> {
        let mut statuses = vec![Status::Unknown; self.range.len()];
        statuses[0] = Status::Good;
        *statuses.last_mut().expect("two ends") = Status::Bad;
        loop {
            let next = search::next(&statuses);
            let Next::Probe(index) = next else {
                return Ok(next);
            };
            self.measure(index)?;
            statuses[index] = self.status(index, id);
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
    }

    /// Where commit `index`, measured, stands for benchmark `id`.
    fn status(&self, index: usize, id: &BenchId) -> Status {
        let ends = self.ends[id];
        match &self.measured[&index] {
            Measurement::Counted(counts) => match counts.get(id) {
                // Nearer the bad end's count than the good end's.
                Some(bench) => {
                    if (counted::level(bench) / ends.good).ln() / ends.whole() > 0.5 {
                        Status::Bad
                    } else {
                        Status::Good
                    }
                }
                None => Status::Skipped,
            },
            Measurement::Placed(placed) => match placed.get(id) {
                Some(Nearer::Good) => Status::Good,
                Some(Nearer::Bad) => Status::Bad,
                Some(Nearer::Between) | None => Status::Skipped,
            },
            Measurement::Skipped(_) => Status::Skipped,
        }
    }

    /// The culprit of each benchmark whose search found one.
    fn culprits(
        &mut self,
        outcomes: &BTreeMap<BenchId, Next>,
    ) -> Result<BTreeMap<BenchId, Culprit>> {
        let found: BTreeMap<BenchId, usize> = outcomes
            .iter()
            .filter_map(|(id, next)| match next {
                Next::Culprit(index) => Some((id.clone(), *index)),
                _ => None,
            })
            .collect();
        if self.good_side.is_some() {
            self.timed_culprits(&found)
        } else {
            found
                .iter()
                .map(|(id, index)| Ok((id.clone(), self.counted_culprit(id, *index)?)))
                .collect()
        }
    }

    /// What every culprit shares: the commit, its parent, its diff.
    fn culprit_at(
        &self,
        index: usize,
    ) -> Result<(CommitSummary, String, crate::record::commit::DiffStat)> {
        let commit = self.repo.find(self.ids[index])?;
        Ok((
            self.range[index].clone(),
            self.range[index - 1].sha.clone(),
            self.repo.diff_stat(&commit)?,
        ))
    }

    /// Check commit `index` out, build it and measure it, once.
    fn measure(&mut self, index: usize) -> Result<()> {
        if self.measured.contains_key(&index) {
            return Ok(());
        }
        let started = Instant::now();
        let built = self.build(index)?;
        let build_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let (measurement, outcome) = match built {
            Err(reason) => (
                Measurement::Skipped(reason.clone()),
                StepOutcome::Skipped { reason },
            ),
            Ok(built) => match self.by_executables.get(&built.digest) {
                Some(&same) => (
                    self.measured[&same].clone(),
                    StepOutcome::SameExecutables {
                        as_commit: self.range[same].sha.clone(),
                    },
                ),
                None => {
                    let measurement = if self.good_side.is_some() {
                        self.time(index, &built.project)?
                    } else {
                        Measurement::Counted(self.count(index, &built.listed)?)
                    };
                    self.by_executables.insert(built.digest, index);
                    (measurement, StepOutcome::Measured)
                }
            },
        };
        self.record_step(
            index,
            outcome,
            build_seconds,
            started.elapsed().as_secs_f64(),
        );
        self.measured.insert(index, measurement);
        Ok(())
    }

    fn record_step(&mut self, index: usize, outcome: StepOutcome, build: f64, measure: f64) {
        self.steps.push(Step {
            commit: self.range[index].clone(),
            outcome,
            build_seconds: build,
            measure_seconds: measure,
        });
    }

    /// Commit `index` checked out into `dir` (the probe's folder unless
    /// told otherwise) and inspected with target directory `target`.
    fn checkout(
        &self,
        index: usize,
        dir: &Path,
        target: &Path,
    ) -> Result<std::result::Result<Project, String>> {
        let commit = self.repo.find(self.ids[index])?;
        self.repo.checkout_into(&commit, dir)?;
        skippable(collect::cargo::inspect(
            &dir.join(&self.manifest),
            Some(target),
        ))
    }

    /// Commit `index` checked out and built: its project, executables and
    /// their digest, or why it cannot be measured.
    fn build(&self, index: usize) -> Result<std::result::Result<Built, String>> {
        let commit = &self.range[index];
        self.progress.note(&format!(
            "bisect: building {} {}",
            short_sha(&commit.sha),
            commit.subject
        ));
        let project = match self.checkout(index, &self.source, &self.target)? {
            Ok(project) => project,
            Err(reason) => return Ok(Err(reason)),
        };
        // Timed commits build as the paired rounds will (paths mapped
        // onto the good end's), so the rounds find them built.
        let flags = self
            .good_side
            .as_ref()
            .map(|good| collect::two_builds::workspace_flags(&good.project, &project))
            .unwrap_or_default();
        let selection = self.narrowed();
        let listed = match skippable(collect::build_and_list(
            &project,
            &selection,
            &flags,
            self.runner,
            self.progress,
        ))? {
            Ok(listed) => listed,
            Err(reason) => return Ok(Err(reason)),
        };
        let mut digest = String::new();
        for (exe, ids) in &listed {
            digest.push_str(&collect::machine_code::machine_code_digest(&exe.path)?);
            digest.push_str(&ids.join("\n"));
        }
        Ok(Ok(Built {
            project,
            listed,
            digest,
        }))
    }

    /// The selection, narrowed to the benchmarks still measured.
    fn narrowed(&self) -> RunSelection {
        match &self.only {
            Some(only) => RunSelection {
                filter: collect::exact_filter(only),
                ..self.selection.clone()
            },
            None => self.selection.clone(),
        }
    }

    /// The packages the commit at `index` changed in `Cargo.lock`; with
    /// counts, each with what its crate's functions execute themselves at
    /// the parent and at the commit, largest share of the change first.
    fn dependency_changes(
        &self,
        index: usize,
        counts: Option<(&BenchResult, &BenchResult)>,
    ) -> Result<Vec<DependencyChange>> {
        let at = |i: usize| -> Result<String> {
            let commit = self.repo.find(self.ids[i])?;
            self.repo.lock_at(&commit)
        };
        let (before, after) = (at(index - 1)?, at(index)?);
        if before == after {
            return Ok(Vec::new());
        }
        Ok(dependency_shares(
            collect::cargo::lock_changes(&before, &after),
            counts,
        ))
    }
}
/// A commit checked out and built.
struct Built {
    project: Project,
    listed: collect::Listed,
    digest: String,
}

/// What a commit's sources make of an error: a reason to skip it. Anything
/// else (a full disk, a missing toolchain) is no property of the commit.
fn skippable<T>(result: Result<T>) -> Result<std::result::Result<T, String>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(
            error @ (Error::BuildFailed { .. }
            | Error::CargoMetadata { .. }
            | Error::NotCriterion { .. }
            | Error::Usage(_)),
        ) => Ok(Err(error
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string())),
        Err(error) => Err(error),
    }
}
