//! The stage API: the one place that knows the order of the stages,
//! collect → baseline → compare → render → publish. Commands
//! (`crate::commands`) and the demo call it; it knows nothing of the
//! command line.

use std::path::{Path, PathBuf};

use crate::baseline::{self, BaseSpec, Baseline};
use crate::collect::cargo::Project;
use crate::collect::runner::Runner;
use crate::collect::{self, RunSelection};
use crate::compare::{self, settings::Settings};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::publish;
use crate::record::RunRecord;
use crate::record::note::Note;
use crate::report::{Report, Reproduce};

/// How output should look, decided once from the command line and terminal.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub color: bool,
    pub progress: Progress,
}

/// Run the project's benchmarks at the current work tree.
pub fn measure(
    project: &Project,
    selection: &RunSelection,
    runner: &dyn Runner,
    progress: Progress,
) -> Result<RunRecord> {
    let head = baseline::git::head_state(&project.dir);
    collect::run(
        project,
        selection,
        &[],
        head.commit,
        head.dirty,
        runner,
        &progress,
    )
}

/// What a gate is asked: which project and suite, against which base, with
/// which statistics, and what its report says of the run itself. Each
/// gate returns the report whole: the comparison and the description.
pub struct Gate<'a> {
    pub project: &'a Project,
    pub suite: &'a str,
    pub base: &'a BaseSpec,
    pub settings: &'a Settings,
    pub described: RunDescription,
}

/// What a report says of the run beside the comparison, known before it
/// runs.
#[derive(Debug, Clone, Default)]
pub struct RunDescription {
    /// Notes on how the run was set up, shown before the comparison's (why
    /// a check is paired, missing shards, where the suite's name came from).
    pub notes: Vec<Note>,
    /// The `flamegate check` that reproduces the report, and with it the
    /// machine it ran on; None for reports that name neither (the demo,
    /// the pre-push hook, `merge`).
    pub reproduce: Option<Reproduce>,
    /// The pull request's head commit, when the job may have measured
    /// GitHub's merge commit of it (`Report::pull_request_head`).
    pub pull_request_head: Option<String>,
}

impl RunDescription {
    /// The comparison with what this description says of the run.
    fn describe(&self, mut gated: Gated) -> Gated {
        let report = &mut gated.report;
        report.notes.splice(0..0, self.notes.iter().cloned());
        if let Some(reproduce) = self.reproduce {
            // Checked paired for want of a baseline reproduces paired.
            let paired = reproduce.paired || report.mode == crate::report::Mode::Paired;
            report.runner = Some(crate::report::Runner::of(
                &gated.head.machine,
                &gated.base.machine,
                paired,
            ));
            report.reproduce = Some(Reproduce {
                paired,
                ..reproduce
            });
        }
        report.pull_request_head = self
            .pull_request_head
            .clone()
            .filter(|head| report.head.commit.as_deref() != Some(head.as_str()));
        gated
    }
}

impl Gate<'_> {
    /// Against the stored baseline: baseline first (fail fast when there
    /// is none), then the run, then the comparison.
    pub fn stored(
        &self,
        history: usize,
        head: HeadSource<'_>,
        progress: Progress,
    ) -> Result<Gated> {
        let compared = self.compare_stored(history, head, progress)?;
        Ok(self.described.describe(compared))
    }

    fn compare_stored(
        &self,
        history: usize,
        head: HeadSource<'_>,
        progress: Progress,
    ) -> Result<Gated> {
        let (project, suite, settings) = (self.project, self.suite, self.settings);
        let mut baseline: Baseline = baseline::load(&project.dir, suite, self.base, history)?;
        let measured_at = baseline.record.commit.clone();
        let settings = &accepting(
            settings,
            &project.dir,
            (baseline.commit.as_deref(), measured_at.as_deref()),
            &mut baseline.notes,
        );
        progress.note(&format!(
            "baseline: {} ({}), {} earlier version(s)",
            baseline.source,
            baseline.chosen_as,
            baseline.history.len()
        ));
        let (record, chosen_as) = match head {
            HeadSource::File(path) => (RunRecord::load(path)?, format!("file {}", path.display())),
            HeadSource::Record(record, chosen_as) => (*record, chosen_as),
            HeadSource::Run(selection, runner) => (
                measure(
                    project,
                    &against_recorded_executions(selection, &baseline.record),
                    runner,
                    progress,
                )?,
                "work tree".into(),
            ),
        };
        let report = match (record.is_instructions(), baseline.record.is_instructions()) {
            (false, false) => {
                compare::stored::against_stored(suite, &record, &chosen_as, &baseline, settings)
            }
            (true, true) => compare::instructions::against_instructions(
                suite, &record, &chosen_as, &baseline, settings,
            ),
            (head_counts, _) => {
                let kind = |counts: bool| {
                    if counts {
                        "instruction counts"
                    } else {
                        "times"
                    }
                };
                return Err(Error::Usage(format!(
                    "the baseline ({}) holds {} but this run holds {}; compare like with like \
                     (instruction baselines are baselines/<suite>.instructions.json)",
                    baseline.source,
                    kind(!head_counts),
                    kind(head_counts)
                )));
            }
        };
        Ok(Gated {
            report,
            head: record,
            base: baseline.record,
        })
    }

    /// Paired: check the base revision out, build both sides in their own
    /// target directories, run them in alternating rounds, compare.
    pub fn paired(
        &self,
        selection: &RunSelection,
        plan: collect::rounds::RoundPlan,
        runner: &dyn Runner,
        progress: Progress,
    ) -> Result<Gated> {
        let measured = measure_paired(
            self.project,
            self.base,
            selection,
            plan,
            self.settings,
            runner,
            progress,
        )?;
        Ok(self.judge_paired(measured))
    }

    /// Compare a paired run (measured here, or merged from shards), with the
    /// slowdowns that the commits of the project's HEAD since the run's base
    /// accept.
    pub fn judge_paired(&self, measured: crate::record::paired::PairedShard) -> Gated {
        let crate::record::paired::PairedShard {
            run,
            head_side,
            base_side,
            mut notes,
            ..
        } = measured;
        let settings = accepting(
            self.settings,
            &self.project.dir,
            (run.base.commit.as_deref(), None),
            &mut notes,
        );
        let mut report =
            compare::paired::against_paired(self.suite, &run, head_side, base_side, &settings);
        report.notes.splice(0..0, notes);
        self.described.describe(Gated {
            report,
            head: run.head,
            base: run.base,
        })
    }

    /// Instruction counts of both sides, built and counted in this job:
    /// exact, so no rounds; the base needs no stored baseline (and no other
    /// machine's).
    pub fn paired_instructions(
        &self,
        selection: &RunSelection,
        runner: &dyn Runner,
        progress: Progress,
    ) -> Result<Gated> {
        let (project, suite) = (self.project, self.suite);
        let sides = PairedSides::prepare(project, self.base, progress)?;
        let head_state = baseline::git::head_state(&project.dir);
        let flags = collect::two_builds::workspace_flags(&sides.base, &sides.head);
        let head = collect::run(
            &sides.head,
            selection,
            &flags,
            head_state.commit.clone(),
            head_state.dirty,
            runner,
            &progress,
        )?;
        let base = collect::run(
            &sides.base,
            selection,
            &flags,
            Some(sides.checkout.commit.clone()),
            false,
            runner,
            &progress,
        )?;
        let base_side = sides.base_side("built and counted in this job");
        let mut notes = sides.checkout.notes.clone();
        let settings = &accepting(
            self.settings,
            &project.dir,
            (Some(&sides.checkout.commit), None),
            &mut notes,
        );
        let baseline = Baseline {
            record: base,
            source: crate::error::RecordSource::Git {
                commit: sides.checkout.commit.clone(),
                path: "(built and counted in this job)".into(),
            },
            commit: base_side.commit.clone(),
            chosen_as: base_side.chosen_as.clone(),
            history: Vec::new(),
            notes,
        };
        let mut report = compare::instructions::against_instructions(
            suite,
            &head,
            "work tree",
            &baseline,
            settings,
        );
        report.head = work_tree_side(&head_state);
        Ok(self.described.describe(Gated {
            report,
            head,
            base: baseline.record,
        }))
    }
}

/// A run that records what each benchmark executes, made to compare with
/// what the stored record says, so benchmarks that execute the same are not
/// timed (`collect::same_code::against_record`).
fn against_recorded_executions(selection: &RunSelection, record: &RunRecord) -> RunSelection {
    let recorded: std::collections::BTreeMap<_, _> = record
        .benches
        .iter()
        .filter_map(|b| {
            let recorded = collect::executed::Recorded {
                digest: b.executed.clone()?,
                data_cycles: b.executed_data_cycles,
            };
            Some((b.id.clone(), recorded))
        })
        .collect();
    let executed = match &selection.executed {
        collect::ExecutedCheck::Off => collect::ExecutedCheck::Off,
        _ if recorded.is_empty() => collect::ExecutedCheck::Record,
        _ => collect::ExecutedCheck::Against(recorded),
    };
    RunSelection {
        executed,
        ..selection.clone()
    }
}

/// `settings` with the failures that the commits between the base commit
/// and HEAD accept, and in stored mode those merged on the target branch
/// since the record was measured (`baseline::accept`); malformed lines,
/// and a history that cannot be read, are noted.
fn accepting(
    settings: &Settings,
    project_dir: &Path,
    (base_commit, measured_at): (Option<&str>, Option<&str>),
    notes: &mut Vec<Note>,
) -> Settings {
    let mut settings = settings.clone();
    let Some(base) = base_commit else {
        return settings;
    };
    match baseline::accept::acceptances(project_dir, base, measured_at) {
        Ok((accepted, problems)) => {
            notes.extend(problems);
            settings.accept(accepted, notes);
        }
        Err(error) => notes.push(Note::AcceptancesUnreadable {
            trailer: crate::record::acceptance::ACCEPT_TRAILER.to_string(),
            problem: error.to_string(),
        }),
    }
    settings
}

/// Both sides of a paired run: the base revision checked out beside the work
/// tree (removed when this is dropped) and each side's project with its own
/// target directory.
pub struct PairedSides {
    checkout: baseline::BaseCheckout,
    head: Project,
    base: Project,
    /// Declared last, so dropped last: the checkout is removed while the
    /// folder is still this run's.
    _lock: crate::record::FolderLock,
}

impl PairedSides {
    fn prepare(project: &Project, spec: &BaseSpec, progress: Progress) -> Result<PairedSides> {
        let under = project.target_dir.join("flamegate").join("paired");
        // One paired run per target folder: a second would replace the
        // first's checkout, and the first would time the second's code.
        let lock = crate::record::FolderLock::acquire(
            &project.target_dir.join("flamegate").join(".paired.lock"),
            |line| progress.note(line),
        )?;
        let mut checkout = baseline::checkout_base(&project.dir, spec, &under)?;
        progress.note(&format!(
            "base: {} ({}), checked out beside the work tree",
            checkout.chosen_as,
            crate::error::short_sha(&checkout.commit)
        ));
        // One lock for both sides where the base has none: same dependencies.
        let head_lock = project.dir.join("Cargo.lock");
        let base_lock = checkout.project_dir.join("Cargo.lock");
        if head_lock.exists() && !base_lock.exists() {
            std::fs::copy(&head_lock, &base_lock).map_err(|e| Error::io(&base_lock, e))?;
        }
        let manifest_name = project
            .manifest_path
            .file_name()
            .map_or_else(|| "Cargo.toml".into(), |n| n.to_os_string());
        // A target directory per side, apart from the user's own (never
        // written to): cargo names a workspace member's artifacts from its
        // path relative to the workspace, so in one shared directory the
        // base's bench executable replaced the head's (both sides then ran
        // the base's code; the paired tests caught it). The head's starts
        // from the user's compiled units (`collect::two_builds::seed_target`).
        let mut base = collect::cargo::inspect(
            &checkout.project_dir.join(manifest_name),
            Some(&under.join("base-target")),
        )?;
        let head =
            collect::cargo::inspect(&project.manifest_path, Some(&under.join("head-target")))?;
        if collect::two_builds::seed_target(&project.target_dir, &head.target_dir)? {
            progress.note("head: starting from your target directory's compiled dependencies");
        }
        // Both sides build with the head's toolchain and cargo configuration
        // (cargo and rustup read them from where cargo runs). Where the pull
        // request changes them, their effect is not measured: say so.
        base.build_dir = head.build_dir.clone();
        checkout.notes.extend(
            collect::two_builds::build_settings_changed(&base.dir, &head.dir)
                .into_iter()
                .map(|file| Note::BuildSettingChanged { file }),
        );
        Ok(PairedSides {
            checkout,
            head,
            base,
            _lock: lock,
        })
    }

    fn base_side(&self, how: &str) -> crate::record::Side {
        crate::record::Side {
            commit: Some(self.checkout.commit.clone()),
            dirty: false,
            chosen_as: format!("{}, {how}", self.checkout.chosen_as),
        }
    }
}

pub fn work_tree_side(head: &crate::baseline::git::HeadState) -> crate::record::Side {
    crate::record::Side {
        commit: head.commit.clone(),
        dirty: head.dirty,
        chosen_as: "work tree".into(),
    }
}

/// Check the base revision out, build both sides in their own target
/// directories, run them in alternating rounds.
pub fn measure_paired(
    project: &Project,
    spec: &BaseSpec,
    selection: &RunSelection,
    plan: collect::rounds::RoundPlan,
    settings: &Settings,
    runner: &dyn Runner,
    progress: Progress,
) -> Result<crate::record::paired::PairedShard> {
    let sides = PairedSides::prepare(project, spec, progress)?;
    let head = baseline::git::head_state(&project.dir);
    let pair = collect::paired::Pair {
        head: &sides.head,
        base: &sides.base,
        base_sources: sides.checkout.root(),
        head_commit: (head.commit.clone(), head.dirty),
        base_commit: sides.checkout.commit.clone(),
    };
    // Which times changed is the comparison's call; in a shard, over the
    // shard's benchmarks (the merged verdict is over all).
    let rules = collect::paired::Rules {
        stop: &compare::paired::stop_rule(settings, collect::rounds::MAX_ROUNDS),
        time_changed: Some(&|run| compare::paired::time_changed(run, settings)),
    };
    let timed = collect::paired::run_paired(pair, selection, plan, rules, runner, &progress)?;
    Ok(crate::record::paired::PairedShard {
        paired_shard: crate::record::paired::PAIRED_SHARD_FORMAT,
        run: timed.run,
        head_side: work_tree_side(&head),
        base_side: sides.base_side("built and run in this job"),
        notes: sides.checkout.notes.clone(),
        round_windows: collect::rounds::round_windows(selection),
    })
}

/// A comparison with the records behind it (their profiles feed the flamegraphs).
pub struct Gated {
    pub report: Report,
    pub head: RunRecord,
    pub base: RunRecord,
}

/// Write flamegraphs, report.md and report.json into `out_dir`.
pub fn write_outputs(gated: &mut Gated, out_dir: &Path) -> Result<Vec<PathBuf>> {
    // One report's files are written together, never mixed with another's.
    let _lock = crate::record::FolderLock::acquire(&out_dir.join(OUTPUT_LOCK), |line| {
        eprintln!("flamegate: {line}")
    })?;
    let flamegraphs =
        publish::files::write_flamegraphs(&mut gated.report, &gated.head, &gated.base, out_dir)?;
    let mut written = publish::files::write_reports(&gated.report, out_dir)?;
    if flamegraphs > 0 {
        written.push(out_dir.join(publish::files::FLAMEGRAPH_DIR));
    }
    Ok(written)
}

/// The output folder's lock file (hidden: artifact uploads skip it).
pub const OUTPUT_LOCK: &str = ".flamegate.lock";

/// Where the head record comes from.
pub enum HeadSource<'a> {
    /// Run the selection now, through this runner.
    Run(&'a RunSelection, &'a dyn Runner),
    File(&'a Path),
    /// A record already in memory (merged shards), and how it was made.
    Record(Box<RunRecord>, String),
}
