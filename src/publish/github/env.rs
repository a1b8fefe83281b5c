//! The GitHub Actions environment: `GITHUB_*` variables and the token.

use std::path::PathBuf;

/// The API token. Read from the environment only; never printed: `Debug`
/// shows a placeholder and nothing else formats it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(secret: String) -> Token {
        Token(secret)
    }

    /// For the HTTP client alone.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }

    /// Replace the token wherever it appears in `text` (error messages that
    /// might quote a request).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    /// Parse `owner/name`; both parts must look like GitHub names, so they
    /// can go into request paths as they are.
    pub fn parse(text: &str) -> Option<RepoName> {
        let (owner, name) = text.split_once('/')?;
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        (valid(owner) && valid(name)).then(|| RepoName {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    /// `/repos/OWNER/NAME`: the prefix of every repository route.
    pub fn api_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// What GitHub Actions tells a step about where it runs.
#[derive(Debug, Clone, Default)]
pub struct ActionsEnv {
    /// `GITHUB_ACTIONS=true`: workflow commands are read from stdout.
    pub in_actions: bool,
    pub api_url: String,
    pub server_url: String,
    pub token: Option<Token>,
    pub repository: Option<String>,
    pub event_name: Option<String>,
    pub event_path: Option<PathBuf>,
    pub run_id: Option<u64>,
    pub sha: Option<String>,
    pub step_summary: Option<PathBuf>,
}

impl ActionsEnv {
    /// Read the process environment.
    pub fn from_process() -> ActionsEnv {
        ActionsEnv::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> ActionsEnv {
        ActionsEnv {
            in_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            api_url: get("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            server_url: get("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            token: get("GITHUB_TOKEN").map(Token::new),
            repository: get("GITHUB_REPOSITORY"),
            event_name: get("GITHUB_EVENT_NAME"),
            event_path: get("GITHUB_EVENT_PATH").map(PathBuf::from),
            run_id: get("GITHUB_RUN_ID").and_then(|v| v.parse().ok()),
            sha: get("GITHUB_SHA"),
            step_summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }

    /// The link to a workflow run's page (its artifacts are listed there).
    /// Built from numbers and the repository name only.
    pub fn run_url(&self, repo: &RepoName, run_id: u64) -> String {
        format!(
            "{}/{}/{}/actions/runs/{run_id}",
            self.server_url.trim_end_matches('/'),
            repo.owner,
            repo.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_shows_in_debug() {
        let env =
            ActionsEnv::from_lookup(|n| (n == "GITHUB_TOKEN").then(|| "ghs_secret123".into()));
        assert!(!format!("{env:?}").contains("ghs_secret123"));
        assert_eq!(env.token.unwrap().redact("x ghs_secret123 y"), "x *** y");
    }

    #[test]
    fn repository_names_are_checked() {
        assert!(RepoName::parse("rust-lang/rust").is_some());
        for bad in ["a", "a/b/c", "../x", "a/..", "a/b?x=1", "/b", "a/"] {
            assert!(RepoName::parse(bad).is_none(), "{bad}");
        }
    }
}
