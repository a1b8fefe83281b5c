//! The corpus on disk: `header.json` (machine, round settings, benchmarks)
//! and `trials.jsonl`, one trial a line, appended as each trial finishes so
//! collection can stop at any time and resume.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::Machine;
use crate::record::interference::Interference;

pub const HEADER_FILE: &str = "header.json";
pub const TRIALS_FILE: &str = "trials.jsonl";
pub const CORPUS_FORMAT: u32 = 1;

/// Injected slowdowns, in percent, cycled through trial by trial (0 = A/A).
pub const LEVELS: [u32; 5] = [0, 1, 2, 5, 10];

/// What every trial of a corpus shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub machine: Machine,
    /// criterion arguments of every process (one side, one round).
    pub round_args: Vec<String>,
    pub rounds_per_trial: usize,
    pub benchmarks: Vec<String>,
    /// Hash of the suite's source, so trials of different suites never mix.
    pub suite_source: String,
    /// Placement corpora (`eval collect --placement`): the builds whose
    /// executables the trials pair, with their instruction counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builds: Vec<Build>,
    /// What else the machine did while the trials ran (None: corpora
    /// collected before conditions were recorded, while the same machine
    /// compiled and tested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// Input-size corpora (`eval collect --input-size`): every trial grows
    /// one benchmark's declared input with its work, the same cost per
    /// element (`Injection::input`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub input_size: bool,
}

/// The machine's state during collection (`eval collect --condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// Nothing else runs; each window's interference is recorded to show it.
    Quiet,
    /// One core kept busy by a child process flamegate starts and stops
    /// (a shell loop): the same background load on every machine.
    Contended,
}

impl Condition {
    pub fn name(self) -> &'static str {
        match self {
            Condition::Quiet => "quiet",
            Condition::Contended => "contended",
        }
    }
}

/// One build of the suite: the same source with flags that move code
/// without changing what it executes (function and block alignment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    pub name: String,
    pub rustflags: String,
    /// Each benchmark counted under callgrind (`BenchResult`s in
    /// instructions), once per build: counts are exact.
    pub counts: Vec<crate::record::BenchResult>,
}

/// The slowdown a trial injected into one head benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Injection {
    pub bench: String,
    pub percent: u32,
    /// The benchmark's declared input grew by the same percentage: the cost
    /// per element is unchanged, so per element it is a null trial.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub input: bool,
}

impl Injection {
    /// A real slowdown of `bench` (more work for the same declared input).
    pub fn slows(&self, bench: &str) -> bool {
        !self.input && self.bench == bench
    }
}

/// The input growths of an input-size corpus, in turn: the real crate's
/// 12% (issue 14) and a larger one.
pub const INPUT_LEVELS: [u32; 2] = [12, 25];

/// What trial `index` of an input-size corpus grows: levels in turn, the
/// benchmark rotating every full cycle of levels.
pub fn input_plan(index: usize, benchmarks: &[String]) -> Injection {
    Injection {
        bench: benchmarks[(index / INPUT_LEVELS.len()) % benchmarks.len()].clone(),
        percent: INPUT_LEVELS[index % INPUT_LEVELS.len()],
        input: true,
    }
}

/// A side of a comparison (also: which side ran first in a round).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Base,
    Head,
}

/// One round: each side's process once; per-iteration times (ns) by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub first: Side,
    /// One-minute load average when the round started (/proc/loadavg).
    pub load: Option<f64>,
    pub base: BTreeMap<String, Vec<f64>>,
    pub head: BTreeMap<String, Vec<f64>>,
    /// Each benchmark's measurement window on each side: what else the
    /// machine did meanwhile (corpora from before this was recorded: none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub base_windows: BTreeMap<String, Interference>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub head_windows: BTreeMap<String, Interference>,
}

/// One paired comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub trial: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub started: time::OffsetDateTime,
    pub injected: Option<Injection>,
    pub seconds: f64,
    pub rounds: Vec<Round>,
    /// Placement corpora: the builds (indexes into `Header::builds`) the
    /// base and the head ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builds: Option<[usize; 2]>,
    /// Input-size corpora: each benchmark's declared input on the base and
    /// the head, as criterion recorded it in the first round.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throughput: BTreeMap<String, [crate::record::Throughput; 2]>,
}

impl Trial {
    /// Benchmark `id`'s medians in each round that ran it on both sides,
    /// disturbed beyond the wait it makes itself (`own_wait`) or not.
    pub fn medians(&self, id: &str) -> Vec<crate::record::paired::RoundMedians> {
        let own_wait = self.own_wait(id);
        self.rounds
            .iter()
            .filter_map(|r| r.medians(id, own_wait))
            .collect()
    }

    /// How many of its measurement windows were disturbed, each judged
    /// against the wait its benchmark makes itself.
    pub fn disturbed_windows(&self) -> usize {
        let windows = || {
            self.rounds
                .iter()
                .flat_map(|r| r.base_windows.iter().chain(&r.head_windows))
        };
        let own_waits: BTreeMap<&str, f64> = windows()
            .map(|(id, _)| (id.as_str(), self.own_wait(id)))
            .collect();
        windows()
            .filter(|(id, w)| w.disturbed(own_waits[id.as_str()]))
            .count()
    }

    /// The wait benchmark `id` makes itself, from its windows in this trial.
    pub fn own_wait(&self, id: &str) -> f64 {
        crate::record::interference::own_wait(
            self.rounds
                .iter()
                .flat_map(|r| [r.base_windows.get(id), r.head_windows.get(id)])
                .flatten(),
        )
    }
}

impl Round {
    /// Benchmark `id`'s medians in this round, when both sides ran it.
    fn medians(&self, id: &str, own_wait: f64) -> Option<crate::record::paired::RoundMedians> {
        Some(crate::record::paired::RoundMedians {
            base: crate::stats::median(self.base.get(id)?),
            head: crate::stats::median(self.head.get(id)?),
            disturbed: [&self.base_windows, &self.head_windows]
                .iter()
                .any(|w| w.get(id).is_some_and(|w| w.disturbed(own_wait))),
        })
    }

    /// One side's samples of a benchmark in this round.
    pub fn samples(&self, side: Side, id: &str) -> Option<&Vec<f64>> {
        match side {
            Side::Base => self.base.get(id),
            Side::Head => self.head.get(id),
        }
    }
}

impl Corpus {
    /// Whether its rounds carry measurement windows (interference).
    pub fn has_windows(&self) -> bool {
        self.trials
            .iter()
            .flat_map(|t| &t.rounds)
            .any(|r| !r.base_windows.is_empty())
    }
}

impl Trial {
    /// One side's samples of a benchmark, pooled over the first `rounds`
    /// rounds.
    pub fn pooled(&self, side: Side, id: &str, rounds: usize) -> Vec<f64> {
        self.rounds[..rounds.min(self.rounds.len())]
            .iter()
            .filter_map(|r| r.samples(side, id))
            .flatten()
            .copied()
            .collect()
    }
}

/// What trial `index` injects: levels in turn, the benchmark rotating every
/// full cycle of levels, so every benchmark gets every level equally often.
pub fn plan(index: usize, benchmarks: &[String]) -> Option<Injection> {
    let percent = LEVELS[index % LEVELS.len()];
    (percent > 0).then(|| Injection {
        bench: benchmarks[(index / LEVELS.len()) % benchmarks.len()].clone(),
        percent,
        input: false,
    })
}

/// The corpus in a directory.
pub struct Corpus {
    pub dir: PathBuf,
    pub header: Header,
    pub trials: Vec<Trial>,
}

fn damaged(path: &Path, problem: impl std::fmt::Display) -> Error {
    Error::Corpus {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    }
}

impl Corpus {
    /// Read a corpus. A last line cut short (collection killed mid-write) is
    /// ignored; any other bad line is an error.
    pub fn load(dir: &Path) -> Result<Corpus> {
        let header_path = dir.join(HEADER_FILE);
        let text = std::fs::read_to_string(&header_path).map_err(|e| Error::io(&header_path, e))?;
        let header: Header = serde_json::from_str(&text).map_err(|e| damaged(&header_path, e))?;
        if header.format != CORPUS_FORMAT {
            return Err(damaged(
                &header_path,
                format!(
                    "corpus format {} (this flamegate reads {CORPUS_FORMAT})",
                    header.format
                ),
            ));
        }
        let trials_path = dir.join(TRIALS_FILE);
        let text = match std::fs::read_to_string(&trials_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(&trials_path, e)),
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let complete = text.ends_with('\n');
        let mut trials = Vec::with_capacity(lines.len());
        for (number, line) in lines.iter().enumerate() {
            match serde_json::from_str::<Trial>(line) {
                Ok(trial) => trials.push(trial),
                Err(_) if number + 1 == lines.len() && !complete => break,
                Err(e) => return Err(damaged(&trials_path, format!("line {}: {e}", number + 1))),
            }
        }
        for (index, trial) in trials.iter().enumerate() {
            if trial.trial != index {
                return Err(damaged(
                    &trials_path,
                    format!(
                        "line {} holds trial {}, expected {index}",
                        index + 1,
                        trial.trial
                    ),
                ));
            }
        }
        Ok(Corpus {
            dir: dir.to_path_buf(),
            header,
            trials,
        })
    }

    /// Start a corpus, or check that an existing one is the same suite on the
    /// same kind of machine with the same settings (else trials would mix).
    pub fn open_or_create(dir: &Path, header: Header) -> Result<Corpus> {
        if dir.join(HEADER_FILE).exists() {
            let corpus = Corpus::load(dir)?;
            let old = &corpus.header;
            let differs = if !old.machine.same_fingerprint(&header.machine) {
                Some("another kind of machine or toolchain")
            } else if old.suite_source != header.suite_source || old.benchmarks != header.benchmarks
            {
                Some("another version of the suite")
            } else if old.round_args != header.round_args
                || old.rounds_per_trial != header.rounds_per_trial
            {
                Some("other round settings")
            } else if old.condition != header.condition {
                Some("another condition (`--condition`)")
            } else if old.input_size != header.input_size {
                Some("another kind of trial (`--input-size`)")
            } else if old
                .builds
                .iter()
                .map(|b| (&b.name, &b.rustflags))
                .ne(header.builds.iter().map(|b| (&b.name, &b.rustflags)))
            {
                Some("other builds (placement corpora pair the same builds)")
            } else {
                None
            };
            if let Some(what) = differs {
                return Err(damaged(
                    &dir.join(HEADER_FILE),
                    format!(
                        "it was collected with {what}; collect into a new directory (`--corpus DIR`) instead of mixing trials"
                    ),
                ));
            }
            corpus.truncate_partial_line()?;
            return Ok(corpus);
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(HEADER_FILE);
        let text = serde_json::to_string_pretty(&header).expect("a header serializes");
        std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))?;
        Ok(Corpus {
            dir: dir.to_path_buf(),
            header,
            trials: Vec::new(),
        })
    }

    /// Drop a last line cut short by an interrupted write before appending.
    fn truncate_partial_line(&self) -> Result<()> {
        let path = self.dir.join(TRIALS_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        if !text.is_empty() && !text.ends_with('\n') {
            let keep = text.rfind('\n').map_or(0, |i| i + 1);
            std::fs::write(&path, &text[..keep]).map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// Append a finished trial (one line, written at once).
    pub fn append(&mut self, trial: Trial) -> Result<()> {
        let path = self.dir.join(TRIALS_FILE);
        let mut line = serde_json::to_string(&trial).expect("a trial serializes");
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.write_all(line.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        self.trials.push(trial);
        Ok(())
    }
}

/// Keep five significant digits: the corpus stays small and the rounding
/// (at most 0.005%) is far below any change the rules can see.
pub fn compact(samples: &[f64]) -> Vec<f64> {
    samples
        .iter()
        .map(|&v| {
            if v == 0.0 || !v.is_finite() {
                return v;
            }
            let scale = 10f64.powi(4 - v.abs().log10().floor() as i32);
            (v * scale).round() / scale
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_cycles_levels_and_gives_every_benchmark_every_level() {
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut seen = std::collections::BTreeSet::new();
        for index in 0..15 {
            match plan(index, &ids) {
                None => assert_eq!(index % 5, 0),
                Some(i) => {
                    seen.insert((i.bench, i.percent));
                }
            }
        }
        assert_eq!(seen.len(), 12);
    }

    #[test]
    fn compacting_keeps_five_significant_digits() {
        assert_eq!(
            compact(&[123.456_78, 0.001_234_567, 9_876_543.2]),
            vec![123.46, 0.001_234_6, 9_876_500.0]
        );
    }
}
