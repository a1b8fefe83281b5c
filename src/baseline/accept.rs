//! Accepted slowdowns: a reviewed way through for a regression a pull
//! request makes on purpose (a correctness fix that costs 10%).
//!
//! A commit of the pull request says so in its message, one line per
//! benchmark glob:
//!
//! ```text
//! Flamegate-Accept: orders/for_customer: the index returned stale rows
//! Flamegate-Accept-Allocations: orders/*: one more Vec per order
//! Flamegate-Accept-Scaling: skus/lookup: a linear scan, n < 50
//! ```
//!
//! The author name in a commit is whatever its author typed, so it is
//! never shown as who accepted: where the report is published the
//! publisher checks the acceptance on GitHub (`record::acceptance::Standing`).
//!
//! The commits being checked count: reachable from HEAD and not from the
//! merge-base. Once merged, an acceptance also counts for later pull
//! requests compared with a stored record measured before it (the next
//! baseline on main records the new level, and later pull requests start
//! past it). It is never silent: the report names
//! the benchmark, the reason, the commit and its author, and a reviewer sees
//! the line in the pull request's commits.

use std::path::Path;

use crate::error::{Error, Result};
use crate::record::acceptance::{AcceptKind, Accepted, Standing};
use crate::record::note::Note;

/// The acceptances in one commit message: `(kind, glob, reason)`, and a
/// problem for each acceptance line that accepts nothing (not
/// `glob: reason`, or a glob that names every benchmark).
pub fn parse_message(message: &str) -> (Vec<(AcceptKind, String, String)>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for line in message.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let Some(kind) = AcceptKind::ALL
            .into_iter()
            .find(|kind| key.trim().eq_ignore_ascii_case(kind.trailer()))
        else {
            continue;
        };
        match value.trim().split_once(": ") {
            Some((glob, _)) if names_everything(glob) => problems.push(format!(
                "`{}` would accept every benchmark; name the benchmarks or their group \
                 (`{}: orders/*: <reason>`); it accepts nothing",
                line.trim(),
                kind.trailer()
            )),
            Some((glob, reason)) if !glob.trim().is_empty() && !reason.trim().is_empty() => {
                found.push((kind, glob.trim().to_string(), reason.trim().to_string()));
            }
            _ => problems.push(format!(
                "`{}` is not `{}: <benchmark or glob>: <reason>`; it accepts nothing",
                line.trim(),
                kind.trailer()
            )),
        }
    }
    (found, problems)
}

/// `*`, `**`, `*/*`, `**/*`: a glob of wildcards alone matches every
/// benchmark, and an acceptance must say which ones it means.
fn names_everything(glob: &str) -> bool {
    glob.trim().chars().all(|c| matches!(c, '*' | '/' | '?'))
}

/// Every acceptance that applies to a comparison of HEAD with a base,
/// newest first, with notes on malformed lines:
///
/// - the pull request's: commits reachable from HEAD but not from the
///   merge-base of HEAD and `base_commit`;
/// - in stored mode, where the base record was measured at an older commit
///   of the target branch (`measured_at`), the target branch's commits
///   between that and the merge-base: slowdowns accepted and merged since
///   the record was made, which the record does not hold
///   (`Standing::Merged`).
pub fn acceptances(
    project_dir: &Path,
    base_commit: &str,
    measured_at: Option<&str>,
) -> Result<(Vec<Accepted>, Vec<Note>)> {
    let repo = git2::Repository::discover(project_dir).map_err(|_| Error::NotARepository {
        path: project_dir.to_path_buf(),
    })?;
    let git = |e: git2::Error| Error::Usage(format!("reading the pull request's commits: {e}"));
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(git)?
        .id();
    let base = git2::Oid::from_str(base_commit).map_err(git)?;
    let merge_base = repo.merge_base(head, base).map_err(git)?;
    let mut found = Vec::new();
    let mut notes = Vec::new();
    read_range(&repo, head, merge_base, false, &mut found, &mut notes).map_err(git)?;
    let measured = measured_at
        .and_then(|c| git2::Oid::from_str(c).ok())
        .filter(|&c| c != merge_base);
    if let Some(measured) = measured {
        let older = repo
            .graph_descendant_of(merge_base, measured)
            .unwrap_or(false);
        if older {
            read_range(&repo, merge_base, measured, true, &mut found, &mut notes).map_err(git)?;
        } else if repo.find_commit(measured).is_err() {
            notes.push(Note::BaselineCommitNotInClone {
                commit: measured.to_string(),
            });
        }
    }
    Ok((found, notes))
}

/// The acceptances of the commits reachable from `from` but not from
/// `hide`; `merged` marks them as the target branch's.
fn read_range(
    repo: &git2::Repository,
    from: git2::Oid,
    hide: git2::Oid,
    merged: bool,
    accepted: &mut Vec<Accepted>,
    notes: &mut Vec<Note>,
) -> std::result::Result<(), git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.push(from)?;
    walk.hide(hide)?;
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
        let (found, problems) = parse_message(&message);
        let id = commit.id().to_string();
        if !merged {
            for problem in problems {
                notes.push(Note::AcceptLineProblem {
                    commit: id.clone(),
                    problem,
                });
            }
        }
        let author = commit.author();
        let by = String::from_utf8_lossy(author.name_bytes()).into_owned();
        accepted.extend(found.into_iter().map(|(kind, glob, reason)| Accepted {
            glob,
            reason,
            by: by.clone(),
            commit: id.clone(),
            kind,
            standing: if merged {
                Standing::Merged
            } else {
                Standing::Unverified
            },
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_name_a_kind_a_glob_and_a_reason() {
        let (found, problems) = parse_message(
            "orders: drop the index\n\nIt returned stale rows.\n\n\
             Flamegate-Accept: orders/for_customer: stale rows are worse than slow ones\n\
             flamegate-accept:  skus/*: quadratic, but n < 50: fine\n\
             Flamegate-Accept-Allocations: orders/*: one more Vec per order\n\
             Flamegate-Accept-Scaling: skus/lookup: a linear scan on purpose\n\
             Flamegate-Accept: no reason given\n\
             Signed-off-by: A <a@b>\n",
        );
        let text = |kind, glob: &str, reason: &str| (kind, glob.to_string(), reason.to_string());
        assert_eq!(
            found,
            vec![
                text(
                    AcceptKind::Time,
                    "orders/for_customer",
                    "stale rows are worse than slow ones"
                ),
                text(AcceptKind::Time, "skus/*", "quadratic, but n < 50: fine"),
                text(
                    AcceptKind::Allocations,
                    "orders/*",
                    "one more Vec per order"
                ),
                text(
                    AcceptKind::Scaling,
                    "skus/lookup",
                    "a linear scan on purpose"
                ),
            ]
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("no reason given"));
    }

    #[test]
    fn a_glob_of_wildcards_alone_accepts_nothing() {
        for glob in ["*", "**", "*/*", "**/*", " * "] {
            let (found, problems) = parse_message(&format!(
                "x\n\nFlamegate-Accept: {glob}: approved in review\n"
            ));
            assert!(found.is_empty(), "{glob}: {found:?}");
            assert!(
                problems[0].contains("would accept every benchmark"),
                "{problems:?}"
            );
        }
        let (found, _) = parse_message("x\n\nFlamegate-Accept: orders/*: fine\n");
        assert_eq!(found.len(), 1);
    }
}
