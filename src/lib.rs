//! flamegate: a performance regression gate and profiler harness for Rust.
//!
//! ```text
//!   cargo bench ──► collect ──► RunRecord ──┐
//!                                          ├─► compare ──► Report ──► render ──► publish
//!   git history ──► baseline ──► Baseline ──┘    (stats)               (terminal,  (report files,
//!                   (merge-base, earlier versions)                      markdown,    exit code)
//!                                                                       json)
//! ```
//!
//! Modules in flow order; `pipeline` is the one place that knows the order.

pub mod cli;
pub mod config;
pub mod error;
pub mod record;

pub mod baseline;
pub mod collect;
pub mod compare;
pub mod publish;
pub mod render;
pub mod report;

pub mod demo;
pub mod pipeline;
