//! `eval score`'s text table: each rule's false alarms and power on the
//! corpus, and on synthetic slowdowns.

use std::collections::BTreeMap;

use super::replay::Rate;
use super::score::{RuleScore, Scores};

/// A rate in percent with its interval and counts, or a dash for none.
fn percent(r: &Rate) -> String {
    if r.n == 0 {
        return "—".into();
    }
    format!(
        "{:.1}% [{:.1}, {:.1}] ({}/{})",
        100.0 * r.rate,
        100.0 * r.low,
        100.0 * r.high,
        r.hits,
        r.n
    )
}

/// The scores as a plain-text table.
pub fn table(scores: &Scores) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    corpus_lines(&mut out, scores);
    let _ = writeln!(
        out,
        "rates with Clopper-Pearson 95% intervals, in percent (hits/n)\n"
    );
    for rule in &scores.rules {
        rule_lines(&mut out, rule);
    }
    synthetic_lines(&mut out, scores);
    out
}

/// What was scored: the corpus, the machine, its condition and the builds.
fn corpus_lines(out: &mut String, scores: &Scores) {
    use std::fmt::Write;
    let levels: String = scores
        .trials_by_level
        .iter()
        .map(|(k, n)| {
            if *k == 0 {
                format!("{n} A/A")
            } else {
                format!("{n} at +{k}%")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "corpus: {} trials ({levels}); {} benchmarks",
        scores.trials,
        scores.benchmarks.len()
    );
    let _ = writeln!(out, "machine: {}", scores.machine);
    let _ = writeln!(
        out,
        "time: {:.1} s per benchmark and trial, both sides together{}",
        scores.seconds_per_benchmark,
        scores
            .median_load
            .map(|l| format!("; median load average {l:.2}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "condition: {}",
        match scores.condition.as_deref() {
            Some("quiet") => "quiet (nothing else ran)",
            Some("contended") => "contended (one core kept busy by a shell loop)",
            Some(other) => other,
            None => "not recorded (collected while the same machine compiled and tested)",
        }
    );
    if let Some(w) = &scores.interference {
        let _ = writeln!(
            out,
            "measurement windows: {} disturbed; waited for a CPU {:.2}% of a window (median), {:.1}% (99th percentile); other processes used {:.2} cores (median)",
            percent(&w.disturbed),
            100.0 * w.waited_median,
            100.0 * w.waited_p99,
            w.others_cores_median
        );
    }
    if !scores.builds.is_empty() {
        let _ = writeln!(
            out,
            "placement builds (every trial pairs two of them; instructions per iteration):"
        );
        for (name, counts) in &scores.builds {
            let list: Vec<String> = counts
                .iter()
                .map(|(id, n)| format!("{id} {n:.0}"))
                .collect();
            let _ = writeln!(out, "  {name}: {}", list.join(", "));
        }
    }
}

/// One rule's rates on the corpus.
fn rule_lines(out: &mut String, rule: &RuleScore) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "{}{}",
        rule.rule,
        rule.mean_rounds
            .map(|r| format!(" ({r:.1} rounds per benchmark on average)"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "  suite false alarms      {}",
        percent(&rule.suite_false_alarms)
    );
    let _ = writeln!(
        out,
        "  per-benchmark false pos {}",
        percent(&rule.false_positives)
    );
    power_lines(out, &rule.power, &rule.power_cpu_1us);
    let noisy: Vec<String> = rule
        .false_positives_by_bench
        .iter()
        .filter(|(_, r)| r.hits > 0)
        .map(|(id, r)| format!("{id} {}/{}", r.hits, r.n))
        .collect();
    if !noisy.is_empty() {
        let _ = writeln!(out, "  false positives in      {}", noisy.join(", "));
    }
    if !rule.detectable.is_empty() {
        let list: Vec<String> = rule
            .detectable
            .iter()
            .map(|(id, d)| format!("{id} ≥{:.1}%", 100.0 * d))
            .collect();
        let _ = writeln!(out, "  would catch (median)    {}", list.join(", "));
    }
    let _ = writeln!(out);
}

/// The semi-synthetic suites' rates, when scored.
fn synthetic_lines(out: &mut String, scores: &Scores) {
    use std::fmt::Write;
    if let Some(first) = scores.synthetic.first() {
        let _ = writeln!(
            out,
            "semi-synthetic: {} pseudo-suites a level, each benchmark's rounds drawn from a real trial \
             that did not inject it, one benchmark's head multiplied by exactly 1 + k%\n",
            first.suites
        );
        for rule in &scores.synthetic {
            let _ = writeln!(out, "{}", rule.rule);
            let _ = writeln!(
                out,
                "  suite false alarms      {}",
                percent(&rule.suite_false_alarms)
            );
            power_lines(out, &rule.power, &rule.power_cpu_1us);
            let _ = writeln!(out);
        }
    }
}

/// One line a level: power over all benchmarks and over the CPU-bound ones.
fn power_lines(out: &mut String, power: &BTreeMap<u32, Rate>, power_cpu: &BTreeMap<u32, Rate>) {
    use std::fmt::Write;
    for (k, rate) in power {
        let cpu = power_cpu.get(k).map(percent).unwrap_or_default();
        let _ = writeln!(
            out,
            "  power at +{k:<2}%          {}   CPU ≥1 µs: {cpu}",
            percent(rate)
        );
    }
}
