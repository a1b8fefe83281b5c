//! One `[[command]]` entry of flamegate.toml: a whole program of the
//! project timed as a benchmark (run by `collect::command`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The group every command's id is in: `command/<name>`.
pub const GROUP: &str = "command";

/// One `[[command]]` entry of flamegate.toml.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Its name: the benchmark id is `command/<name>`.
    pub name: String,
    /// The cargo binary target that is run, built in the bench profile;
    /// or, for a program cargo does not build, `program` (and `build`).
    #[serde(default)]
    pub bin: Option<String>,
    /// A program that is not a cargo binary target: its path, relative to
    /// the project directory (on each side of a paired check, that side's
    /// checkout).
    #[serde(default)]
    pub program: Option<PathBuf>,
    /// The command that builds `program`, run in the project directory
    /// (each side's checkout) before anything is timed; none when the
    /// program needs no building.
    #[serde(default)]
    pub build: Vec<String>,
    /// The package of `bin`, when several workspace packages have one so
    /// named.
    #[serde(default)]
    pub package: Option<String>,
    /// Cargo features of its package to build the binary with (the same
    /// for every command of one binary).
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Where it runs, relative to the project directory (default: the
    /// project directory); made absolute when flamegate.toml is read
    /// (`resolve_dir`), so both sides of a paired check run it in the
    /// checked-out project: the same inputs, another binary.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// A file given to it on standard input (relative to `dir`); default:
    /// none (`/dev/null`).
    #[serde(default)]
    pub stdin: Option<PathBuf>,
    /// Environment variables set for it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Runs before the timed ones in each batch, not recorded (page cache,
    /// lazily built files).
    #[serde(default = "default_warmup")]
    pub warmup: usize,
    /// Seconds one run may take before it is stopped and the check fails.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
}

fn default_warmup() -> usize {
    1
}

fn default_timeout() -> f64 {
    60.0
}

impl CommandSpec {
    /// Its benchmark id.
    pub fn id(&self) -> String {
        format!("{GROUP}/{}", self.name)
    }

    /// Check what serde cannot: a usable name and timeout.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(format!(
                "command name `{}` must be letters, digits, `-`, `_` or `.`: it becomes the benchmark id `command/<name>`",
                self.name
            ));
        }
        match (&self.bin, &self.program) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(format!(
                    "command `{}`: give either `bin` (a cargo binary target) or `program` (a path, \
                     with `build` when it needs building), not both or neither",
                    self.name
                ));
            }
            (Some(_), None) if !self.build.is_empty() => {
                return Err(format!(
                    "command `{}`: `build` is for a `program`; cargo builds `bin` itself",
                    self.name
                ));
            }
            (None, Some(_)) if self.package.is_some() || !self.features.is_empty() => {
                return Err(format!(
                    "command `{}`: `package` and `features` are for a cargo `bin`; a `program` is \
                     built by its `build`",
                    self.name
                ));
            }
            _ => {}
        }
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            return Err(format!(
                "command `{}`: timeout must be a positive number of seconds",
                self.name
            ));
        }
        Ok(())
    }

    /// Make `dir` absolute, under `project_dir`.
    pub fn resolve_dir(&mut self, project_dir: &Path) {
        self.dir = Some(match &self.dir {
            Some(dir) => project_dir.join(dir),
            None => project_dir.to_path_buf(),
        });
    }

    /// The directory it runs in.
    pub fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    /// How a person runs it by hand (for errors).
    pub fn shown(&self, exe: &Path) -> String {
        std::iter::once(exe.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> CommandSpec {
        toml::from_str(&format!("name = \"{name}\"\nbin = \"tool\"")).unwrap()
    }

    #[test]
    fn an_entry_names_its_benchmark_and_defaults_to_one_warmup_and_a_minute() {
        let spec = entry("count-lines");
        assert_eq!(spec.id(), "command/count-lines");
        assert_eq!((spec.warmup, spec.timeout), (1, 60.0));
        assert!(spec.validate().is_ok());
        assert!(entry("two words").validate().is_err());
        let zero = CommandSpec {
            timeout: 0.0,
            ..spec
        };
        assert!(zero.validate().unwrap_err().contains("timeout"));
    }

    #[test]
    fn an_entry_runs_a_cargo_bin_or_a_program_never_both() {
        let program = CommandSpec {
            bin: None,
            program: Some("build/tool".into()),
            build: vec!["make".into()],
            ..entry("x")
        };
        assert!(program.validate().is_ok());
        let both = CommandSpec {
            bin: Some("tool".into()),
            ..program.clone()
        };
        assert!(both.validate().unwrap_err().contains("not both or neither"));
        let neither = CommandSpec {
            program: None,
            ..program.clone()
        };
        assert!(neither.validate().is_err());
        let built_bin = CommandSpec {
            build: vec!["make".into()],
            ..entry("x")
        };
        assert!(
            built_bin
                .validate()
                .unwrap_err()
                .contains("cargo builds `bin`")
        );
        let featured_program = CommandSpec {
            features: vec!["f".into()],
            ..program
        };
        assert!(featured_program.validate().is_err());
    }
}
