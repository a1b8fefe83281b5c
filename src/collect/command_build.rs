//! Building what `[[command]]` entries run: cargo binary targets in the
//! bench profile, or a program with its own build command, on each side.

use std::path::Path;
use std::process::{Command, Stdio};

use cargo_metadata::TargetKind;

use crate::error::{Error, Result};
use crate::record::command::CommandSpec;

use super::cargo::{BenchExecutable, BenchTarget, Project, artifacts};

/// Build what `[[command]]` entries run: cargo binary targets in the
/// bench profile (as `cargo bench` builds what it measures), programs by
/// their own `build`. One executable per binary or program, carrying its
/// commands.
pub fn build_commands(
    project: &Project,
    commands: &[CommandSpec],
    extra_env: &[(String, String)],
) -> Result<Vec<BenchExecutable>> {
    let mut bins: Vec<(Option<&str>, &str, &[String])> = commands
        .iter()
        .filter_map(|c| {
            Some((
                c.package.as_deref(),
                c.bin.as_deref()?,
                c.features.as_slice(),
            ))
        })
        .collect();
    bins.sort_unstable();
    bins.dedup();
    let mut programs: Vec<(&Path, &[String])> = commands
        .iter()
        .filter_map(|c| Some((c.program.as_deref()?, c.build.as_slice())))
        .collect();
    programs.sort_unstable();
    programs.dedup();
    let mut executables = Vec::new();
    for (package, bin, features) in bins {
        let mut exe = build_bin(project, package, bin, features, extra_env)?;
        exe.commands = commands
            .iter()
            .filter(|c| c.bin.as_deref() == Some(bin) && c.package.as_deref() == package)
            .cloned()
            .collect();
        executables.push(exe);
    }
    for (program, build) in programs {
        let mut exe = build_program(project, program, build)?;
        exe.commands = commands
            .iter()
            .filter(|c| c.program.as_deref() == Some(program))
            .cloned()
            .collect();
        executables.push(exe);
    }
    Ok(executables)
}

/// Build cargo binary target `bin` in the bench profile; no commands yet.
fn build_bin(
    project: &Project,
    package: Option<&str>,
    bin: &str,
    features: &[String],
    extra_env: &[(String, String)],
) -> Result<BenchExecutable> {
    let mut args: Vec<String> = vec!["build".into(), "--profile".into(), "bench".into()];
    if let Some(package) = package {
        args.extend(["--package".into(), package.into()]);
    }
    if !features.is_empty() {
        args.extend(["--features".into(), features.join(",")]);
    }
    args.extend(["--bin".into(), bin.into()]);
    let shown = format!(
        "cargo {} --manifest-path {}",
        args.join(" "),
        project.manifest_path.display()
    );
    let built = artifacts(project, &args, extra_env, &shown)?
        .into_iter()
        .find(|a| a.target.kind.contains(&TargetKind::Bin) && a.target.name == bin);
    let Some((path, artifact)) = built.and_then(|a| Some((a.executable.clone()?, a))) else {
        return Err(Error::BuildFailed {
            command: shown,
            status: format!("success, but cargo reported no executable for binary `{bin}`"),
        });
    };
    let package_dir = artifact
        .manifest_path
        .parent()
        .map(|dir| dir.as_std_path().to_path_buf())
        .unwrap_or_else(|| project.dir.clone());
    Ok(BenchExecutable {
        target: BenchTarget {
            name: bin.to_string(),
            package: package.unwrap_or_default().to_string(),
            package_spec: artifact.package_id.repr.clone(),
            package_dir,
            default: package.is_none(),
            shown_with_package: false,
        },
        path: path.into_std_path_buf(),
        reused: artifact.fresh,
        criterion: None,
        divan: None,
        commands: Vec::new(),
    })
}

/// Run `build` (when there is one) in the project directory, then find
/// `program` there; no commands yet.
fn build_program(project: &Project, program: &Path, build: &[String]) -> Result<BenchExecutable> {
    if let Some((first, rest)) = build.split_first() {
        let shown = build.join(" ");
        let status = Command::new(first)
            .args(rest)
            .current_dir(&project.dir)
            .stdin(Stdio::null())
            // Its output is build progress, as cargo's: on stderr.
            .stdout(std::io::stderr())
            .status()
            .map_err(|e| Error::BuildFailed {
                command: shown.clone(),
                status: format!("could not start: {e}"),
            })?;
        if !status.success() {
            return Err(Error::BuildFailed {
                command: format!("{shown} (in {})", project.dir.display()),
                status: status.to_string(),
            });
        }
    }
    let path = project.dir.join(program);
    if !path.is_file() {
        let after = match build.is_empty() {
            true => String::new(),
            false => format!(" after `{}`", build.join(" ")),
        };
        return Err(Error::Usage(format!(
            "the program {} that a [[command]] entry runs is not there{after}; fix its `program` \
             (a path relative to the project) or its `build` in flamegate.toml",
            path.display()
        )));
    }
    Ok(BenchExecutable {
        target: BenchTarget {
            name: program.display().to_string(),
            package: String::new(),
            package_spec: String::new(),
            package_dir: project.dir.clone(),
            default: true,
            shown_with_package: false,
        },
        path,
        reused: false,
        criterion: None,
        divan: None,
        commands: Vec::new(),
    })
}
