//! The semi-synthetic scorer: thousands of pseudo-suites resampled from a
//! corpus's real rounds, with exact slowdowns added.
//!
//! A corpus holds tens of trials: too few to show a false-alarm rate near
//! 1% or a power near 95% with a narrow interval. Every benchmark's rounds
//! in a trial where it was not injected are a real null sample of what its
//! rounds look like on that machine, in that condition. A pseudo-suite
//! takes, for each benchmark, the rounds of one such trial drawn at random
//! (whole trials, in order, so a trial's own drift and bimodality stay
//! together), and multiplies one benchmark's head medians by exactly
//! `1 + k%`. Every rule then judges it through `compare::paired`, the code
//! `check --paired` runs. What resampling cannot keep: disturbances that hit
//! every benchmark of a real trial at once (its benchmarks come from
//! different trials here) — the real-trial scores stay beside these.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compare::paired::RoundTest;
use crate::compare::settings::Settings;
use crate::record::BenchId;
use crate::record::paired::{PairedRun, RoundMedians};
use crate::report::Verdict;

use super::corpus::{Corpus, LEVELS};
use super::replay::{Rate, fixed_rounds, paired_records};

/// One rule's scores over the pseudo-suites.
#[derive(Debug, Clone, Serialize)]
pub struct SyntheticScore {
    pub rule: String,
    /// Pseudo-suites per level.
    pub suites: usize,
    /// Share of pseudo-suites without a slowdown with any benchmark flagged.
    pub suite_false_alarms: Rate,
    /// Injected percent → share of injected benchmarks flagged.
    pub power: BTreeMap<u32, Rate>,
    /// The same, for CPU-bound benchmarks of 1 µs or more.
    pub power_cpu_1us: BTreeMap<u32, Rate>,
}

/// A rule of the paired mode as `eval` replays it: rounds per benchmark
/// (a fixed plan), the test, and whether disturbed rounds are set aside.
#[derive(Debug, Clone, Copy)]
pub struct PairedRule {
    pub rounds: usize,
    pub test: RoundTest,
    pub set_aside_disturbed: bool,
}

impl PairedRule {
    pub fn name(&self) -> String {
        let mut name = format!("paired, {} rounds, {}", self.rounds, self.test.name());
        if !self.set_aside_disturbed {
            name.push_str(", disturbed rounds kept");
        } else if self.test == crate::compare::paired::CHECK_TEST {
            name.push_str(" (check's rule)");
        }
        name
    }
}

/// Score `rules` on `suites` pseudo-suites per level, seeded by `seed`.
/// `cpu_1us` names the CPU-bound benchmarks of 1 µs or more.
pub fn score(
    corpus: &Corpus,
    rules: &[PairedRule],
    suites: usize,
    seed: u64,
    cpu_1us: &dyn Fn(&str) -> bool,
) -> Vec<SyntheticScore> {
    let ids = &corpus.header.benchmarks;
    let settings = Settings::default();
    // Each benchmark's null trials: its rounds in every trial that did not
    // inject it.
    let pools: Vec<Vec<Vec<RoundMedians>>> = ids
        .iter()
        .map(|id| {
            corpus
                .trials
                .iter()
                .filter(|t| t.injected.as_ref().is_none_or(|i| &i.bench != id))
                .filter_map(|t| {
                    let rounds = t.medians(id);
                    (!rounds.is_empty()).then_some(rounds)
                })
                .collect()
        })
        .collect();
    if pools.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    let mut tallies = vec![Tally::default(); rules.len()];
    let mut rng = fastrand::Rng::with_seed(seed);
    for &level in &LEVELS {
        for suite in 0..suites {
            let injected = (level > 0).then(|| suite % ids.len());
            let drawn: Vec<Vec<RoundMedians>> = pools
                .iter()
                .enumerate()
                .map(|(index, pool)| {
                    let mut rounds = pool[rng.usize(..pool.len())].clone();
                    if injected == Some(index) {
                        let factor = 1.0 + f64::from(level) / 100.0;
                        rounds.iter_mut().for_each(|r| r.head *= factor);
                    }
                    rounds
                })
                .collect();
            for (rule, tally) in rules.iter().zip(tallies.iter_mut()) {
                let flagged = flagged(&corpus.header.machine, ids, &drawn, rule, &settings);
                match injected {
                    None => tally.alarms += flagged.iter().any(|f| *f) as usize,
                    Some(index) => {
                        let hit = flagged[index] as usize;
                        let count = |map: &mut BTreeMap<u32, (usize, usize)>| {
                            let entry = map.entry(level).or_insert((0, 0));
                            entry.0 += hit;
                            entry.1 += 1;
                        };
                        count(&mut tally.power);
                        if cpu_1us(&ids[index]) {
                            count(&mut tally.power_cpu);
                        }
                    }
                }
            }
        }
    }
    let rates = |map: &BTreeMap<u32, (usize, usize)>| -> BTreeMap<u32, Rate> {
        map.iter()
            .map(|(k, (h, n))| (*k, Rate::new(*h, *n)))
            .collect()
    };
    rules
        .iter()
        .zip(tallies)
        .map(|(rule, tally)| SyntheticScore {
            rule: rule.name(),
            suites,
            suite_false_alarms: Rate::new(tally.alarms, suites),
            power: rates(&tally.power),
            power_cpu_1us: rates(&tally.power_cpu),
        })
        .collect()
}

/// One rule's counts: suites with a false alarm; hits and trials by level.
#[derive(Debug, Clone, Default)]
struct Tally {
    alarms: usize,
    power: BTreeMap<u32, (usize, usize)>,
    power_cpu: BTreeMap<u32, (usize, usize)>,
}

/// Which benchmarks of a pseudo-suite `rule` calls regressed.
fn flagged(
    machine: &crate::record::Machine,
    ids: &[String],
    drawn: &[Vec<RoundMedians>],
    rule: &PairedRule,
    settings: &Settings,
) -> Vec<bool> {
    let mut round_medians = BTreeMap::new();
    for (id, rounds) in ids.iter().zip(drawn) {
        let mut rounds = rounds.clone();
        if !rule.set_aside_disturbed {
            rounds.iter_mut().for_each(|r| r.disturbed = false);
        }
        let kept = fixed_rounds(&rounds, rule.rounds);
        rounds.truncate(kept);
        round_medians.insert(BenchId(id.clone()), rounds);
    }
    let (base, head) = paired_records(&round_medians, machine);
    let run = PairedRun::timed(rule.rounds, (base, head), round_medians);
    let side = || crate::record::Side {
        commit: None,
        dirty: false,
        chosen_as: "eval".into(),
    };
    let report = crate::compare::paired::against_paired_with(
        "eval",
        &run,
        side(),
        side(),
        settings,
        rule.test,
    );
    ids.iter()
        .map(|id| {
            report
                .comparisons
                .iter()
                .any(|c| c.id.as_str() == id && c.verdict == Verdict::Regressed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::corpus::{CORPUS_FORMAT, Header, Injection, Round, Side, Trial};

    /// A corpus of `trials` trials of two benchmarks whose rounds wobble by
    /// ±`spread` (deterministic), none injected.
    fn corpus(trials: usize, spread: f64) -> Corpus {
        let ids = vec!["cpu/a".to_string(), "cpu/b".to_string()];
        let trial = |index: usize| Trial {
            trial: index,
            started: time::OffsetDateTime::UNIX_EPOCH,
            injected: None::<Injection>,
            seconds: 1.0,
            builds: None,
            throughput: Default::default(),
            rounds: (0..12)
                .map(|r| {
                    let wobble = spread * (((index * 7 + r * 3) % 5) as f64 - 2.0) / 2.0;
                    let samples = |v: f64| vec![v; 10];
                    Round {
                        first: Side::Base,
                        load: None,
                        base: ids.iter().map(|id| (id.clone(), samples(2000.0))).collect(),
                        head: ids
                            .iter()
                            .map(|id| (id.clone(), samples(2000.0 * (1.0 + wobble))))
                            .collect(),
                        base_windows: Default::default(),
                        head_windows: Default::default(),
                    }
                })
                .collect(),
        };
        Corpus {
            dir: Default::default(),
            header: Header {
                format: CORPUS_FORMAT,
                machine: crate::record::Machine {
                    cpu_model: "test".into(),
                    logical_cores: 2,
                    os: "test".into(),
                    rustc: "test".into(),
                    governor: None,
                    valgrind: None,
                },
                round_args: Vec::new(),
                rounds_per_trial: 12,
                benchmarks: ids.clone(),
                suite_source: String::new(),
                builds: Vec::new(),
                condition: None,
                input_size: false,
            },
            trials: (0..trials).map(trial).collect(),
        }
    }

    #[test]
    fn exact_shifts_far_above_the_noise_are_all_caught_and_nulls_never_flagged() {
        let rule = PairedRule {
            rounds: 6,
            test: RoundTest::Mean,
            set_aside_disturbed: true,
        };
        let scores = score(&corpus(5, 0.002), &[rule], 40, 7, &|_| true);
        let s = &scores[0];
        assert_eq!(s.suite_false_alarms.hits, 0, "{s:?}");
        assert_eq!(s.power[&10].hits, 40, "{s:?}");
        assert_eq!(s.power[&5].hits, 40, "{s:?}");
        // +1% is the threshold itself: a slowdown of exactly the practical
        // threshold is not shown beyond it.
        assert_eq!(s.power[&1].hits, 0, "{s:?}");
        assert_eq!(s.power_cpu_1us[&5].n, 40);
    }
}
