//! Publish: where a rendered report goes: report files in the output
//! directory, and GitHub (sticky comment, check run, job summary, annotations).

pub mod files;
pub mod github;
