//! Publishing a report to GitHub: the sticky pull-request comment, the check
//! run, the job summary and `::error` annotations.
//!
//! The gate's verdict never depends on any of this: failures come back as
//! problems to print, never as a different exit code of `check`.

pub mod accept;
pub mod body;
pub mod check_run;
pub mod client;
pub mod comment;
pub mod env;
pub mod event;
pub mod workflow;

use http::Method;
use serde_json::Value;

use self::body::{COMMENT_LIMIT, RunLink, comment_body};
use self::client::{ApiError, GithubClient, Repeat, RetryPolicy};
use self::comment::{CommentMode, StickyComment};
use self::env::{ActionsEnv, RepoName};
use self::event::{Origin, read_origin};
use crate::error::{Error, Result, short_sha};
use crate::progress::Progress;
use crate::report::{Report, Verdict, WARNING_VERDICTS};

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub comment: CommentMode,
    pub check_run: bool,
    /// Fork-safe mode: the event is a `workflow_run` and the report comes
    /// from the pull request's run (an artifact: untrusted).
    pub from_workflow_run: bool,
    /// The login the sticky comment is written as [default: the token's
    /// user, or `github-actions[bot]` for the workflow's GITHUB_TOKEN].
    pub comment_author: Option<String>,
    pub policy: RetryPolicy,
    /// Who may accept a failure [default: the report's policy; `writers`
    /// for an untrusted report].
    pub accept_policy: Option<crate::record::acceptance::AcceptPolicy>,
}

/// What publishing did, and what went wrong without stopping it.
#[derive(Debug, Default)]
pub struct Published {
    pub done: Vec<String>,
    pub problems: Vec<String>,
}

/// The user `GITHUB_TOKEN` acts as; `GET /user` is refused to it.
const ACTIONS_BOT: &str = "github-actions[bot]";

/// The permission a refused request needed, in workflow-file words.
fn permission_advice(error: &ApiError, permission: &str) -> String {
    match error {
        ApiError::Permission {
            accepted, status, ..
        } => format!(
            "{error}. The token may not do this (HTTP {status}): give the job `permissions: {permission}`{}. \
             Pull requests from forks get a read-only token: use the fork-safe setup (README, \"Pull requests from forks\")",
            accepted
                .as_deref()
                .map(|a| format!(" (GitHub asked for {a})"))
                .unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

/// Whether the report has news worth a new comment under `--comment changed`.
fn worth_a_comment(report: &Report) -> bool {
    [
        Verdict::Regressed,
        Verdict::MoreAllocations,
        Verdict::MoreMemory,
        Verdict::Accepted,
        Verdict::Improved,
        Verdict::New,
        Verdict::Missing,
    ]
    .iter()
    .any(|&v| report.count(v) > 0)
}

/// The commit the report describes, checked against the commit the event
/// says. A mismatch means the report is not this pull request's (in
/// fork-safe mode: possibly forged), and nothing is published.
///
/// The report describes its pull request head when it names one (the job
/// measured GitHub's merge commit of it), else its head commit; exactly that
/// one must match: a report whose `pull_request_head` names another commit is
/// refused even when its `head.commit` happens to be the event's.
fn checked_head(report: &Report, origin: &Origin) -> Result<String> {
    let described = report
        .pull_request_head
        .as_deref()
        .or(report.head.commit.as_deref());
    match origin.head_sha() {
        Some(expected) if described == Some(expected) => Ok(expected.to_string()),
        Some(expected) => Err(Error::PublishRefused(format!(
            "the report describes commit {} but the event is for {}; refusing to publish a report \
             that is not this pull request head's (was the right artifact downloaded?)",
            described.map_or("(none)", short_sha),
            short_sha(expected)
        ))),
        None => Ok(described.unwrap_or_default().to_string()),
    }
}

/// Publish `report` where the environment says: job summary and
/// annotations when running in Actions, then the API (comment, check run).
/// Errors are refusals (wrong event, mismatched report); API failures are
/// returned as problems.
pub fn publish(
    report: &Report,
    options: &PublishOptions,
    env: &ActionsEnv,
    progress: Progress,
) -> Result<Published> {
    let origin = read_origin(env, options.from_workflow_run).map_err(Error::PublishRefused)?;
    let head_sha = checked_head(report, &origin)?;
    let repo = env.repository.as_deref().map(|r| {
        RepoName::parse(r).ok_or_else(|| {
            Error::PublishRefused(format!("GITHUB_REPOSITORY `{r}` is not owner/name"))
        })
    });
    let repo = repo.transpose()?;
    let link = run_link(env, repo.as_ref(), &origin, options);
    let mut published = Published::default();
    in_the_job(report, env, &head_sha, link.as_ref(), &mut published)?;
    let wants_api = options.comment != CommentMode::Never || options.check_run;
    if !wants_api {
        return Ok(published);
    }
    let (token, repo) = match api_access(env, &origin, repo) {
        Ok(access) => access,
        Err(Refused::Done(line)) => {
            published.done.push(line);
            return Ok(published);
        }
        Err(Refused::Problem(line)) => {
            published.problems.push(line);
            return Ok(published);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    let body = comment_body(report, &head_sha, link.as_ref(), COMMENT_LIMIT);
    runtime.block_on(async {
        let client = match GithubClient::new(
            &env.api_url,
            &token,
            options.policy.clone(),
            Box::new(move |line: &str| progress.note(line)),
        ) {
            Ok(client) => client,
            Err(problem) => {
                published.problems.push(token.redact(&problem));
                return;
            }
        };
        let api = Api {
            client: &client,
            repo: &repo,
        };
        let posting = Posting {
            report,
            options,
            origin: &origin,
            body: &body,
            head_sha: &head_sha,
            token: &token,
        };
        if options.comment != CommentMode::Never {
            post_comment(&api, &posting, &mut published).await;
        }
        if options.check_run {
            post_check_run(&api, &posting, &mut published).await;
        }
    });
    Ok(published)
}

/// The link to the run that measured, when the repository and run are known.
fn run_link(
    env: &ActionsEnv,
    repo: Option<&RepoName>,
    origin: &Origin,
    options: &PublishOptions,
) -> Option<RunLink> {
    let run_id = match origin {
        Origin::WorkflowRun { run_id, .. } => Some(*run_id),
        _ => env.run_id,
    }?;
    Some(RunLink {
        url: env.run_url(repo?, run_id),
        run_id,
        from_pull_request_run: options.from_workflow_run,
    })
}

/// What is written in the job itself: the job summary, and annotations
/// on the log when running in Actions.
fn in_the_job(
    report: &Report,
    env: &ActionsEnv,
    head_sha: &str,
    link: Option<&RunLink>,
    published: &mut Published,
) -> Result<()> {
    if let Some(path) = &env.step_summary {
        let written =
            workflow::append_step_summary(path, |room| comment_body(report, head_sha, link, room))?;
        if written > 0 {
            published.done.push(format!(
                "appended the report to the job summary ({written} bytes)"
            ));
        } else {
            published
                .problems
                .push("the job summary is full (1 MiB per step); report not added".into());
        }
    }
    if env.in_actions {
        for line in workflow::annotations(report) {
            println!("{line}");
        }
    }
    Ok(())
}

/// Why nothing is posted to GitHub: said as done (by design) or a problem.
enum Refused {
    Done(String),
    Problem(String),
}

/// The token and repository to post with, or why nothing is posted: not
/// in Actions (a stray GITHUB_TOKEN must not make a local run post), a
/// fork's read-only token, no token, no repository.
fn api_access(
    env: &ActionsEnv,
    origin: &Origin,
    repo: Option<RepoName>,
) -> std::result::Result<(env::Token, RepoName), Refused> {
    if !env.in_actions {
        return Err(Refused::Problem(
            "not running in GitHub Actions (GITHUB_ACTIONS is not `true`), so nothing was posted to GitHub"
                .into(),
        ));
    }
    if let Origin::PullRequest {
        from_fork: true, ..
    } = origin
    {
        return Err(Refused::Done(
            "pull request from a fork: its token is read-only, so the comment is left to the \
             `workflow_run` publisher (README, \"Pull requests from forks\")"
                .into(),
        ));
    }
    let Some(token) = env.token.clone() else {
        return Err(Refused::Problem(
            "GITHUB_TOKEN is not set, so nothing was posted to GitHub; pass it to the step \
             (`env: GITHUB_TOKEN: ${{ github.token }}`)"
                .into(),
        ));
    };
    let Some(repo) = repo else {
        return Err(Refused::Problem(
            "GITHUB_REPOSITORY is not set (owner/name), so nothing was posted to GitHub".into(),
        ));
    };
    Ok((token, repo))
}

/// What one publication posts, and with what.
struct Posting<'a> {
    report: &'a Report,
    options: &'a PublishOptions,
    origin: &'a Origin,
    body: &'a str,
    head_sha: &'a str,
    token: &'a env::Token,
}

/// The sticky comment on the pull request, when there is one.
async fn post_comment(api: &Api<'_>, posting: &Posting<'_>, published: &mut Published) {
    let Posting {
        report,
        options,
        origin,
        body,
        head_sha,
        token,
    } = posting;
    if options.comment != CommentMode::Never {
        match api.pull_request(origin).await {
            Ok(Some((number, current_head))) => {
                match api
                    .sticky_comment(
                        report,
                        options,
                        number,
                        body,
                        head_sha,
                        current_head.as_deref(),
                    )
                    .await
                {
                    Ok(line) => published.done.push(line),
                    Err(error) => published.problems.push(token.redact(&format!(
                        "the pull request comment was not written: {}",
                        permission_advice(&error, "pull-requests: write")
                    ))),
                }
            }
            Ok(None) => published
                .done
                .push("no pull request for this event: no comment".into()),
            Err(problem) => published.problems.push(token.redact(&problem)),
        }
    }
}

/// The check run on the head commit, with its annotations.
async fn post_check_run(api: &Api<'_>, posting: &Posting<'_>, published: &mut Published) {
    let Posting {
        report,
        body,
        head_sha,
        token,
        ..
    } = posting;
    if head_sha.is_empty() {
        published
            .problems
            .push("no head commit known (GITHUB_SHA unset): no check run".into());
    } else {
        let annotated = crate::baseline::suite_file(&report.suite);
        match check_run::publish(api.client, api.repo, head_sha, report, body, &annotated).await {
            Ok((id, annotations)) => {
                let annotated = report.count(Verdict::Regressed)
                    + report.count(Verdict::MoreAllocations)
                    + report.count(Verdict::MoreMemory)
                    + WARNING_VERDICTS
                        .iter()
                        .map(|&v| report.count(v))
                        .sum::<usize>();
                let capped = if annotated > annotations {
                    format!(
                        " of {annotated}; at most {} per check run, the rest are in its summary",
                        check_run::ANNOTATIONS_LIMIT
                    )
                } else {
                    String::new()
                };
                published.done.push(format!(
                    "completed check run {id} on {} ({annotations} annotations{capped})",
                    short_sha(head_sha)
                ))
            }
            Err(error) => published.problems.push(token.redact(&format!(
                "the check run was not written: {}",
                permission_advice(&error, "checks: write")
            ))),
        }
    }
}

/// The API calls of one publish.
struct Api<'a> {
    client: &'a GithubClient,
    repo: &'a RepoName,
}

impl Api<'_> {
    /// The pull request the results belong to and its current head.
    /// In fork-safe mode the number comes from the `workflow_run` event or
    /// from the head branch, never from the (untrusted) report.
    async fn pull_request(&self, origin: &Origin) -> Result<Option<(u64, Option<String>)>, String> {
        let number = match origin {
            Origin::Commit { .. } => return Ok(None),
            Origin::PullRequest { number, .. } => *number,
            Origin::WorkflowRun {
                head_sha,
                pull_requests,
                head_owner,
                head_branch,
                ..
            } => {
                // Only a pull request whose head is the run's: the list can
                // hold other pull requests of the same branch (or of a base
                // branch that has moved on), and guessing would comment there.
                let listed = pull_requests
                    .iter()
                    .find(|(_, sha)| sha.as_deref() == Some(head_sha.as_str()))
                    .map(|(n, _)| *n);
                match listed {
                    Some(n) => n,
                    None => {
                        self.find_by_branch(head_owner, head_branch, head_sha)
                            .await?
                    }
                }
            }
        };
        let path = format!("{}/pulls/{number}", self.repo.api_path());
        let current = self
            .client
            .send(Method::GET, &path, None, Repeat::Safe)
            .await
            .and_then(|r| r.json())
            .map_err(|e| format!("cannot read pull request #{number}: {e}"))?;
        Ok(Some((
            number,
            // Read loosely: what is not a commit id is not known.
            current
                .pointer("/head/sha")
                .and_then(Value::as_str)
                .filter(|sha| crate::error::is_commit_id(sha))
                .map(str::to_string),
        )))
    }

    /// A fork's pull request: `workflow_run.pull_requests` is empty for
    /// them, so look it up by `owner:branch` among the open ones.
    async fn find_by_branch(
        &self,
        owner: &Option<String>,
        branch: &Option<String>,
        head_sha: &str,
    ) -> Result<u64, String> {
        let (Some(owner), Some(branch)) = (owner, branch) else {
            return Err("the workflow_run event names no pull request and no head branch; nothing to comment on".into());
        };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("state", "open")
            .append_pair("head", &format!("{owner}:{branch}"))
            .append_pair("per_page", "100")
            .finish();
        let path = format!("{}/pulls?{query}", self.repo.api_path());
        let list = self
            .client
            .send(Method::GET, &path, None, Repeat::Safe)
            .await
            .and_then(|r| r.json())
            .map_err(|e| format!("cannot look up the pull request of {owner}:{branch}: {e}"))?;
        let found: Vec<u64> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|pr| {
                pr.pointer("/head/sha").and_then(Value::as_str) == Some(head_sha)
                    || pr.pointer("/head/ref").and_then(Value::as_str) == Some(branch.as_str())
            })
            .filter_map(|pr| pr.get("number").and_then(Value::as_u64))
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!(
                "no open pull request has head {owner}:{branch}; nothing to comment on"
            )),
            many => Err(format!(
                "{} open pull requests have head {owner}:{branch}; not guessing which to comment on",
                many.len()
            )),
        }
    }

    async fn author(&self, options: &PublishOptions) -> String {
        if let Some(author) = &options.comment_author {
            return author.clone();
        }
        match self
            .client
            .send(Method::GET, "/user", None, Repeat::Safe)
            .await
        {
            Ok(response) => response
                .json()
                .ok()
                .and_then(|v| v.get("login").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| ACTIONS_BOT.into()),
            // An installation token (GITHUB_TOKEN) may not read /user.
            Err(_) => ACTIONS_BOT.into(),
        }
    }

    async fn sticky_comment(
        &self,
        report: &Report,
        options: &PublishOptions,
        number: u64,
        body: &str,
        head_sha: &str,
        current_head: Option<&str>,
    ) -> Result<String, ApiError> {
        let author = self.author(options).await;
        let marker = crate::render::markdown::marker(&report.suite);
        let (outcome, deleted) = comment::upsert(
            self.client,
            &StickyComment {
                repo: self.repo,
                pull_request: number,
                marker: &marker,
                body,
                head_sha,
                current_head,
                author: &author,
                mode: options.comment,
                worth_creating: worth_a_comment(report),
            },
        )
        .await?;
        let mut line = format!("pull request #{number}: {outcome}");
        if deleted > 0 {
            line.push_str(&format!(
                " (deleted {deleted} duplicate comment{} from earlier races)",
                if deleted == 1 { "" } else { "s" }
            ));
        }
        Ok(line)
    }
}
