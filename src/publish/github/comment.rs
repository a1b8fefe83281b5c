//! The sticky pull-request comment: one per pull request and suite, found by
//! its marker and author, updated in place.

use http::Method;
use serde_json::{Value, json};

use super::client::{ApiError, GithubClient, Repeat};
use super::env::RepoName;

/// When to write the comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentMode {
    /// Create or update it on every run.
    Always,
    /// Create it only when a benchmark regressed, improved, appeared or
    /// disappeared; an existing comment is still kept up to date.
    Changed,
    /// Never touch comments.
    Never,
}

/// One listed comment, as much as flamegate reads of it.
#[derive(Debug, Clone)]
pub struct ListedComment {
    pub id: u64,
    pub author: String,
    pub body: String,
}

/// What the sticky comment step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOutcome {
    Created {
        id: u64,
    },
    Updated {
        id: u64,
    },
    /// The comment already says exactly this.
    Unchanged {
        id: u64,
    },
    /// This run's head is no longer the pull request's head: nothing is
    /// written (a run of the current head will write).
    OlderHead {
        current_head: String,
    },
    /// `--comment changed` and nothing changed: no comment created.
    NothingToSay,
}

impl std::fmt::Display for CommentOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommentOutcome::Created { id } => write!(f, "created comment {id}"),
            CommentOutcome::Updated { id } => write!(f, "updated comment {id}"),
            CommentOutcome::Unchanged { id } => write!(f, "comment {id} already up to date"),
            CommentOutcome::OlderHead { current_head } => write!(
                f,
                "left comment untouched: this run's head is not the pull request's current head {}, \
                 whose run will publish",
                crate::error::short_sha(current_head)
            ),
            CommentOutcome::NothingToSay => {
                f.write_str("no comment: nothing changed (--comment changed)")
            }
        }
    }
}

/// What to post, and where.
pub struct StickyComment<'a> {
    pub repo: &'a RepoName,
    pub pull_request: u64,
    /// `<!-- flamegate:SUITE -->`: the body's first line.
    pub marker: &'a str,
    pub body: &'a str,
    pub head_sha: &'a str,
    /// The pull request's head now, if known: a comment that describes it
    /// is never replaced by a run of an older head.
    pub current_head: Option<&'a str>,
    /// The login comments are written as; others' comments are never touched.
    pub author: &'a str,
    pub mode: CommentMode,
    /// Whether the report has something worth a new comment.
    pub worth_creating: bool,
}

const PER_PAGE: usize = 100;

/// Every comment on the pull request, oldest first, all pages.
pub async fn list_comments(
    client: &GithubClient,
    repo: &RepoName,
    pull_request: u64,
) -> Result<Vec<ListedComment>, ApiError> {
    let mut all = Vec::new();
    for page in 1.. {
        let path = format!(
            "{}/issues/{pull_request}/comments?per_page={PER_PAGE}&page={page}",
            repo.api_path()
        );
        let response = client.send(Method::GET, &path, None, Repeat::Safe).await?;
        let value = response.json()?;
        let items = value.as_array().ok_or_else(|| ApiError::Rejected {
            status: response.status.as_u16(),
            message: "listing comments did not return a list".into(),
        })?;
        all.extend(items.iter().filter_map(|c| {
            Some(ListedComment {
                id: c.get("id")?.as_u64()?,
                author: c
                    .pointer("/user/login")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                body: c
                    .get("body")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            })
        }));
        if items.len() < PER_PAGE {
            break;
        }
    }
    all.sort_by_key(|c| c.id);
    Ok(all)
}

/// Create, update or leave the sticky comment, and delete duplicates left
/// by earlier races (the oldest is kept).
pub async fn upsert(
    client: &GithubClient,
    sticky: &StickyComment<'_>,
) -> Result<(CommentOutcome, usize), ApiError> {
    if sticky.mode == CommentMode::Never {
        return Ok((CommentOutcome::NothingToSay, 0));
    }
    // A run for a head the pull request has moved on from writes nothing,
    // whichever head the comment describes now: with pushes h1, h2, h3,
    // h1's late publisher must not replace h2's results, nor create a
    // comment that h3's run (under `--comment changed`) chose not to.
    if let Some(current) = sticky.current_head
        && sticky.head_sha != current
    {
        return Ok((
            CommentOutcome::OlderHead {
                current_head: current.to_string(),
            },
            0,
        ));
    }
    let comments_path = format!(
        "{}/issues/{}/comments",
        sticky.repo.api_path(),
        sticky.pull_request
    );
    let mut created_once = false;
    loop {
        let ours: Vec<ListedComment> = list_comments(client, sticky.repo, sticky.pull_request)
            .await?
            .into_iter()
            .filter(|c| {
                c.author == sticky.author
                    && c.body.lines().next().map(str::trim) == Some(sticky.marker)
            })
            .collect();
        let mut deleted = 0;
        for duplicate in ours.iter().skip(1) {
            let path = format!(
                "{}/issues/comments/{}",
                sticky.repo.api_path(),
                duplicate.id
            );
            match client.send(Method::DELETE, &path, None, Repeat::Safe).await {
                Ok(_) => deleted += 1,
                // Another run deleted it first.
                Err(ApiError::Rejected { status: 404, .. }) => {}
                Err(error) => return Err(error),
            }
        }
        if let Some(existing) = ours.first() {
            if existing.body == sticky.body {
                return Ok((CommentOutcome::Unchanged { id: existing.id }, deleted));
            }
            let path = format!("{}/issues/comments/{}", sticky.repo.api_path(), existing.id);
            // PATCH, as GitHub's description says (octocrab 0.54's
            // `update_comment` sends POST).
            client
                .send(
                    Method::PATCH,
                    &path,
                    Some(&json!({ "body": sticky.body })),
                    Repeat::Safe,
                )
                .await?;
            return Ok((CommentOutcome::Updated { id: existing.id }, deleted));
        }
        if sticky.mode == CommentMode::Changed && !sticky.worth_creating {
            return Ok((CommentOutcome::NothingToSay, deleted));
        }
        match client
            .send(
                Method::POST,
                &comments_path,
                Some(&json!({ "body": sticky.body })),
                Repeat::Create,
            )
            .await
        {
            Ok(response) => {
                let id = response
                    .json()?
                    .get("id")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                return Ok((CommentOutcome::Created { id }, deleted));
            }
            // The create may have happened: list again before another try.
            Err(ApiError::Ambiguous { .. }) if !created_once => created_once = true,
            Err(error) => return Err(error),
        }
    }
}
