//! `flamegate compare`: two records compared, nothing run.

use super::*;
use crate::baseline::{self, BaseSpec};
use crate::cli::CompareArgs;
use crate::compare;
use crate::error::{Error, Result};
use crate::pipeline::{Gated, HeadSource, Output, gate};

pub(crate) fn compare_records(args: CompareArgs, output: Output) -> Result<u8> {
    let CompareArgs {
        project: project_args,
        base,
        stats,
        output: output_args,
        head_file,
        head,
    } = args;
    let loaded = load_project(&project_args)?;
    let suite = loaded.suite.clone();
    let settings = loaded.settings(&stats_overrides(&stats))?;
    let (spec, history) = base_spec(&base, &loaded.file);
    let gated = match (head_file, head) {
        (Some(path), _) => gate(
            &loaded.project,
            &suite,
            &spec,
            history,
            &settings,
            HeadSource::File(&path),
            output.progress,
        )?,
        (None, Some(rev)) => {
            let baseline = baseline::load(&loaded.project.dir, &suite, &spec, history)?;
            let at_rev = baseline::load(
                &loaded.project.dir,
                &suite,
                &BaseSpec::Revision(rev.clone()),
                0,
            )?;
            let report = compare::against_stored(
                &suite,
                &at_rev.record,
                &format!("revision {rev}"),
                &baseline,
                &settings,
            );
            Gated {
                report,
                head: at_rev.record,
                base: baseline.record,
            }
        }
        (None, None) => return Err(Error::Usage("pass --head-file PATH or --head REV".into())),
    };
    Ok(emit(gated, &output_args, &loaded.project.target_dir, output)?.0)
}
