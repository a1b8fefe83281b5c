//! `flamegate baseline update`: record the committed baseline.

use super::*;
use crate::baseline;
use crate::cli::run::UpdateArgs;
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
            let head = baseline::git::head_state(&config.project.dir);
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
    level_shifts(&config, &suite, &record, output);
    Ok(exit_code::PASS)
}

/// The level shifts of the suite along HEAD's history with this record as
/// its newest version: where creep on main becomes visible. Best effort: a
/// history that cannot be read is a note, not a failure of the update.
fn level_shifts(config: &Config, suite: &str, record: &RunRecord, output: Output) {
    let history = crate::history::read(
        &crate::history::Request {
            project_dir: &config.project.dir,
            suite,
            branch: Some("HEAD"),
            limit: 200,
            filter: None,
            min_change: config.settings.min_change,
            head: None,
            pending: Some(record),
        },
        crate::progress::Progress::Silent,
    );
    match history {
        Ok(history) if history.commits.len() >= 2 => {
            output.progress.note(&format!(
                "level shifts in this baseline's history (flamegate history writes the plots):\n{}",
                crate::render::history::changes_text(&history).trim_end()
            ));
        }
        Ok(_) => {}
        Err(e) => output
            .progress
            .note(&format!("the baseline's history was not read: {e}")),
    }
}
