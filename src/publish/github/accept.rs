//! Acceptances checked on GitHub before a report is published.
//!
//! A `Flamegate-Accept` line names its author as the commit does, and a
//! commit can name anyone. Under `[accept] policy = "writers"` an acceptance
//! counts where the report is published only when a user with write access
//! to the repository approved the pull request at the checked commit (an
//! approving review whose commit is the head): GitHub vouches for that login,
//! a fork cannot make one, and a later push needs a new approval. Otherwise
//! the acceptance is refused and the failure it accepted stands.

use http::Method;
use serde_json::Value;

use super::client::{ApiError, GithubClient, Repeat};
use super::env::{ActionsEnv, RepoName};
use super::event::read_origin;
use super::{Api, PublishOptions, checked_head};
use crate::error::short_sha;
use crate::progress::Progress;
use crate::record::acceptance::{AcceptPolicy, Standing};
use crate::report::Report;

/// GitHub's `permission` for users who may push (maintainers read `write`).
const WRITER_PERMISSIONS: [&str; 2] = ["admin", "write"];
/// Reviews per page (GitHub's largest), and pages read at most.
const REVIEWS_PER_PAGE: usize = 100;
const MAX_REVIEW_PAGES: usize = 10;

/// The policy a publisher applies: its own when given, else the report's,
/// except that a report from a fork's run (fork-safe mode) is not trusted
/// to choose a laxer one than `writers`.
fn policy_for(report: &Report, options: &PublishOptions) -> AcceptPolicy {
    match options.accept_policy {
        Some(policy) => policy,
        None if options.from_workflow_run => AcceptPolicy::Writers,
        None => report.settings.accept_policy,
    }
}

/// Give every acceptance in `report` its standing under the publisher's
/// policy (`policy_for`), before the report is rendered or published.
/// Returns a line saying what was decided, when the report has acceptances.
pub fn settle(
    report: &mut Report,
    options: &PublishOptions,
    env: &ActionsEnv,
    progress: Progress,
) -> Option<String> {
    if !report.has_acceptances() {
        return None;
    }
    let standing = match policy_for(report, options) {
        AcceptPolicy::Off => Standing::Refused {
            why: "acceptance is off (`[accept] policy = \"off\"`)".into(),
        },
        AcceptPolicy::Anyone => Standing::Unverified,
        AcceptPolicy::Writers => match writer_approval(report, options, env, progress) {
            Ok(login) => Standing::Verified { login },
            Err(why) => Standing::Refused { why },
        },
    };
    let line = match &standing {
        Standing::Verified { login } => format!(
            "acceptances verified: @{login}, who has write access, approved the pull request at this commit"
        ),
        Standing::Unverified | Standing::Merged => {
            "acceptances honoured unverified (`[accept] policy = \"anyone\"`)".to_string()
        }
        Standing::Refused { why } => format!("acceptances not honoured: {why}"),
    };
    report.judge_acceptances(&standing);
    Some(line)
}

/// The login of a user with write access who approved the pull request at
/// the report's commit, or why there is none.
fn writer_approval(
    report: &Report,
    options: &PublishOptions,
    env: &ActionsEnv,
    progress: Progress,
) -> Result<String, String> {
    if !env.in_actions {
        return Err(
            "not checked on GitHub (only a report published from GitHub Actions \
             can carry a verified acceptance)"
                .into(),
        );
    }
    let origin = read_origin(env, options.from_workflow_run)?;
    let head_sha = checked_head(report, &origin).map_err(|e| e.to_string())?;
    let token = env
        .token
        .clone()
        .ok_or("GITHUB_TOKEN is not set, so no approval could be read from GitHub")?;
    let repo = env
        .repository
        .as_deref()
        .and_then(RepoName::parse)
        .ok_or("GITHUB_REPOSITORY is not set (owner/name), so no approval could be read")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the GitHub client: {e}"))?;
    runtime
        .block_on(async {
            let client = GithubClient::new(
                &env.api_url,
                &token,
                options.policy.clone(),
                Box::new(move |line: &str| progress.note(line)),
            )?;
            let api = Api {
                client: &client,
                repo: &repo,
            };
            let Some((number, _)) = api.pull_request(&origin).await? else {
                return Err("no pull request for this event, so no approval to check".into());
            };
            for login in approvals_at(&api, number, &head_sha).await? {
                if may_write(&api, &login).await? {
                    return Ok(login);
                }
            }
            Err(format!(
                "no user with write access approved pull request #{number} at {} \
                 (approve it, then re-run the check)",
                short_sha(&head_sha)
            ))
        })
        .map_err(|e: String| token.redact(&e))
}

/// The users whose latest review of pull request `number` approves it at
/// `head_sha`, in the order they reviewed.
async fn approvals_at(api: &Api<'_>, number: u64, head_sha: &str) -> Result<Vec<String>, String> {
    let mut latest: Vec<(String, String, String)> = Vec::new();
    for page in 1..=MAX_REVIEW_PAGES {
        let path = format!(
            "{}/pulls/{number}/reviews?per_page={REVIEWS_PER_PAGE}&page={page}",
            api.repo.api_path()
        );
        let reviews = api
            .client
            .send(Method::GET, &path, None, Repeat::Safe)
            .await
            .and_then(|r| r.json())
            .map_err(|e| format!("cannot read the reviews of pull request #{number}: {e}"))?;
        let reviews = reviews.as_array().cloned().unwrap_or_default();
        for review in &reviews {
            let field = |path: &str| review.pointer(path).and_then(Value::as_str);
            let (Some(login), Some(state)) = (field("/user/login"), field("/state")) else {
                continue;
            };
            // A comment does not change where a reviewer stands.
            if state == "COMMENTED" || !is_login(login) {
                continue;
            }
            let commit = field("/commit_id").unwrap_or_default().to_string();
            latest.retain(|(l, _, _)| l != login);
            latest.push((login.to_string(), state.to_string(), commit));
        }
        if reviews.len() < REVIEWS_PER_PAGE {
            break;
        }
    }
    Ok(latest
        .into_iter()
        .filter(|(_, state, commit)| state == "APPROVED" && commit == head_sha)
        .map(|(login, _, _)| login)
        .collect())
}

/// Whether `login` may push to the repository.
async fn may_write(api: &Api<'_>, login: &str) -> Result<bool, String> {
    let path = format!("{}/collaborators/{login}/permission", api.repo.api_path());
    match api
        .client
        .send(Method::GET, &path, None, Repeat::Safe)
        .await
    {
        Ok(response) => {
            let body = response.json().map_err(|e| e.to_string())?;
            let permission = body.get("permission").and_then(Value::as_str);
            Ok(permission.is_some_and(|p| WRITER_PERMISSIONS.contains(&p)))
        }
        // Not a collaborator.
        Err(ApiError::Rejected { status: 404, .. }) => Ok(false),
        Err(e) => Err(format!("cannot read the permission of @{login}: {e}")),
    }
}

/// A GitHub login: letters, digits and single hyphens (what goes into a
/// request path must be nothing else).
fn is_login(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 39
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}
