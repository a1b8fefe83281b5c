//! The Action's install step (action/install.sh, what action.yml runs)
//! against a local stand-in for GitHub's release downloads: an HTTP server
//! holding `v<version>/flamegate-<target>.tar.xz` and its `.sha256`, as the
//! release workflow attaches them, with this build's real binaries inside.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};

use crate::support::{checkout_dir, stderr, stdout};

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Serves files under a folder, 404 for anything else; remembers the paths
/// asked for.
struct ReleaseServer {
    url: String,
    asked: Arc<Mutex<Vec<String>>>,
    _thread: std::thread::JoinHandle<()>,
}

type Served = (PathBuf, Arc<Mutex<Vec<String>>>);

async fn serve_file(State((root, asked)): State<Served>, uri: Uri) -> (StatusCode, Vec<u8>) {
    let path = uri.path().trim_start_matches('/').to_string();
    asked.lock().unwrap().push(path.clone());
    if path.split('/').any(|part| part == "..") {
        return (StatusCode::BAD_REQUEST, Vec::new());
    }
    match std::fs::read(root.join(&path)) {
        Ok(bytes) => (StatusCode::OK, bytes),
        Err(_) => (StatusCode::NOT_FOUND, b"Not Found".to_vec()),
    }
}

impl ReleaseServer {
    fn start(root: &Path) -> ReleaseServer {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let state: Served = (root.to_path_buf(), asked.clone());
        // The thread ends with the test process.
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = Router::new().fallback(serve_file).with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        ReleaseServer {
            url,
            asked,
            _thread: thread,
        }
    }
}

/// The digest of the source in `dir`, as the release workflow attaches it.
fn source_digest(dir: &Path) -> String {
    let output = Command::new("bash")
        .arg(checkout_dir().join("action/source-digest.sh"))
        .arg(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().to_string()
}

/// A release of this version for `TARGET` under `root`, as the release
/// workflow packs it: this build's binaries, the archive's checksum (or
/// `checksum` instead, when given) and this checkout's source digest.
fn publish_release(root: &Path, checksum: Option<&str>) -> String {
    let version_dir = root.join(format!("v{}", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(&version_dir).unwrap();
    std::fs::write(
        version_dir.join("flamegate-source.sha256"),
        source_digest(&checkout_dir()) + "\n",
    )
    .unwrap();
    let packed = version_dir.join(format!("flamegate-{TARGET}"));
    std::fs::create_dir_all(&packed).unwrap();
    for (name, exe) in [
        ("flamegate", env!("CARGO_BIN_EXE_flamegate")),
        ("cargo-flamegate", env!("CARGO_BIN_EXE_cargo-flamegate")),
    ] {
        std::fs::copy(exe, packed.join(name)).unwrap();
    }
    let archive = format!("flamegate-{TARGET}.tar.xz");
    let packing = Command::new("sh")
        .arg("-c")
        .arg(format!(
            // Stripped as a release build is, so packing takes a second.
            "strip flamegate-{TARGET}/* && tar -cf - flamegate-{TARGET} | xz -0 -T0 > {archive} \
             && sha256sum {archive} > {archive}.sha256"
        ))
        .current_dir(&version_dir)
        .output()
        .unwrap();
    assert!(packing.status.success(), "{}", stderr(&packing));
    std::fs::remove_dir_all(&packed).unwrap();
    let sums = version_dir.join(format!("{archive}.sha256"));
    let real = std::fs::read_to_string(&sums).unwrap();
    if let Some(checksum) = checksum {
        std::fs::write(&sums, format!("{checksum}  {archive}\n")).unwrap();
    }
    real.split_whitespace().next().unwrap().to_string()
}

/// A `cargo` ahead of the real one on PATH that writes the arguments it
/// was called with to `cargo-args` beside it: whether, and how, the step
/// builds from source, without minutes of building.
fn recording_cargo(dir: &Path) -> std::ffi::OsString {
    let bin = dir.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("cargo");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > {:?}\n",
            dir.join("cargo-args").display().to_string()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap()
}

/// Run the install step as action.yml does on a Linux x64 runner, used as
/// `owner/flamegate@…` (so a release may match), downloading from `release_url`.
fn install_step(work: &Path, release_url: Option<&str>, repository: &str) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(checkout_dir().join("action/install.sh"))
        .env("GITHUB_ACTION_PATH", checkout_dir())
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("FLAMEGATE_ACTION_REPOSITORY", repository)
        .env("FLAMEGATE_INSTALL_DIR", work.join("bin"))
        .env("PATH", recording_cargo(work))
        .env_remove("FLAMEGATE_RELEASE_URL");
    if let Some(url) = release_url {
        command.env("FLAMEGATE_RELEASE_URL", url);
    }
    command.output().unwrap()
}

#[test]
fn the_action_installs_its_versions_release_binary_after_checking_its_checksum() {
    let release = tempfile::tempdir().unwrap();
    let checksum = publish_release(release.path(), None);
    let server = ReleaseServer::start(release.path());
    let work = tempfile::tempdir().unwrap();
    let output = install_step(work.path(), Some(&server.url), "owner/flamegate");
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains(&format!("sha256 {checksum} verified")),
        "{}",
        stdout(&output)
    );
    let version = Command::new(work.path().join("bin/flamegate"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&version).trim(),
        format!("flamegate {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(work.path().join("bin/cargo-flamegate").exists());
    assert!(
        !work.path().join("cargo-args").exists(),
        "nothing was built"
    );
    let asked = server.asked.lock().unwrap().clone();
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let archive = format!("{version}/flamegate-{TARGET}.tar.xz");
    assert_eq!(
        asked,
        [
            format!("{version}/flamegate-source.sha256"),
            archive.clone(),
            format!("{archive}.sha256")
        ]
    );
}

#[test]
fn a_release_download_with_the_wrong_checksum_is_refused_and_not_built_instead() {
    let release = tempfile::tempdir().unwrap();
    let forged = "0".repeat(64);
    publish_release(release.path(), Some(&forged));
    let server = ReleaseServer::start(release.path());
    let work = tempfile::tempdir().unwrap();
    let output = install_step(work.path(), Some(&server.url), "owner/flamegate");
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains(&format!("checksum mismatch for {}/", server.url))
            && stdout(&output).contains(&format!("the release says {forged}")),
        "{}",
        stdout(&output)
    );
    assert!(!work.path().join("bin/flamegate").exists());
    assert!(!work.path().join("cargo-args").exists(), "no build instead");
}

#[test]
fn without_a_matching_release_the_action_builds_its_own_source() {
    let empty = tempfile::tempdir().unwrap();
    let server = ReleaseServer::start(empty.path());
    let work = tempfile::tempdir().unwrap();
    let output = install_step(work.path(), Some(&server.url), "owner/flamegate");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("(HTTP 404); building it from source"),
        "{}",
        stdout(&output)
    );
    let args = std::fs::read_to_string(work.path().join("cargo-args")).unwrap();
    assert_eq!(
        args.trim(),
        format!(
            "install --locked --root {} --path {}",
            work.path().display(),
            checkout_dir().display()
        )
    );

    // A release of this version built from other sources (the action is
    // pinned to a commit after it): its binary may lack what the action's
    // scripts call.
    let other = tempfile::tempdir().unwrap();
    publish_release(other.path(), None);
    let digest = other.path().join(format!(
        "v{}/flamegate-source.sha256",
        env!("CARGO_PKG_VERSION")
    ));
    std::fs::write(&digest, format!("{}\n", "1".repeat(64))).unwrap();
    let server = ReleaseServer::start(other.path());
    let between = tempfile::tempdir().unwrap();
    let output = install_step(between.path(), Some(&server.url), "owner/flamegate");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("built from other sources than this action's"),
        "{}",
        stdout(&output)
    );
    assert!(between.path().join("cargo-args").exists());
    assert!(!between.path().join("bin/flamegate").exists());

    // Used from a checkout (`uses: ./`): its code may be newer than any
    // release, so no download is tried.
    let local = tempfile::tempdir().unwrap();
    let output = install_step(local.path(), None, "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("uses: ./"), "{}", stdout(&output));
    assert!(local.path().join("cargo-args").exists());
}

/// `cargo binstall flamegate` looks for the archives where the Action's
/// install step does, with the binaries where the release workflow packs
/// them, for every target the workflow builds and the step knows.
#[test]
fn binstall_the_action_and_the_release_workflow_agree_on_the_archives() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(checkout_dir().join("Cargo.toml")).unwrap())
            .unwrap();
    let binstall = &manifest["package"]["metadata"]["binstall"];
    assert_eq!(binstall["pkg-fmt"].as_str(), Some("txz"));
    let fill = |template: &str, target: &str| {
        template
            .replace("{ repo }", "https://github.com/owner/flamegate")
            .replace("{ name }", "flamegate")
            .replace("{ version }", env!("CARGO_PKG_VERSION"))
            .replace("{ target }", target)
            .replace("{ archive-suffix }", ".tar.xz")
            .replace("{ bin }", "flamegate")
            .replace("{ binary-ext }", "")
    };
    let workflow =
        std::fs::read_to_string(checkout_dir().join(".github/workflows/release.yml")).unwrap();
    let install = std::fs::read_to_string(checkout_dir().join("action/install.sh")).unwrap();
    assert!(
        workflow.contains(r#"dir="flamegate-$TARGET""#)
            && workflow.contains(r#"tar -cJf "$dir.tar.xz" "$dir""#)
    );
    assert!(
        install.contains("archive=flamegate-$target.tar.xz")
            && install.contains("url=$base/v$version/$archive")
    );
    let targets: Vec<&str> = workflow
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- { target: "))
        .filter_map(|rest| rest.split(',').next())
        .collect();
    assert_eq!(targets.len(), 4, "{workflow}");
    for target in targets {
        assert!(
            install.contains(&format!(") target={target} ;;")),
            "install.sh knows {target}"
        );
        assert_eq!(
            fill(binstall["pkg-url"].as_str().unwrap(), target),
            format!(
                "https://github.com/owner/flamegate/releases/download/v{}/flamegate-{target}.tar.xz",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(
            fill(binstall["bin-dir"].as_str().unwrap(), target),
            format!("flamegate-{target}/flamegate")
        );
    }
}
