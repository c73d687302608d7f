//! Conventions as a test: module docs, file size, workspace-managed dependencies, one set of compiled
//! dependencies for `cargo xtask` and `cargo test`, and no panics or stray printing where a Lambda runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const MAX_LINES: usize = 600;
const CODE_DIRS: [&str; 5] = ["functions", "xtask", "infra", "localstack", "e2e"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                files(&path, ext, out);
            }
        } else if path.extension().is_some_and(|e| e == ext) || name == ext {
            out.push(path);
        }
    }
}

fn sources(ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in CODE_DIRS {
        files(&root().join(dir), ext, &mut out);
    }
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The part of a source file that ships: everything before its `#[cfg(test)]` module.
fn shipped(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or_default()
}

#[test]
fn every_module_says_what_it_is_for() {
    let missing: Vec<String> = sources("rs")
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap().starts_with("//!"))
        .map(|p| rel(&p))
        .collect();
    assert!(
        missing.is_empty(),
        "start these with a `//!` line: {missing:?}"
    );
}

#[test]
fn no_source_file_is_over_the_limit() {
    let mut code = sources("rs");
    code.extend(sources("py"));
    let long: Vec<String> = code
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", rel(&p)))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

#[test]
fn every_dependency_comes_from_the_workspace() {
    let mut offenders = Vec::new();
    for manifest in sources("Cargo.toml") {
        let text = std::fs::read_to_string(&manifest).unwrap();
        let mut in_deps = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_deps = line.ends_with("dependencies]");
                continue;
            }
            if in_deps
                && !line.is_empty()
                && !line.starts_with('#')
                && !line.contains("workspace = true")
            {
                offenders.push(format!("{}: {line}", rel(&manifest)));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "declare these in [workspace.dependencies]: {offenders:?}"
    );
}

#[test]
fn lambda_code_neither_panics_nor_prints() {
    let mut offenders = Vec::new();
    let mut lambda = Vec::new();
    files(&root().join("functions"), "rs", &mut lambda);
    for path in lambda {
        // Test support may unwrap its own locks; a module's tests may sit in its own `tests.rs`.
        if path.components().any(|c| c.as_os_str() == "fakes")
            || path.ends_with("fakes.rs")
            || path.ends_with("tests.rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in shipped(&text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for banned in [".unwrap()", ".expect(", "println!", "dbg!", "panic!("] {
                if code.contains(banned) {
                    offenders.push(format!("{}:{}: {}", rel(&path), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "return an error or log with tracing instead: {offenders:#?}"
    );
}

/// What `cargo xtask` runs (its commands, the launcher, deploy, the template): an expected condition (no daemon,
/// a busy port, no credentials, a stack in the wrong state) is an error with its fix, never a panic. A call that
/// cannot fail says why on its line or the line above, starting `// impossible:`.
#[test]
fn command_code_returns_errors_instead_of_panicking() {
    let mut offenders = Vec::new();
    for dir in [
        "xtask/src",
        "localstack/launcher/src",
        "infra/deploy/src",
        "infra/src",
    ] {
        let mut code = Vec::new();
        files(&root().join(dir), "rs", &mut code);
        for path in code {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = shipped(&text).lines().collect();
            for (n, line) in lines.iter().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                let argued = line.contains("// impossible:")
                    || n > 0 && lines[n - 1].trim_start().starts_with("// impossible:");
                for banned in [
                    ".unwrap()",
                    ".expect(",
                    "panic!(",
                    "unreachable!(",
                    "todo!(",
                ] {
                    if code.contains(banned) && !argued {
                        offenders.push(format!("{}:{}: {}", rel(&path), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "return an error that names the fix, or argue `// impossible: why` above it: {offenders:#?}"
    );
}

#[test]
fn one_bootstrap_serves_every_function() {
    // One binary, one link and one artifact: a bin per function would link the AWS SDK eight times.
    let bins: Vec<String> = std::fs::read_dir(root().join("functions/lambda/src/bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(bins, ["bootstrap.rs"]);
    let wiring = std::fs::read_to_string(root().join("functions/lambda/src/wiring.rs")).unwrap();
    for name in riv_domain::names::function::ALL {
        let arm = format!("function::{} =>", name.to_uppercase().replace('-', "_"));
        assert!(
            wiring.contains(&arm),
            "wiring::run has no `{arm}` for {name}"
        );
    }
}

/// Each package a build of `selection` compiles, with the features cargo resolves for it, as `cargo tree`
/// prints them (a set: a package built for both the host and the target may be resolved twice).
fn resolved_features(selection: &[&str], edges: &str) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args(["tree", "--offline", "--prefix", "none", "--no-dedupe"])
        .args(selection)
        .args(["--edges", edges, "--format", "{p}|{f}"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut resolved: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (package, features) in String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once('|'))
    {
        resolved
            .entry(package.to_owned())
            .or_default()
            .insert(features.to_owned());
    }
    resolved
}

#[test]
fn xtask_builds_with_the_test_features() {
    // `cargo xtask` (`run --package xtask`) resolves xtask's own dependencies, `cargo test` the whole workspace
    // with dev-dependencies; a package whose features differ is compiled twice, for the AWS SDK that is minutes.
    let run = resolved_features(&["--package", "xtask"], "normal,build");
    let test = resolved_features(&["--workspace"], "normal,build,dev");
    let differ: Vec<String> = run
        .iter()
        .filter_map(|(package, features)| {
            let in_tests = test.get(package)?;
            (in_tests != features).then(|| {
                format!("{package}: `cargo xtask` {features:?}, `cargo test` {in_tests:?}")
            })
        })
        .collect();
    assert!(
        differ.is_empty(),
        "add to xtask/Cargo.toml's [dependencies] the crate and features the test build adds, so both share: \
         {differ:#?}"
    );
}

#[test]
fn the_end_to_end_harness_never_swallows_an_error() {
    // A reader that turns a failed SDK call into "nothing there" makes "the rollback left nothing" pass when
    // nothing could be read; an ignored task result hides a panicked scenario. Return a Result instead.
    let mut offenders = Vec::new();
    let mut harness = Vec::new();
    files(&root().join("e2e/src"), "rs", &mut harness);
    for path in harness {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in shipped(&text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for banned in [
                "unwrap_or_default(",
                "if let Ok(",
                "let Ok(",
                ".ok()",
                "Err(_) => {}",
                "Err(_) => ()",
                "let _ = ",
            ] {
                if code.contains(banned) {
                    offenders.push(format!("{}:{}: {}", rel(&path), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the end-to-end harness must fail when it cannot read what it checks: {offenders:#?}"
    );
}

/// The top-level modules of `crate::…` paths in `text` (`use crate::{a::b, c}` names `a` and `c`).
fn crate_paths(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    // Comments name modules without using them (doc links).
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let text = code.as_str();
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        // `riv_crate::x` is another crate's path, not ours.
        if text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.insert(ident(rest));
            continue;
        };
        let (mut depth, mut item_start) = (0, true);
        for (i, c) in group.char_indices() {
            if item_start && !c.is_whitespace() {
                out.insert(ident(&group[i..]));
                item_start = false;
            }
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                _ => {}
            }
        }
    }
    out
}

/// A cycle in `edges`, as the path that closes it.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

/// Modules of a library crate that use each other both ways cannot be read, tested or moved alone: the
/// shipped `crate::` paths between top-level modules must form no cycle.
#[test]
fn no_library_has_a_module_cycle() {
    let mut libraries = Vec::new();
    files(&root(), "lib.rs", &mut libraries);
    assert!(libraries.len() >= 6, "found only {libraries:?}");
    let mut cycles = Vec::new();
    for lib in libraries {
        let src = lib.parent().unwrap();
        let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        let mut rs = Vec::new();
        files(src, "rs", &mut rs);
        for file in rs {
            let inner = file.strip_prefix(src).unwrap();
            let top = inner
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let top = top.trim_end_matches(".rs").to_string();
            if top != "lib" && top != "main" && top != "bin" {
                modules.entry(top).or_default().push(file.clone());
            }
        }
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, paths) in &modules {
            for path in paths {
                let text = std::fs::read_to_string(path).unwrap();
                let used = crate_paths(shipped(&text))
                    .into_iter()
                    .filter(|m| m != module && modules.contains_key(m));
                edges.entry(module.clone()).or_default().extend(used);
            }
        }
        if let Some(cycle) = find_cycle(&edges) {
            cycles.push(format!("{}: {}", rel(src), cycle.join(" → ")));
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_check_sees_grouped_and_inline_paths() {
    let text =
        "use crate::{a::X, b};\n/// [`crate::e`]\nfn f() { crate::c::go(); riv_crate::d::no(); }";
    assert_eq!(
        crate_paths(text),
        ["a", "b", "c"].map(String::from).into_iter().collect()
    );
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    edges.remove("b");
    assert_eq!(find_cycle(&edges), None);
}
