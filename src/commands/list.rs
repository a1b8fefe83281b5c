//! `flamegate list`: the benchmark ids a run would measure.

use std::io::Write;

use super::*;
use crate::cli::run::ListArgs;
use crate::error::{Error, Result, exit_code};
use crate::pipeline::Output;

pub(crate) fn list(args: ListArgs, output: Output) -> Result<u8> {
    let mut config = Config::resolve(&args.project, Flags::default())?;
    if !args.select.benches.is_empty() {
        config.selection.benches = args.select.benches;
    }
    if !args.select.packages.is_empty() {
        config.selection.packages = args.select.packages;
    }
    if args.select.filter.is_some() {
        config.selection.filter = args.select.filter;
    }
    let listed = crate::collect::list(
        &config.project,
        &config.selection,
        &crate::collect::runner::Processes,
        &output.progress,
    )?;
    let mut stdout = std::io::stdout().lock();
    for (target, ids) in &listed {
        output.progress.note(&format!(
            "bench target {target}: {} benchmark(s)",
            ids.len()
        ));
        for id in ids {
            writeln!(stdout, "{}", render::escape::terminal_text(id))
                .map_err(|e| Error::io("standard output", e))?;
        }
    }
    Ok(exit_code::PASS)
}
