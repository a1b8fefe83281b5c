//! Accepted slowdowns: a reviewed way through for a regression a pull
//! request makes on purpose (a correctness fix that costs 10%).
//!
//! A commit of the pull request says so in its message, one line per
//! benchmark glob:
//!
//! ```text
//! Flamegate-Accept: orders/for_customer: the index returned stale rows
//! ```
//!
//! Only the commits being checked count: reachable from HEAD and not from
//! the base commit. So an acceptance lives exactly as long as its pull
//! request: once merged, the next baseline on main records the new level and
//! later pull requests start past it. It is never silent: the report names
//! the benchmark, the reason, the commit and its author, and a reviewer sees
//! the line in the pull request's commits.

use std::path::Path;

use crate::error::{Error, Result};
pub use crate::record::ACCEPT_TRAILER as TRAILER;
use crate::record::Accepted;

/// The acceptances in one commit message: `(glob, reason)` pairs, and a
/// problem for each `Flamegate-Accept` line that is not `glob: reason`.
pub fn parse_message(message: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for line in message.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case(TRAILER) {
            continue;
        }
        match value.trim().split_once(": ") {
            Some((glob, reason)) if !glob.trim().is_empty() && !reason.trim().is_empty() => {
                found.push((glob.trim().to_string(), reason.trim().to_string()));
            }
            _ => problems.push(format!(
                "`{}` is not `{TRAILER}: <benchmark or glob>: <reason>`; it accepts nothing",
                line.trim()
            )),
        }
    }
    (found, problems)
}

/// Every acceptance in the commits reachable from HEAD but not from
/// `base_commit`, newest first, with notes on malformed lines.
pub fn acceptances(project_dir: &Path, base_commit: &str) -> Result<(Vec<Accepted>, Vec<String>)> {
    let repo = git2::Repository::discover(project_dir).map_err(|_| Error::NotARepository {
        path: project_dir.to_path_buf(),
    })?;
    let git = |e: git2::Error| Error::Usage(format!("reading the pull request's commits: {e}"));
    let base = git2::Oid::from_str(base_commit).map_err(git)?;
    let mut walk = repo.revwalk().map_err(git)?;
    walk.push_head().map_err(git)?;
    walk.hide(base).map_err(git)?;
    let mut accepted = Vec::new();
    let mut notes = Vec::new();
    for oid in walk {
        let commit = repo.find_commit(oid.map_err(git)?).map_err(git)?;
        let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
        let (found, problems) = parse_message(&message);
        let id = commit.id().to_string();
        for problem in problems {
            notes.push(format!(
                "commit {}: {problem}",
                crate::error::short_sha(&id)
            ));
        }
        let author = commit.author();
        let by = String::from_utf8_lossy(author.name_bytes()).into_owned();
        accepted.extend(found.into_iter().map(|(glob, reason)| Accepted {
            glob,
            reason,
            by: by.clone(),
            commit: id.clone(),
        }));
    }
    Ok((accepted, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_name_a_glob_and_a_reason() {
        let (found, problems) = parse_message(
            "orders: drop the index\n\nIt returned stale rows.\n\n\
             Flamegate-Accept: orders/for_customer: stale rows are worse than slow ones\n\
             flamegate-accept:  skus/*: quadratic, but n < 50: fine\n\
             Flamegate-Accept: no reason given\n\
             Signed-off-by: A <a@b>\n",
        );
        assert_eq!(
            found,
            vec![
                (
                    "orders/for_customer".to_string(),
                    "stale rows are worse than slow ones".to_string()
                ),
                (
                    "skus/*".to_string(),
                    "quadratic, but n < 50: fine".to_string()
                ),
            ]
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("no reason given"));
    }
}
