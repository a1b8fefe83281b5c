//! git2 access: the state of HEAD, the base commit, blobs at a commit, and the
//! first-parent history of one file.

use std::path::{Path, PathBuf};

use git2::{Commit, Oid, Repository, StatusOptions};

use crate::error::{Error, Result};

/// The commit being measured and whether tracked files have uncommitted changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadState {
    pub commit: Option<String>,
    pub dirty: bool,
}

/// HEAD of the repository containing `dir`; empty when `dir` is not in git.
pub fn head_state(dir: &Path) -> HeadState {
    let Ok(repo) = Repository::discover(dir) else {
        return HeadState::default();
    };
    let commit = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id().to_string());
    let mut options = StatusOptions::new();
    options.include_untracked(false).include_ignored(false);
    let dirty = repo
        .statuses(Some(&mut options))
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    HeadState { commit, dirty }
}

/// An open repository plus where the project sits inside it.
pub struct ProjectRepo {
    pub repo: Repository,
    /// The project directory relative to the work tree root, `/`-separated.
    pub project_prefix: String,
}

impl ProjectRepo {
    pub fn open(project_dir: &Path) -> Result<ProjectRepo> {
        let repo = Repository::discover(project_dir).map_err(|_| Error::NotARepository {
            path: project_dir.to_path_buf(),
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| Error::NotARepository {
                path: project_dir.to_path_buf(),
            })?
            .canonicalize()
            .map_err(|e| Error::io(project_dir, e))?;
        let project = project_dir
            .canonicalize()
            .map_err(|e| Error::io(project_dir, e))?;
        let relative = project.strip_prefix(&workdir).unwrap_or(Path::new(""));
        let project_prefix = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        Ok(ProjectRepo {
            repo,
            project_prefix,
        })
    }

    /// A path inside the project as git names it from the repository root.
    pub fn repo_path(&self, project_relative: &str) -> String {
        if self.project_prefix.is_empty() {
            project_relative.to_string()
        } else {
            format!("{}/{project_relative}", self.project_prefix)
        }
    }

    pub fn head_commit(&self) -> Result<Commit<'_>> {
        self.repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(|e| Error::git("reading HEAD (is there a commit yet?)", e))
    }

    /// Resolve a revision (`main`, `origin/main`, a SHA, `HEAD~3`) to a commit.
    pub fn commit_at(&self, revision: &str) -> Result<Commit<'_>> {
        self.repo
            .revparse_single(revision)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| {
                let mut message = format!(
                    "revision `{revision}` not found ({}); fetch it (`git fetch origin {revision}`) or name another",
                    e.message()
                );
                if self.repo.is_shallow() {
                    message.push_str(
                        ". This is a shallow clone: in GitHub Actions use actions/checkout with `fetch-depth: 0`",
                    );
                }
                Error::BaseRefNotFound(message)
            })
    }

    /// The target branch: `explicit`, or the first of origin/main, main,
    /// origin/master, master that exists. Returns the name used.
    pub fn target_branch(&self, explicit: Option<&str>) -> Result<(Commit<'_>, String)> {
        if let Some(name) = explicit {
            return Ok((self.commit_at(name)?, name.to_string()));
        }
        const CANDIDATES: [&str; 4] = ["origin/main", "main", "origin/master", "master"];
        for name in CANDIDATES {
            if let Ok(commit) = self
                .repo
                .revparse_single(name)
                .and_then(|o| o.peel_to_commit())
            {
                return Ok((commit, name.to_string()));
            }
        }
        let mut message = format!(
            "no target branch: none of {} exists. Pass --base-ref BRANCH (the branch pull requests merge into) or --base REV",
            CANDIDATES.join(", ")
        );
        if self.repo.is_shallow() {
            message.push_str(
                ". This is a shallow clone: in GitHub Actions use actions/checkout with `fetch-depth: 0`",
            );
        }
        Err(Error::BaseRefNotFound(message))
    }

    /// The merge-base of HEAD and `target`, with the shallow-clone case named.
    pub fn merge_base(&self, target: &Commit<'_>, target_name: &str) -> Result<Commit<'_>> {
        let head = self.head_commit()?;
        match self.repo.merge_base(head.id(), target.id()) {
            Ok(oid) => self
                .repo
                .find_commit(oid)
                .map_err(|e| Error::git("reading the merge-base", e)),
            Err(_) if self.repo.is_shallow() => Err(Error::ShallowClone {
                base_ref: target_name.to_string(),
                tried: String::new(),
            }),
            Err(_) => Err(Error::NoMergeBase {
                base_ref: target_name.to_string(),
            }),
        }
    }

    /// The blob at `path` in `commit`'s tree, if the file exists there.
    pub fn blob_at(&self, commit: &Commit<'_>, path: &str) -> Result<Option<(Oid, Vec<u8>)>> {
        let Some(oid) = self.entry_id_at(commit, path)? else {
            return Ok(None);
        };
        self.blob(oid, path)
            .map(|content| content.map(|c| (oid, c)))
    }

    /// The id of the tree entry at `path` in `commit`, without reading it:
    /// walks compare ids and inflate only the versions that differ.
    pub fn entry_id_at(&self, commit: &Commit<'_>, path: &str) -> Result<Option<Oid>> {
        let tree = commit
            .tree()
            .map_err(|e| Error::git(format!("reading the tree of {}", commit.id()), e))?;
        Ok(tree
            .get_path(&PathBuf::from(path))
            .ok()
            .map(|entry| entry.id()))
    }

    /// The content of blob `oid` (`path` names it in messages); None when
    /// the entry is not a blob (a folder or a submodule at that path).
    fn blob(&self, oid: Oid, path: &str) -> Result<Option<Vec<u8>>> {
        let object = self
            .repo
            .find_object(oid, None)
            .map_err(|e| Error::git(format!("reading {path} ({oid})"), e))?;
        Ok(object.as_blob().map(|blob| blob.content().to_vec()))
    }

    /// Write `commit`'s files into `target` (an empty directory), leaving the
    /// repository's HEAD, index and work tree as they are.
    pub fn export_tree(&self, commit: &Commit<'_>, target: &Path) -> Result<()> {
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout
            .target_dir(target)
            .force()
            .recreate_missing(true)
            .update_index(false);
        self.repo
            .checkout_tree(commit.as_object(), Some(&mut checkout))
            .map_err(|e| {
                Error::git(
                    format!("checking out {} into {}", commit.id(), target.display()),
                    e,
                )
            })
    }

    /// The first-parent commits from `good` (exclusive) to `bad`
    /// (inclusive), oldest first. `good` must be on `bad`'s first-parent
    /// history: a bisection steps along one line of commits.
    pub fn first_parent_range(&self, good: &Commit<'_>, bad: &Commit<'_>) -> Result<Vec<Oid>> {
        // Bound the walk as `earlier_versions` does.
        const MAX_COMMITS_WALKED: usize = 100_000;
        let mut range = Vec::new();
        let mut commit = bad.clone();
        while commit.id() != good.id() {
            if range.len() >= MAX_COMMITS_WALKED {
                break;
            }
            range.push(commit.id());
            match commit.parent(0) {
                Ok(parent) => commit = parent,
                Err(_) => {
                    let mut message = format!(
                        "{} is not on the first-parent history of {} (`git log --first-parent {}`): \
                         pass an older commit of that line as --good",
                        crate::error::short_sha(&good.id().to_string()),
                        crate::error::short_sha(&bad.id().to_string()),
                        crate::error::short_sha(&bad.id().to_string()),
                    );
                    if self.repo.is_shallow() {
                        message.push_str(
                            "; this is a shallow clone: fetch the history (`git fetch --unshallow`)",
                        );
                    }
                    return Err(Error::Usage(message));
                }
            }
        }
        range.reverse();
        Ok(range)
    }

    pub fn find(&self, id: Oid) -> Result<Commit<'_>> {
        self.repo
            .find_commit(id)
            .map_err(|e| Error::git(format!("reading commit {id}"), e))
    }

    /// Replace what `target` holds with `commit`'s files. (libgit2 checks
    /// a tree out into another folder as if that folder held HEAD: files
    /// left there by another commit would stay, so the folder is emptied.)
    pub fn checkout_into(&self, commit: &Commit<'_>, target: &Path) -> Result<()> {
        if target.exists() {
            std::fs::remove_dir_all(target).map_err(|e| Error::io(target, e))?;
        }
        std::fs::create_dir_all(target).map_err(|e| Error::io(target, e))?;
        self.export_tree(commit, target)
    }

    /// The text of the `Cargo.lock` that applies to the project at
    /// `commit`: the project's own, else the nearest folder's above it
    /// (a workspace's); empty when there is none.
    pub fn lock_at(&self, commit: &Commit<'_>) -> Result<String> {
        self.nearest_lock(|path| Ok(self.blob_at(commit, path)?.map(|(_, bytes)| bytes)))
    }

    /// The same in the work tree (uncommitted changes included).
    pub fn work_tree_lock(&self) -> Result<String> {
        let workdir = self.repo.workdir().unwrap_or(Path::new(""));
        self.nearest_lock(|path| {
            let file = workdir.join(path);
            match std::fs::read(&file) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(&file, e)),
            }
        })
    }

    /// The first `Cargo.lock` that `read` finds (given a path from the
    /// repository root) in the project's folder or one above it, up to the
    /// repository's root.
    fn nearest_lock(&self, read: impl Fn(&str) -> Result<Option<Vec<u8>>>) -> Result<String> {
        let mut folder = Some(Path::new(&self.project_prefix));
        while let Some(dir) = folder {
            let path = dir.join("Cargo.lock").to_string_lossy().replace('\\', "/");
            if let Some(bytes) = read(&path)? {
                return Ok(String::from_utf8_lossy(&bytes).into_owned());
            }
            folder = dir.parent();
        }
        Ok(String::new())
    }

    /// What `commit` changed beside its first parent (everything, for a
    /// root commit).
    pub fn diff_stat(&self, commit: &Commit<'_>) -> Result<crate::record::commit::DiffStat> {
        let context = || format!("comparing {} with its parent", commit.id());
        let tree = commit.tree().map_err(|e| Error::git(context(), e))?;
        let parent_tree = match commit.parent(0) {
            Ok(parent) => Some(parent.tree().map_err(|e| Error::git(context(), e))?),
            Err(_) => None,
        };
        let diff = self
            .repo
            .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None)
            .map_err(|e| Error::git(context(), e))?;
        let stats = diff.stats().map_err(|e| Error::git(context(), e))?;
        let paths = diff
            .deltas()
            .filter_map(|d| d.new_file().path().or_else(|| d.old_file().path()))
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        Ok(crate::record::commit::DiffStat {
            files: stats.files_changed(),
            insertions: stats.insertions(),
            deletions: stats.deletions(),
            paths,
        })
    }

    /// Earlier versions of `path` along first-parent history before `start`
    /// (newest first, `start`'s own version excluded), at most `limit`.
    /// Returns the versions and whether the walk was cut by a shallow clone.
    pub fn earlier_versions(
        &self,
        start: &Commit<'_>,
        path: &str,
        limit: usize,
    ) -> Result<(Vec<FileVersion>, bool)> {
        // Bound the walk: history beyond this is too old to describe today's noise.
        const MAX_COMMITS_WALKED: usize = 5_000;
        let mut versions = Vec::new();
        let mut last = self.entry_id_at(start, path)?;
        let mut commit = start.clone();
        for _ in 0..MAX_COMMITS_WALKED {
            if versions.len() >= limit {
                break;
            }
            let Ok(parent) = commit.parent(0) else {
                let cut = self.repo.is_shallow()
                    && commit.parent_count() == 0
                    && is_grafted(&self.repo, &commit);
                return Ok((versions, cut));
            };
            if let Some(oid) = self.entry_id_at(&parent, path)?
                && Some(oid) != last
            {
                if let Some(content) = self.blob(oid, path)? {
                    versions.push(FileVersion {
                        commit: parent.id().to_string(),
                        content,
                    });
                }
                last = Some(oid);
            }
            commit = parent;
        }
        Ok((versions, false))
    }
}

/// A commit named for a reader: subject, author, committer time.
pub fn summary(commit: &Commit<'_>) -> crate::record::commit::CommitSummary {
    let date = time::OffsetDateTime::from_unix_timestamp(commit.time().seconds())
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    crate::record::commit::CommitSummary {
        sha: commit.id().to_string(),
        subject: String::from_utf8_lossy(commit.summary_bytes().unwrap_or(b"")).into_owned(),
        author: String::from_utf8_lossy(commit.author().name_bytes()).into_owned(),
        date,
    }
}

/// Turn a shallow clone into a full one, so the merge-base and the
/// baseline's history are there: fetch the target branch (or main and
/// master) from its remote with `--unshallow`. The git command line is used
/// because it sees the credentials `actions/checkout` configures
/// (`http.extraheader`), which libgit2 does not. Returns what was fetched,
/// or why it could not be.
pub fn unshallow(
    workdir: &Path,
    target: Option<&str>,
) -> std::result::Result<crate::record::note::Note, String> {
    let (remote, branches): (&str, Vec<&str>) = match target {
        Some(name) => match name.split_once('/') {
            Some((remote, branch)) => (remote, vec![branch]),
            None => ("origin", vec![name]),
        },
        None => ("origin", vec!["main", "master"]),
    };
    // Names come from --base-ref or the config; one starting with `-` would
    // reach git as an option (`--upload-pack=…` runs a program). Refuse what
    // git itself would not name a remote or branch, and end options with `--`.
    if !git2::Remote::is_valid_name(remote) || remote.starts_with('-') {
        return Err(format!(
            "`{remote}` is not a valid remote name; name the target branch as <remote>/<branch> (--base-ref)"
        ));
    }
    if let Some(bad) = branches
        .iter()
        .find(|b| b.starts_with('-') || !git2::Reference::is_valid_name(&format!("refs/heads/{b}")))
    {
        return Err(format!(
            "`{bad}` is not a valid branch name; name the target branch as <remote>/<branch> (--base-ref)"
        ));
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(workdir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))
    };
    let mut fetched = Vec::new();
    let mut problems = Vec::new();
    for branch in &branches {
        let refspec = format!("+refs/heads/{branch}:refs/remotes/{remote}/{branch}");
        let mut args = vec!["fetch", "--quiet", "--no-tags"];
        if fetched.is_empty() {
            args.push("--unshallow");
        }
        args.extend(["--", remote, refspec.as_str()]);
        let output = git(&args)?;
        if output.status.success() {
            fetched.push(format!("{remote}/{branch}"));
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            problems.push(stderr.lines().next().unwrap_or("failed").trim().to_string());
        }
    }
    if fetched.is_empty() {
        return Err(format!(
            "`git fetch --unshallow {remote}` failed: {}",
            problems.join("; ")
        ));
    }
    Ok(crate::record::note::Note::Deepened {
        remote: remote.to_string(),
        fetched,
    })
}

/// One version of a file in history.
pub struct FileVersion {
    pub commit: String,
    pub content: Vec<u8>,
}

/// Whether `commit` is a shallow-clone boundary (listed in `.git/shallow`).
fn is_grafted(repo: &Repository, commit: &Commit<'_>) -> bool {
    std::fs::read_to_string(repo.path().join("shallow"))
        .map(|s| s.lines().any(|l| l.trim() == commit.id().to_string()))
        .unwrap_or(false)
}
