//! `flamegate history`: the suite over the target branch's history.

use super::*;
use crate::baseline::BaseSpec;
use crate::cli::history::{HistoryArgs, HistoryFormat};
use crate::error::{Error, Result, exit_code};
use crate::history::{self, Request};
use crate::record::note::Note;
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
        bisect,
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
    let mut history = history::read(
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

    if bisect {
        bisect_shifts(&config, &mut history, output);
    }
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

/// `history --bisect`: each slowdown still in effect that lies in one of
/// several commits, bisected between the previous baseline's commit and
/// its own; the culprit named on the shift. A bisection that cannot finish
/// is a note: the history stands.
fn bisect_shifts(config: &Config, history: &mut crate::report::history::History, output: Output) {
    use std::collections::BTreeMap;
    // The shifts to bisect, by the commits that bound them.
    let mut ranges: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for (b, bench) in history.benches.iter().enumerate() {
        for (c, change) in bench.changes.iter().enumerate() {
            if change.unresolved && history.commits[change.index].commits_since_previous > 1 {
                ranges.entry(change.index).or_default().push((b, c));
            }
        }
    }
    for (index, shifts) in ranges {
        let ids: Vec<crate::record::BenchId> = shifts
            .iter()
            .map(|(b, _)| crate::record::BenchId(history.benches[*b].id.clone()))
            .collect();
        let counted = shifts
            .iter()
            .all(|(b, _)| history.benches[*b].unit == crate::record::SampleUnit::Instructions);
        let request = crate::bisect::Request {
            project: &config.project,
            suite: config.suite.clone(),
            good: history.commits[index - 1].sha.clone(),
            bad: history.commits[index].sha.clone(),
            selection: crate::collect::RunSelection {
                filter: crate::collect::exact_filter(&ids),
                ..Default::default()
            },
            settings: &config.settings,
            any_change: false,
            measure: counted.then_some(crate::collect::Measure::Instructions),
            profile_time: None,
        };
        let found = match crate::bisect::bisect(
            &request,
            &crate::collect::runner::Processes,
            &output.progress,
        ) {
            Ok(found) => found,
            Err(error) => {
                history.notes.push(Note::ShiftBisectFailed {
                    commit: history.commits[index].sha.clone(),
                    problem: error.to_string(),
                });
                continue;
            }
        };
        for (b, c) in shifts {
            let bench = &mut history.benches[b];
            let outcome = found.benchmarks.iter().find(|f| f.id == bench.id);
            match outcome.map(|f| &f.outcome) {
                Some(crate::report::bisect::BisectOutcome::Culprit(culprit)) => {
                    bench.changes[c].culprit = Some(culprit.commit.clone());
                }
                _ => history.notes.push(Note::ShiftNotPlaced {
                    id: bench.id.to_string(),
                    commit: history.commits[index].sha.clone(),
                }),
            }
        }
    }
}
