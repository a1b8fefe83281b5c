//! Report files: `report.md` (the PR comment) and `report.json` (the `Report`).

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::record::write_atomic;
use crate::render::{Json, Markdown, Renderer};
use crate::report::Report;

/// Write `report.md` and `report.json` into `out_dir`; returns their paths.
/// These are build artefacts of the latest check and are replaced each run.
pub fn write_reports(report: &Report, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let markdown = out_dir.join("report.md");
    let json = out_dir.join("report.json");
    write_atomic(&markdown, &Markdown.render(report))?;
    write_atomic(&json, &Json.render(report))?;
    Ok(vec![markdown, json])
}
