//! Score the rules on a corpus, offline and deterministically.
//!
//! Every trial is one pull request: base and head measured in the same
//! rounds, with a known slowdown in one head benchmark (or none). Each rule
//! sees the same samples:
//! - **paired**: flamegate's rule (a) on the trial's rounds (`compare::paired`);
//! - **paired, adaptive**: the same, each benchmark stopped after the first
//!   round count (from the minimum) at which `paired::decided` holds;
//! - **stored**: flamegate's rule (b): the head's samples (pooled over its
//!   rounds) against the base of the previous trial as the stored baseline,
//!   with the bases of the trials before it as history (`compare::stored::against_stored`);
//! - **criterion**: criterion 0.8's own verdict recomputed on the pooled
//!   samples of both sides (bootstrapped Welch t, p < 0.05, and the 95%
//!   interval of the change in mean above its +1% noise threshold).
//!
//! A benchmark without an injection is a null: flagging it is a false
//! alarm. The suite false-alarm rate counts trials with any flagged null.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::collect::rounds;
use crate::compare::paired::RoundTest;
use crate::compare::{self, settings::Settings};
use crate::progress::Progress;
use crate::record::paired::PairedRun;
use crate::stats;

use super::corpus::{Corpus, LEVELS, Trial};
use super::outcome::{
    Outcome, STORED_HISTORY, adaptive_rounds, criterion_outcome, paired_outcome,
    paired_outcome_with, paired_run, stored_outcome,
};
use super::replay::{Rate, fixed_rounds};

/// The fixed plan scored beside the corpus's full rounds: the rounds of
/// `check --paired --rounds 6`.
pub const FIXED_ROUNDS: usize = 6;

/// One rule's scores.
#[derive(Debug, Clone, Serialize)]
pub struct RuleScore {
    pub rule: String,
    /// Trials scored (the stored rule needs earlier trials as its history).
    pub suites: usize,
    /// Share of trials with any null benchmark flagged.
    pub suite_false_alarms: Rate,
    /// Share of null benchmark comparisons flagged.
    pub false_positives: Rate,
    /// Injected percent → share of injected benchmarks flagged.
    pub power: BTreeMap<u32, Rate>,
    /// The same, for CPU-bound benchmarks of 1 µs or more.
    pub power_cpu_1us: BTreeMap<u32, Rate>,
    /// Average rounds per benchmark (paired rules).
    pub mean_rounds: Option<f64>,
    /// Benchmark → flagged nulls (where the false alarms come from).
    pub false_positives_by_bench: BTreeMap<String, Rate>,
    /// Benchmark → injected percent → detected.
    pub power_by_bench: BTreeMap<String, BTreeMap<u32, Rate>>,
    /// Benchmark → the median over trials of the smallest slowdown the run
    /// would have caught with 80% probability (`Change::detectable`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub detectable: BTreeMap<String, f64>,
}

/// Everything `eval score` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub trials: usize,
    pub trials_by_level: BTreeMap<u32, usize>,
    pub benchmarks: Vec<String>,
    /// Median per-iteration time of each benchmark (ns), over all bases.
    pub bench_medians_ns: BTreeMap<String, f64>,
    /// Average seconds of one trial per benchmark, both sides together.
    pub seconds_per_benchmark: f64,
    /// Median one-minute load average at round starts.
    pub median_load: Option<f64>,
    pub machine: String,
    /// Placement corpora: each build's name, and its instructions per
    /// iteration by benchmark (the median of its counts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub builds: Vec<(String, BTreeMap<String, f64>)>,
    /// `quiet` or `contended` (`eval collect --condition`); None for
    /// corpora collected before conditions were recorded.
    pub condition: Option<String>,
    /// What the measurement windows saw, when the corpus recorded them.
    pub interference: Option<WindowSummary>,
    pub rules: Vec<RuleScore>,
    /// The semi-synthetic scores (`--synthetic N` pseudo-suites a level).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synthetic: Vec<super::synthetic::SyntheticScore>,
}

/// The interference of a corpus's measurement windows.
#[derive(Debug, Clone, Serialize)]
pub struct WindowSummary {
    /// Share of benchmark windows (either side) disturbed.
    pub disturbed: Rate,
    /// Median and 99th percentile of the share of a window spent waiting for a CPU.
    pub waited_median: f64,
    pub waited_p99: f64,
    /// Median other processes' CPU use over a window, in cores.
    pub others_cores_median: f64,
}

fn window_summary(corpus: &Corpus) -> Option<WindowSummary> {
    let windows: Vec<&crate::record::interference::Interference> = corpus
        .trials
        .iter()
        .flat_map(|t| &t.rounds)
        .flat_map(|r| r.base_windows.values().chain(r.head_windows.values()))
        .collect();
    if windows.is_empty() {
        return None;
    }
    let waited: Vec<f64> = windows.iter().map(|w| w.waited).collect();
    let others: Vec<f64> = windows.iter().map(|w| w.others_cores).collect();
    let disturbed = corpus.trials.iter().map(Trial::disturbed_windows).sum();
    Some(WindowSummary {
        disturbed: Rate::new(disturbed, windows.len()),
        waited_median: stats::median(&waited),
        waited_p99: stats::quantile(&waited, 0.99),
        others_cores_median: stats::median(&others),
    })
}

/// The rules replayed on each trial, and the order they are reported in.
struct RulePlan {
    /// (rule, rounds each benchmark keeps): fixed plans on the first rounds.
    fixed: Vec<(String, usize)>,
    adaptive: String,
    /// The round tests check does not use, on every round.
    candidates: Vec<(String, RoundTest)>,
    rounds: usize,
    /// Interference measured: the fixed plans again with every round
    /// counted, disturbed or not (what check did before it measured).
    windows: bool,
    /// Placement corpora: the paired rules again, each time change checked
    /// against the two builds' instruction counts (`check --paired`'s default).
    placement: bool,
    /// Input-size corpora: the paired rules (which compare per element
    /// where the declared input differs, as `check` does) again on time alone.
    input_size: bool,
}

fn kept(name: &str) -> String {
    format!("{name}, disturbed rounds kept")
}

fn checked(name: &str) -> String {
    format!("{name} + instruction check")
}

fn alone(name: &str) -> String {
    format!("{name}, time alone (declared input ignored)")
}

const STORED_RULE: &str = "flamegate stored baseline";
const CRITERION_RULE: &str = "criterion";

impl RulePlan {
    fn of(corpus: &Corpus) -> RulePlan {
        let rounds = corpus.header.rounds_per_trial;
        let mut fixed: Vec<(String, usize)> = Vec::new();
        if rounds >= FIXED_ROUNDS {
            fixed.push((
                format!("flamegate paired, {FIXED_ROUNDS} rounds"),
                FIXED_ROUNDS,
            ));
        }
        if rounds != FIXED_ROUNDS {
            fixed.push((format!("flamegate paired, {rounds} rounds"), rounds));
        }
        let candidates = RoundTest::ALL
            .iter()
            .filter(|test| **test != compare::paired::CHECK_TEST)
            .map(|test| {
                (
                    format!(
                        "candidate: paired, {rounds} rounds, {} (not used by check)",
                        test.name()
                    ),
                    *test,
                )
            })
            .collect();
        RulePlan {
            fixed,
            adaptive: format!(
                "flamegate paired, adaptive ({} to {rounds} rounds)",
                rounds::MIN_ROUNDS.min(rounds)
            ),
            candidates,
            rounds,
            windows: corpus.has_windows(),
            placement: !corpus.header.builds.is_empty(),
            input_size: corpus.header.input_size,
        }
    }

    /// Every rule's name, in the order the table reports them.
    fn order(&self) -> Vec<String> {
        let mut order: Vec<String> = Vec::new();
        for name in self
            .fixed
            .iter()
            .map(|(name, _)| name.clone())
            .chain([self.adaptive.clone()])
        {
            order.push(name.clone());
            if self.placement {
                order.push(checked(&name));
            }
            if self.input_size {
                order.push(alone(&name));
            }
            if self.windows && name != self.adaptive {
                order.push(kept(&name));
            }
        }
        order.extend(self.candidates.iter().map(|(name, _)| name.clone()));
        order.extend([STORED_RULE.to_string(), CRITERION_RULE.to_string()]);
        order
    }

    /// Every rule's outcome on one trial, added to `outcomes` by rule.
    fn replay(
        &self,
        corpus: &Corpus,
        trial: &Trial,
        settings: &Settings,
        outcomes: &mut BTreeMap<String, Vec<(usize, Outcome)>>,
    ) {
        let mut add = |name: String, outcome: Outcome| {
            outcomes
                .entry(name)
                .or_default()
                .push((trial.trial, outcome));
        };
        let suite = corpus.header.benchmarks.len();
        let mut paired_rules: Vec<(&String, PairedRun)> = self
            .fixed
            .iter()
            .map(|(name, keep)| {
                (
                    name,
                    paired_run(corpus, trial, |_, rounds| fixed_rounds(rounds, *keep)),
                )
            })
            .collect();
        paired_rules.push((
            &self.adaptive,
            paired_run(corpus, trial, |id, rounds| {
                adaptive_rounds(id, rounds, suite, settings)
            }),
        ));
        if self.windows {
            for (name, keep) in &self.fixed {
                let mut run = paired_run(corpus, trial, |_, _| *keep);
                for rounds in run.round_medians.values_mut() {
                    rounds.iter_mut().for_each(|r| r.disturbed = false);
                }
                add(kept(name), paired_outcome(&run, settings));
            }
        }
        for (name, run) in paired_rules {
            self.replay_paired(corpus, trial, settings, name, run, &mut add);
        }
        let all = paired_run(corpus, trial, |_, _| self.rounds);
        for (name, test) in &self.candidates {
            add(name.clone(), paired_outcome_with(&all, settings, *test));
        }
        if trial.trial >= STORED_HISTORY {
            add(
                STORED_RULE.to_string(),
                stored_outcome(corpus, trial, settings),
            );
        }
        add(CRITERION_RULE.to_string(), criterion_outcome(corpus, trial));
    }

    /// One paired rule's outcome, and its variants the corpus allows: on
    /// time alone, with the builds' instruction counts.
    fn replay_paired(
        &self,
        corpus: &Corpus,
        trial: &Trial,
        settings: &Settings,
        name: &str,
        mut run: PairedRun,
        add: &mut impl FnMut(String, Outcome),
    ) {
        add(name.to_string(), paired_outcome(&run, settings));
        if self.input_size {
            let mut timed = run.clone();
            for bench in timed.base.benches.iter_mut().chain(&mut timed.head.benches) {
                bench.throughput = None;
            }
            add(alone(name), paired_outcome(&timed, settings));
        }
        if let Some([a, b]) = trial.builds {
            run.instructions = crate::record::paired::CountedInstructions {
                base: corpus.header.builds[a].counts.clone(),
                head: corpus.header.builds[b].counts.clone(),
                not_counted: Default::default(),
            };
            add(checked(name), paired_outcome(&run, settings));
        }
    }

    /// The semi-synthetic rules: every round test on each fixed plan, and
    /// with interference measured, the check's rule and the mean's without
    /// setting disturbed rounds aside (old and new on the same samples).
    fn synthetic_rules(&self) -> Vec<super::synthetic::PairedRule> {
        let mut plans = vec![FIXED_ROUNDS.min(self.rounds)];
        if self.rounds != FIXED_ROUNDS {
            plans.push(self.rounds);
        }
        let mut rules = Vec::new();
        for plan in plans {
            for test in RoundTest::ALL {
                rules.push(super::synthetic::PairedRule {
                    rounds: plan,
                    test,
                    set_aside_disturbed: true,
                });
            }
            if self.windows {
                for test in [compare::paired::CHECK_TEST, RoundTest::Mean] {
                    rules.push(super::synthetic::PairedRule {
                        rounds: plan,
                        test,
                        set_aside_disturbed: false,
                    });
                }
            }
        }
        rules
    }
}

/// Score every rule on the corpus, and on `synthetic` pseudo-suites a level
/// resampled from it (none for 0).
pub fn score(corpus: &Corpus, synthetic: usize, progress: &Progress) -> Scores {
    let settings = Settings::default();
    let plan = RulePlan::of(corpus);
    let bar = progress.bar(corpus.trials.len() as u64, "scoring");
    let mut outcomes: BTreeMap<String, Vec<(usize, Outcome)>> = BTreeMap::new();
    for trial in &corpus.trials {
        bar.working_on(&format!("trial {}", trial.trial));
        plan.replay(corpus, trial, &settings, &mut outcomes);
        bar.finished_one(&format!("trial {}", trial.trial));
    }
    bar.finish();

    let medians = bench_medians(corpus);
    let cpu_1us =
        |id: &str| id.starts_with("cpu/") && medians.get(id).is_some_and(|m| *m >= 1_000.0);
    let rules = plan
        .order()
        .iter()
        .filter_map(|name| Some((name, outcomes.get(name.as_str())?)))
        .map(|(name, results)| rule_score(name, results, corpus, &cpu_1us))
        .collect();
    let synthetic = if synthetic == 0 {
        Vec::new()
    } else {
        let rules = plan.synthetic_rules();
        progress.note(&format!(
            "semi-synthetic: {synthetic} pseudo-suites a level, {} rules",
            rules.len()
        ));
        super::synthetic::score(corpus, &rules, synthetic, SYNTHETIC_SEED, &cpu_1us)
    };
    corpus_scores(corpus, medians, rules, synthetic)
}

/// Each benchmark's median base sample over the whole corpus, in ns.
fn bench_medians(corpus: &Corpus) -> BTreeMap<String, f64> {
    corpus
        .header
        .benchmarks
        .iter()
        .map(|id| {
            let all: Vec<f64> = corpus
                .trials
                .iter()
                .flat_map(|t| t.rounds.iter())
                .filter_map(|r| r.base.get(id))
                .map(|s| stats::median(s))
                .collect();
            (id.clone(), stats::median(&all))
        })
        .collect()
}

/// The scores with what describes the corpus they were scored on.
fn corpus_scores(
    corpus: &Corpus,
    medians: BTreeMap<String, f64>,
    rules: Vec<RuleScore>,
    synthetic: Vec<super::synthetic::SyntheticScore>,
) -> Scores {
    let ids = &corpus.header.benchmarks;
    let loads: Vec<f64> = corpus
        .trials
        .iter()
        .flat_map(|t| t.rounds.iter().filter_map(|r| r.load))
        .collect();
    let mut trials_by_level = BTreeMap::new();
    for trial in &corpus.trials {
        *trials_by_level
            .entry(
                trial
                    .injected
                    .as_ref()
                    .filter(|i| !i.input)
                    .map_or(0, |i| i.percent),
            )
            .or_insert(0) += 1;
    }
    let seconds: f64 = corpus.trials.iter().map(|t| t.seconds).sum();
    let m = corpus.header.machine.clone();
    Scores {
        trials: corpus.trials.len(),
        trials_by_level,
        benchmarks: ids.clone(),
        bench_medians_ns: medians,
        seconds_per_benchmark: seconds / (corpus.trials.len().max(1) * ids.len().max(1)) as f64,
        median_load: (!loads.is_empty()).then(|| stats::median(&loads)),
        machine: format!(
            "{}, {} logical cores, {}, {}",
            m.cpu_model, m.logical_cores, m.os, m.rustc
        ),
        builds: corpus
            .header
            .builds
            .iter()
            .map(|b| {
                let counts = b
                    .counts
                    .iter()
                    .map(|c| (c.id.as_str().to_string(), stats::median(&c.samples)))
                    .collect();
                (format!("{} ({})", b.name, b.rustflags), counts)
            })
            .collect(),
        condition: corpus.header.condition.map(|c| c.name().to_string()),
        interference: window_summary(corpus),
        rules,
        synthetic,
    }
}

/// The pseudo-suites' seed: scores are reproducible.
const SYNTHETIC_SEED: u64 = 0x15_2026;

fn rule_score(
    name: &str,
    results: &[(usize, Outcome)],
    corpus: &Corpus,
    cpu_1us: &dyn Fn(&str) -> bool,
) -> RuleScore {
    let ids = &corpus.header.benchmarks;
    let mut suite_alarms = 0;
    let (mut null_hits, mut nulls) = (0, 0);
    let mut fp_by_bench: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut power: BTreeMap<u32, (usize, usize)> =
        LEVELS[1..].iter().map(|k| (*k, (0, 0))).collect();
    let mut power_cpu = power.clone();
    let mut power_by_bench: BTreeMap<String, BTreeMap<u32, (usize, usize)>> = BTreeMap::new();
    let mut rounds = Vec::new();
    let mut detectable: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (index, outcome) in results {
        for (id, d) in &outcome.detectable {
            detectable.entry(id.clone()).or_default().push(*d);
        }
        let trial = &corpus.trials[*index];
        let injected = trial.injected.as_ref();
        let mut alarm = false;
        for id in ids {
            let flagged = outcome.flagged.contains(id);
            match injected {
                Some(i) if i.slows(id) => {
                    let count = |map: &mut BTreeMap<u32, (usize, usize)>| {
                        let entry = map.entry(i.percent).or_insert((0, 0));
                        entry.0 += flagged as usize;
                        entry.1 += 1;
                    };
                    count(&mut power);
                    if cpu_1us(id) {
                        count(&mut power_cpu);
                    }
                    count(power_by_bench.entry(id.clone()).or_default());
                }
                _ => {
                    nulls += 1;
                    null_hits += flagged as usize;
                    alarm |= flagged;
                    let entry = fp_by_bench.entry(id.clone()).or_insert((0, 0));
                    entry.0 += flagged as usize;
                    entry.1 += 1;
                }
            }
        }
        suite_alarms += alarm as usize;
        rounds.extend(&outcome.rounds);
    }
    let rates = |map: BTreeMap<u32, (usize, usize)>| -> BTreeMap<u32, Rate> {
        map.into_iter()
            .map(|(k, (h, n))| (k, Rate::new(h, n)))
            .collect()
    };
    RuleScore {
        rule: name.to_string(),
        suites: results.len(),
        suite_false_alarms: Rate::new(suite_alarms, results.len()),
        false_positives: Rate::new(null_hits, nulls),
        power: rates(power),
        power_cpu_1us: rates(power_cpu),
        mean_rounds: (!rounds.is_empty())
            .then(|| rounds.iter().sum::<usize>() as f64 / rounds.len() as f64),
        false_positives_by_bench: fp_by_bench
            .into_iter()
            .map(|(id, (h, n))| (id, Rate::new(h, n)))
            .collect(),
        power_by_bench: power_by_bench
            .into_iter()
            .map(|(id, m)| (id, rates(m)))
            .collect(),
        detectable: detectable
            .into_iter()
            .map(|(id, d)| (id, stats::median(&d)))
            .collect(),
    }
}
