//! `flamegate run`: benchmarks into a `RunRecord`, no verdict.

use super::*;
use crate::cli::run::RunArgs;
use crate::error::{Error, Result, exit_code};
use crate::pipeline::Output;
use crate::record::write_atomic;

pub(crate) fn run(args: RunArgs, output: Output) -> Result<u8> {
    let RunArgs {
        project,
        bench,
        out,
        force,
        shard,
        base,
    } = args;
    let mut config = Config::resolve(
        &project,
        Flags {
            bench: Some(&bench),
            base: Some(&base),
            stats: None,
        },
    )?;
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
        None => config.project.target_dir.join("flamegate").join("run.json"),
    };
    if let Some(spec) = shard {
        config.selection.shard = Some(shard_plan(spec, &config, output.progress));
    }
    let record = config.measure(output.progress)?;
    write_atomic(&path, record.to_json().as_bytes())?;
    let samples: usize = record.benches.iter().map(|b| b.samples.len()).sum();
    output.progress.note(&format!(
        "wrote {} ({} benchmarks, {samples} samples)",
        path.display(),
        record.benches.len()
    ));
    Ok(exit_code::PASS)
}
