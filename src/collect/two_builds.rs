//! How the two sides of a paired run are built alike: the same compiler
//! flags for the workspace's crates, the base's target directory started
//! from the head's compiled units, and the build-setting files both use.

use std::path::Path;

use crate::error::{Error, Result};

use super::Project;

/// The compiler flags of both sides' workspace crates. The base builds from
/// another directory; mapping both sides' paths onto the head's keeps
/// embedded file names (panic locations) identical, so identical code gives
/// an identical binary layout on both sides. Only the workspace's crates
/// get the mapping (`rustc_wrapper`): dependencies build as in the user's
/// builds.
pub fn workspace_flags(base: &Project, head: &Project) -> Vec<String> {
    [&base.dir, &head.dir]
        .iter()
        .map(|dir| {
            format!(
                "--remap-path-prefix={}={}",
                dir.display(),
                head.dir.display()
            )
        })
        .collect()
}

/// The subdirectories of a target's `release/` that hold compiled units and
/// cargo's record of them (not the uplifted executables, not incremental
/// state, which the bench profile does not use).
const UNIT_DIRS: [&str; 3] = ["deps", "build", ".fingerprint"];

/// Give the base side a start from the head's compiled dependencies when its
/// target directory has never been built (a cold cache): both sides build
/// the same locked dependencies with the same flags (`workspace_flags`), so
/// without this a cold paired run compiles every dependency twice. Returns
/// whether it seeded.
///
/// The head's build of the project's own packages is copied too, under the
/// same unit names as the base's; `base_sources` (the base checkout, which
/// flamegate owns) is then stamped with the current time, after every copied
/// build, so cargo sees each of the base's local sources as changed and
/// rebuilds them from the base's code. Registry and git dependencies do not
/// live there and stay built. `cargo::build` reports if a bench executable
/// was reused anyway, and the caller rebuilds from nothing then.
pub fn seed_base_target(head: &Project, base: &Project, base_sources: &Path) -> Result<bool> {
    if !seed_target(&head.target_dir, &base.target_dir)? {
        return Ok(false);
    }
    let now = std::time::SystemTime::now();
    // Not the base's target directory, wherever it is: its copied times are
    // what the sources must be newer than.
    let sources = walkdir::WalkDir::new(base_sources)
        .into_iter()
        .filter_entry(|e| e.path() != base.target_dir);
    for entry in sources {
        let entry = entry.map_err(|e| Error::io(base_sources, e.into()))?;
        if entry.file_type().is_file() {
            std::fs::File::options()
                .write(true)
                .open(entry.path())
                .and_then(|file| file.set_modified(now))
                .map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(true)
}

/// Copy the compiled units of target directory `from` into `to` when `to`
/// has never been built and `from` has: the head side's start from the
/// user's own builds (the same dependencies with the same flags, since
/// `workspace_flags` reach the workspace's crates only), and the base's
/// from the head's. Returns whether it copied.
pub fn seed_target(from: &Path, to: &Path) -> Result<bool> {
    let (from, to) = (from.join("release"), to.join("release"));
    if to.exists() || !from.join(".fingerprint").is_dir() {
        return Ok(false);
    }
    for dir in UNIT_DIRS {
        copy_tree(&from.join(dir), &to.join(dir))?;
    }
    Ok(true)
}

/// Copy the tree `from` into `to` (missing `from`: nothing), keeping each
/// file's modification time: cargo compares them to decide what is fresh.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if !from.exists() {
        return Ok(());
    }
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.map_err(|e| Error::io(from, e.into()))?;
        let relative = entry
            .path()
            .strip_prefix(from)
            .expect("walkdir stays under its root");
        let dest = to.join(relative);
        let copied = if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest)
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &dest).and_then(|_| {
                let modified = entry.metadata().map_err(std::io::Error::from)?.modified()?;
                std::fs::File::options()
                    .write(true)
                    .open(&dest)?
                    .set_modified(modified)
            })
        } else {
            // Symbolic links: cargo writes none under these directories.
            Ok(())
        };
        copied.map_err(|e| Error::io(&dest, e))?;
    }
    Ok(())
}

/// Files beside a project that decide how it is built rather than what is
/// built: cargo's configuration and rustup's toolchain pin.
const BUILD_SETTING_FILES: [&str; 4] = [
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain.toml",
    "rust-toolchain",
];

/// The build-setting files that differ between the base's and the head's
/// project directories. Both sides are built with the head's, so a
/// pull request that changes them (a toolchain, `rustflags`, a linker)
/// changes both sides alike and its effect is not in the comparison.
pub fn build_settings_changed(base_dir: &Path, head_dir: &Path) -> Vec<String> {
    BUILD_SETTING_FILES
        .iter()
        .filter(|file| {
            std::fs::read(base_dir.join(file)).ok() != std::fs::read(head_dir.join(file)).ok()
        })
        .map(|file| file.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn project(dir: &Path) -> Project {
        Project {
            manifest_path: dir.join("Cargo.toml"),
            dir: dir.to_path_buf(),
            target_dir: dir.join("target"),
            build_dir: dir.to_path_buf(),
            name: "p".into(),
            bench_targets: Vec::new(),
        }
    }

    fn write_at(path: &Path, when: SystemTime) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn modified(path: &Path) -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn a_cold_base_target_starts_from_the_heads_units_and_its_sources_look_changed() {
        let root = tempfile::tempdir().unwrap();
        let (head, base) = (
            project(&root.path().join("h")),
            project(&root.path().join("b")),
        );
        let built = SystemTime::now() - Duration::from_secs(3600);
        let release = head.target_dir.join("release");
        for unit in [
            ".fingerprint/dep-1/lib-dep",
            "deps/libdep-1.rlib",
            "build/dep-2/output",
        ] {
            write_at(&release.join(unit), built);
        }
        write_at(&release.join("bench-exe"), built);
        // The checkout was exported before the head was built.
        write_at(
            &base.dir.join("src/lib.rs"),
            built - Duration::from_secs(60),
        );

        assert!(seed_base_target(&head, &base, &base.dir).unwrap());
        let seeded = base.target_dir.join("release");
        for unit in [
            ".fingerprint/dep-1/lib-dep",
            "deps/libdep-1.rlib",
            "build/dep-2/output",
        ] {
            assert_eq!(modified(&seeded.join(unit)), built, "{unit} keeps its time");
        }
        assert!(
            !seeded.join("bench-exe").exists(),
            "uplifted files are not units"
        );
        assert!(
            modified(&base.dir.join("src/lib.rs")) > built,
            "the base's sources are newer than every copied build"
        );
        // Once the base has a target of its own, it is never seeded again.
        assert!(!seed_base_target(&head, &base, &base.dir).unwrap());
        // Nor from a head that has not been built.
        let cold = project(&root.path().join("c"));
        assert!(!seed_base_target(&cold, &project(&root.path().join("d")), &base.dir).unwrap());
    }
}
