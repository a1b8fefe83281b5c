//! `flamegate compare`: two records compared, nothing run.

use super::*;
use crate::baseline::{self, BaseSpec};
use crate::cli::run::CompareArgs;
use crate::compare;
use crate::error::{Error, Result};
use crate::pipeline::{Gated, HeadSource, Output};

pub(crate) fn compare_records(args: CompareArgs, output: Output) -> Result<u8> {
    let CompareArgs {
        project,
        base,
        stats,
        output: output_args,
        head_file,
        head,
    } = args;
    let config = Config::resolve(&project, Flags::comparing(&base, &stats))?;
    let (suite, spec, settings) = (&config.suite, &config.base, &config.settings);
    let gated = match (head_file, head) {
        (Some(path), _) => config.gate(suite, Default::default()).stored(
            config.history,
            HeadSource::File(&path),
            output.progress,
        )?,
        (None, Some(rev)) => {
            let baseline = baseline::load(&config.project.dir, suite, spec, config.history)?;
            let at_rev = baseline::load(
                &config.project.dir,
                suite,
                &BaseSpec::Revision(rev.clone()),
                0,
            )?;
            let report = compare::stored::against_stored(
                suite,
                &at_rev.record,
                &format!("revision {rev}"),
                &baseline,
                settings,
            );
            Gated {
                report,
                head: at_rev.record,
                base: baseline.record,
            }
        }
        (None, None) => return Err(Error::Usage("pass --head-file PATH or --head REV".into())),
    };
    Ok(emit(gated, &output_args, &config.project.target_dir, output)?.0)
}
