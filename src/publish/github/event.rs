//! The event that started the workflow: which pull request and which commit
//! the results are for. Read loosely (`serde_json::Value`): fields may be
//! missing, and a missing field is a clear refusal, never a panic.

use serde_json::Value;

use super::env::ActionsEnv;

/// Where the results go, as the trusted event payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A `pull_request` (or `pull_request_target`) job publishing its own results.
    PullRequest {
        number: u64,
        head_sha: String,
        /// The head is in another repository: the job's token is read-only,
        /// and the `workflow_run` publisher posts instead.
        from_fork: bool,
    },
    /// A `workflow_run` job publishing the results of a `pull_request` run.
    WorkflowRun {
        /// The run that measured (its artifacts hold the report).
        run_id: u64,
        head_sha: String,
        /// Pull requests GitHub lists for the run (empty for forks).
        pull_requests: Vec<(u64, Option<String>)>,
        /// `owner` and `branch` of the head, to find a fork's pull request.
        head_owner: Option<String>,
        head_branch: Option<String>,
    },
    /// Any other event (a push to main): no pull request to comment on.
    Commit { sha: Option<String> },
}

impl Origin {
    /// The commit the published results must describe.
    pub fn head_sha(&self) -> Option<&str> {
        match self {
            Origin::PullRequest { head_sha, .. } | Origin::WorkflowRun { head_sha, .. } => {
                Some(head_sha)
            }
            Origin::Commit { sha } => sha.as_deref(),
        }
    }
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

fn u64_at(value: &Value, path: &[&str]) -> Option<u64> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_u64)
}

/// A commit id as GitHub writes it: 40 (or 64) hex digits.
pub fn is_commit_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Read the event payload `env` points at and say where results go.
/// `from_workflow_run` demands a `workflow_run` event (fork-safe mode).
pub fn read_origin(env: &ActionsEnv, from_workflow_run: bool) -> Result<Origin, String> {
    let name = env.event_name.as_deref().unwrap_or("");
    if from_workflow_run && name != "workflow_run" {
        return Err(format!(
            "--from-workflow-run needs a `workflow_run` event, but GITHUB_EVENT_NAME is `{name}`; \
             run it in a workflow triggered by `on: workflow_run` (see .github/workflows/flamegate-publish.yml)"
        ));
    }
    let payload = match &env.event_path {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| format!("cannot read the event file {}: {e}", path.display()))?;
            serde_json::from_slice::<Value>(&text)
                .map_err(|e| format!("the event file {} is not JSON: {e}", path.display()))?
        }
        None if name.is_empty() => {
            return Ok(Origin::Commit {
                sha: env.sha.clone(),
            });
        }
        None => {
            return Err(format!(
                "GITHUB_EVENT_NAME is `{name}` but GITHUB_EVENT_PATH is not set; run inside GitHub Actions"
            ));
        }
    };
    match name {
        "workflow_run" => workflow_run(&payload),
        // A review re-runs the gate, so an approval can verify an acceptance.
        "pull_request" | "pull_request_target" | "pull_request_review" => {
            let number = u64_at(&payload, &["pull_request", "number"])
                .or_else(|| u64_at(&payload, &["number"]))
                .ok_or("the pull_request event has no pull request number")?;
            let head_sha = str_at(&payload, &["pull_request", "head", "sha"])
                .filter(|s| is_commit_sha(s))
                .ok_or("the pull_request event has no head commit (pull_request.head.sha)")?;
            let head_repo = str_at(&payload, &["pull_request", "head", "repo", "full_name"]);
            let base_repo = str_at(&payload, &["pull_request", "base", "repo", "full_name"])
                .or(env.repository.as_deref());
            Ok(Origin::PullRequest {
                number,
                head_sha: head_sha.to_string(),
                from_fork: matches!((head_repo, base_repo), (Some(h), Some(b)) if h != b),
            })
        }
        _ => Ok(Origin::Commit {
            sha: env.sha.clone(),
        }),
    }
}

fn workflow_run(payload: &Value) -> Result<Origin, String> {
    let run = payload
        .get("workflow_run")
        .ok_or("the workflow_run event has no `workflow_run` object")?;
    let event = str_at(run, &["event"]).unwrap_or("");
    if event != "pull_request" && event != "pull_request_review" {
        return Err(format!(
            "the triggering run was for a `{event}` event, not `pull_request`; nothing to publish to a pull request"
        ));
    }
    // A gate that found a regression fails its job: that report is exactly
    // what must be published. Anything else (cancelled, timed out, skipped)
    // has no complete report.
    let conclusion = str_at(run, &["conclusion"]).unwrap_or("");
    if !matches!(conclusion, "success" | "failure") {
        return Err(format!(
            "the triggering run's conclusion is `{conclusion}`; flamegate publishes only runs that finished (success, or failure from a regression)"
        ));
    }
    let run_id = u64_at(run, &["id"]).ok_or("the workflow_run event has no run id")?;
    let head_sha = str_at(run, &["head_sha"])
        .filter(|s| is_commit_sha(s))
        .ok_or("the workflow_run event has no head commit (workflow_run.head_sha)")?;
    let pull_requests = run
        .get("pull_requests")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|pr| {
                    Some((
                        u64_at(pr, &["number"])?,
                        str_at(pr, &["head", "sha"]).map(str::to_string),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Origin::WorkflowRun {
        run_id,
        head_sha: head_sha.to_string(),
        pull_requests,
        head_owner: str_at(run, &["head_repository", "owner", "login"]).map(str::to_string),
        head_branch: str_at(run, &["head_branch"]).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(name: &str, payload: &str) -> (ActionsEnv, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, payload).unwrap();
        let env = ActionsEnv {
            event_name: Some(name.into()),
            event_path: Some(path),
            ..ActionsEnv::default()
        };
        (env, dir)
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn workflow_run_refusals_say_why() {
        for (payload, expect) in [
            ("{}", "no `workflow_run`"),
            (r#"{"workflow_run":{"event":"push"}}"#, "`push`"),
            (
                r#"{"workflow_run":{"event":"pull_request","conclusion":"cancelled"}}"#,
                "`cancelled`",
            ),
            (
                r#"{"workflow_run":{"event":"pull_request","conclusion":"success","id":5}}"#,
                "no head commit",
            ),
            ("not json", "not JSON"),
        ] {
            let (env, _dir) = env_with("workflow_run", payload);
            let error = read_origin(&env, true).unwrap_err();
            assert!(error.contains(expect), "{error}");
        }
        let (env, _dir) = env_with("pull_request", "{}");
        assert!(
            read_origin(&env, true)
                .unwrap_err()
                .contains("needs a `workflow_run`")
        );
    }

    #[test]
    fn a_pull_request_event_names_the_head_not_the_merge_commit() {
        let payload =
            format!(r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{SHA}"}}}}}}"#);
        let (env, _dir) = env_with("pull_request", &payload);
        assert_eq!(
            read_origin(&env, false).unwrap(),
            Origin::PullRequest {
                number: 7,
                head_sha: SHA.into(),
                from_fork: false,
            }
        );
    }
}
