//! `flamegate run`: benchmarks into a `RunRecord`, no verdict.

use super::*;
use crate::cli::RunArgs;
use crate::error::{Error, Result, exit_code};
use crate::pipeline::{Output, measure};
use crate::record::write_atomic;

pub(crate) fn run(args: RunArgs, output: Output) -> Result<u8> {
    let RunArgs {
        project: project_args,
        bench,
        out,
        force,
        shard,
        base,
    } = args;
    let loaded = load_project(&project_args)?;
    let path = match out {
        Some(path) => {
            if path.exists() && !force {
                return Err(Error::WouldOverwrite {
                    path,
                    why: "the file exists".into(),
                });
            }
            path
        }
        None => loaded.project.target_dir.join("flamegate").join("run.json"),
    };
    let mut selection = selection(&bench, &loaded.file)?;
    if let Some(spec) = shard {
        let suite = loaded.suite.clone();
        let suite = selection.measure.suite(&suite);
        selection.shard = Some(shard_plan(spec, &loaded, &suite, &base, output.progress));
    }
    let record = measure(
        &loaded.project,
        &selection,
        &crate::collect::Processes,
        output.progress,
    )?;
    write_atomic(&path, record.to_json().as_bytes())?;
    let samples: usize = record.benches.iter().map(|b| b.samples.len()).sum();
    output.progress.note(&format!(
        "wrote {} ({} benchmarks, {samples} samples)",
        path.display(),
        record.benches.len()
    ));
    Ok(exit_code::PASS)
}
