//! The run's notes: what a reader should know beside the verdicts (how the
//! baseline was found, what was not timed and why, what to change in the
//! set-up). Each stage says what it saw as a typed `Note`; the words are made
//! once, in `words.rs` (`Display`), so the terminal, the Markdown comment and
//! report.json say the same thing, and a test asks for a kind of note rather
//! than matching a sentence.
//!
//! In report.json a note is an object: its `kind`, its fields, and its
//! `text`. Reports written before notes were typed hold plain sentences;
//! they read back as `Note::Written`.

use serde::{Deserialize, Serialize};

mod words;

/// One note of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// `check --paired-if-no-baseline` found no stored baseline, so the
    /// check built and measured the base commit itself.
    FirstPullRequest {
        baseline_file: String,
        commit: String,
    },
    /// The suite's name was made from the package's (which is not a valid
    /// file name as it is).
    SuiteNamedAfterPackage { suite: String, package: String },
    /// The target branch was not `origin/main`.
    TargetBranchFallback { branch: String },
    /// flamegate deepened a shallow clone itself.
    Deepened {
        remote: String,
        fetched: Vec<String>,
    },
    /// A shallow clone that flamegate could not deepen.
    NotDeepened { problem: String },
    /// `--base-file`: a record without history.
    BaselineFromFile,
    /// A shallow clone cut the stored baseline's history short.
    HistoryCutByShallowClone,
    /// An earlier version of the baseline file could not be read.
    EarlierBaselineSkipped { problem: String },
    /// The stored baseline's commit is not in this clone.
    BaselineCommitNotInClone { commit: String },
    /// A `Flamegate-Accept` line that could not be read.
    AcceptLineProblem { commit: String, problem: String },
    /// The commits' acceptance lines could not be read at all.
    AcceptancesUnreadable { trailer: String, problem: String },
    /// Acceptance lines found while flamegate.toml turns acceptance off.
    AcceptancePolicyOff { lines: usize },
    /// An acceptance naming something that is not a benchmark glob.
    AcceptGlobInvalid {
        commit: String,
        glob: String,
        problem: String,
    },
    /// A build setting file that the pull request changes (both sides are
    /// built with the head's).
    BuildSettingChanged { file: String },
    /// `merge`: the shards ran on different kinds of machine.
    ShardsOnDifferentMachines,
    /// `merge`: shards missing, so some benchmarks were not measured.
    ShardsMissing { shards: String, benchmarks: usize },
    /// The stored baseline came from another kind of machine.
    OtherMachine {
        base: MachineNamed,
        head: MachineNamed,
    },
    /// Too few shared benchmarks to remove the machine's overall speed.
    FewSharedBenchmarks { minimum: usize },
    /// No baseline history: noise from each run's own spread.
    NoHistoryYet,
    /// Stored mode: benchmarks that executed what the baseline's record says.
    SameCodeAsRecorded { benchmarks: usize },
    /// The baseline's record says what each benchmark executed, but this run
    /// did not look.
    EveryBenchmarkTimed,
    /// Paired: benchmarks whose executables load identical machine code.
    IdenticalNotTimed { benchmarks: usize },
    /// Paired: benchmarks that executed the same code on both sides.
    SameCodeOnBothSides { benchmarks: usize },
    /// Paired: why the same-code pass could not run.
    SameCodeUnchecked { why: String },
    /// A regression without a profile: how to install the profiler.
    NoProfiler,
    /// Read slower beyond the threshold, but from too few rounds to fail.
    HeldBackByRounds {
        benchmarks: Vec<RoundsOf>,
        min_rounds: usize,
    },
    /// Benchmarks that could not have shown the slowdown the gate aims at.
    Insensitive {
        aim: f64,
        benchmarks: Vec<Detectable>,
        paired: bool,
    },
    /// Benchmarks whose declared input changed: compared per unit of it.
    InputChanged {
        unit: String,
        base: u64,
        head: u64,
        counted: bool,
        benchmarks: Vec<PerUnit>,
    },
    /// Faster in time although more instructions ran.
    FasterWithMoreInstructions { benchmarks: Vec<Disagreement> },
    /// Slower in time although fewer instructions ran.
    SlowerWithFewerInstructions { benchmarks: Vec<Disagreement> },
    /// The baseline was counted with another compiler or valgrind.
    CountedWithOtherTools {
        base_rustc: String,
        base_valgrind: Option<String>,
        head_rustc: String,
        head_valgrind: Option<String>,
    },
    /// Paired: benchmarks whose time changed were counted on both sides.
    TimeChangesCounted { benchmarks: usize },
    /// Paired: benchmarks whose time changed but could not be counted.
    NotCounted {
        benchmarks: Vec<String>,
        why: String,
    },
    /// Paired: rounds set aside because something else took the CPU.
    DisturbedRounds {
        benchmarks: Vec<RoundsOf>,
        wait: f64,
        steal: f64,
    },
    /// Paired: one round only.
    SingleRound,
    /// Cargo.lock differs between base and head.
    LockChanged {
        packages: Vec<crate::record::commit::PackageChange>,
    },
    /// `--bisect` could not start.
    BisectNotStarted { problem: String },
    /// `--bisect` started but could not name the commits.
    BisectFailed { problem: String },
    /// `bisect`: the counts did not change between the ends, so the
    /// bisection timed them.
    BisectedByTiming {
        any_change: bool,
        good: String,
        bad: String,
    },
    /// `bisect`: the commit a benchmark was bisected to does not show the
    /// change alone (`verdict`: what it reads against its parent).
    ChangeSpread {
        id: String,
        commit: String,
        verdict: String,
    },
    /// `history`: a shallow clone, so older versions are missing.
    OlderVersionsMissing,
    /// `history --limit`: only the newest versions were read.
    NewestVersionsOnly {
        limit: usize,
        path: String,
        branch: String,
    },
    /// `history`: a version of the baseline file that could not be read.
    VersionSkipped {
        stored_in: String,
        summary: String,
        problem: String,
    },
    /// `history --bisect`: bisecting at a level shift failed.
    ShiftBisectFailed { commit: String, problem: String },
    /// `history --bisect`: a level shift not placed on one commit.
    ShiftNotPlaced { id: String, commit: String },
    /// A note as an older flamegate wrote it (reports before notes were
    /// typed), or of a kind this flamegate does not know.
    Written { text: String },
}

/// A machine as a note names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineNamed {
    pub cpu_model: String,
    pub logical_cores: u32,
    pub rustc: String,
}

impl From<&crate::record::Machine> for MachineNamed {
    fn from(machine: &crate::record::Machine) -> Self {
        MachineNamed {
            cpu_model: machine.cpu_model.clone(),
            logical_cores: machine.logical_cores,
            rustc: machine.rustc.clone(),
        }
    }
}

/// A benchmark and a number of rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundsOf {
    pub id: String,
    pub rounds: usize,
}

/// The smallest slowdown a benchmark would have shown (0.059 = 5.9%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detectable {
    pub id: String,
    pub detectable: f64,
}

/// A benchmark's change per unit of its declared input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerUnit {
    pub id: String,
    pub change: f64,
}

/// A benchmark whose time and instruction count moved apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    pub id: String,
    pub time: f64,
    pub instructions: f64,
}

/// A list of notes in report.json and in paired shards: each note with its
/// `text`, so a reader of the JSON sees what the terminal and the comment
/// say; a plain sentence (an older report) reads as `Note::Written`.
pub mod listed_with_text {
    use super::Note;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Shown<'a> {
        #[serde(flatten)]
        note: &'a Note,
        text: String,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Typed(Note),
        Sentence(String),
        /// A kind this flamegate does not know: its words stand.
        Unknown {
            text: String,
        },
    }

    pub fn serialize<S: Serializer>(notes: &[Note], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(notes.iter().map(|note| Shown {
            note,
            text: note.to_string(),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Note>, D::Error> {
        let stored = Vec::<Stored>::deserialize(deserializer)?;
        Ok(stored
            .into_iter()
            .map(|note| match note {
                Stored::Typed(note) => note,
                Stored::Sentence(text) | Stored::Unknown { text } => Note::Written { text },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// One note of every kind.
    fn every_kind() -> Vec<Note> {
        let commit = "0123456789abcdef";
        let machine =
            |cpu: &str| json!({"cpu_model": cpu, "logical_cores": 2, "rustc": "rustc 1.95.0"});
        let rounds = json!([{"id": "a/b", "rounds": 3}]);
        serde_json::from_value(json!([
            {"kind": "first_pull_request", "baseline_file": "baselines/s.json", "commit": commit},
            {"kind": "suite_named_after_package", "suite": "fg-ws", "package": "fg+ws"},
            {"kind": "target_branch_fallback", "branch": "origin/master"},
            {"kind": "deepened", "remote": "origin", "fetched": ["origin/main"]},
            {"kind": "not_deepened", "problem": "x"},
            {"kind": "baseline_from_file"},
            {"kind": "history_cut_by_shallow_clone"},
            {"kind": "earlier_baseline_skipped", "problem": "x"},
            {"kind": "baseline_commit_not_in_clone", "commit": commit},
            {"kind": "accept_line_problem", "commit": commit, "problem": "x"},
            {"kind": "acceptances_unreadable", "trailer": "Flamegate-Accept", "problem": "x"},
            {"kind": "acceptance_policy_off", "lines": 2},
            {"kind": "accept_glob_invalid", "commit": commit, "glob": "[", "problem": "x"},
            {"kind": "build_setting_changed", "file": "rust-toolchain.toml"},
            {"kind": "shards_on_different_machines"},
            {"kind": "shards_missing", "shards": "2/3", "benchmarks": 4},
            {"kind": "other_machine", "base": machine("A"), "head": machine("B")},
            {"kind": "few_shared_benchmarks", "minimum": 8},
            {"kind": "no_history_yet"},
            {"kind": "same_code_as_recorded", "benchmarks": 3},
            {"kind": "every_benchmark_timed"},
            {"kind": "identical_not_timed", "benchmarks": 3},
            {"kind": "same_code_on_both_sides", "benchmarks": 3},
            {"kind": "same_code_unchecked", "why": "x"},
            {"kind": "no_profiler"},
            {"kind": "held_back_by_rounds", "benchmarks": rounds, "min_rounds": 6},
            {"kind": "insensitive", "aim": 0.05, "paired": true,
             "benchmarks": [{"id": "a/b", "detectable": 0.059}]},
            {"kind": "input_changed", "unit": "Bytes", "base": 14_504, "head": 16_274, "counted": false,
             "benchmarks": [{"id": "bench/x", "change": -0.0019}]},
            {"kind": "faster_with_more_instructions",
             "benchmarks": [{"id": "w/u", "time": -0.37, "instructions": 0.052}]},
            {"kind": "slower_with_fewer_instructions",
             "benchmarks": [{"id": "g/l", "time": 0.2, "instructions": -0.08}]},
            {"kind": "counted_with_other_tools", "base_rustc": "rustc 1.94.0", "base_valgrind": null,
             "head_rustc": "rustc 1.95.0", "head_valgrind": "valgrind-3.19.0"},
            {"kind": "time_changes_counted", "benchmarks": 2},
            {"kind": "not_counted", "benchmarks": ["a/b"], "why": "x"},
            {"kind": "disturbed_rounds", "benchmarks": rounds, "wait": 0.05, "steal": 0.05},
            {"kind": "single_round"},
            {"kind": "lock_changed",
             "packages": [{"name": "memchr", "before": ["2.7.4"], "after": ["2.7.5"]}]},
            {"kind": "bisect_not_started", "problem": "x"},
            {"kind": "bisect_failed", "problem": "x"},
            {"kind": "bisected_by_timing", "any_change": false, "good": commit, "bad": "f".repeat(40)},
            {"kind": "change_spread", "id": "a/b", "commit": commit, "verdict": "LikelySlower"},
            {"kind": "older_versions_missing"},
            {"kind": "newest_versions_only", "limit": 50, "path": "baselines/s.json", "branch": "main"},
            {"kind": "version_skipped", "stored_in": commit, "summary": "baseline", "problem": "x"},
            {"kind": "shift_bisect_failed", "commit": commit, "problem": "x"},
            {"kind": "shift_not_placed", "id": "a/b", "commit": commit},
            {"kind": "written", "text": "x"},
        ]))
        .expect("every kind reads")
    }

    /// Which kind a note is, by an exhaustive match: a new kind of note
    /// does not compile here until `every_kind` has one, so every kind is
    /// shown to have words.
    fn kind_number(note: &Note) -> usize {
        match note {
            Note::FirstPullRequest { .. } => 0,
            Note::SuiteNamedAfterPackage { .. } => 1,
            Note::TargetBranchFallback { .. } => 2,
            Note::Deepened { .. } => 3,
            Note::NotDeepened { .. } => 4,
            Note::BaselineFromFile => 5,
            Note::HistoryCutByShallowClone => 6,
            Note::EarlierBaselineSkipped { .. } => 7,
            Note::BaselineCommitNotInClone { .. } => 8,
            Note::AcceptLineProblem { .. } => 9,
            Note::AcceptancesUnreadable { .. } => 10,
            Note::AcceptancePolicyOff { .. } => 11,
            Note::AcceptGlobInvalid { .. } => 12,
            Note::BuildSettingChanged { .. } => 13,
            Note::ShardsOnDifferentMachines => 14,
            Note::ShardsMissing { .. } => 15,
            Note::OtherMachine { .. } => 16,
            Note::FewSharedBenchmarks { .. } => 17,
            Note::NoHistoryYet => 18,
            Note::SameCodeAsRecorded { .. } => 19,
            Note::EveryBenchmarkTimed => 20,
            Note::IdenticalNotTimed { .. } => 21,
            Note::SameCodeOnBothSides { .. } => 22,
            Note::SameCodeUnchecked { .. } => 23,
            Note::NoProfiler => 24,
            Note::HeldBackByRounds { .. } => 25,
            Note::Insensitive { .. } => 26,
            Note::InputChanged { .. } => 27,
            Note::FasterWithMoreInstructions { .. } => 28,
            Note::SlowerWithFewerInstructions { .. } => 29,
            Note::CountedWithOtherTools { .. } => 30,
            Note::TimeChangesCounted { .. } => 31,
            Note::NotCounted { .. } => 32,
            Note::DisturbedRounds { .. } => 33,
            Note::SingleRound => 34,
            Note::LockChanged { .. } => 35,
            Note::BisectNotStarted { .. } => 36,
            Note::BisectFailed { .. } => 37,
            Note::Written { .. } => 38,
            Note::BisectedByTiming { .. } => 39,
            Note::ChangeSpread { .. } => 40,
            Note::OlderVersionsMissing => 41,
            Note::NewestVersionsOnly { .. } => 42,
            Note::VersionSkipped { .. } => 43,
            Note::ShiftBisectFailed { .. } => 44,
            Note::ShiftNotPlaced { .. } => 45,
        }
    }

    #[test]
    fn every_kind_is_in_the_examples() {
        let seen: std::collections::BTreeSet<usize> =
            every_kind().iter().map(kind_number).collect();
        assert_eq!(
            seen.len(),
            46,
            "a kind of note is missing from `every_kind`"
        );
    }

    #[test]
    fn every_kind_of_note_has_words_and_reads_back_from_its_json() {
        let notes = every_kind();
        for note in &notes {
            assert!(!note.to_string().is_empty(), "{note:?}");
        }
        #[derive(Serialize, Deserialize)]
        struct Listed {
            #[serde(with = "listed_with_text")]
            notes: Vec<Note>,
        }
        let json = serde_json::to_value(Listed {
            notes: notes.clone(),
        })
        .unwrap();
        for (note, shown) in notes.iter().zip(json["notes"].as_array().unwrap()) {
            assert_eq!(shown["text"], note.to_string(), "{shown}");
            assert!(shown["kind"].is_string(), "{shown}");
        }
        let back: Listed = serde_json::from_value(json).unwrap();
        assert_eq!(back.notes, notes);
    }

    #[test]
    fn a_sentence_or_an_unknown_kind_reads_as_its_words() {
        let json = serde_json::json!({ "notes": [
            "a note from a schema 5 report",
            { "kind": "from_a_later_flamegate", "text": "its words" },
            { "kind": "no_history_yet", "text": "ignored: the words are made here" },
        ]});
        #[derive(Deserialize)]
        struct Listed {
            #[serde(with = "listed_with_text")]
            notes: Vec<Note>,
        }
        let read: Listed = serde_json::from_value(json).unwrap();
        assert_eq!(
            read.notes,
            [
                Note::Written {
                    text: "a note from a schema 5 report".into()
                },
                Note::Written {
                    text: "its words".into()
                },
                Note::NoHistoryYet,
            ]
        );
    }

    #[test]
    fn numbers_lists_and_commits_are_worded_as_readers_expect() {
        let words = |kind: &str| {
            let note = every_kind()
                .into_iter()
                .find(|n| serde_json::to_value(n).unwrap()["kind"] == kind);
            note.expect(kind).to_string()
        };
        assert_eq!(
            words("input_changed"),
            "`bench/x`: its declared input grew 12.2% (14504 → 16274 bytes per iteration), so its change is \
             time per byte: -0.2% (the medians are as measured)"
        );
        assert!(words("faster_with_more_instructions").starts_with(
            "faster although more instructions run: `w/u` (time -37.0%, instructions +5.2%)."
        ));
        assert!(words("held_back_by_rounds").starts_with(
            "1 benchmark(s) read slower beyond the threshold, but from fewer than the 6 rounds"
        ));
        assert!(
            words("held_back_by_rounds").contains(": a/b (3 rounds); they read `likely slower`")
        );
        assert!(words("insensitive").contains(
            "a 5% slowdown with 80% probability in this run: a/b (≥ 5.9%); their rounds"
        ));
        assert!(words("disturbed_rounds").starts_with("3 disturbed round(s) set aside (a/b 3)"));
        assert!(words("first_pull_request").contains("at commit 0123456789, so"));
        assert_eq!(
            words("counted_with_other_tools"),
            "the baseline was counted with rustc 1.94.0 and no valgrind, this run with rustc 1.95.0 and \
             valgrind-3.19.0: counts can differ for that reason alone"
        );
        assert_eq!(
            words("lock_changed"),
            "Cargo.lock differs between the base and the head: `memchr` 2.7.4 → 2.7.5"
        );
    }
}
