//! Cargo: find the project's bench targets (`cargo metadata`) and build their
//! executables (`cargo bench --no-run`), so flamegate runs them by name.
//!
//! Running targets by name, never `cargo bench -- ARGS` over everything, keeps
//! criterion flags away from libtest harnesses (which refuse them).

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cargo_metadata::{Message, MetadataCommand, TargetKind};

use crate::error::{Error, Result};
use crate::record::command::CommandSpec;

/// A bench target of the project.
#[derive(Debug, Clone)]
pub struct BenchTarget {
    pub name: String,
    pub package: String,
    /// How cargo's `--package` names this package without ambiguity: its
    /// package id spec (`path+file:///…#name@version`). The bare name is
    /// ambiguous when the dependency tree holds a package of the same name
    /// (a crate that criterion itself depends on, such as `itoa` or `memchr`).
    pub package_spec: String,
    /// The package's directory: benchmarks run there, as under `cargo bench`.
    pub package_dir: PathBuf,
    /// Run without `--package`: the package is one cargo builds by default
    /// (the root package, else the workspace's default members).
    pub default: bool,
    /// The workspace has bench targets in more than one package, so the
    /// target is named with its package.
    pub shown_with_package: bool,
}

impl BenchTarget {
    /// The same bench target: the same name in the same package (two
    /// workspace members may name a bench target alike).
    pub fn is(&self, other: &BenchTarget) -> bool {
        self.name == other.name && self.package == other.package
    }

    /// How messages name it: "`parse`", or "`parse` (package alpha)" in a
    /// workspace where several packages have bench targets.
    pub fn label(&self) -> String {
        if self.shown_with_package {
            format!("`{}` (package {})", self.name, self.package)
        } else {
            format!("`{}`", self.name)
        }
    }
}

/// What `cargo metadata` says about the project under test.
#[derive(Debug, Clone)]
pub struct Project {
    pub manifest_path: PathBuf,
    /// The directory of the manifest: `flamegate.toml` and `baselines/` live here.
    pub dir: PathBuf,
    pub target_dir: PathBuf,
    /// Where cargo runs to build it: the `.cargo/config.toml` and
    /// `rust-toolchain` found from here apply. The project's own directory;
    /// for the base side of a paired run, the head's (one toolchain and one
    /// cargo configuration for both sides, so that only the code differs).
    pub build_dir: PathBuf,
    /// The root package's name, or the workspace directory's name.
    pub name: String,
    pub bench_targets: Vec<BenchTarget>,
}

/// A built bench executable.
#[derive(Debug, Clone)]
pub struct BenchExecutable {
    pub target: BenchTarget,
    pub path: PathBuf,
    /// Cargo found it up to date and did not build it in this build.
    pub reused: bool,
    /// The criterion version its package depends on (cargo's resolve),
    /// when cargo said.
    pub criterion: Option<cargo_metadata::semver::Version>,
    /// The divan version its package depends on, if any: named when the
    /// target turns out not to be a criterion bench.
    pub divan: Option<cargo_metadata::semver::Version>,
    /// A binary target built for `[[command]]` entries: the commands it
    /// runs (`collect::command`); empty for a bench target.
    pub commands: Vec<CommandSpec>,
}

impl BenchExecutable {
    /// A binary run by `[[command]]` entries, not a bench harness.
    pub fn is_command(&self) -> bool {
        !self.commands.is_empty()
    }

    /// A divan bench: its package depends on divan and not on criterion
    /// (`collect::divan` runs it). A package with both is read as criterion,
    /// and a divan target in it refused by name.
    pub fn is_divan(&self) -> bool {
        self.divan.is_some() && self.criterion.is_none() && !self.is_command()
    }

    /// criterion before 0.4 reads `--warm-up-time`, `--measurement-time`
    /// and `--profile-time` as whole seconds and refuses `0.3`.
    pub fn takes_whole_seconds(&self) -> bool {
        self.criterion
            .as_ref()
            .is_some_and(|v| (v.major, v.minor) < (0, 4))
    }

    /// Whether flamegate's profiler hook can be installed in it (it links
    /// the criterion the hook is built against, or cargo did not say), so
    /// the profiling pass is worth running.
    pub fn fits_profiler_hook(&self) -> bool {
        !self.is_divan()
            && !self.is_command()
            && self
                .criterion
                .as_ref()
                .is_none_or(|v| crate::profile::CRITERION_VERSIONS.contains(&(v.major, v.minor)))
    }

    /// Whether its criterion config installs a profiler (flamegate's hook or
    /// any other `criterion::profiler::Profiler`): without one, criterion's
    /// profiling mode only runs the benchmarks and nothing is sampled. Read
    /// from the symbol table (a profiler is called through `dyn`, so its
    /// `start_profiling` is never inlined away); an executable that cannot be
    /// read is assumed to have one.
    pub fn installs_a_profiler(&self) -> bool {
        // Both manglings spell the method's name out; only those few
        // symbols are demangled.
        self.any_symbol(|symbol| {
            use object::ObjectSymbol;
            symbol.name().is_ok_and(|name| {
                if !name.contains("start_profiling") {
                    return false;
                }
                let name = format!("{:#}", rustc_demangle::demangle(name));
                name.ends_with(" as criterion::profiler::Profiler>::start_profiling")
                    && !name.starts_with("<criterion::profiler::ExternalProfiler as")
            })
        })
        .unwrap_or(true)
    }

    /// Whether its bytes hold `text` (the name of an environment variable a
    /// hook reads is there, inlined or not); an executable that cannot be
    /// read holds nothing.
    pub fn holds_text(&self, text: &str) -> bool {
        let needle = text.as_bytes();
        std::fs::read(&self.path)
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
    }

    /// Whether a `[[command]]` binary samples itself for flamegate
    /// (`flamegate_sampler::profile_command()` in its `main`).
    pub fn profiles_itself(&self) -> bool {
        self.is_command() && self.holds_text(flamegate_sampler::PROFILE_DIR_ENV)
    }

    /// Whether it has a function whose symbol contains `word` (an
    /// executable that cannot be read has none).
    pub fn has_function(&self, word: &str) -> bool {
        self.any_symbol(|symbol| {
            use object::ObjectSymbol;
            symbol.kind() == object::SymbolKind::Text
                && symbol.name().is_ok_and(|name| name.contains(word))
        })
        .unwrap_or(false)
    }

    /// Whether any symbol of its symbol table is one `matches` takes; None
    /// when the executable cannot be read.
    fn any_symbol(&self, matches: impl FnMut(object::Symbol<'_, '_>) -> bool) -> Option<bool> {
        use object::Object;
        let data = std::fs::read(&self.path).ok()?;
        let file = object::File::parse(&*data).ok()?;
        Some(file.symbols().any(matches))
    }
}

/// Inspect the project at `manifest_path` (a `Cargo.toml` or its directory).
pub fn inspect(manifest_path: &Path, target_dir: Option<&Path>) -> Result<Project> {
    let manifest_path = if manifest_path.is_dir() {
        manifest_path.join("Cargo.toml")
    } else {
        manifest_path.to_path_buf()
    };
    if !manifest_path.exists() {
        return Err(Error::Usage(format!(
            "no Cargo project at {}: run flamegate in the project's directory or pass --manifest-path path/to/Cargo.toml",
            manifest_path.display()
        )));
    }
    let mut command = MetadataCommand::new();
    command.manifest_path(&manifest_path).no_deps();
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    let metadata = command.exec().map_err(|e| Error::CargoMetadata {
        manifest: manifest_path.clone(),
        problem: e.to_string(),
    })?;
    // What `cargo bench` runs without `--package`: the root package, else
    // the workspace's default members (all members unless it names some).
    let defaults: Vec<&cargo_metadata::PackageId> = match metadata.root_package() {
        Some(root) => vec![&root.id],
        None => metadata
            .workspace_default_packages()
            .into_iter()
            .map(|p| &p.id)
            .collect(),
    };
    let members = metadata.workspace_packages();
    let with_benches = members
        .iter()
        .filter(|p| {
            p.targets
                .iter()
                .any(|t| t.kind.contains(&TargetKind::Bench))
        })
        .count();
    let bench_targets = members
        .iter()
        .flat_map(|package| {
            let package_dir = package
                .manifest_path
                .parent()
                .map(|p| p.as_std_path().to_path_buf())
                .unwrap_or_default();
            let default = defaults.contains(&&package.id);
            package
                .targets
                .iter()
                .filter(|t| t.kind.contains(&TargetKind::Bench))
                .map(move |t| BenchTarget {
                    name: t.name.clone(),
                    package: package.name.to_string(),
                    package_spec: package_spec(package),
                    package_dir: package_dir.clone(),
                    default,
                    shown_with_package: with_benches > 1,
                })
        })
        .collect();
    let dir = match manifest_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = dir.canonicalize().map_err(|e| Error::io(&dir, e))?;
    let name = metadata
        .root_package()
        .map(|p| p.name.to_string())
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "benches".into());
    // Absolute: cargo runs in `build_dir`, not where flamegate was started.
    let manifest_path = dir.join(manifest_path.file_name().unwrap_or("Cargo.toml".as_ref()));
    Ok(Project {
        manifest_path,
        build_dir: dir.clone(),
        dir,
        target_dir: metadata.target_directory.into_std_path_buf(),
        name,
        bench_targets,
    })
}

/// A package id spec that names `package` alone. Cargo 1.77 and later write
/// package ids as specs (`path+file:///dir#name@1.0.0`); older ids
/// (`name 1.0.0 (path+file:///dir)`) give `name@version`.
fn package_spec(package: &cargo_metadata::Package) -> String {
    let id = &package.id.repr;
    if id.contains("://") && !id.contains(' ') {
        id.clone()
    } else {
        format!("{}@{}", package.name, package.version)
    }
}

impl Project {
    /// The bench targets of `packages` (the default packages when empty)
    /// named in `wanted` (all of them when empty), checked to exist.
    pub fn select(&self, wanted: &[String], packages: &[String]) -> Result<Vec<BenchTarget>> {
        if self.bench_targets.is_empty() {
            return Err(Error::Usage(format!(
                "{} has no bench targets. Add one with criterion, e.g. in Cargo.toml:\n  [[bench]]\n  name = \"my_bench\"\n  harness = false",
                self.manifest_path.display()
            )));
        }
        let with_benches = || {
            let mut names: Vec<&str> = self
                .bench_targets
                .iter()
                .map(|t| t.package.as_str())
                .collect();
            names.dedup();
            names.join(", ")
        };
        if let Some(unknown) = packages
            .iter()
            .find(|p| !self.bench_targets.iter().any(|t| &t.package == *p))
        {
            return Err(Error::Usage(format!(
                "no package `{unknown}` with bench targets in {}; packages with bench targets: {}",
                self.manifest_path.display(),
                with_benches()
            )));
        }
        let candidates: Vec<&BenchTarget> = self
            .bench_targets
            .iter()
            .filter(|t| {
                if packages.is_empty() {
                    t.default
                } else {
                    packages.contains(&t.package)
                }
            })
            .collect();
        if candidates.is_empty() {
            return Err(Error::Usage(format!(
                "the packages cargo builds by default in {} have no bench targets; choose one with \
                 --package (packages with bench targets: {})",
                self.manifest_path.display(),
                with_benches()
            )));
        }
        if wanted.is_empty() {
            return Ok(candidates.into_iter().cloned().collect());
        }
        let available = || {
            candidates
                .iter()
                .map(|t| t.label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut selected = Vec::new();
        for name in wanted {
            let matching: Vec<&&BenchTarget> =
                candidates.iter().filter(|t| &t.name == name).collect();
            if matching.is_empty() {
                return Err(Error::Usage(format!(
                    "no bench target `{name}` in {}; available: {}",
                    self.manifest_path.display(),
                    available()
                )));
            }
            selected.extend(matching.into_iter().map(|t| (*t).clone()));
        }
        Ok(selected)
    }
}

/// Build the selected bench targets in the bench profile and return their
/// executables. Cargo's own progress goes to the user's terminal.
pub fn build(
    project: &Project,
    targets: &[BenchTarget],
    extra_env: &[(String, String)],
) -> Result<Vec<BenchExecutable>> {
    let mut args: Vec<String> = vec!["bench".into(), "--no-run".into()];
    let mut packages: Vec<&str> = targets.iter().map(|t| t.package_spec.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    for package in packages {
        args.extend(["--package".into(), package.to_string()]);
    }
    let mut names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        args.extend(["--bench".into(), name.to_string()]);
    }
    let shown = format!(
        "cargo bench --no-run --manifest-path {}",
        project.manifest_path.display()
    );
    let mut executables = Vec::new();
    for artifact in artifacts(project, &args, extra_env, &shown)? {
        if artifact.target.kind.contains(&TargetKind::Bench)
            && let Some(exe) = artifact.executable
            && let Some(target) = targets.iter().find(|t| {
                // By package too: two members may name a bench target alike.
                t.name == artifact.target.name
                    && artifact.manifest_path.parent().map(|dir| dir.as_std_path())
                        == Some(t.package_dir.as_path())
            })
        {
            executables.push(BenchExecutable {
                target: target.clone(),
                path: exe.into_std_path_buf(),
                reused: artifact.fresh,
                criterion: None,
                divan: None,
                commands: Vec::new(),
            });
        }
    }
    for target in targets {
        if !executables.iter().any(|e| e.target.is(target)) {
            return Err(Error::BuildFailed {
                command: shown,
                status: format!(
                    "success, but cargo reported no executable for bench target {}",
                    target.label()
                ),
            });
        }
    }
    // In the order of the targets (cargo reports them as they finish).
    executables.sort_by_key(|exe| targets.iter().position(|t| t.is(&exe.target)));
    let harnesses = harness_versions(project, extra_env);
    for exe in &mut executables {
        if let Some(found) = harnesses.get(&exe.target.package) {
            exe.criterion = found.get("criterion").cloned();
            exe.divan = found.get("divan").cloned();
        }
    }
    Ok(executables)
}

/// Run cargo with `args` (a build that reports artifacts) for `project`;
/// the artifacts it reports, once it succeeded. Cargo's own progress goes
/// to the user's terminal.
pub(super) fn artifacts(
    project: &Project,
    args: &[String],
    extra_env: &[(String, String)],
    shown: &str,
) -> Result<Vec<cargo_metadata::Artifact>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&project.manifest_path)
        .current_dir(&project.build_dir)
        .env("CARGO_TARGET_DIR", &project.target_dir)
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().map_err(|e| Error::BuildFailed {
        command: shown.to_string(),
        status: format!("could not start: {e}"),
    })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut artifacts = Vec::new();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        let message = message.map_err(|e| Error::io(&project.manifest_path, e))?;
        if let Message::CompilerArtifact(artifact) = message {
            artifacts.push(artifact);
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::io(&project.manifest_path, e))?;
    if !status.success() {
        return Err(Error::BuildFailed {
            command: shown.to_string(),
            status: status.to_string(),
        });
    }
    Ok(artifacts)
}

/// The bench harness crates flamegate knows of: (package, harness).
/// CodSpeed's `codspeed-divan-compat` (its own versions, 2 and 3) runs a
/// fork of divan 0.1 outside CodSpeed's runner, with the same options and
/// output.
const HARNESSES: [(&str, &str); 3] = [
    ("criterion", "criterion"),
    ("divan", "divan"),
    ("codspeed-divan-compat", "divan"),
];

/// The versions of the bench harness crates (`HARNESSES`) each workspace
/// package depends on, from cargo's resolve (after a build, so the lock
/// file and sources are there and nothing is fetched). Empty when cargo
/// cannot say: criterion then counts as current.
fn harness_versions(
    project: &Project,
    extra_env: &[(String, String)],
) -> std::collections::BTreeMap<
    String,
    std::collections::BTreeMap<&'static str, cargo_metadata::semver::Version>,
> {
    let mut command = MetadataCommand::new();
    command
        .manifest_path(&project.manifest_path)
        .current_dir(&project.build_dir)
        .env("CARGO_TARGET_DIR", &project.target_dir);
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let Ok(metadata) = command.exec() else {
        return Default::default();
    };
    let Some(resolve) = &metadata.resolve else {
        return Default::default();
    };
    let package = |id: &cargo_metadata::PackageId| metadata.packages.iter().find(|p| &p.id == id);
    resolve
        .nodes
        .iter()
        .filter(|node| metadata.workspace_members.contains(&node.id))
        .filter_map(|node| {
            let member = package(&node.id)?;
            let found = node
                .deps
                .iter()
                .filter_map(|dep| package(&dep.pkg))
                .filter_map(|dep| {
                    let harness = HARNESSES
                        .iter()
                        .find(|(package, _)| *package == dep.name.as_str())?;
                    Some((harness.1, dep.version.clone()))
                })
                .collect();
            Some((member.name.to_string(), found))
        })
        .collect()
}

/// The packages whose locked versions differ between two `Cargo.lock`
/// texts, by name. A lock file that does not parse reads as empty: the
/// change is then every package, and the caller names none of them wrong.
pub fn lock_changes(before: &str, after: &str) -> Vec<crate::record::commit::PackageChange> {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Locked>,
    }
    #[derive(serde::Deserialize)]
    struct Locked {
        name: String,
        version: String,
    }
    let versions = |text: &str| {
        let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for package in toml::from_str::<Lock>(text)
            .map(|l| l.package)
            .unwrap_or_default()
        {
            by_name
                .entry(package.name)
                .or_default()
                .push(package.version);
        }
        for versions in by_name.values_mut() {
            versions.sort();
        }
        by_name
    };
    let (before, after) = (versions(before), versions(after));
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| crate::record::commit::PackageChange {
            name: name.clone(),
            before: before.get(name).cloned().unwrap_or_default(),
            after: after.get(name).cloned().unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_change_names_bumped_added_and_removed_packages() {
        let before = "version = 4\n\n[[package]]\nname = \"memchr\"\nversion = \"2.7.4\"\n\n\
                      [[package]]\nname = \"tiny\"\nversion = \"0.1.0\"\n\n\
                      [[package]]\nname = \"gone\"\nversion = \"1.0.0\"\n";
        let after = "version = 4\n\n[[package]]\nname = \"memchr\"\nversion = \"2.8.0\"\n\n\
                     [[package]]\nname = \"tiny\"\nversion = \"0.1.0\"\n\n\
                     [[package]]\nname = \"new\"\nversion = \"0.3.0\"\n";
        let changes = lock_changes(before, after);
        let named: Vec<(&str, Vec<&str>, Vec<&str>)> = changes
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.before.iter().map(String::as_str).collect(),
                    c.after.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            named,
            vec![
                ("gone", vec!["1.0.0"], vec![]),
                ("memchr", vec!["2.7.4"], vec!["2.8.0"]),
                ("new", vec![], vec!["0.3.0"]),
            ]
        );
        assert!(lock_changes(before, before).is_empty());
    }
}
