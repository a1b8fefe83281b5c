//! A commit as reports name it: who made it, when, and what it says.

use serde::{Deserialize, Serialize};

/// A commit, named for a reader. Subjects and author names are whatever
/// the commit's author typed: renderers escape them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSummary {
    pub sha: String,
    /// The first line of the message.
    pub subject: String,
    pub author: String,
    /// Committer time, RFC 3339.
    pub date: String,
}

/// What a commit changed beside its first parent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffStat {
    pub files: usize,
    pub insertions: usize,
    pub deletions: usize,
    /// The changed paths, from the repository's root.
    pub paths: Vec<String>,
}

/// A package whose locked versions differ between two `Cargo.lock` files
/// (several versions of one package can be locked at once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChange {
    pub name: String,
    /// Versions before, ascending; empty when it was added.
    pub before: Vec<String>,
    /// Versions after; empty when it was removed.
    pub after: Vec<String>,
}
