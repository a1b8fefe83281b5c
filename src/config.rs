//! `flamegate.toml` and the rules that combine it with command-line values:
//! the command line wins over the file, the file over defaults. Every
//! percentage is parsed and range-checked here, so later stages trust it.
//! A command resolves all of it once, into `commands::Config`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::baseline::BaseSpec;
use crate::compare::settings::{Settings, ThresholdOverride};
use crate::error::{Error, Result};
use crate::record::check_suite_name;
use crate::record::command::CommandSpec;
use crate::record::note::Note;

/// The config file's name, looked up in the project directory.
pub const CONFIG_FILE: &str = "flamegate.toml";

/// `flamegate.toml`, as written by users.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Suite name: the baseline is `baselines/<suite>.json`.
    pub suite: Option<String>,
    /// The branch pull requests merge into (default: origin/main, main, …).
    pub target_branch: Option<String>,
    /// Earlier baseline versions used for the noise model.
    pub history: Option<usize>,
    /// Bench targets to run (default: all).
    pub benches: Option<Vec<String>>,
    /// Workspace packages whose bench targets run (default: the ones cargo
    /// builds by default).
    pub packages: Option<Vec<String>>,
    /// Extra criterion arguments for the timing pass.
    pub criterion_args: Option<Vec<String>>,
    /// Seconds of sampling per benchmark in the profiling pass.
    pub profile_time: Option<f64>,
    #[serde(default)]
    pub thresholds: FileThresholds,
    #[serde(default)]
    pub accept: FileAccept,
    /// `[[command]]`: whole programs timed as benchmarks.
    #[serde(default)]
    pub command: Vec<CommandSpec>,
}

/// `[accept]`: who may accept a failure with a `Flamegate-Accept` line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAccept {
    /// `off`, `anyone` or `writers` (default): see `record::acceptance::AcceptPolicy`.
    pub policy: Option<crate::record::acceptance::AcceptPolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileThresholds {
    pub min_change: Option<Percent>,
    pub fdr: Option<Percent>,
    /// No longer used (`unchanged` means the interval lies within
    /// ±min_change); read so existing files keep working, with a warning.
    pub noise_limit: Option<Percent>,
    /// Paired: a time change with the same instructions (`layout`) keeps
    /// its timing verdict and fails the gate when slower.
    pub fail_on_layout: Option<bool>,
    /// A group of sized benchmarks whose exponent grew by 0.5 or more with
    /// confidence fails the gate (default true).
    pub fail_on_scaling: Option<bool>,
    /// What more allocations per iteration do: `gate` (default: beyond the
    /// benchmark's own A/A spread fails), `zero-tolerance` (any increase
    /// fails), `report` (shown, never failing).
    pub allocations: Option<crate::compare::allocations::AllocationGate>,
    /// Commands: peak resident memory growth beyond this fails the gate
    /// (default: reported, never failing).
    pub peak_memory: Option<Percent>,
    #[serde(default)]
    pub bench: Vec<FileBenchThreshold>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBenchThreshold {
    pub glob: String,
    pub min_change: Percent,
}

/// A percentage written as `"5%"` or a number of percent (`5`, `0.5`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "PercentInput")]
pub struct Percent(pub f64);

#[derive(Deserialize)]
#[serde(untagged)]
enum PercentInput {
    Number(f64),
    Text(String),
}

impl TryFrom<PercentInput> for Percent {
    type Error = String;
    fn try_from(input: PercentInput) -> std::result::Result<Self, String> {
        match input {
            PercentInput::Number(n) => parse_percent(&n.to_string()),
            PercentInput::Text(t) => parse_percent(&t),
        }
    }
}

/// Parse `"5%"`, `"5"` or `"0.5%"` into a fraction (0.05 …), within 0-1000%.
pub fn parse_percent(text: &str) -> std::result::Result<Percent, String> {
    let number = text.trim().trim_end_matches('%').trim();
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage like `5%`"))?;
    if !value.is_finite() || !(0.0..=1000.0).contains(&value) {
        return Err(format!("`{text}` must be between 0% and 1000%"));
    }
    Ok(Percent(value / 100.0))
}

impl FileConfig {
    /// Read `path`; a missing file is an empty config.
    pub fn load(path: &Path, must_exist: bool) -> Result<FileConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Ok(FileConfig::default());
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })
    }
}

impl FileConfig {
    /// The `[[command]]` entries, checked (usable, distinct names), their
    /// directories under `project_dir`; `path` is the file, for errors.
    pub fn commands(&self, project_dir: &Path, path: &Path) -> Result<Vec<CommandSpec>> {
        let problem = |problem: String| Error::Config {
            path: path.to_path_buf(),
            problem,
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut commands = Vec::new();
        for command in &self.command {
            command.validate().map_err(problem)?;
            if !seen.insert(command.name.as_str()) {
                return Err(problem(format!(
                    "two [[command]] entries are named `{}`: each name is a benchmark id, rename one",
                    command.name
                )));
            }
            if let Some(other) = self.command.iter().find(|other| {
                other.bin.is_some()
                    && (&other.package, &other.bin) == (&command.package, &command.bin)
                    && other.features != command.features
            }) {
                return Err(problem(format!(
                    "[[command]] entries `{}` and `{}` run one binary built with different features; \
                     one build serves both, so give them the same `features`",
                    other.name, command.name
                )));
            }
            let mut command = command.clone();
            command.resolve_dir(project_dir);
            commands.push(command);
        }
        Ok(commands)
    }
}

/// Statistics options given on the command line.
#[derive(Debug, Clone, Default)]
pub struct StatsOverrides {
    pub min_change: Option<Percent>,
    pub fdr: Option<Percent>,
    /// `--noise-limit`: no longer used, see `FileThresholds::noise_limit`.
    pub noise_limit: Option<Percent>,
}

/// The warning for a `noise_limit` set on the command line or in the file.
pub fn noise_limit_warning(cli: &StatsOverrides, file: &FileConfig) -> Option<&'static str> {
    (cli.noise_limit.is_some() || file.thresholds.noise_limit.is_some()).then_some(
        "--noise-limit / flamegate.toml's `noise_limit` no longer change any verdict: `unchanged` now means \
         the interval lies within ±min_change, and a wider one is `inconclusive`, `likely slower` or \
         `likely faster`; remove the setting",
    )
}

/// Build the comparison settings: command line, then file, then defaults.
pub fn settings(cli: &StatsOverrides, file: &FileConfig, file_path: &Path) -> Result<Settings> {
    let defaults = Settings::default();
    let t = &file.thresholds;
    let fdr = cli.fdr.or(t.fdr).map_or(defaults.fdr, |p| p.0);
    if !(fdr > 0.0 && fdr < 1.0) {
        return Err(Error::Usage(format!(
            "the false discovery rate must be between 0% and 100% (exclusive), got {}%",
            fdr * 100.0
        )));
    }
    let overrides = t
        .bench
        .iter()
        .map(|b| {
            ThresholdOverride::new(&b.glob, b.min_change.0).map_err(|e| Error::Config {
                path: file_path.to_path_buf(),
                problem: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Settings {
        min_change: cli
            .min_change
            .or(t.min_change)
            .map_or(defaults.min_change, |p| p.0),
        overrides,
        fdr,
        confidence: defaults.confidence,
        fail_on_layout: t.fail_on_layout.unwrap_or(defaults.fail_on_layout),
        fail_on_scaling: t.fail_on_scaling.unwrap_or(defaults.fail_on_scaling),
        allocations: t.allocations.unwrap_or(defaults.allocations),
        peak_memory: t.peak_memory.map(|p| p.0),
        accepted: Vec::new(),
        accept_policy: file.accept.policy.unwrap_or_default(),
    })
}

/// Where the baseline comes from: `--base`, `--base-file`, or the merge-base.
pub fn base_spec(
    base: Option<String>,
    base_file: Option<PathBuf>,
    target_branch: Option<String>,
    file: &FileConfig,
) -> BaseSpec {
    match (base, base_file) {
        (_, Some(path)) => BaseSpec::File(path),
        (Some(rev), None) => BaseSpec::Revision(rev),
        (None, None) => BaseSpec::MergeBase {
            target_branch: target_branch.or_else(|| file.target_branch.clone()),
        },
    }
}

/// The suite name and, when it was derived and had to be changed to be
/// valid, a note saying where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteName {
    pub name: String,
    pub origin: Option<Note>,
}

/// The suite name: `--suite`, the file's `suite`, or the project's name
/// (the root package's, or the workspace folder's) made valid. Only a name
/// the user wrote is refused, with where they wrote it.
pub fn suite(
    cli: Option<String>,
    file: &FileConfig,
    file_path: &Path,
    project_name: &str,
) -> Result<SuiteName> {
    let written = |name: String, place: String| {
        check_suite_name(&name).map_err(|_| {
            Error::Usage(format!(
                "suite name `{name}` ({place}) must be {}",
                crate::record::SUITE_NAME_RULE
            ))
        })?;
        Ok(SuiteName { name, origin: None })
    };
    if let Some(name) = cli {
        return written(name, "given with --suite".into());
    }
    if let Some(name) = file.suite.clone() {
        return written(name, format!("set by `suite` in {}", file_path.display()));
    }
    let name = crate::record::plain_suite_name(project_name);
    let origin = (name != project_name).then(|| Note::SuiteNamedAfterPackage {
        suite: name.clone(),
        package: project_name.to_string(),
    });
    Ok(SuiteName { name, origin })
}

/// Default number of earlier baseline versions read for the noise model.
pub const DEFAULT_HISTORY: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_with_and_without_sign() {
        assert_eq!(parse_percent("5%").unwrap().0, 0.05);
        assert_eq!(parse_percent("0.5").unwrap().0, 0.005);
        assert!(parse_percent("-1%").is_err());
        assert!(parse_percent("NaN").is_err());
        assert!(parse_percent("lots").is_err());
    }

    #[test]
    fn file_config_reads_globs_and_rejects_typos() {
        let file: FileConfig = toml::from_str(
            "suite = \"shop\"\n[thresholds]\nmin_change = \"2%\"\n[[thresholds.bench]]\nglob = \"orders/*\"\nmin_change = 5\n",
        )
        .unwrap();
        let s = settings(&StatsOverrides::default(), &file, Path::new("f")).unwrap();
        assert_eq!(s.min_change, 0.02);
        assert_eq!(
            s.min_change_for(&crate::record::BenchId("orders/by_customer".into())),
            0.05
        );
        assert!(toml::from_str::<FileConfig>("suit = \"x\"").is_err());
    }

    #[test]
    fn command_entries_get_their_directory_and_clash_by_name_or_build() {
        let read = |text: &str| {
            let file: FileConfig = toml::from_str(text).unwrap();
            file.commands(Path::new("/project"), Path::new("flamegate.toml"))
        };
        let commands = read(
            "[[command]]\nname = \"count\"\nbin = \"tally\"\ndir = \"data\"\n\
             [[command]]\nname = \"help\"\nbin = \"tally\"\nargs = [\"--help\"]\n",
        )
        .unwrap();
        assert_eq!(commands[0].dir.as_deref(), Some(Path::new("/project/data")));
        assert_eq!(commands[1].dir.as_deref(), Some(Path::new("/project")));
        let twice = read(
            "[[command]]\nname = \"count\"\nbin = \"a\"\n[[command]]\nname = \"count\"\nbin = \"b\"\n",
        );
        assert!(twice.unwrap_err().to_string().contains("rename one"));
        let builds = read(
            "[[command]]\nname = \"x\"\nbin = \"a\"\nfeatures = [\"f\"]\n\
             [[command]]\nname = \"y\"\nbin = \"a\"\n",
        );
        assert!(builds.unwrap_err().to_string().contains("same `features`"));
        assert!(
            toml::from_str::<FileConfig>("[[command]]\nname = \"x\"\nbinary = \"a\"\n").is_err()
        );
    }
}
