//! The check run (opt-in): created in progress on the pull request's head
//! commit, annotations sent 50 at a time, always completed.

use http::Method;
use serde_json::{Value, json};

use super::body::{CHECK_RUN_TEXT_LIMIT, fit};
use super::client::{ApiError, GithubClient, Repeat};
use super::env::RepoName;
use crate::render::format_change;
use crate::report::{Outcome, Report, Verdict};

/// GitHub takes at most this many annotations per request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
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

/// Annotations for regressed and noisy benchmarks, on the suite's baseline
/// file (the file every result is measured against).
fn annotations(report: &Report, path: &str) -> Vec<Value> {
    [(Verdict::Regressed, "failure"), (Verdict::Noisy, "warning")]
        .into_iter()
        .flat_map(|(verdict, level)| {
            report.with(verdict).map(move |c| {
                let mut message = format!("{} {}", c.id, verdict.label());
                if let Some(ch) = &c.change {
                    message.push_str(&format!(
                        " {} (interval {} … {})",
                        format_change(ch.estimate),
                        format_change(ch.ci_low),
                        format_change(ch.ci_high)
                    ));
                }
                if let Some(h) = &c.hotspots {
                    message.push_str(&format!("\n{}", h.summary));
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
        .collect()
}

/// Create the check run, send the annotations in batches, complete it.
/// If anything fails after the create, one last request still completes it.
pub async fn publish(
    client: &GithubClient,
    repo: &RepoName,
    head_sha: &str,
    report: &Report,
    summary_markdown: &str,
    annotation_path: &str,
) -> Result<(u64, usize), ApiError> {
    let runs = format!("{}/check-runs", repo.api_path());
    let created = client
        .send(
            Method::POST,
            &runs,
            Some(&json!({
                "name": name(&report.suite),
                "head_sha": head_sha,
                "status": "in_progress",
            })),
            Repeat::Create,
        )
        .await?;
    let id = created
        .json()?
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::Rejected {
            status: created.status.as_u16(),
            message: "the created check run has no id".into(),
        })?;
    let path = format!("{runs}/{id}");
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
