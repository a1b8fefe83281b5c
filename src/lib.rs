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
//! With default features off, only the bench-side hook is built:
//! [`criterion()`] gives a `Criterion` that profiles with pprof in
//! criterion's `--profile-time` mode and is inert while timing, and
//! [`count_allocations!`] installs a global allocator that counts heap
//! operations per iteration in flamegate's allocation pass.

pub mod profile;

pub use profile::allocations::CountingAllocator;
pub use profile::command::{CommandProfile, profile_command};
pub use profile::hook::criterion;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod config;
#[cfg(feature = "cli")]
pub mod error;
#[cfg(feature = "cli")]
pub mod progress;
#[cfg(feature = "cli")]
pub mod record;
#[cfg(feature = "cli")]
pub mod stats;

#[cfg(feature = "cli")]
pub mod baseline;
#[cfg(feature = "cli")]
pub mod collect;
#[cfg(feature = "cli")]
pub mod compare;
#[cfg(feature = "cli")]
pub mod publish;
#[cfg(feature = "cli")]
pub mod render;
#[cfg(feature = "cli")]
pub mod report;

#[cfg(feature = "cli")]
pub mod bisect;
#[cfg(feature = "cli")]
pub mod demo;
#[cfg(feature = "cli")]
pub mod eval;
#[cfg(feature = "cli")]
pub mod history;
#[cfg(feature = "cli")]
pub mod hook;
#[cfg(feature = "cli")]
pub mod pipeline;

#[cfg(feature = "cli")]
pub mod commands;
