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
            "collect", "compare", "config", "eval", "hook", "publish", "record", "render",
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
const ROOTS: &[&str] = &["lib", "main", "bin"];

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
        }
        let module_path = module_of(relative).expect("not a crate root");
        for (line, path) in named_paths(&text, &module_path) {
            let Some(target) = path.first() else {
                continue;
            };
            if *target == module || allowed.contains(&target.as_str()) {
                continue;
            }
            problems.push(format!(
                "{}:{line}: {module} -> {target}",
                relative.display()
            ));
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

/// An item has one path: `pub use` only in the crate root (`src/lib.rs`),
/// where it names the library's surface; elsewhere a re-export gives an
/// item a second name and hides which module a caller really depends on.
#[test]
fn items_are_re_exported_only_at_the_crate_root() {
    let src = crate::support::checkout_dir().join("src");
    let mut re_exports = Vec::new();
    for file in rust_files(&src) {
        if file == src.join("lib.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("pub use ") || code.starts_with("pub(crate) use ") {
                re_exports.push(format!("{}:{}: {code}", file.display(), n + 1));
            }
        }
    }
    assert!(
        re_exports.is_empty(),
        "re-exports outside src/lib.rs (name the item where it is defined):\n{}",
        re_exports.join("\n")
    );
}

/// The module path of a file under `src` (`collect/paired.rs` →
/// `collect::paired`, `collect/mod.rs` → `collect`), or none for the crate
/// roots and binaries.
fn module_of(relative: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    let last = parts.pop()?.trim_end_matches(".rs").to_string();
    if parts.first().is_some_and(|p| p == "bin")
        || (parts.is_empty() && ROOTS.contains(&last.as_str()))
    {
        return None;
    }
    if last != "mod" {
        parts.push(last);
    }
    Some(parts)
}

/// The paths a file names from the crate root, resolved against its own
/// module, each with its line: `crate::a::b`, `super::b` and `self::b`
/// paths, with `use` groups (`use super::{a::X, b}`) spread into one path
/// each. Comments name nothing, and neither does `$crate::` in a macro (it
/// names the exports of the crate the macro expands in: the user's bench).
fn named_paths(text: &str, module: &[String]) -> Vec<(usize, Vec<String>)> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while at < code.len() {
        let rest = &code[at..];
        let inside_a_word = at > 0 && {
            let before = bytes[at - 1];
            before.is_ascii_alphanumeric() || matches!(before, b'_' | b'$' | b':')
        };
        let starts_a_path = ["crate::", "super::", "self::"]
            .iter()
            .any(|prefix| rest.starts_with(prefix));
        if inside_a_word || !starts_a_path {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let (base, consumed) = path_base(rest, module);
        let (found, used) = spread(&rest[consumed..], &base);
        paths.extend(found.into_iter().map(|path| (line, path)));
        at += consumed + used.max(1);
    }
    paths
}

/// The module a path starts from (`crate::`, `super::` repeated, `self::`)
/// and how many bytes that prefix took.
fn path_base(rest: &str, module: &[String]) -> (Vec<String>, usize) {
    if let Some(after) = rest.strip_prefix("crate::") {
        return (Vec::new(), rest.len() - after.len());
    }
    if let Some(after) = rest.strip_prefix("self::") {
        return (module.to_vec(), rest.len() - after.len());
    }
    let mut base = module.to_vec();
    let mut after = rest;
    while let Some(next) = after.strip_prefix("super::") {
        base.pop();
        after = next;
    }
    (base, rest.len() - after.len())
}

/// The paths of `tail` (what follows a path's prefix) as full paths from
/// `base`: one path, or a `{…}` group of them. Returns them and the bytes read.
fn spread(tail: &str, base: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut path = base.to_vec();
    let mut at = 0;
    loop {
        let segment: String = tail[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        at += segment.len();
        let bare = segment.is_empty();
        if !bare {
            path.push(segment);
        }
        let group = if tail[at..].starts_with("::{") {
            3
        } else {
            usize::from(bare && tail[at..].starts_with('{'))
        };
        if group > 0 {
            at += group;
            let mut found = Vec::new();
            loop {
                let trimmed = tail[at..].len() - tail[at..].trim_start().len();
                at += trimmed;
                if tail[at..].starts_with('}') || at >= tail.len() {
                    return (found, at + 1);
                }
                let (inner, used) = spread(&tail[at..], &path);
                found.extend(inner);
                at += used;
                let trimmed = tail[at..].len() - tail[at..].trim_start().len();
                at += trimmed;
                if tail[at..].starts_with(',') {
                    at += 1;
                }
            }
        }
        if tail[at..].starts_with("::") {
            at += 2;
            continue;
        }
        return (vec![path], at);
    }
}

/// File-level import edges under `src`: a file naming a path whose longest
/// module prefix is another file's module. A folder's `mod.rs` and the files
/// inside it are one room (a module and its submodules name each other as
/// Rust nests them), so edges between a file and its ancestors are left out.
fn file_edges(src: &Path) -> BTreeSet<(String, String)> {
    let files: Vec<(PathBuf, Vec<String>)> = rust_files(src)
        .into_iter()
        .filter_map(|f| {
            let module = module_of(f.strip_prefix(src).unwrap())?;
            Some((f, module))
        })
        .collect();
    let file_of = |module: &[String]| {
        files
            .iter()
            .find(|(_, m)| m.as_slice() == module)
            .map(|(f, _)| f.strip_prefix(src).unwrap().display().to_string())
    };
    let mut edges = BTreeSet::new();
    for (file, module) in &files {
        let from = file.strip_prefix(src).unwrap().display().to_string();
        for (_, path) in named_paths(&std::fs::read_to_string(file).unwrap(), module) {
            let Some(longest) = (1..=path.len())
                .rev()
                .find(|n| file_of(&path[..*n]).is_some())
            else {
                continue;
            };
            let target = &path[..longest];
            let nested = target.starts_with(module) || module.starts_with(target);
            if !nested {
                edges.insert((from.clone(), file_of(target).unwrap()));
            }
        }
    }
    edges
}

/// Every cycle of files, as `a.rs -> b.rs -> a.rs` (one per strongly
/// connected group, from its first file in order).
fn file_cycles(edges: &BTreeSet<(String, String)>) -> Vec<String> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(at) = todo.pop() {
            for (_, next) in edges.iter().filter(|(a, _)| *a == at) {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        false
    };
    let files: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    let mut grouped: Vec<BTreeSet<&String>> = Vec::new();
    for file in files.iter().copied().filter(|f| reaches(f, f)) {
        if grouped.iter().any(|g| g.contains(file)) {
            continue;
        }
        let group: BTreeSet<&String> = files
            .iter()
            .copied()
            .filter(|other| *other == file || (reaches(file, other) && reaches(other, file)))
            .collect();
        grouped.push(group);
    }
    grouped
        .iter()
        .map(|group| {
            let names: Vec<&str> = group.iter().map(|f| f.as_str()).collect();
            format!("{} (each reaches the others)", names.join(" <-> "))
        })
        .collect()
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let src = crate::support::checkout_dir().join("src");
    let edges = file_edges(&src);
    // The reading finds the edges it should (a file naming a sibling).
    assert!(
        edges.contains(&("collect/same_code.rs".into(), "collect/callgrind.rs".into())),
        "{edges:?}"
    );
    let cycles = file_cycles(&edges);
    assert!(
        cycles.is_empty(),
        "files in import cycles:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_file_cycle_check_catches_a_planted_cycle() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("stage")).unwrap();
    let write = |path: &str, text: &str| std::fs::write(src.path().join(path), text).unwrap();
    write(
        "stage/mod.rs",
        "pub mod a;\npub mod b;\npub mod c;\nuse a::A;\n",
    );
    write("stage/a.rs", "use super::{c, b::B};\npub struct A(B);\n");
    write("stage/b.rs", "pub struct B(crate::stage::a::A);\n");
    write(
        "stage/c.rs",
        "// super::a::A is named in a comment only\nuse super::A;\n",
    );
    write("other.rs", "use crate::stage::c;\n");
    assert_eq!(
        file_cycles(&file_edges(src.path())),
        ["stage/a.rs <-> stage/b.rs (each reaches the others)"]
    );
}
