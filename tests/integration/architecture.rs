//! The module graph keeps its direction (issue 18): data and pure
//! statistics at the bottom, the stages above them in the order of the data
//! flow, the stage API (`pipeline`) above the stages, and only `commands` and
//! `cli` knowing the command line. Scanned from `src/**/*.rs`: every
//! `crate::<module>` a file names must be an allowed edge of its module.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    // The bottom: data and pure functions.
    ("error", &[]),
    ("stats", &[]),
    ("progress", &[]),
    ("record", &["error"]),
    ("profile", &["error", "record", "stats"]),
    ("report", &["error", "profile", "record"]),
    // The stages, in the order of the data flow.
    (
        "collect",
        &["error", "profile", "progress", "record", "stats"],
    ),
    ("baseline", &["error", "progress", "record"]),
    (
        "compare",
        &["baseline", "error", "profile", "record", "report", "stats"],
    ),
    ("render", &["error", "profile", "record", "report"]),
    (
        "publish",
        &[
            "baseline", "error", "profile", "progress", "record", "render", "report",
        ],
    ),
    ("hook", &["error", "record"]),
    // The baseline file's history along the target branch.
    (
        "history",
        &["baseline", "error", "progress", "record", "report", "stats"],
    ),
    // Settings resolved for the stages.
    ("config", &["baseline", "compare", "error", "record"]),
    // The stage API, and what is built on it.
    (
        "pipeline",
        &[
            "baseline", "collect", "compare", "config", "error", "profile", "progress", "publish",
            "record", "render", "report", "stats",
        ],
    ),
    (
        "demo",
        &[
            "baseline", "collect", "compare", "config", "error", "history", "pipeline", "profile",
            "progress", "publish", "record", "render", "report", "stats",
        ],
    ),
    // From a change between two commits to the commit that made it.
    (
        "bisect",
        &[
            "baseline", "collect", "compare", "error", "profile", "progress", "record", "report",
        ],
    ),
    (
        "eval",
        &[
            "baseline", "collect", "compare", "config", "error", "profile", "progress", "record",
            "report", "stats",
        ],
    ),
    // The command line: clap definitions, and the commands.
    (
        "cli",
        &[
            "collect", "compare", "config", "eval", "hook", "publish", "render",
        ],
    ),
    (
        "commands",
        &[
            "baseline", "bisect", "cli", "collect", "compare", "config", "demo", "error", "eval",
            "history", "hook", "pipeline", "profile", "progress", "publish", "record", "render",
            "report", "stats",
        ],
    ),
];

/// The modules that may know the command line (the `clap` crate): the
/// stages and their types know nothing of it.
const COMMAND_LINE: &[&str] = &["cli", "commands"];

/// Files of `src` that are not modules of the library's graph.
const ROOTS: &[&str] = &["lib", "main"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The edges of the tree under `src` that the table does not allow, as
/// `file:line: from -> to` (and modules the table does not know).
fn forbidden_edges(src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if ROOTS.contains(&module.as_str()) {
            continue;
        }
        let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| *m == module) else {
            problems.push(format!(
                "{}: module `{module}` is not in the table",
                relative.display()
            ));
            continue;
        };
        // `super::` as many times as the file is deep names the crate root
        // too (`render/mod.rs` and `report.rs` at one, `render/markdown.rs`
        // at two): such paths are edges like `crate::` ones.
        let depth = relative.components().count()
            - usize::from(relative.file_name().is_some_and(|n| n == "mod.rs"));
        let to_root = ["crate::".to_string(), "super::".repeat(depth)];
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !COMMAND_LINE.contains(&module.as_str())
                && (code.contains("clap::") || code.contains("use clap"))
            {
                problems.push(format!(
                    "{}:{}: {module} -> clap (only the command line knows clap)",
                    relative.display(),
                    number + 1
                ));
            }
            // `$crate::` in a macro names the crate root's exports from the
            // crate the macro expands in (the user's bench), not an edge.
            let paths = to_root.iter().flat_map(|prefix| {
                code.match_indices(prefix.as_str())
                    .filter(|(at, _)| !code[..*at].ends_with('$'))
                    .map(move |(at, _)| &code[at + prefix.len()..])
            });
            for rest in paths {
                let target: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if target.is_empty()
                    || target == "super"
                    || target == module
                    || allowed.contains(&target.as_str())
                {
                    continue;
                }
                problems.push(format!(
                    "{}:{}: {module} -> {target}",
                    relative.display(),
                    number + 1
                ));
            }
        }
    }
    problems
}

#[test]
fn issue_18_modules_import_only_in_the_allowed_direction() {
    let src = crate::support::checkout_dir().join("src");
    let problems = forbidden_edges(&src);
    assert!(
        problems.is_empty(),
        "imports against the module graph's direction (tests/integration/architecture.rs has the table):\n{}",
        problems.join("\n")
    );
    // Every module in the table exists: a renamed module cannot leave a
    // stale row that allows anything.
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| {
            e.file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    for (module, _) in ALLOWED {
        assert!(modules.contains(*module), "no module `{module}` in src/");
    }
}

#[test]
fn issue_18_the_architecture_check_catches_a_planted_back_edge() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("record")).unwrap();
    std::fs::create_dir_all(src.path().join("collect")).unwrap();
    std::fs::write(
        src.path().join("collect/mod.rs"),
        "use crate::record::RunRecord;\n",
    )
    .unwrap();
    // The bottom data type reaching up into a stage, in code (a comment
    // naming it is not an import).
    std::fs::write(
        src.path().join("record/mod.rs"),
        "// crate::collect is where records come from\npub struct A(crate::collect::shard::ShardInfo);\n",
    )
    .unwrap();
    std::fs::write(src.path().join("newstage.rs"), "").unwrap();
    std::fs::write(
        src.path().join("collect/mode.rs"),
        "#[derive(clap::ValueEnum)]\npub enum Mode { A }\n",
    )
    .unwrap();
    assert_eq!(
        forbidden_edges(src.path()),
        [
            "collect/mode.rs:1: collect -> clap (only the command line knows clap)",
            "newstage.rs: module `newstage` is not in the table",
            "record/mod.rs:2: record -> collect",
        ]
    );
}

/// A document a code comment points the reader to is in the repository:
/// every `docs/….md` and every capitalised `….md` (README.md) that a
/// comment under `src` names exists, so no comment sends a reader to a file
/// they do not have. Lower-case names are the files flamegate writes
/// (report.md, comment.md) and are left alone.
#[test]
fn documents_named_in_code_comments_are_in_the_repository() {
    let root = crate::support::checkout_dir();
    let mut missing = Vec::new();
    for file in rust_files(&root.join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let Some(at) = line.find("//") else {
                continue;
            };
            for word in line[at..].split(|c: char| !(c.is_alphanumeric() || "._/-".contains(c))) {
                let Some(stem) = word.strip_suffix(".md") else {
                    continue;
                };
                let named = word.starts_with("docs/")
                    || stem.chars().next().is_some_and(|c| c.is_ascii_uppercase());
                if named && !root.join(word).exists() {
                    missing.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documents not in the repository:\n{}",
        missing.join("\n")
    );
}
