//! flamegate: a performance regression gate and profiler harness for Rust.
//!
//! ```text
//!   cargo bench ──► collect ──► RunRecord ──┐   (timing samples + folded profiles)
//!                                          ├─► compare ──► Report ──► render ──► publish
//!   git history ──► baseline ──► Baseline ──┘   (stats,               (terminal,  (report files,
//!                   (merge-base, earlier versions)  hotspots)          markdown,    flamegraphs,
//!                                                                      json, svg)   exit code)
//! ```
//!
//! Modules in flow order; `pipeline` is the one place that knows the order,
//! `commands` the one place that knows the command line (with `cli`).
//! The bench-side hooks are their own crates (crates/): `flamegate-hook`
//! (criterion 0.8), `flamegate-hook-criterion05`, and `flamegate-sampler`
//! which both share and which a command-line tool uses alone.

// Functions short enough to read at once: clippy refuses one over 100
// lines (`cargo clippy`, as .ci/run runs it).
#![deny(clippy::too_many_lines)]

pub mod cli;
pub mod config;
pub mod error;
pub mod profile;
pub mod progress;
pub mod record;
pub mod stats;

pub mod baseline;
pub mod collect;
pub mod compare;
pub mod publish;
pub mod render;
pub mod report;

pub mod bisect;
pub mod demo;
pub mod eval;
pub mod history;
pub mod hook;
pub mod pipeline;

pub mod commands;
