//! The check run (opt-in): created in progress on the pull request's head
//! commit, annotations sent 50 at a time, always completed.

use http::Method;
use serde_json::{Value, json};

use super::body::{CHECK_RUN_TEXT_LIMIT, fit};
use super::client::{ApiError, GithubClient, Repeat};
use super::env::RepoName;
use crate::render::format_change;
use crate::report::{Comparison, Outcome, Report, Verdict, WARNING_VERDICTS};

/// GitHub takes at most this many annotations per request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// At most this many annotations per check run (five requests), worst
/// first: the report is untrusted input in the fork-safe job, and must not
/// decide how many requests the write token sends. The summary has the rest.
pub const ANNOTATIONS_LIMIT: usize = 5 * ANNOTATIONS_PER_REQUEST;
const TITLE_LIMIT: usize = 255;

/// The check run's name for a suite.
pub fn name(suite: &str) -> String {
    format!("flamegate ({suite})")
}

fn clip(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut cut = limit.saturating_sub(1);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut.saturating_sub(2)])
}

/// Annotations for regressed benchmarks and the warning verdicts, on the suite's baseline
/// file (the file every result is measured against): regressions first,
/// each kind largest change first, at most `ANNOTATIONS_LIMIT`.
fn annotations(report: &Report, path: &str) -> Vec<Value> {
    [
        (Verdict::Regressed, "failure"),
        (Verdict::MoreAllocations, "failure"),
        (Verdict::MoreMemory, "failure"),
    ]
    .into_iter()
    .chain(WARNING_VERDICTS.map(|v| (v, "warning")))
    .flat_map(|(verdict, level)| {
        let mut rows: Vec<&Comparison> = report.with(verdict).collect();
        rows.sort_by(|a, b| {
            let size = |c: &Comparison| c.change.as_ref().map_or(0.0, |ch| ch.estimate.abs());
            size(b).total_cmp(&size(a))
        });
        rows.into_iter().map(move |c| {
            let mut message = format!("{} {}", c.id, verdict.label());
            if let Some(ch) = &c.change {
                message.push_str(&format!(
                    " {} (interval {} … {})",
                    format_change(ch.estimate),
                    format_change(ch.ci_low),
                    format_change(ch.ci_high)
                ));
            }
            if let Some(accepted) = &c.accepted {
                message.push_str(&format!("\n{}", crate::render::accepted_text(accepted)));
            }
            if let Some(h) = &c.hotspots {
                message.push_str(&format!("\n{}", h.summary));
            }
            if let Some(check) = c.allocations.as_ref().filter(|check| check.changed()) {
                message.push_str(&format!("\n{}", check.text()));
            }
            json!({
                "path": path,
                "start_line": 1,
                "end_line": 1,
                "annotation_level": level,
                "title": clip(&format!("{} {}", c.id, verdict.label()), TITLE_LIMIT),
                "message": clip(&message, 64 * 1024 - 1),
            })
        })
    })
    .take(ANNOTATIONS_LIMIT)
    .collect()
}

/// Create the check run in progress. A create whose answer was lost (a 5xx,
/// a reset, a timeout) may have happened: list this head's runs of the same
/// name first and take an unfinished one, rather than leave an orphan
/// `in_progress` check on the pull request.
async fn create(
    client: &GithubClient,
    repo: &RepoName,
    head_sha: &str,
    name: &str,
) -> Result<u64, ApiError> {
    let runs = format!("{}/check-runs", repo.api_path());
    let request = json!({ "name": name, "head_sha": head_sha, "status": "in_progress" });
    let mut looked = false;
    loop {
        match client
            .send(Method::POST, &runs, Some(&request), Repeat::Create)
            .await
        {
            Ok(created) => {
                return created
                    .json()?
                    .get("id")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| ApiError::Rejected {
                        status: created.status.as_u16(),
                        message: "the created check run has no id".into(),
                    });
            }
            Err(ApiError::Ambiguous { .. }) if !looked => {
                looked = true;
                if let Some(id) = unfinished(client, repo, head_sha, name).await? {
                    return Ok(id);
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// The newest unfinished check run called `name` on `head_sha`, if any.
async fn unfinished(
    client: &GithubClient,
    repo: &RepoName,
    head_sha: &str,
    name: &str,
) -> Result<Option<u64>, ApiError> {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("check_name", name)
        .append_pair("filter", "latest")
        .append_pair("per_page", "100")
        .finish();
    let path = format!("{}/commits/{head_sha}/check-runs?{query}", repo.api_path());
    let listed = client
        .send(Method::GET, &path, None, Repeat::Safe)
        .await?
        .json()?;
    Ok(listed
        .get("check_runs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|run| {
            run.get("name").and_then(Value::as_str) == Some(name)
                && run.get("status").and_then(Value::as_str) != Some("completed")
        })
        .filter_map(|run| run.get("id").and_then(Value::as_u64))
        .max())
}

/// Create the check run, send the annotations in batches, complete it.
/// Returns its id and the number of annotations sent.
/// If anything fails after the create, one last request still completes it.
pub async fn publish(
    client: &GithubClient,
    repo: &RepoName,
    head_sha: &str,
    report: &Report,
    summary_markdown: &str,
    annotation_path: &str,
) -> Result<(u64, usize), ApiError> {
    let id = create(client, repo, head_sha, &name(&report.suite)).await?;
    let path = format!("{}/check-runs/{id}", repo.api_path());
    let title = clip(
        &format!("flamegate: {}", crate::render::headline(report)),
        TITLE_LIMIT,
    );
    let summary = fit("", summary_markdown, "", CHECK_RUN_TEXT_LIMIT);
    let conclusion = match report.outcome {
        Outcome::Pass => "success",
        Outcome::Fail => "failure",
    };
    let all = annotations(report, annotation_path);
    let batches: Vec<&[Value]> = all.chunks(ANNOTATIONS_PER_REQUEST).collect();
    let mut sent = 0;
    let mut failure = None;
    for batch in batches.iter().take(batches.len().saturating_sub(1)) {
        let update = json!({
            "output": { "title": title, "summary": summary, "annotations": batch },
        });
        match client
            .send(Method::PATCH, &path, Some(&update), Repeat::Safe)
            .await
        {
            Ok(_) => sent += batch.len(),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    let mut output = json!({ "title": title, "summary": summary });
    if failure.is_none()
        && let Some(last) = batches.last()
    {
        output["annotations"] = json!(last);
    }
    let completion = json!({ "status": "completed", "conclusion": conclusion, "output": output });
    client
        .send(Method::PATCH, &path, Some(&completion), Repeat::Safe)
        .await?;
    if failure.is_none() {
        sent += batches.last().map_or(0, |b| b.len());
    }
    match failure {
        Some(error) => Err(error),
        None => Ok((id, sent)),
    }
}
