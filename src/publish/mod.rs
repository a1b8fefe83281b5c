//! Publish: where a rendered report goes. Today, report files in the output
//! directory; GitHub (sticky comment, check run, summary) builds on this.

pub mod files;
