//! `flamegate history`: the suite over the target branch's history.

use std::io::Write;

use super::*;
use crate::baseline::BaseSpec;
use crate::cli::{HistoryArgs, HistoryFormat};
use crate::error::{Error, Result, exit_code};
use crate::history::{self, Request};
use crate::record::write_atomic;
use crate::render::history as render;
use crate::report::Report;

pub(crate) fn history(args: HistoryArgs, output: Output) -> Result<u8> {
    let HistoryArgs {
        project,
        branch,
        limit,
        filter,
        format,
        out,
        force,
        changes,
        fail_on_regression,
        report,
        min_change,
    } = args;
    if limit == 0 {
        return Err(Error::Usage("--limit must be at least 1".into()));
    }
    let config = Config::resolve(&project, Flags::default())?;
    let filter = filter
        .map(|f| {
            regex::Regex::new(&f).map_err(|e| {
                Error::Usage(format!("--filter `{f}` is not a regular expression: {e}"))
            })
        })
        .transpose()?;
    let head: Option<Report> = report.as_deref().map(Report::load).transpose()?;
    // The branch pull requests merge into, as `check` finds it.
    let configured = match &config.base {
        BaseSpec::MergeBase { target_branch } => target_branch.clone(),
        _ => None,
    };
    let branch = branch.or(configured);
    let history = history::read(
        &Request {
            project_dir: &config.project.dir,
            suite: &config.suite,
            branch: branch.as_deref(),
            limit,
            filter: filter.as_ref(),
            min_change: min_change.map_or(config.settings.min_change, |p| p.0),
            head: head.as_ref(),
            pending: None,
        },
        output.progress,
    )?;

    let summary = render::changes_text(&history);
    if changes {
        print_stdout(summary.as_bytes())?;
    } else {
        let (bytes, extension) = match format {
            HistoryFormat::Html => (render::html(&history), "html"),
            HistoryFormat::Json => (render::json(&history), "json"),
            HistoryFormat::Csv => (render::csv(&history), "csv"),
        };
        match out {
            Some(path) if path.as_os_str() == "-" => print_stdout(&bytes)?,
            explicit => {
                let path = match explicit {
                    Some(path) if path.exists() && !force => {
                        return Err(Error::WouldOverwrite {
                            path,
                            why: "the file exists".into(),
                        });
                    }
                    Some(path) => path,
                    None => config
                        .project
                        .target_dir
                        .join("flamegate")
                        .join(format!("history.{extension}")),
                };
                write_atomic(&path, &bytes)?;
                print_stdout(summary.as_bytes())?;
                output.progress.note(&format!(
                    "wrote {} ({} benchmarks over {} commits, {} KB)",
                    path.display(),
                    history.benches.len(),
                    history.commits.len(),
                    bytes.len().div_ceil(1024)
                ));
            }
        }
    }
    let unresolved = history.unresolved_regressions().count();
    if fail_on_regression && unresolved > 0 {
        output.progress.note(&format!(
            "{unresolved} slowdown{} from the code still in effect on {}: failing (--fail-on-regression)",
            if unresolved == 1 { "" } else { "s" },
            history.branch
        ));
        return Ok(exit_code::REGRESSION);
    }
    Ok(exit_code::PASS)
}

fn print_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::io("stdout", e))
}
