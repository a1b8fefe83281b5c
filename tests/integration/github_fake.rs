//! A stateful fake GitHub for the publish tests, and Prism in front of it.
//!
//! Every request flamegate sends is first checked by Prism against GitHub's
//! own OpenAPI description (tests/github-api): a request GitHub's schema
//! rejects is answered 422 and recorded as a violation, which fails the test.
//! Only then does the fake act on it, keeping comments and check runs as
//! GitHub would, with faults injected on demand.

use std::collections::VecDeque;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

/// Prism serving GitHub's description (trimmed), shared by all tests.
pub struct Prism {
    pub url: String,
    _process: Mutex<Child>,
}

fn api_dir() -> PathBuf {
    crate::support::checkout_dir().join("tests/github-api")
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_checked(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start ({e}); Node.js and npm are needed"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Install Prism and GitHub's description (npm ci, once), trim the
/// description, start Prism. A Prism that cannot start fails the tests:
/// conformance is not optional.
pub fn prism() -> &'static Prism {
    static PRISM: OnceLock<Prism> = OnceLock::new();
    PRISM.get_or_init(|| {
        let dir = api_dir();
        // nextest runs each test in its own process: one installs and trims
        // at a time (a file lock), the others then find both done.
        // Named by what makes it: a changed trim.mjs or lock trims anew.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for input in ["trim.mjs", "package-lock.json"] {
            std::hash::Hash::hash(&std::fs::read(dir.join(input)).expect(input), &mut hasher);
        }
        let trimmed = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "github-trimmed-{:016x}.json",
            std::hash::Hasher::finish(&hasher)
        ));
        let lock_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("github-api.lock");
        let lock = std::fs::File::create(&lock_path).expect("lock file");
        lock.lock().expect("lock the GitHub API install");
        if !dir.join("node_modules/.bin/prism").exists() {
            run_checked(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir),
                "npm ci in tests/github-api",
            );
        }
        if !trimmed.exists() {
            let partial = trimmed.with_extension("partial.json");
            run_checked(
                Command::new("node")
                    .arg("trim.mjs")
                    .arg(&partial)
                    .current_dir(&dir),
                "trimming GitHub's OpenAPI description",
            );
            std::fs::rename(&partial, &trimmed).expect("rename the trimmed description");
        }
        drop(lock);
        let port = free_port();
        let started = std::time::Instant::now();
        // The shell outlives nothing: when this test process exits, its end
        // of the stdin pipe closes, `cat` returns and Prism is killed.
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prism.log");
        let script = format!(
            "node_modules/.bin/prism mock --errors -h 127.0.0.1 -p {port} '{}' >'{}' 2>&1 & \
             pid=$!; cat >/dev/null; kill $pid",
            trimmed.display(),
            log.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .spawn()
            .expect("sh starts");
        let url = format!("http://127.0.0.1:{port}");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Prism did not start within 60 s; see {}/prism.log",
                env!("CARGO_TARGET_TMPDIR")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("Prism started in {:.1}s", started.elapsed().as_secs_f64());
        Prism {
            url,
            _process: Mutex::new(child),
        }
    })
}

/// A fault to inject into the next request that matches.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, headers and body; do nothing.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Never answer (until the client gives up).
    Hang,
    /// Drop the connection mid-response; do nothing.
    Reset,
    /// Do what was asked, then answer 502 anyway.
    ActThen502,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub author: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub annotations: Vec<Value>,
    pub largest_batch: usize,
}

#[derive(Debug, Clone)]
pub struct PullRequest {
    pub number: u64,
    pub head_sha: String,
    pub head_ref: String,
    pub head_owner: String,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: String,
}

#[derive(Debug, Default)]
pub struct GithubState {
    /// The login the test token acts as.
    pub bot: String,
    /// `GET /user` refused (an installation token, like GITHUB_TOKEN).
    pub user_forbidden: bool,
    /// The token is read-only: every write gets 403 (a fork's pull request).
    pub read_only: bool,
    pub comments: Vec<Comment>,
    pub check_runs: Vec<CheckRun>,
    pub pulls: Vec<PullRequest>,
    /// Reviews of pull request #7, oldest first: (login, state, commit).
    pub reviews: Vec<(String, String, String)>,
    /// Repository permission by login (`admin`, `write`, `read`);
    /// anyone else is not a collaborator (404).
    pub permissions: Vec<(String, String)>,
    pub faults: VecDeque<(Method, &'static str, Fault)>,
    pub requests: Vec<Request>,
    pub violations: Vec<String>,
    next_id: u64,
}

impl GithubState {
    pub fn add_comment(&mut self, author: &str, body: &str) -> u64 {
        self.next_id += 1;
        self.comments.push(Comment {
            id: self.next_id,
            author: author.into(),
            body: body.into(),
        });
        self.next_id
    }

    /// Fail the next `method` request whose path contains `path_part`.
    pub fn inject(&mut self, method: Method, path_part: &'static str, fault: Fault) {
        self.faults.push_back((method, path_part, fault));
    }

    pub fn writes(&self) -> usize {
        self.requests.iter().filter(|r| r.method != "GET").count()
    }
}

/// A running fake GitHub.
pub struct FakeGithub {
    pub url: String,
    pub state: Arc<Mutex<GithubState>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FakeGithub {
    /// Start a fake with one open pull request #7 whose head is `head_sha`.
    pub fn start(head_sha: &str) -> FakeGithub {
        let prism_url = prism().url.clone();
        let state = Arc::new(Mutex::new(GithubState {
            bot: "github-actions[bot]".into(),
            user_forbidden: true,
            pulls: vec![PullRequest {
                number: 7,
                head_sha: head_sha.into(),
                head_ref: "feature".into(),
                head_owner: "contributor".into(),
            }],
            next_id: 1000,
            ..GithubState::default()
        }));
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = (state.clone(), prism_url);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = Router::new().fallback(handle).with_state(shared);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
            // Hanging handlers are dropped with the runtime.
            runtime.shutdown_timeout(Duration::from_millis(100));
        });
        FakeGithub {
            url,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, GithubState> {
        self.state.lock().unwrap()
    }

    /// No request broke GitHub's schema.
    pub fn assert_conformant(&self) {
        let state = self.state();
        assert!(
            state.violations.is_empty(),
            "requests GitHub's OpenAPI description rejects:\n{}",
            state.violations.join("\n")
        );
    }
}

type Shared = (Arc<Mutex<GithubState>>, String);

fn json_response(status: u16, value: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

/// Ask Prism whether GitHub's description accepts this request.
async fn prism_check(
    prism_url: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<String> {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let prism_url = prism_url.to_string();
    let method = method.clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = body.to_vec();
    // A blocking client in a blocking task: simple, and the fake is not
    // what is being measured.
    tokio::task::spawn_blocking(move || {
        let url = format!("{prism_url}{path_and_query}");
        let mut request = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(&url);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent
            .run(request.body(body).unwrap())
            .map_err(|e| format!("Prism unreachable: {e}"))
            .ok()?;
        let status = response.status().as_u16();
        let violations = response
            .headers()
            .get("sl-violations")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| serde_json::from_str::<Vec<Value>>(v).ok());
        // Prism also checks its own example responses; GitHub's examples
        // are not always valid. Only the request's violations count here.
        let request_violations: Vec<String> = violations
            .iter()
            .flatten()
            .filter(|v| v.pointer("/location/0").and_then(Value::as_str) == Some("request"))
            .map(Value::to_string)
            .collect();
        if !request_violations.is_empty() {
            return Some(format!(
                "{method} {path_and_query}: {}",
                request_violations.join("; ")
            ));
        }
        // No such path or method in GitHub's description.
        if violations.is_none() && (status == 404 || status == 405) {
            return Some(format!(
                "{method} {path_and_query}: HTTP {status} from Prism: no such operation"
            ));
        }
        None
    })
    .await
    .unwrap()
}

fn comment_json(c: &Comment, repo: &str) -> Value {
    json!({
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "url": format!("https://api.github.com/repos/{repo}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{repo}/pull/7#issuecomment-{}", c.id),
        "body": c.body,
        "user": { "login": c.author, "id": 41898282, "type": "Bot" },
        "created_at": "2026-11-26T12:00:00Z",
        "updated_at": "2026-11-26T12:00:00Z",
        "issue_url": format!("https://api.github.com/repos/{repo}/issues/7"),
        "author_association": "NONE",
    })
}

/// `page` (from 1) and `per_page` (GitHub's default 30) of a list request.
fn page_of(uri: &Uri) -> (usize, usize) {
    let number = |name, default| {
        query_param(uri, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (number("page", 1), number("per_page", 30))
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%3A", ":").replace("%3a", ":"))
    })
}

async fn handle(
    State((state, prism_url)): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests.push(Request {
            method: method.to_string(),
            path: uri.to_string(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        });
        let index = s
            .faults
            .iter()
            .position(|(m, part, _)| *m == method && path.contains(part));
        index.and_then(|i| s.faults.remove(i)).map(|(_, _, f)| f)
    };
    match &fault {
        Some(Fault::Respond(status, extra, text)) => {
            let mut response = Response::builder()
                .status(*status)
                .header("content-type", "application/json");
            for (k, v) in extra {
                response = response.header(*k, v.as_str());
            }
            return response.body(Body::from(text.clone())).unwrap();
        }
        Some(Fault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Some(Fault::Reset) => {
            let stream = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection reset by the fake"))
            });
            return Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(stream))
                .unwrap();
        }
        _ => {}
    }
    if let Some(violation) = prism_check(&prism_url, &method, &uri, &headers, &body).await {
        state.lock().unwrap().violations.push(violation.clone());
        return json_response(422, json!({ "message": violation }));
    }
    let response = act(&state, &method, &uri, &body);
    if matches!(fault, Some(Fault::ActThen502)) {
        return json_response(502, json!({ "message": "Server Error" }));
    }
    response
}

/// What GitHub would do.
fn act(state: &Mutex<GithubState>, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let mut s = state.lock().unwrap();
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let forbidden = || {
        Response::builder()
            .status(403)
            .header("content-type", "application/json")
            .header("x-accepted-github-permissions", "pull_requests=write")
            .body(Body::from(
                json!({"message": "Resource not accessible by integration"}).to_string(),
            ))
            .unwrap()
    };
    if *method != Method::GET && s.read_only {
        return forbidden();
    }
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["user"]) => {
            if s.user_forbidden {
                forbidden()
            } else {
                json_response(200, json!({ "login": s.bot, "id": 1 }))
            }
        }
        ("GET", ["repos", owner, repo, "issues", _, "comments"]) => {
            let (page, per_page) = page_of(uri);
            let full = format!("{owner}/{repo}");
            let items: Vec<Value> = s
                .comments
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|c| comment_json(c, &full))
                .collect();
            json_response(200, Value::Array(items))
        }
        ("POST", ["repos", owner, repo, "issues", _, "comments"]) => {
            let text = input["body"].as_str().unwrap_or("").to_string();
            if text.len() > 65_536 {
                return json_response(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"code": "custom", "message": "body is too long (maximum is 65536 characters)"}]}),
                );
            }
            let author = s.bot.clone();
            s.add_comment(&author, &text);
            let created = s.comments.last().unwrap().clone();
            json_response(201, comment_json(&created, &format!("{owner}/{repo}")))
        }
        ("PATCH", ["repos", owner, repo, "issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let bot = s.bot.clone();
            let text = input["body"].as_str().unwrap_or("").to_string();
            if text.len() > 65_536 {
                return json_response(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"code": "custom", "message": "body is too long (maximum is 65536 characters)"}]}),
                );
            }
            match s.comments.iter_mut().find(|c| c.id == id) {
                None => json_response(404, json!({"message": "Not Found"})),
                Some(c) if c.author != bot => forbidden(),
                Some(c) => {
                    c.body = text;
                    let c = c.clone();
                    json_response(200, comment_json(&c, &format!("{owner}/{repo}")))
                }
            }
        }
        ("DELETE", ["repos", _, _, "issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let bot = s.bot.clone();
            match s.comments.iter().position(|c| c.id == id) {
                None => json_response(404, json!({"message": "Not Found"})),
                Some(i) if s.comments[i].author != bot => forbidden(),
                Some(i) => {
                    s.comments.remove(i);
                    Response::builder().status(204).body(Body::empty()).unwrap()
                }
            }
        }
        ("GET", ["repos", _, _, "pulls", number]) => {
            let number: u64 = number.parse().unwrap_or(0);
            match s.pulls.iter().find(|p| p.number == number) {
                None => json_response(404, json!({"message": "Not Found"})),
                Some(p) => json_response(200, pull_json(p)),
            }
        }
        ("GET", ["repos", _, _, "pulls"]) => {
            let head = query_param(uri, "head").unwrap_or_default();
            let list: Vec<Value> = s
                .pulls
                .iter()
                .filter(|p| head.is_empty() || head == format!("{}:{}", p.head_owner, p.head_ref))
                .map(pull_json)
                .collect();
            json_response(200, Value::Array(list))
        }
        ("GET", ["repos", _, _, "pulls", _, "reviews"]) => {
            let (page, per_page) = page_of(uri);
            let list: Vec<Value> = s
                .reviews
                .iter()
                .enumerate()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|(i, (login, state, commit))| {
                    json!({"id": i + 1, "user": {"login": login}, "state": state, "commit_id": commit, "body": ""})
                })
                .collect();
            json_response(200, Value::Array(list))
        }
        ("GET", ["repos", _, _, "collaborators", login, "permission"]) => {
            match s.permissions.iter().find(|(l, _)| l == login) {
                Some((login, permission)) => json_response(
                    200,
                    json!({"permission": permission, "role_name": permission, "user": {"login": login}}),
                ),
                None => json_response(404, json!({"message": "Not Found"})),
            }
        }
        ("POST", ["repos", _, _, "check-runs"]) => {
            s.next_id += 1;
            let run = CheckRun {
                id: s.next_id,
                name: input["name"].as_str().unwrap_or("").into(),
                head_sha: input["head_sha"].as_str().unwrap_or("").into(),
                status: input["status"].as_str().unwrap_or("queued").into(),
                conclusion: None,
                annotations: Vec::new(),
                largest_batch: 0,
            };
            let reply = json!({"id": run.id, "name": run.name, "head_sha": run.head_sha, "status": run.status});
            s.check_runs.push(run);
            json_response(201, reply)
        }
        ("GET", ["repos", _, _, "commits", sha, "check-runs"]) => {
            let name = uri.query().and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "check_name")
                    .map(|(_, v)| v.into_owned())
            });
            let runs: Vec<Value> = s
                .check_runs
                .iter()
                .filter(|r| r.head_sha == *sha && name.as_ref().is_none_or(|n| *n == r.name))
                .map(|r| json!({"id": r.id, "name": r.name, "head_sha": r.head_sha, "status": r.status}))
                .collect();
            json_response(200, json!({"total_count": runs.len(), "check_runs": runs}))
        }
        ("PATCH", ["repos", _, _, "check-runs", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            // GitHub's own limits, which Prism does not enforce.
            let annotations = input
                .pointer("/output/annotations")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let summary = input
                .pointer("/output/summary")
                .and_then(Value::as_str)
                .map_or(0, |t| t.chars().count());
            if annotations > 50 || summary > 65_535 {
                return json_response(
                    422,
                    json!({"message": "Validation Failed", "errors": [format!("{annotations} annotations (at most 50), summary of {summary} characters (at most 65535)")]}),
                );
            }
            let Some(run) = s.check_runs.iter_mut().find(|r| r.id == id) else {
                return json_response(404, json!({"message": "Not Found"}));
            };
            if let Some(status) = input["status"].as_str() {
                run.status = status.into();
            }
            if let Some(conclusion) = input["conclusion"].as_str() {
                run.conclusion = Some(conclusion.into());
                run.status = "completed".into();
            }
            if let Some(batch) = input
                .pointer("/output/annotations")
                .and_then(Value::as_array)
            {
                run.largest_batch = run.largest_batch.max(batch.len());
                run.annotations.extend(batch.iter().cloned());
            }
            let reply = json!({"id": run.id, "status": run.status, "conclusion": run.conclusion});
            json_response(200, reply)
        }
        _ => json_response(404, json!({"message": "Not Found"})),
    }
}

fn pull_json(p: &PullRequest) -> Value {
    json!({
        "number": p.number,
        "state": "open",
        "head": {
            "sha": p.head_sha,
            "ref": p.head_ref,
            "label": format!("{}:{}", p.head_owner, p.head_ref),
            "repo": { "owner": { "login": p.head_owner } },
        },
    })
}
