//! Typed errors for every stage, and the process exit codes.
//!
//! Each variant carries the file, commit or command involved and, where it is
//! known, the fix. `anyhow` is used only at the edge (`main`).

use std::path::PathBuf;

/// Process exit codes: documented in the README, used nowhere else as literals.
pub mod exit_code {
    /// The gate passed: no benchmark regressed.
    pub const PASS: u8 = 0;
    /// At least one benchmark regressed.
    pub const REGRESSION: u8 = 1;
    /// Bad usage or environment: no baseline, damaged input, a build or run failed.
    pub const USAGE_OR_ENVIRONMENT: u8 = 2;
    /// Interrupted (SIGINT, SIGTERM, SIGHUP): the pre-push hook's check was
    /// stopped, and the push with it (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

/// Where a stored record came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSource {
    /// A plain file on disk.
    File(PathBuf),
    /// A blob read from git at a commit.
    Git { commit: String, path: String },
}

impl std::fmt::Display for RecordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordSource::File(path) => write!(f, "{}", path.display()),
            RecordSource::Git { commit, path } => {
                write!(f, "{path} at commit {}", short_sha(commit))
            }
        }
    }
}

/// The first 10 characters of a commit id, as people quote them (cut on a
/// character boundary: a forged "commit" need not be ASCII).
pub fn short_sha(sha: &str) -> &str {
    sha.char_indices()
        .nth(10)
        .map_or(sha, |(cut, _)| &sha[..cut])
}

/// Whether `text` is a full git object id: 40 (SHA-1) or 64 (SHA-256)
/// lowercase hex digits, as git2 and GitHub write them.
pub fn is_commit_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Everything that can go wrong inside flamegate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{source_of}: not a flamegate record ({problem}); re-record it with `flamegate baseline update`"
    )]
    DamagedRecord {
        source_of: RecordSource,
        problem: String,
    },

    #[error(
        "{source_of}: record schema {found} is not supported (this flamegate reads schema {supported}); \
         upgrade flamegate or re-record the baseline with this version"
    )]
    UnknownSchema {
        source_of: RecordSource,
        found: u64,
        supported: u32,
    },

    #[error(
        "{source_of}: benchmark `{bench}` {problem}; records hold positive, finite times per iteration, re-record it"
    )]
    InvalidSamples {
        source_of: RecordSource,
        bench: String,
        problem: String,
    },

    #[error("{path}: {problem}")]
    Config { path: PathBuf, problem: String },

    #[error("evaluation corpus {path}: {problem}")]
    Corpus { path: PathBuf, problem: String },

    #[error("{0}")]
    Usage(String),

    #[error(
        "bench target `{target}` listed no criterion benchmark for `--bench --list` ({printed}).{} \
         flamegate times criterion 0.3 to 0.8 bench targets (`harness = false` with \
         `criterion_main!`); leave this target out with `--bench <name>` (or `benches` in \
         flamegate.toml)",
        divan_note(divan.as_deref())
    )]
    NotCriterion {
        target: String,
        printed: String,
        /// The divan version its package depends on, if any.
        divan: Option<String>,
    },

    #[error("`cargo metadata` failed for {manifest}: {problem}")]
    CargoMetadata { manifest: PathBuf, problem: String },

    #[error(
        "building the benchmarks failed (`{command}` exited with {status}); fix the build error shown above"
    )]
    BuildFailed { command: String, status: String },

    #[error(
        "{pass} of benchmark `{benchmark}` did not finish within {seconds:.0} s, so it was stopped \
         ({exe}). Run that benchmark alone to see where it waits; set FLAMEGATE_PASS_TIMEOUT \
         (seconds) to give the pass longer"
    )]
    BenchTimedOut {
        exe: PathBuf,
        pass: &'static str,
        benchmark: String,
        seconds: f64,
    },

    #[error(
        "command `{name}` failed: {status}. It ran as `{shown}` in {dir}; run it there by hand to see why, \
         or fix its [[command]] entry in flamegate.toml. The end of what it wrote to stderr:\n{output_tail}"
    )]
    CommandFailed {
        name: String,
        shown: String,
        dir: PathBuf,
        status: String,
        output_tail: String,
    },

    #[error("benchmark executable {exe} failed ({status}):\n{output_tail}")]
    BenchFailed {
        exe: PathBuf,
        status: String,
        output_tail: String,
    },

    #[error(
        "criterion output at {path} is not laid out as expected: {problem}. flamegate reads criterion 0.8's \
         <id>/new/{{benchmark,sample}}.json; check the project's criterion version with `cargo tree -i criterion`"
    )]
    CriterionLayout { path: PathBuf, problem: String },

    #[error(
        "divan's output from {exe} cannot be read: {problem}; flamegate reads divan 0.1's table, check the \
         project's divan version with `cargo tree -i divan`"
    )]
    DivanOutput { exe: PathBuf, problem: String },

    #[error("profile {path} cannot be read: {problem}")]
    Profile { path: PathBuf, problem: String },

    #[error(
        "{path} is not inside a git repository; flamegate reads baselines from git history, run `git init` and commit the project first"
    )]
    NotARepository { path: PathBuf },

    #[error("git: {context}: {message}")]
    Git { context: String, message: String },

    #[error("{0}")]
    BaseRefNotFound(String),

    #[error(
        "this is a shallow clone and the merge-base of HEAD and {base_ref} is not in it, so the baseline \
         cannot be found{tried}. Fix: fetch the full history (`git fetch --unshallow`, or in GitHub Actions \
         `actions/checkout` with `fetch-depth: 0`)"
    )]
    ShallowClone {
        base_ref: String,
        /// Why flamegate's own fetch did not help ("; flamegate's fetch failed: …"), or empty.
        tried: String,
    },

    #[error(
        "HEAD and {base_ref} have no common ancestor; pass the baseline's revision with `--base REV` or a file with `--base-file PATH`"
    )]
    NoMergeBase { base_ref: String },

    #[error(
        "no baseline: {path} does not exist at commit {commit} ({how}). To gate this change without one, \
         run `flamegate check --paired`: it builds the base commit and times both sides in this job. To \
         compare with a stored baseline, run `flamegate baseline update` on the base branch and commit \
         {path}, or pass `--base REV` / `--base-file PATH`"
    )]
    NoBaseline {
        path: String,
        commit: String,
        how: String,
    },

    #[error("refusing to overwrite {path}: {why}. Pass --force to overwrite it")]
    WouldOverwrite { path: PathBuf, why: String },

    #[error(
        "{path}: not a flamegate report ({problem}); publish the report.json that `flamegate check` wrote"
    )]
    DamagedReport { path: PathBuf, problem: String },

    #[error("these shard records do not belong together: {0}")]
    ShardMismatch(String),

    #[error(
        "valgrind is not installed, and instruction counting (`--measure instructions`) runs the benchmarks under \
         its callgrind tool. Install it: `apt-get install valgrind` (Debian/Ubuntu), `dnf install valgrind`, \
         or run without --measure instructions"
    )]
    ValgrindMissing,

    #[error("not publishing: {0}")]
    PublishRefused(String),

    #[error("the demo did not behave as expected: {0}")]
    DemoUnexpected(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn git(context: impl Into<String>, err: git2::Error) -> Self {
        Error::Git {
            context: context.into(),
            message: err.message().to_string(),
        }
    }
}

/// Result with flamegate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a divan bench is not timed, for `Error::NotCriterion`.
fn divan_note(divan: Option<&str>) -> String {
    divan.map_or_else(String::new, |version| {
        format!(
            " Its package depends on divan {version} and on criterion: flamegate times the divan benches \
             of a package that depends on divan alone (the README's divan table), so move them into a \
             package of their own."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sha_cuts_on_a_character_boundary() {
        assert_eq!(short_sha("0123456789abcdef"), "0123456789");
        assert_eq!(short_sha("012345678é\n@org/team"), "012345678é");
        assert_eq!(short_sha("abc"), "abc");
        assert!(is_commit_id(&"a".repeat(40)) && is_commit_id(&"0f".repeat(32)));
        assert!(!is_commit_id(&"A".repeat(40)) && !is_commit_id("012345678é"));
    }
}
