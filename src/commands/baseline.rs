//! `flamegate baseline update`: record the committed baseline.

use super::*;
use crate::baseline;
use crate::cli::UpdateArgs;
use crate::collect;
use crate::error::{Error, Result, exit_code, short_sha};
use crate::pipeline::Output;
use crate::record::RunRecord;

pub(crate) fn baseline_update(args: UpdateArgs, output: Output) -> Result<u8> {
    let UpdateArgs {
        project,
        bench,
        record,
        force,
    } = args;
    let config = Config::resolve(
        &project,
        Flags {
            bench: Some(&bench),
            ..Flags::default()
        },
    )?;
    let suite = match &record {
        Some(_) => config.suite.clone(),
        None => config.measured_suite(),
    };
    let record = match record {
        Some(path) => RunRecord::load(&path)?,
        None => {
            // Refuse before spending minutes on a run that could not be stored.
            let head = baseline::head_state(&config.project.dir);
            if head.dirty && !force {
                return Err(Error::WouldOverwrite {
                    path: config.project.dir.join(baseline::suite_file(&suite)),
                    why: "the work tree has uncommitted changes, so the baseline would not describe any commit; commit first".into(),
                });
            }
            config.measure(output.progress)?
        }
    };
    // A record of instruction counts is the instruction suite's baseline.
    let suite = if record.is_instructions() && !suite.ends_with(".instructions") {
        collect::Measure::Instructions.suite(&suite)
    } else {
        suite
    };
    let path = baseline::update(&config.project.dir, &suite, &record, force)?;
    let commit = record
        .commit
        .as_deref()
        .map(short_sha)
        .unwrap_or("no commit");
    output.progress.note(&format!(
        "wrote {} ({} benchmarks, measured at {commit}). Commit it so pull requests compare against it:\n  git add {} && git commit -m \"flamegate: update {suite} baseline\"",
        path.display(),
        record.benches.len(),
        baseline::suite_file(&suite),
    ));
    Ok(exit_code::PASS)
}
