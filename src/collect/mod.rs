//! Collect: run the project's criterion benchmarks and read their raw samples.
//!
//! Takes the project (from `cargo metadata`), builds the selected bench
//! targets, runs each executable with its own fresh `CRITERION_HOME` (so no
//! leftover criterion baseline can leak in), and hands on the benchmarks'
//! `BenchResult`s plus the machine fingerprint, assembled into a `RunRecord`.

pub mod cargo;
pub mod criterion_output;
pub mod machine;
mod progress;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::record::{BenchResult, RECORD_SCHEMA, RunRecord};

pub use cargo::{BenchExecutable, BenchTarget, Project};
pub use progress::Progress;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunSelection {
    /// Bench target names; empty means every bench target.
    pub benches: Vec<String>,
    /// criterion's benchmark filter (a regular expression over ids).
    pub filter: Option<String>,
    /// Extra criterion arguments, e.g. `--measurement-time 2`.
    pub criterion_args: Vec<String>,
}

/// Flags that would make criterion do something other than a timing run.
const FORBIDDEN_ARGS: &[&str] = &[
    "--list",
    "--test",
    "--profile-time",
    "--save-baseline",
    "--baseline",
    "--load-baseline",
];

/// Build and run the selected benchmarks of `project`; return the run's record.
pub fn run(
    project: &Project,
    selection: &RunSelection,
    commit: Option<String>,
    dirty: bool,
    progress: &Progress,
) -> Result<RunRecord> {
    if let Some(bad) = selection
        .criterion_args
        .iter()
        .find(|a| FORBIDDEN_ARGS.contains(&a.split('=').next().unwrap_or("")))
    {
        return Err(Error::Usage(format!(
            "criterion argument `{bad}` cannot be passed through: flamegate runs the timing pass itself and keeps its own baselines"
        )));
    }
    let targets = project.select(&selection.benches)?;
    progress.note(&format!(
        "building {} bench target(s) of {}",
        targets.len(),
        project.name
    ));
    let executables = cargo::build(project, &targets, &[])?;
    let machine = machine::fingerprint(&project.dir);

    let mut listed = Vec::new();
    for exe in &executables {
        let ids = list_benchmarks(exe, selection.filter.as_deref())?;
        listed.push((exe, ids));
    }
    let total: usize = listed.iter().map(|(_, ids)| ids.len()).sum();
    if total == 0 {
        return Err(Error::Usage(match &selection.filter {
            Some(f) => format!(
                "the filter `{f}` matched no benchmark; `flamegate run --list` shows the ids"
            ),
            None => "the bench targets define no criterion benchmarks".into(),
        }));
    }
    let bar = progress.bar(total as u64, "benchmarking");
    let scratch = tempfile::Builder::new()
        .prefix("flamegate-criterion-")
        .tempdir_in(ensure_dir(&project.target_dir.join("flamegate"))?)
        .map_err(|e| Error::io(&project.target_dir, e))?;
    let mut benches: Vec<BenchResult> = Vec::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        if ids.is_empty() {
            continue;
        }
        let home = scratch.path().join(index.to_string());
        run_executable(exe, selection, &home, &bar)?;
        let results = criterion_output::read_criterion_home(&home)?;
        for id in ids {
            if !results.iter().any(|r| r.id.as_str() == id) {
                return Err(Error::CriterionLayout {
                    path: home.clone(),
                    problem: format!("benchmark `{id}` was listed but wrote no results"),
                });
            }
        }
        benches.extend(results);
    }
    bar.finish();
    benches.sort_by(|a, b| a.id.cmp(&b.id));
    let record = RunRecord {
        schema: RECORD_SCHEMA,
        commit,
        dirty,
        machine,
        created: time::OffsetDateTime::now_utc(),
        benches,
    };
    record.validate(&crate::error::RecordSource::File(home_label(project)))?;
    Ok(record)
}

fn home_label(project: &Project) -> std::path::PathBuf {
    project.target_dir.join("flamegate")
}

fn ensure_dir(dir: &Path) -> Result<&Path> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(dir)
}

/// The benchmark ids an executable defines (criterion's `--list`).
pub fn list_benchmarks(exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>> {
    let mut command = bench_command(exe);
    command.arg("--list");
    if let Some(filter) = filter {
        command.arg(filter);
    }
    let output = command.output().map_err(|e| Error::io(&exe.path, e))?;
    if !output.status.success() {
        return Err(Error::BenchFailed {
            exe: exe.path.clone(),
            status: output.status.to_string(),
            output_tail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": benchmark"))
        .map(str::to_string)
        .collect())
}

fn bench_command(exe: &BenchExecutable) -> Command {
    let mut command = Command::new(&exe.path);
    command
        .arg("--bench")
        .current_dir(&exe.target.package_dir)
        .env("CARGO_MANIFEST_DIR", &exe.target.package_dir)
        .env("CARGO_PKG_NAME", &exe.target.package)
        .stdin(Stdio::null());
    command
}

const OUTPUT_TAIL_LINES: usize = 40;

fn run_executable(
    exe: &BenchExecutable,
    selection: &RunSelection,
    criterion_home: &Path,
    bar: &progress::Bar,
) -> Result<()> {
    let mut command = bench_command(exe);
    if let Some(filter) = &selection.filter {
        command.arg(filter);
    }
    if !selection.criterion_args.iter().any(|a| a == "--noplot") {
        command.arg("--noplot");
    }
    command
        .args(&selection.criterion_args)
        .env("CRITERION_HOME", criterion_home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| Error::io(&exe.path, e))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stdout_tail = std::thread::spawn(move || tail_of(stdout));
    // criterion reports progress on stderr: "Benchmarking ID: Analyzing" ends one.
    let mut tail = VecDeque::new();
    for line in BufReader::new(child.stderr.take().expect("stderr is piped")).lines() {
        let Ok(line) = line else { break };
        if let Some(rest) = line.strip_prefix("Benchmarking ") {
            match rest.rsplit_once(": ") {
                Some((id, "Analyzing")) => bar.finished_one(id),
                Some((id, _)) => bar.working_on(id),
                None => bar.working_on(rest),
            }
        }
        push_tail(&mut tail, line);
    }
    let status = child.wait().map_err(|e| Error::io(&exe.path, e))?;
    if !status.success() {
        let mut output: Vec<String> = stdout_tail.join().unwrap_or_default().into();
        output.extend(tail);
        return Err(Error::BenchFailed {
            exe: exe.path.clone(),
            status: status.to_string(),
            output_tail: output.join("\n"),
        });
    }
    Ok(())
}

fn push_tail(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == OUTPUT_TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

fn tail_of(reader: impl Read) -> VecDeque<String> {
    let mut tail = VecDeque::new();
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        push_tail(&mut tail, line);
    }
    tail
}
