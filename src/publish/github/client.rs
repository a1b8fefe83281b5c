//! GitHub requests through octocrab, under flamegate's own retry policy.
//!
//! octocrab's built-in retry ignores GitHub's rate-limit headers and sets no
//! timeouts, so it is off and every request goes through
//! [`GithubClient::send`]: one request at a time, a timeout per attempt, a
//! deadline for the whole publish, `retry-after` and `x-ratelimit-reset`
//! honoured, exponential backoff on 5xx and connection errors.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use serde_json::Value;

use super::env::Token;

/// Timing of retries. Defaults suit GitHub; tests shrink `backoff_base`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff after a 5xx or connection error; doubles each retry.
    pub backoff_base: Duration,
    /// Longest single wait flamegate accepts (a later reset gives up).
    pub max_wait: Duration,
    /// Each attempt, response body included.
    pub request_timeout: Duration,
    /// The whole publish.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            backoff_base: Duration::from_secs(1),
            max_wait: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// GitHub asks for at least a minute after a secondary rate limit that
    /// names no wait; scaled with the backoff base so tests stay fast.
    fn secondary_limit_wait(&self) -> Duration {
        self.backoff_base * 60
    }
}

/// A GitHub response with a 2xx status.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl ApiResponse {
    pub fn json(&self) -> Result<Value, ApiError> {
        serde_json::from_str(&self.body).map_err(|e| ApiError::Rejected {
            status: self.status.as_u16(),
            message: format!("the response is not JSON: {e}"),
        })
    }
}

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401/403 that is not a rate limit: the token may not do this.
    Permission {
        status: u16,
        /// From `x-accepted-github-permissions` (`pull_requests=write`).
        accepted: Option<String>,
        message: String,
    },
    /// Any other 4xx: the request itself is wrong; retrying cannot help.
    Rejected { status: u16, message: String },
    /// A create answered by a 5xx, a reset connection or a timeout: it may
    /// have happened. The caller looks before trying again.
    Ambiguous { message: String },
    /// Retries or the deadline ran out.
    GaveUp { message: String },
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Permission {
                status,
                accepted,
                message,
            } => {
                write!(f, "HTTP {status}: {message}")?;
                if let Some(accepted) = accepted {
                    write!(f, " (GitHub accepts: {accepted})")?;
                }
                Ok(())
            }
            ApiError::Rejected { status, message } => write!(f, "HTTP {status}: {message}"),
            ApiError::Ambiguous { message } | ApiError::GaveUp { message } => f.write_str(message),
        }
    }
}

/// Whether a request may simply be sent again after an unclear failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// GET, PATCH, DELETE: repeating does no harm.
    Safe,
    /// POST that creates something: only a request GitHub refused before
    /// acting on it (a rate limit) is sent again.
    Create,
}

pub struct GithubClient {
    octocrab: Octocrab,
    policy: RetryPolicy,
    started: Instant,
    /// Called with a line for each wait, so long publishes are not silent.
    on_wait: Box<dyn Fn(&str) + Send + Sync>,
}

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What happened to one attempt.
enum Attempt {
    Done(ApiResponse),
    /// Wait this long, then try again (rate limits: nothing was done).
    RateLimited(Duration, String),
    /// A 5xx, reset or timeout: the request may or may not have happened.
    Unclear(String),
    Failed(ApiError),
}

impl GithubClient {
    /// A client for `api_url` (GitHub Enterprise: `https://HOST/api/v3`).
    /// Must be called inside a tokio runtime.
    pub fn new(
        api_url: &str,
        token: &Token,
        policy: RetryPolicy,
        on_wait: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Result<GithubClient, String> {
        let octocrab = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| format!("GITHUB_API_URL `{api_url}` is not a URL: {e}"))?
            .personal_token(token.expose().to_string())
            // The per-attempt timeout is flamegate's own (around the whole
            // exchange, body included); the transport's are a backstop that
            // must not race it, or a hang reads as a connection error.
            .set_connect_timeout(Some(policy.request_timeout * 2))
            .set_read_timeout(Some(policy.request_timeout * 2))
            .set_write_timeout(Some(policy.request_timeout * 2))
            .add_header(
                http::header::USER_AGENT,
                format!("flamegate/{}", env!("CARGO_PKG_VERSION")),
            )
            .add_header(
                http::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".into(),
            )
            .build()
            .map_err(|e| format!("cannot set up the GitHub client: {e}"))?;
        Ok(GithubClient {
            octocrab,
            policy,
            started: Instant::now(),
            on_wait,
        })
    }

    fn remaining(&self) -> Duration {
        self.policy.deadline.saturating_sub(self.started.elapsed())
    }

    /// Send `method path` (a path below the API base, with its query) with
    /// an optional JSON body, retrying as the policy says.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        repeat: Repeat,
    ) -> Result<ApiResponse, ApiError> {
        let mut backoff = self.policy.backoff_base;
        let mut attempt = 1;
        loop {
            let wait = match self.attempt(&method, path, body).await {
                Attempt::Done(response) => return Ok(response),
                Attempt::Failed(error) => return Err(error),
                Attempt::RateLimited(wait, why) => (wait, why),
                Attempt::Unclear(why) => {
                    if repeat == Repeat::Create {
                        return Err(ApiError::Ambiguous { message: why });
                    }
                    let wait = backoff;
                    backoff *= 2;
                    (wait, why)
                }
            };
            let (wait, why) = wait;
            if attempt >= self.policy.max_attempts {
                return Err(ApiError::GaveUp {
                    message: format!("{method} {path}: {why}; gave up after {attempt} attempts"),
                });
            }
            if wait > self.policy.max_wait || wait >= self.remaining() {
                return Err(ApiError::GaveUp {
                    message: format!(
                        "{method} {path}: {why}; GitHub asks to wait {}s, past the publish deadline",
                        wait.as_secs_f64().ceil()
                    ),
                });
            }
            (self.on_wait)(&format!(
                "GitHub: {method} {path}: {why}; retrying in {:.1}s",
                wait.as_secs_f64()
            ));
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, method: &Method, path: &str, body: Option<&Value>) -> Attempt {
        let timeout = self.policy.request_timeout.min(self.remaining());
        if timeout.is_zero() {
            return Attempt::Failed(ApiError::GaveUp {
                message: format!(
                    "{method} {path}: the publish deadline ({}s) passed",
                    self.policy.deadline.as_secs()
                ),
            });
        }
        let exchange = async {
            let response = match *method {
                Method::GET => self.octocrab._get(path).await,
                Method::POST => self.octocrab._post(path, body).await,
                Method::PATCH => self.octocrab._patch(path, body).await,
                Method::DELETE => self.octocrab._delete(path, body).await,
                _ => unreachable!("flamegate sends GET, POST, PATCH and DELETE only"),
            }?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = self.octocrab.body_to_string(response).await?;
            Ok::<_, octocrab::Error>((status, headers, body))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Attempt::Unclear(format!("no answer within {}s", timeout.as_secs_f64())),
            Ok(Err(error)) => Attempt::Unclear(format!("connection failed: {}", one_line(&error))),
            Ok(Ok((status, headers, body))) => classify(status, headers, body, &self.policy),
        }
    }
}

/// Sort a response into success, wait-and-retry, unclear or failure.
fn classify(status: StatusCode, headers: HeaderMap, body: String, policy: &RetryPolicy) -> Attempt {
    if status.is_success() {
        return Attempt::Done(ApiResponse {
            status,
            headers,
            body,
        });
    }
    let message = github_message(&body);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(seconds) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
            return Attempt::RateLimited(
                Duration::from_secs(seconds),
                format!(
                    "rate limited (HTTP {}, retry-after {seconds}s)",
                    status.as_u16()
                ),
            );
        }
        if header("x-ratelimit-remaining") == Some("0") {
            let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            // One second more: the reset time is rounded down.
            let wait = reset.map_or(policy.secondary_limit_wait(), |reset| {
                Duration::from_secs(reset.saturating_sub(now) + 1)
            });
            return Attempt::RateLimited(
                wait,
                format!("rate limit used up (HTTP {})", status.as_u16()),
            );
        }
        let lower = message.to_lowercase();
        if status == StatusCode::TOO_MANY_REQUESTS || lower.contains("rate limit") {
            return Attempt::RateLimited(
                policy.secondary_limit_wait(),
                format!("secondary rate limit (HTTP {})", status.as_u16()),
            );
        }
    }
    if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
        return Attempt::Failed(ApiError::Permission {
            status: status.as_u16(),
            accepted: header("x-accepted-github-permissions").map(str::to_string),
            message,
        });
    }
    if status.is_server_error() {
        return Attempt::Unclear(format!("HTTP {}: {message}", status.as_u16()));
    }
    Attempt::Failed(ApiError::Rejected {
        status: status.as_u16(),
        message,
    })
}

/// GitHub's `message` (and validation details) or the start of the body.
fn github_message(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return one_line(&body.chars().take(300).collect::<String>());
    };
    let mut parts: Vec<String> = ["message", "title", "detail"]
        .iter()
        .filter_map(|k| value.get(k).and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    for list in ["errors", "validation"] {
        if let Some(items) = value.get(list).and_then(Value::as_array) {
            parts.extend(items.iter().take(5).map(|e| match e {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
        }
    }
    if parts.is_empty() {
        one_line(&body.chars().take(300).collect::<String>())
    } else {
        one_line(&parts.join("; "))
    }
}

fn one_line(text: &dyn std::fmt::Display) -> String {
    text.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn rate_limits_wait_and_permissions_do_not() {
        let policy = RetryPolicy::default();
        let wait = |status: u16, pairs: &[(&'static str, &str)], body: &str| match classify(
            StatusCode::from_u16(status).unwrap(),
            headers(pairs),
            body.into(),
            &policy,
        ) {
            Attempt::RateLimited(wait, _) => Some(wait),
            _ => None,
        };
        assert_eq!(
            wait(429, &[("retry-after", "7")], ""),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            wait(403, &[("retry-after", "3")], ""),
            Some(Duration::from_secs(3))
        );
        assert_eq!(wait(429, &[], ""), Some(Duration::from_secs(60)));
        assert_eq!(
            wait(
                403,
                &[],
                r#"{"message":"You have exceeded a secondary rate limit"}"#
            ),
            Some(Duration::from_secs(60))
        );
        assert!(wait(403, &[("x-ratelimit-remaining", "0")], "").is_some());
        match classify(
            StatusCode::FORBIDDEN,
            headers(&[("x-accepted-github-permissions", "pull_requests=write")]),
            r#"{"message":"Resource not accessible by integration"}"#.into(),
            &policy,
        ) {
            Attempt::Failed(ApiError::Permission { accepted, .. }) => {
                assert_eq!(accepted.as_deref(), Some("pull_requests=write"))
            }
            _ => panic!("a plain 403 is a permission problem"),
        }
        assert!(matches!(
            classify(
                StatusCode::BAD_GATEWAY,
                HeaderMap::new(),
                String::new(),
                &policy
            ),
            Attempt::Unclear(_)
        ));
    }
}
