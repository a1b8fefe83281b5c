//! `flamegate publish`: a report to GitHub.

use super::*;
use crate::cli::gate::PublishArgs;
use crate::error::{Result, exit_code};
use crate::pipeline::Output;
use crate::publish;
use crate::publish::github::env::ActionsEnv;
use crate::report::{Outcome, Report};

/// `flamegate publish`: exit 0 when everything asked was published.
pub(crate) fn publish_report(args: PublishArgs, output: Output) -> Result<u8> {
    let mut report = Report::load(&args.report)?;
    let actions = ActionsEnv::from_process();
    let mut options = publish_options(&args.github, args.from_workflow_run);
    options.accept_policy = args.accept_policy.map(Into::into);
    if let Some(line) =
        publish::github::accept::settle(&mut report, &options, &actions, output.progress)
    {
        output.progress.note(&line);
    }
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
    if args.gate && report.outcome == Outcome::Fail {
        output.progress.note(&crate::render::headline(&report));
        return Ok(exit_code::REGRESSION);
    }
    Ok(if published.problems.is_empty() {
        exit_code::PASS
    } else {
        exit_code::USAGE_OR_ENVIRONMENT
    })
}
