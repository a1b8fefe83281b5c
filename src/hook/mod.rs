//! The local pre-push check: `flamegate hook install | uninstall`, and the
//! quick gate the installed hook runs (`flamegate hook pre-push`).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The line that marks a hook file as flamegate's.
const HOOK_MARKER: &str = "# flamegate pre-push hook";
/// Where a chained hook (one that was there before) is kept.
const CHAINED_NAME: &str = "pre-push.flamegate-chained";
/// Short criterion windows: a pre-push check must take seconds, not minutes.
pub const QUICK_CRITERION_ARGS: [&str; 4] = ["--warm-up-time", "0.5", "--measurement-time", "1"];
/// How long a push waits for the check by default (`hook install --budget`).
pub const DEFAULT_BUDGET_SECONDS: u64 = 300;
/// The exit status by which the check blocks a push: a failed gate or a
/// chained hook that refused. Every other status lets the push through.
pub const BLOCKS_PUSH: u8 = crate::error::exit_code::REGRESSION;
const INTERRUPTED: u8 = crate::error::exit_code::INTERRUPTED;

/// The hooks folder git uses for the repository at `dir` (`core.hooksPath`
/// honoured).
pub fn hooks_dir(dir: &Path) -> Result<PathBuf> {
    let repo = git2::Repository::discover(dir).map_err(|_| Error::NotARepository {
        path: dir.to_path_buf(),
    })?;
    let configured = repo
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok());
    Ok(match configured {
        Some(path) if path.is_absolute() => path,
        Some(path) => repo
            .workdir()
            .map_or_else(|| repo.path().join(&path), |w| w.join(&path)),
        None => repo.path().join("hooks"),
    })
}

/// What the installed hook runs, chosen at install time.
#[derive(Debug, Clone, Copy)]
pub struct QuickGate<'a> {
    /// A project below the top of the work tree, relative to it (git runs
    /// the hook there), so a moved or re-cloned repository still finds it.
    pub manifest: Option<&'a Path>,
    /// Seconds the push may wait for the check.
    pub budget: u64,
    /// criterion's arguments for the quick gate.
    pub criterion_args: &'a [String],
    /// Time benchmarks the stored baseline does not have too (by default
    /// they are listed, not timed: they can only read `new`).
    pub time_new: bool,
}

/// The hook script: runs this flamegate binary with the quick gate's
/// settings.
fn script(flamegate: &Path, gate: QuickGate) -> Result<String> {
    let quote = |text: &str| {
        shlex::try_quote(text)
            .map(|q| q.into_owned())
            .map_err(|_| Error::Usage(format!("cannot put {text:?} into a shell script")))
    };
    let exe = quote(&flamegate.to_string_lossy())?;
    let args: Vec<String> = gate
        .criterion_args
        .iter()
        .map(|a| quote(a))
        .collect::<Result<_>>()?;
    let mut options = match gate.manifest {
        Some(path) => format!(" --manifest-path {}", quote(&path.to_string_lossy())?),
        None => String::new(),
    };
    if gate.time_new {
        options.push_str(" --time-new");
    }
    options.push_str(&format!(" --budget {}", gate.budget));
    // The path is quoted once, into a variable, and only ever expanded as
    // "$flamegate": spliced into the `echo "…"` text, a path holding `$(…)`
    // ran a command on every push, and one holding `"` broke the script.
    // Only status 1 (a failed gate, a chained hook that refused) and an
    // interrupted check stop the push: anything else (an error, a crash, a
    // flamegate too old for this script's flags) lets it through with a
    // word on how to skip the hook.
    Ok(format!(
        "#!/bin/sh\n\
         {HOOK_MARKER} (installed by `flamegate hook install`; remove it with `flamegate hook uninstall`).\n\
         # Skip once: FLAMEGATE_SKIP=1 git push, or git push --no-verify.\n\
         if [ \"$FLAMEGATE_SKIP\" = 1 ]; then exit 0; fi\n\
         flamegate={exe}\n\
         if [ ! -x \"$flamegate\" ]; then\n\
         \x20 echo \"flamegate pre-push hook: $flamegate is gone; push not checked (reinstall with flamegate hook install)\" >&2\n\
         \x20 exit 0\n\
         fi\n\
         \"$flamegate\" hook pre-push{options} \"$@\" -- {}\n\
         status=$?\n\
         if [ \"$status\" = {BLOCKS_PUSH} ] || [ \"$status\" = {INTERRUPTED} ]; then exit \"$status\"; fi\n\
         if [ \"$status\" != 0 ]; then\n\
         \x20 echo \"flamegate pre-push hook: the check did not run to a verdict (exit status $status); pushing anyway, CI gates it. To skip the hook: FLAMEGATE_SKIP=1 git push, or git push --no-verify\" >&2\n\
         fi\n\
         exit 0\n",
        args.join(" ")
    ))
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.contains(HOOK_MARKER))
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

/// What `install` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    New(PathBuf),
    Replaced(PathBuf),
    /// The hook that was there runs first, from `pre-push.flamegate-chained`.
    Chained {
        hook: PathBuf,
        chained: PathBuf,
    },
}

/// Write the pre-push hook. A hook that is not flamegate's is kept unless
/// `force` (then it is overwritten) or `chain` (then it is moved aside and
/// run before flamegate's).
pub fn install(
    dir: &Path,
    flamegate: &Path,
    gate: QuickGate,
    force: bool,
    chain: bool,
) -> Result<Installed> {
    let hooks = hooks_dir(dir)?;
    std::fs::create_dir_all(&hooks).map_err(|e| Error::io(&hooks, e))?;
    let hook = hooks.join("pre-push");
    let chained = hooks.join(CHAINED_NAME);
    let text = script(flamegate, gate)?;
    let outcome = if hook.exists() && !is_ours(&hook) {
        if chain {
            if chained.exists() {
                return Err(Error::WouldOverwrite {
                    path: chained,
                    why: "a chained hook is already kept there".into(),
                });
            }
            std::fs::rename(&hook, &chained).map_err(|e| Error::io(&hook, e))?;
            Installed::Chained {
                hook: hook.clone(),
                chained,
            }
        } else if force {
            Installed::Replaced(hook.clone())
        } else {
            return Err(Error::WouldOverwrite {
                path: hook,
                why: "it is another pre-push hook, not flamegate's. Pass --chain to run it first and then flamegate's, or".into(),
            });
        }
    } else if hook.exists() {
        Installed::Replaced(hook.clone())
    } else {
        Installed::New(hook.clone())
    };
    crate::record::write_atomic(&hook, text.as_bytes())?;
    make_executable(&hook)?;
    Ok(outcome)
}

/// Remove flamegate's hook, putting a chained one back. A hook that is not
/// flamegate's is left alone.
pub fn uninstall(dir: &Path) -> Result<String> {
    let hooks = hooks_dir(dir)?;
    let hook = hooks.join("pre-push");
    let chained = hooks.join(CHAINED_NAME);
    if !hook.exists() {
        return Ok(format!("no pre-push hook at {}", hook.display()));
    }
    if !is_ours(&hook) {
        return Err(Error::Usage(format!(
            "{} is not flamegate's hook; left as it is",
            hook.display()
        )));
    }
    std::fs::remove_file(&hook).map_err(|e| Error::io(&hook, e))?;
    if chained.exists() {
        std::fs::rename(&chained, &hook).map_err(|e| Error::io(&chained, e))?;
        return Ok(format!(
            "removed flamegate's pre-push hook and put the earlier hook back at {}",
            hook.display()
        ));
    }
    Ok(format!("removed {}", hook.display()))
}

/// One line of what git hands a pre-push hook on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRef {
    pub local_ref: String,
    pub local_oid: String,
    pub remote_ref: String,
    pub remote_oid: String,
}

fn is_zero_oid(oid: &str) -> bool {
    !oid.is_empty() && oid.bytes().all(|b| b == b'0')
}

impl PushedRef {
    /// `git push origin :branch`: nothing to measure.
    pub fn is_deletion(&self) -> bool {
        is_zero_oid(&self.local_oid)
    }

    /// The remote has no such branch yet.
    pub fn is_new_branch(&self) -> bool {
        is_zero_oid(&self.remote_oid)
    }
}

/// Parse `<local ref> <local oid> <remote ref> <remote oid>` lines; blank
/// lines are ignored, malformed ones are an error that quotes them.
pub fn parse_pre_push(input: &str) -> Result<Vec<PushedRef>> {
    input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [local_ref, local_oid, remote_ref, remote_oid] => Ok(PushedRef {
                    local_ref: local_ref.to_string(),
                    local_oid: local_oid.to_string(),
                    remote_ref: remote_ref.to_string(),
                    remote_oid: remote_oid.to_string(),
                }),
                _ => Err(Error::Usage(format!(
                    "pre-push: unexpected line from git: {line:?} (expected `<local ref> <local oid> <remote ref> <remote oid>`)"
                ))),
            }
        })
        .collect()
}

/// Which pushed refs the quick gate can measure: the work tree is HEAD, so
/// only refs pushing HEAD's commit. Returns (measured, notes).
pub fn plan(refs: &[PushedRef], head: Option<&str>) -> (bool, Vec<String>) {
    let mut measure = false;
    let mut notes = Vec::new();
    for r in refs {
        if r.is_deletion() {
            notes.push(format!("{}: deleted, nothing to check", r.remote_ref));
        } else if Some(r.local_oid.as_str()) == head {
            measure = true;
        } else {
            notes.push(format!(
                "{}: not checked, its commit {} is not checked out (flamegate measures the work tree)",
                r.local_ref,
                crate::error::short_sha(&r.local_oid)
            ));
        }
    }
    (measure, notes)
}

/// Run the hook git kept aside, with the same arguments and stdin.
pub fn run_chained(dir: &Path, args: &[String], stdin: &str) -> Result<Option<i32>> {
    let chained = hooks_dir(dir)?.join(CHAINED_NAME);
    if !chained.exists() {
        return Ok(None);
    }
    use std::io::Write;
    let mut child = std::process::Command::new(&chained)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(&chained, e))?;
    if let Some(mut input) = child.stdin.take() {
        // A hook that does not read its stdin closes the pipe: not an error.
        let _ = input.write_all(stdin.as_bytes());
    }
    let status = child.wait().map_err(|e| Error::io(&chained, e))?;
    Ok(Some(status.code().unwrap_or(1)))
}

/// The top of the work tree that holds `dir`: where git runs hooks.
pub fn work_tree_top(dir: &Path) -> Result<PathBuf> {
    let repo = git2::Repository::discover(dir).map_err(|_| Error::NotARepository {
        path: dir.to_path_buf(),
    })?;
    let top = repo.workdir().ok_or_else(|| Error::NotARepository {
        path: dir.to_path_buf(),
    })?;
    top.canonicalize().map_err(|e| Error::io(top, e))
}

/// How the supervised check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervised {
    /// With this status (255 when a signal ended it).
    Exited(u8),
    /// The budget ran out first; the check and everything it started were
    /// stopped.
    OutOfTime,
    /// The push was interrupted (Ctrl-C); the check was stopped likewise.
    Interrupted,
}

/// Run this `hook pre-push` again as a child (`--supervised`), with git's
/// lines on its stdin, in a process group of its own so that when `budget`
/// runs out it is stopped with every build and benchmark it started. The
/// terminal's Ctrl-C no longer reaches that group, so an interrupted push
/// (SIGINT, SIGTERM, SIGHUP here) stops it too.
pub fn supervise(budget: std::time::Duration) -> Result<Supervised> {
    use std::io::Write;
    let stdin = read_stdin()?;
    let exe = std::env::current_exe().map_err(|e| Error::io("the flamegate executable", e))?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let at = args.iter().position(|a| a == "--").unwrap_or(args.len());
    args.insert(at, "--supervised".into());
    let mut command = std::process::Command::new(&exe);
    command.args(&args).stdin(std::process::Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in signal_hook::consts::TERM_SIGNALS {
        signal_hook::flag::register(*signal, std::sync::Arc::clone(&interrupted))
            .map_err(|e| Error::io("a signal handler", e))?;
    }
    let mut child = command.spawn().map_err(|e| Error::io(&exe, e))?;
    if let Some(mut input) = child.stdin.take() {
        // A child that stopped early closes the pipe: its status says why.
        let _ = input.write_all(stdin.as_bytes());
    }
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::io(&exe, e))? {
            let code = status.code().and_then(|c| u8::try_from(c).ok());
            return Ok(Supervised::Exited(code.unwrap_or(u8::MAX)));
        }
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            stop_group(&mut child);
            return Ok(Supervised::Interrupted);
        }
        if started.elapsed() >= budget {
            stop_group(&mut child);
            return Ok(Supervised::OutOfTime);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Stop the child and its process group (its builds and benchmarks).
fn stop_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(group) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // it touches no memory of this process.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// All of stdin (what git writes to a pre-push hook).
pub fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Error::io("stdin", e))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const ZERO: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn pre_push_lines_are_parsed_and_planned() {
        assert!(parse_pre_push("").unwrap().is_empty());
        let input = format!(
            "refs/heads/feature {A} refs/heads/feature {B}\n\
             refs/heads/new {A} refs/heads/new {ZERO}\n\
             (delete) {ZERO} refs/heads/old {B}\n\
             refs/heads/other {B} refs/heads/other {A}\n"
        );
        let refs = parse_pre_push(&input).unwrap();
        assert_eq!(refs.len(), 4);
        assert!(refs[1].is_new_branch() && !refs[1].is_deletion());
        assert!(refs[2].is_deletion());
        let (measure, notes) = plan(&refs, Some(A));
        assert!(measure);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("deleted"));
        assert!(notes[1].contains("not checked out"));
        let (measure, _) = plan(&refs[2..3], Some(A));
        assert!(!measure, "a deletion alone measures nothing");
        assert!(parse_pre_push("one two three\n").is_err());
    }

    #[test]
    fn the_script_quotes_what_it_runs_and_blocks_only_on_a_verdict() {
        let text = script(
            Path::new("/opt/my tools/flamegate"),
            QuickGate {
                manifest: Some(Path::new("app/Cargo.toml")),
                budget: 120,
                criterion_args: &["--measurement-time".into(), "1".into()],
                time_new: false,
            },
        )
        .unwrap();
        assert!(
            text.contains("flamegate='/opt/my tools/flamegate'\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\"$flamegate\" hook pre-push --manifest-path app/Cargo.toml --budget 120 \"$@\" -- --measurement-time 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "if [ \"$status\" = 1 ] || [ \"$status\" = 130 ]; then exit \"$status\"; fi\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("exit 0\n"), "{text}");
        assert!(text.starts_with("#!/bin/sh\n"));
        assert!(text.contains(HOOK_MARKER));
    }
}
