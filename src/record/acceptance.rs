//! Accepted slowdowns as data: the trailer words, the kinds of failure a
//! commit may accept, who may accept, and how far an acceptance was
//! checked. Read from commits by `baseline::accept`; settled on GitHub by
//! `publish::github::accept`.

/// The commit-message key that accepts a slowdown (`baseline::accept`).
pub const ACCEPT_TRAILER: &str = "Flamegate-Accept";

/// What an acceptance lets through. Each failure needs its own line: a
/// line that accepts a slowdown does not also accept more allocations or a
/// worse scaling exponent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AcceptKind {
    /// `regressed` (time, or instructions in instruction mode).
    #[default]
    Time,
    /// `more allocations`.
    Allocations,
    /// A sized group that scales worse.
    Scaling,
}

impl AcceptKind {
    pub const ALL: [AcceptKind; 3] = [
        AcceptKind::Time,
        AcceptKind::Allocations,
        AcceptKind::Scaling,
    ];

    /// The commit-message key of this kind.
    pub fn trailer(self) -> &'static str {
        match self {
            AcceptKind::Time => ACCEPT_TRAILER,
            AcceptKind::Allocations => "Flamegate-Accept-Allocations",
            AcceptKind::Scaling => "Flamegate-Accept-Scaling",
        }
    }

    fn is_time(&self) -> bool {
        *self == AcceptKind::Time
    }
}

/// Who may accept a failure (`flamegate.toml`'s `[accept] policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceptPolicy {
    /// No acceptance is honoured.
    Off,
    /// Every acceptance is honoured, shown with the name the commit gives.
    Anyone,
    /// Where the report is published (GitHub Actions), an acceptance counts
    /// only when a user with write access approved the pull request at the
    /// checked commit; a local check honours it, marked unverified.
    #[default]
    Writers,
}

/// How far an acceptance was checked, and whether it counts.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Standing {
    /// Not checked on GitHub (a local check, or policy `anyone`): honoured,
    /// and shown with the author name as the commit gives it.
    #[default]
    Unverified,
    /// A user with write access to the repository approved the pull request
    /// at the checked commit: their GitHub login.
    Verified { login: String },
    /// Not honoured: the benchmark keeps its failing verdict. Why.
    Refused { why: String },
    /// Accepted in a commit already on the target branch (merged after the
    /// stored baseline was measured): reviewed when it was merged.
    Merged,
}

/// A failure accepted by a commit of the pull request (`baseline::accept`):
/// the line `Flamegate-Accept: <glob>: <reason>` (or `-Allocations`,
/// `-Scaling`) in its message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Accepted {
    /// The benchmark glob the commit named.
    pub glob: String,
    pub reason: String,
    /// The commit's author name, as written in the commit: anyone can
    /// write any name there, so it is never shown as who accepted.
    pub by: String,
    pub commit: String,
    #[serde(default, skip_serializing_if = "AcceptKind::is_time")]
    pub kind: AcceptKind,
    #[serde(default)]
    pub standing: Standing,
}

impl Accepted {
    /// Whether the acceptance lets its failure through.
    pub fn honoured(&self) -> bool {
        !matches!(self.standing, Standing::Refused { .. })
    }
}
