//! `flamegate publish`: a report to GitHub.

use super::*;
use crate::cli::PublishArgs;
use crate::error::{Result, exit_code};
use crate::pipeline::Output;
use crate::publish;
use crate::publish::github::env::ActionsEnv;
use crate::report::Report;

/// `flamegate publish`: exit 0 when everything asked was published.
pub(crate) fn publish_report(args: PublishArgs, output: Output) -> Result<u8> {
    let report = Report::load(&args.report)?;
    let actions = ActionsEnv::from_process();
    let options = publish_options(&args.github, args.from_workflow_run);
    let published = publish::github::publish(&report, &options, &actions, output.progress)?;
    for line in &published.done {
        output.progress.note(line);
    }
    for problem in &published.problems {
        publish::github::workflow::eprint_inert(
            actions.in_actions,
            &format!("flamegate: error: {problem}"),
        );
    }
    Ok(if published.problems.is_empty() {
        exit_code::PASS
    } else {
        exit_code::USAGE_OR_ENVIRONMENT
    })
}
