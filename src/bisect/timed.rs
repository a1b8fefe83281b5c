//! Bisection by time, for a change the instruction counts do not show:
//! every commit looked at is paired with the good end in alternating
//! rounds (`collect::paired`) until its level is placed nearer one end
//! than the other (`compare::paired::nearer_end`); one still between them
//! after the rounds is stepped around like a commit that does not build.
//! The culprit is then paired with its parent: its own change, with its
//! interval and verdict, is measured, not inferred.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::{Bench, Ends, Measurement, followed};
use crate::collect::RunSelection;
use crate::collect::cargo::Project;
use crate::collect::paired::{Pair, Rules, TimedPair, run_paired};
use crate::collect::rounds::{MAX_ROUNDS, RoundPlan};
use crate::compare::paired::{
    Nearer, against_paired, midpoint_stop_rule, nearer_end, per_look_confidence, stop_rule,
};
use crate::error::{Error, Result, short_sha};
use crate::record::BenchId;
use crate::record::paired::round_log_ratios;
use crate::report::Verdict;
use crate::report::bisect::{Culprit, StepOutcome};

/// The good end of the range (or, for a culprit's retest, its parent),
/// checked out apart from the commits paired with it.
pub(super) struct GoodSide {
    pub project: Project,
    dir: PathBuf,
    index: usize,
}

impl Bench<'_> {
    /// Check commit `index` out as the side every timed commit is paired
    /// with.
    fn set_good_side(&mut self, index: usize) -> Result<()> {
        let dir = self.under.join("good");
        let target = self.under.join("good-target");
        let project = self.checkout(index, &dir, &target)?.map_err(|reason| {
            Error::Usage(format!(
                "{} cannot be measured: {reason}",
                short_sha(&self.range[index].sha)
            ))
        })?;
        self.good_side = Some(GoodSide {
            project,
            dir,
            index,
        });
        Ok(())
    }

    /// Commit `index` (built in the probe's folder) timed against the good
    /// side in paired rounds, `selection`'s benchmarks, stopping each as
    /// `rule` says.
    fn pair_with_good(
        &self,
        index: usize,
        head: &Project,
        selection: &RunSelection,
        rule: &dyn Fn(&BenchId, &[f64], usize) -> crate::record::paired::Standing,
    ) -> Result<TimedPair> {
        let good = self.good_side.as_ref().expect("a good side to pair with");
        let pair = Pair {
            head,
            base: &good.project,
            base_sources: &good.dir,
            head_commit: (Some(self.range[index].sha.clone()), false),
            base_commit: self.range[good.index].sha.clone(),
        };
        run_paired(
            pair,
            selection,
            RoundPlan::Adaptive { budget: None },
            Rules {
                stop: rule,
                time_changed: None,
            },
            self.runner,
            self.progress,
        )
    }

    /// Time the bad end against the good end; keep the benchmarks whose
    /// paired verdict is a slowdown (or, with `any_change`, a speed-up).
    pub(super) fn time_ends(&mut self, any_change: bool) -> Result<crate::record::SampleUnit> {
        let last = self.range.len() - 1;
        self.set_good_side(0)?;
        let built = self.build(last)?.map_err(|reason| {
            Error::Usage(format!(
                "--bad {} cannot be measured: {reason}",
                short_sha(&self.range[last].sha)
            ))
        })?;
        let selection = self.narrowed();
        let timed = self.pair_with_good(
            last,
            &built.project,
            &selection,
            &stop_rule(self.settings, MAX_ROUNDS),
        )?;
        let side = |index: usize| crate::record::Side {
            commit: Some(self.range[index].sha.clone()),
            dirty: false,
            chosen_as: if index == 0 { "--good" } else { "--bad" }.into(),
        };
        let report = against_paired(&self.suite, &timed.run, side(last), side(0), self.settings);
        for c in &report.comparisons {
            let (Some(base), Some(head), Some(change)) = (&c.base, &c.head, &c.change) else {
                continue;
            };
            let wanted =
                c.verdict == Verdict::Regressed || (any_change && c.verdict == Verdict::Improved);
            if wanted && followed(change.estimate.ln_1p(), any_change) {
                let ends = Ends {
                    good: base.median,
                    bad: head.median,
                };
                self.ends.insert(c.id.clone(), ends);
            }
        }
        let phases = &timed.run.phases;
        self.record_step(0, StepOutcome::Measured, phases.build_base, 0.0);
        self.record_step(
            last,
            StepOutcome::Measured,
            phases.build_head,
            phases.same_code_pass + phases.rounds,
        );
        self.by_executables.insert(built.digest, last);
        let all_at = |nearer: Nearer| {
            Measurement::Placed(self.ends.keys().map(|id| (id.clone(), nearer)).collect())
        };
        let (good, bad) = (all_at(Nearer::Good), all_at(Nearer::Bad));
        self.measured.insert(0, good);
        self.measured.insert(last, bad);
        if self.ends.is_empty() {
            return Err(Error::Usage(format!(
                "no selected benchmark {} between {} and {} in paired rounds (verdicts: {}); nothing to bisect",
                if any_change { "changed" } else { "regressed" },
                short_sha(&self.range[0].sha),
                short_sha(&self.range[last].sha),
                report
                    .comparisons
                    .iter()
                    .map(|c| format!("{} {:?}", c.id, c.verdict))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(crate::record::SampleUnit::Nanoseconds)
    }

    /// Commit `index`'s level of each bisected benchmark, placed between
    /// the ends by rounds paired with the good end. Benchmarks that run
    /// the same code as the good end's are at its level without rounds.
    pub(super) fn time(&self, index: usize, head: &Project) -> Result<Measurement> {
        let wholes: BTreeMap<BenchId, f64> = self
            .ends
            .iter()
            .map(|(id, ends)| (id.clone(), ends.whole()))
            .collect();
        let confidence = per_look_confidence(self.settings.confidence, MAX_ROUNDS);
        let rule = midpoint_stop_rule(&wholes, confidence);
        let timed = self.pair_with_good(index, head, &self.narrowed(), &rule)?;
        let run = &timed.run;
        let placed = wholes
            .iter()
            .filter_map(|(id, whole)| {
                let nearer = if run.identical.contains(id) || run.same_code.contains(id) {
                    Nearer::Good
                } else {
                    let rounds = run.round_medians.get(id)?;
                    nearer_end(&round_log_ratios(rounds, None), *whole, confidence)
                };
                Some((id.clone(), nearer))
            })
            .collect();
        Ok(Measurement::Placed(placed))
    }

    /// Each culprit paired with its parent (the parent checked out as the
    /// good side): the change it alone makes.
    pub(super) fn timed_culprits(
        &mut self,
        found: &BTreeMap<BenchId, usize>,
    ) -> Result<BTreeMap<BenchId, Culprit>> {
        let mut culprits = BTreeMap::new();
        let at: BTreeSet<usize> = found.values().copied().collect();
        for index in at {
            let ids: BTreeSet<BenchId> = found
                .iter()
                .filter(|(_, i)| **i == index)
                .map(|(id, _)| id.clone())
                .collect();
            self.progress.note(&format!(
                "bisect: timing {} against its parent",
                short_sha(&self.range[index].sha)
            ));
            let started = std::time::Instant::now();
            self.set_good_side(index - 1)?;
            let built = self.build(index)?.map_err(|reason| {
                Error::Usage(format!(
                    "{} no longer builds: {reason}",
                    short_sha(&self.range[index].sha)
                ))
            })?;
            // Profiled, where the bench targets install the hook: where the
            // time went, and the flamegraphs.
            let selection = RunSelection {
                filter: crate::collect::exact_filter(&ids),
                profile_time: self.profile_time,
                ..self.selection.clone()
            };
            let timed = self.pair_with_good(
                index,
                &built.project,
                &selection,
                &stop_rule(self.settings, MAX_ROUNDS),
            )?;
            let side = |i: usize, how: &str| crate::record::Side {
                commit: Some(self.range[i].sha.clone()),
                dirty: false,
                chosen_as: how.into(),
            };
            let report = against_paired(
                &self.suite,
                &timed.run,
                side(index, "culprit"),
                side(index - 1, "its parent"),
                self.settings,
            );
            let (commit, parent, diff) = self.culprit_at(index)?;
            // Timed: the lock file's changes, not attributed to crates.
            let dependencies = self.dependency_changes(index, None)?;
            for c in report.comparisons.iter().filter(|c| ids.contains(&c.id)) {
                let (Some(base), Some(head), Some(change)) = (&c.base, &c.head, &c.change) else {
                    continue;
                };
                let whole = self.ends[&c.id].whole();
                let shown = matches!(c.verdict, Verdict::Regressed | Verdict::Improved);
                if !shown {
                    self.notes.push(crate::record::note::Note::ChangeSpread {
                        id: c.id.to_string(),
                        commit: commit.sha.clone(),
                        verdict: format!("{:?}", c.verdict),
                    });
                }
                let profile = |record: &crate::record::RunRecord| {
                    record.bench(&c.id).and_then(|b| b.profile.clone())
                };
                let profiles = profile(&timed.run.base).zip(profile(&timed.run.head));
                let culprit = Culprit {
                    commit: commit.clone(),
                    parent: parent.clone(),
                    parent_level: base.median,
                    level: head.median,
                    change: change.estimate,
                    share: change.estimate.ln_1p() / whole,
                    diff: diff.clone(),
                    interval: Some([change.ci_low, change.ci_high]),
                    verdict: Some(c.verdict),
                    hotspots: profiles
                        .as_ref()
                        .map(|(base, head)| crate::profile::hotspots::hotspots(Some(base), head)),
                    dependencies: dependencies.clone(),
                    profiles: profiles.map(Box::new),
                    flamegraphs: Vec::new(),
                };
                culprits.insert(c.id.clone(), culprit);
            }
            let seconds = started.elapsed().as_secs_f64();
            self.record_step(
                index,
                StepOutcome::Retested { against: parent },
                timed.run.phases.build_base + timed.run.phases.build_head,
                seconds,
            );
        }
        Ok(culprits)
    }
}
