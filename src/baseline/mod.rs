//! Baseline: the stored `RunRecord`s a run is compared with, read from git.
//!
//! Takes the project directory, the suite name and where the baseline should
//! come from; hands on a `Baseline`: the record at the base commit (by default
//! the merge-base of HEAD and the target branch, never the work tree), plus
//! earlier versions of the same file along first-parent history for the noise
//! model. Writing a baseline (`baseline update`) is the one write here.

pub mod accept;
pub mod git;

use std::path::{Path, PathBuf};

use crate::error::{Error, RecordSource, Result, short_sha};
use crate::record::note::Note;
use crate::record::{RunRecord, write_atomic};

/// Where the baseline comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSpec {
    /// The merge-base of HEAD and the target branch (`None`: origin/main, main, …).
    MergeBase { target_branch: Option<String> },
    /// The suite's baseline file at a given revision.
    Revision(String),
    /// A plain record file; no history.
    File(PathBuf),
}

/// The record a run is compared with, and its history.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub record: RunRecord,
    /// Where it was read from (file, or path at commit).
    pub source: RecordSource,
    /// The commit whose baseline this is, when read from git.
    pub commit: Option<String>,
    /// How the base was chosen, for the report ("merge-base of HEAD and main").
    pub chosen_as: String,
    /// Earlier versions of the baseline file, newest first.
    pub history: Vec<RunRecord>,
    /// Things the user should know (skipped versions, shallow history, fallbacks).
    pub notes: Vec<Note>,
}

/// `baselines/` relative to the project directory.
pub const BASELINE_DIR: &str = "baselines";

use crate::record::check_suite_name;

/// The project-relative path of a suite's baseline file.
pub fn suite_file(suite: &str) -> String {
    format!("{BASELINE_DIR}/{suite}.json")
}

/// Load the baseline for `suite` of the project in `project_dir`.
pub fn load(
    project_dir: &Path,
    suite: &str,
    spec: &BaseSpec,
    history_limit: usize,
) -> Result<Baseline> {
    check_suite_name(suite)?;
    if let BaseSpec::File(path) = spec {
        return Ok(Baseline {
            record: RunRecord::load(path)?,
            source: RecordSource::File(path.clone()),
            commit: None,
            chosen_as: format!("file {}", path.display()),
            history: Vec::new(),
            notes: vec![Note::BaselineFromFile],
        });
    }
    let mut notes = Vec::new();
    let repo = open_complete(project_dir, spec, &mut notes)?;
    let path = repo.repo_path(&suite_file(suite));
    let (commit, chosen_as) =
        base_commit(&repo, spec, &mut notes).map_err(|e| with_fetch_problem(e, &notes))?;
    let sha = commit.id().to_string();
    let Some((_, content)) = repo.blob_at(&commit, &path)? else {
        return Err(Error::NoBaseline {
            path,
            commit: short_sha(&sha).to_string(),
            how: chosen_as,
        });
    };
    let source = RecordSource::Git {
        commit: sha.clone(),
        path: path.clone(),
    };
    let record = RunRecord::from_json(&content, &source)?;

    let (versions, cut_by_shallow) = repo.earlier_versions(&commit, &path, history_limit)?;
    if cut_by_shallow {
        notes.push(Note::HistoryCutByShallowClone);
    }
    let mut history = Vec::new();
    for version in versions {
        let version_source = RecordSource::Git {
            commit: version.commit.clone(),
            path: path.clone(),
        };
        match RunRecord::from_json(&version.content, &version_source) {
            Ok(r) => history.push(r),
            Err(e) => notes.push(Note::EarlierBaselineSkipped {
                problem: e.to_string(),
            }),
        }
    }
    Ok(Baseline {
        record,
        source,
        commit: Some(sha),
        chosen_as,
        history,
        notes,
    })
}

/// Open the repository; if it is a shallow clone, fetch the history the
/// baseline needs first (see `git::unshallow`). When that fails, the
/// shallow-clone errors further on name the fix, and a note says why.
fn open_complete(
    project_dir: &Path,
    spec: &BaseSpec,
    notes: &mut Vec<Note>,
) -> Result<git::ProjectRepo> {
    let repo = git::ProjectRepo::open(project_dir)?;
    if !repo.repo.is_shallow() {
        return Ok(repo);
    }
    let target = match spec {
        BaseSpec::MergeBase { target_branch } => target_branch.as_deref(),
        _ => None,
    };
    let workdir = repo
        .repo
        .workdir()
        .map_or_else(|| project_dir.to_path_buf(), Path::to_path_buf);
    match git::unshallow(&workdir, target) {
        Ok(deepened) => {
            notes.push(deepened);
            // Reopen: the object database and refs changed under libgit2.
            git::ProjectRepo::open(project_dir)
        }
        Err(problem) => {
            notes.push(Note::NotDeepened { problem });
            Ok(repo)
        }
    }
}

/// A shallow-clone error that also says why flamegate's fetch did not help.
fn with_fetch_problem(error: Error, notes: &[Note]) -> Error {
    let tried = notes
        .iter()
        .find_map(|n| match n {
            Note::NotDeepened { problem } => Some(problem),
            _ => None,
        })
        .map(|problem| format!("; flamegate tried to fetch it: {problem}"))
        .unwrap_or_default();
    match error {
        Error::ShallowClone { base_ref, .. } => Error::ShallowClone { base_ref, tried },
        Error::BaseRefNotFound(message) => Error::BaseRefNotFound(message + &tried),
        other => other,
    }
}

/// The base commit a spec names: a revision, or the merge-base of HEAD and
/// the target branch. A file names no commit: a usage error here.
fn base_commit<'r>(
    repo: &'r git::ProjectRepo,
    spec: &BaseSpec,
    notes: &mut Vec<Note>,
) -> Result<(git2::Commit<'r>, String)> {
    match spec {
        BaseSpec::Revision(rev) => Ok((repo.commit_at(rev)?, format!("revision {rev}"))),
        BaseSpec::MergeBase { target_branch } => {
            let (target, name) = repo.target_branch(target_branch.as_deref())?;
            if target_branch.is_none() && name != "origin/main" {
                notes.push(Note::TargetBranchFallback {
                    branch: name.clone(),
                });
            }
            let base = repo.merge_base(&target, &name)?;
            Ok((base, format!("merge-base of HEAD and {name}")))
        }
        BaseSpec::File(path) => Err(Error::Usage(format!(
            "a base record file ({}) holds no source to build; paired runs need a revision (--base REV) or the merge-base",
            path.display()
        ))),
    }
}

/// The base commit's source, checked out into a temporary directory for a
/// paired run; removed when dropped, also on error. The user's work tree,
/// index and HEAD are not touched.
pub struct BaseCheckout {
    root: PathBuf,
    /// The project directory inside the checkout.
    pub project_dir: PathBuf,
    pub commit: String,
    pub chosen_as: String,
    pub notes: Vec<Note>,
}

impl BaseCheckout {
    /// The checkout's top directory: all of the base's sources are below it.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for BaseCheckout {
    fn drop(&mut self) {
        // Best effort: a leftover is removed by the next paired run anyway.
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The checkout's directory name under `under`. It is always the same, so
/// the base's build (whose flags name this path) stays cached between runs.
pub const CHECKOUT_DIR: &str = "checkout";

/// Check out the base commit of `spec` into `under/checkout`, replacing
/// what an earlier run left there.
pub fn checkout_base(project_dir: &Path, spec: &BaseSpec, under: &Path) -> Result<BaseCheckout> {
    let mut notes = Vec::new();
    let repo = open_complete(project_dir, spec, &mut notes)?;
    let (commit, chosen_as) =
        base_commit(&repo, spec, &mut notes).map_err(|e| with_fetch_problem(e, &notes))?;
    let root = under.join(CHECKOUT_DIR);
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    }
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    let checkout = BaseCheckout {
        commit: commit.id().to_string(),
        project_dir: if repo.project_prefix.is_empty() {
            root.clone()
        } else {
            root.join(&repo.project_prefix)
        },
        root,
        chosen_as,
        notes,
    };
    // From here on, dropping `checkout` (also on error) removes the files.
    repo.export_tree(&commit, &checkout.root)?;
    Ok(checkout)
}

/// Write `record` as the suite's baseline in the work tree (not committed:
/// committing it is the user's normal commit). Refuses a record measured on
/// a dirty tree unless `force`.
pub fn update(project_dir: &Path, suite: &str, record: &RunRecord, force: bool) -> Result<PathBuf> {
    check_suite_name(suite)?;
    let path = project_dir.join(BASELINE_DIR).join(format!("{suite}.json"));
    if !force {
        if record.dirty {
            return Err(Error::WouldOverwrite {
                path,
                why: "the run was measured on a work tree with uncommitted changes, so the baseline would not describe any commit; commit first".into(),
            });
        }
        if record.commit.is_none() {
            return Err(Error::WouldOverwrite {
                path,
                why: "the project is not in git, so the baseline would not describe any commit"
                    .into(),
            });
        }
    }
    write_atomic(&path, record.to_json().as_bytes())?;
    Ok(path)
}
