//! flamegate's own verification: how often the gate fails a pull request
//! that changed nothing, and how often it catches one that made code slower
//! (docs/statistics.md, "How the rules are judged"; docs/verdict-quality.md).
//!
//! `collect` runs the synthetic suite in `eval/suite` in paired trials —
//! base and head in alternating rounds, a known slowdown injected into one
//! benchmark of the head (or none: A/A) — and appends the raw samples to a
//! corpus. `score` replays every rule on that corpus offline: flamegate's
//! paired rule, its stored-baseline rule and criterion's own rule see the
//! same samples.

pub mod collect;
pub mod corpus;
pub mod criterion_rule;
pub mod outcome;
pub mod replay;
pub mod score;
pub mod synthetic;
pub mod table;
