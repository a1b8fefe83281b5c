//! Bisection by instruction counts: exact, so each commit is counted once
//! and placed by whether its count is nearer the bad end's.

use std::collections::BTreeMap;

use super::{Bench, Ends, Measurement, followed};
use crate::collect;
use crate::compare::instructions::{count_change, hotspots_between};
use crate::error::{Error, Result, short_sha};
use crate::record::{BenchId, BenchResult};
use crate::report::bisect::Culprit;

pub(super) use crate::compare::instructions::level;

impl Bench<'_> {
    /// Count both ends; keep the benchmarks whose count changed (grew,
    /// unless `any_change`) by the instruction gate's rule.
    pub(super) fn count_ends(&mut self, any_change: bool) -> Result<()> {
        self.progress
            .note("bisect: counting instructions at both ends");
        let last = self.range.len() - 1;
        let good = self.counted_end(0, "--good")?;
        // Only what both ends have can be bisected.
        self.only = Some(good.keys().cloned().collect());
        let bad = self.counted_end(last, "--bad")?;
        for (id, before) in &good {
            let Some(after) = bad.get(id) else {
                continue;
            };
            if count_change(self.settings, id, before, after)
                .is_some_and(|change| followed(change, any_change))
            {
                let ends = Ends {
                    good: level(before),
                    bad: level(after),
                };
                self.ends.insert(id.clone(), ends);
            }
        }
        Ok(())
    }

    /// An end of the range, counted: it must be measurable.
    fn counted_end(&mut self, index: usize, flag: &str) -> Result<BTreeMap<BenchId, BenchResult>> {
        self.measure(index)?;
        match &self.measured[&index] {
            Measurement::Counted(counts) => Ok(counts.clone()),
            Measurement::Skipped(reason) => Err(Error::Usage(format!(
                "{flag} {} cannot be measured: {reason}",
                short_sha(&self.range[index].sha)
            ))),
            Measurement::Placed(_) => unreachable!("counting places nothing"),
        }
    }

    /// Every wanted benchmark's instructions at commit `index`.
    pub(super) fn count(
        &self,
        index: usize,
        listed: &collect::Listed,
    ) -> Result<BTreeMap<BenchId, BenchResult>> {
        let total = listed.iter().map(|(_, ids)| ids.len()).sum::<usize>();
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
            for (m, id) in ids.iter().enumerate() {
                bar.working_on(id);
                let out = scratch.path().join(format!("callgrind-{n}-{m}"));
                let result = collect::counting::count_one(exe, id, &out)?;
                counts.insert(result.id.clone(), result);
                bar.finished_one(id);
            }
        }
        bar.finish();
        Ok(counts)
    }

    /// The culprit of `id` at `index`: it and its parent are both counted.
    pub(super) fn counted_culprit(&self, id: &BenchId, index: usize) -> Result<Culprit> {
        let counts = |i: usize| match &self.measured[&i] {
            Measurement::Counted(counts) => counts.get(id),
            _ => None,
        };
        let (Some(parent), Some(culprit)) = (counts(index - 1), counts(index)) else {
            unreachable!("the search names a culprit only after counting it and its parent")
        };
        let (commit, parent_sha, diff) = self.culprit_at(index)?;
        let (parent_level, culprit_level) = (level(parent), level(culprit));
        Ok(Culprit {
            commit,
            parent: parent_sha,
            parent_level,
            level: culprit_level,
            change: culprit_level / parent_level - 1.0,
            share: (culprit_level / parent_level).ln() / self.ends[id].whole(),
            diff,
            interval: None,
            verdict: None,
            hotspots: hotspots_between(Some(parent), culprit),
            dependencies: self.dependency_changes(index, Some((parent, culprit)))?,
            profiles: None,
            flamegraphs: Vec::new(),
        })
    }
}
