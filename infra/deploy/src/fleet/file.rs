//! The fleet file (`riv.fleet.yaml`): every region's Riv stack in one place, with shared defaults that each
//! entry may override. Read and checked up front, before anything is built or called: unknown keys, parameters
//! the template does not take or values it does not allow, a region and stack listed twice, and a region that
//! cannot run Riv (no Rekognition) or its ID extraction (no Textract AnalyzeID) are each an error that names the
//! line to fix.

use crate::regions;
use riv_infra::names::{param, DEFAULT_STACK_NAME};
use riv_infra::stack::Flavor;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where `cargo xtask fleet` looks unless told `--fleet`.
pub const DEFAULT_FILE: &str = "riv.fleet.yaml";

/// One stack of the fleet, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub region: String,
    pub stack: String,
    /// Template parameters beyond the code's (`FaceMatchThreshold`, `IdExtraction`, …).
    pub parameters: BTreeMap<String, String>,
    /// A named profile for this region's credentials.
    pub profile: Option<String>,
    /// A role to assume for this region.
    pub role: Option<String>,
    /// Where the entry starts in the file (1-based), for messages.
    pub line: Option<usize>,
}

/// Every stack of the fleet, in the file's order (the first is the canary unless told otherwise).
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

/// What is wrong with a fleet file, and where.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{}{}: {message}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FleetError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    #[serde(default)]
    defaults: RawEntry,
    stacks: Vec<RawEntry>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    region: Option<String>,
    stack: Option<String>,
    #[serde(default)]
    parameters: BTreeMap<String, Scalar>,
    profile: Option<String>,
    role: Option<String>,
}

/// A parameter value as YAML writes it: `97` and `"97"` are the same to CloudFormation.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// Reads and checks the fleet file at `path`.
pub fn load(path: &Path, flavor: Flavor) -> Result<Fleet, FleetError> {
    let text = std::fs::read_to_string(path).map_err(|e| FleetError {
        path: path.to_path_buf(),
        line: None,
        message: if e.kind() == std::io::ErrorKind::NotFound {
            format!("no fleet file here: copy riv.fleet.example.yaml to {DEFAULT_FILE} and edit it, or pass --fleet PATH")
        } else {
            format!("cannot read it: {e}")
        },
    })?;
    parse(path, &text, flavor)
}

/// Checks the fleet file's `text` (read from `path`, which messages name) against `flavor`'s template: the local
/// stack's also takes its test hooks (`InjectFault`).
pub fn parse(path: &Path, text: &str, flavor: Flavor) -> Result<Fleet, FleetError> {
    let error = |line: Option<usize>, message: String| FleetError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let raw: RawFleet = serde_yaml::from_str(text).map_err(|e| {
        error(
            e.location().map(|l| l.line()),
            // The location is in the path already; serde's own text repeats it.
            e.to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string(),
        )
    })?;
    if raw.stacks.is_empty() {
        return Err(error(
            None,
            "`stacks` is empty: list at least one region".into(),
        ));
    }
    let lines = entry_lines(text);
    let mut entries: Vec<Entry> = Vec::new();
    for (index, item) in raw.stacks.iter().enumerate() {
        let line = lines.get(index).copied();
        let at = |name: &str| line.and_then(|start| key_line(text, start, name)).or(line);
        let region = item
            .region
            .clone()
            .or_else(|| raw.defaults.region.clone())
            .ok_or_else(|| error(line, format!("stack {} has no `region`", index + 1)))?;
        let stack = item
            .stack
            .clone()
            .or_else(|| raw.defaults.stack.clone())
            .unwrap_or_else(|| DEFAULT_STACK_NAME.to_string());
        let mut parameters: BTreeMap<String, String> = raw
            .defaults
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.text()))
            .collect();
        parameters.extend(item.parameters.iter().map(|(k, v)| (k.clone(), v.text())));
        let entry = Entry {
            region,
            stack,
            parameters,
            profile: item
                .profile
                .clone()
                .or_else(|| raw.defaults.profile.clone()),
            role: item.role.clone().or_else(|| raw.defaults.role.clone()),
            line,
        };
        check(&entry, flavor, &at).map_err(|(line, message)| error(line, message))?;
        if let Some(first) = entries
            .iter()
            .find(|e| e.region == entry.region && e.stack == entry.stack)
        {
            return Err(error(
                line,
                format!(
                    "{} in {} is listed twice (first{}): one entry per region and stack",
                    entry.stack,
                    entry.region,
                    first
                        .line
                        .map(|l| format!(" at line {l}"))
                        .unwrap_or_default()
                ),
            ));
        }
        entries.push(entry);
    }
    Ok(Fleet {
        path: path.to_path_buf(),
        entries,
    })
}

/// An entry's own rules: a stack name CloudFormation takes, parameters the template takes, a region that
/// can run what the parameters ask for. `at(key)` is the line of `key` in the entry (or the entry's).
fn check(
    entry: &Entry,
    flavor: Flavor,
    at: &dyn Fn(&str) -> Option<usize>,
) -> Result<(), (Option<usize>, String)> {
    let name_ok = entry.stack.len() <= 64
        && entry.stack.starts_with(|c: char| c.is_ascii_alphabetic())
        && entry
            .stack
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !name_ok {
        return Err((
            at("stack"),
            format!(
                "stack name {:?}: letters, digits and '-', starting with a letter, at most 64",
                entry.stack
            ),
        ));
    }
    if !regions::has_rekognition(&entry.region) {
        return Err((
            at("region"),
            format!(
                "{} has no Amazon Rekognition face APIs, which Riv needs: use one of {}",
                entry.region,
                regions::REKOGNITION_DEFAULT
                    .iter()
                    .chain(&regions::REKOGNITION_OPT_IN)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for (name, value) in &entry.parameters {
        if [param::ARTIFACT_BUCKET, param::ARCHITECTURE].contains(&name.as_str())
            || name.ends_with("CodeKey")
        {
            return Err((
                at(name),
                format!("{name} is set by the fleet commands themselves, not by the file"),
            ));
        }
        let mut template = riv_infra::stack::template(flavor);
        riv_infra::stack::set_defaults(&mut template, &[format!("{name}={value}")])
            .map_err(|e| (at(name), e.to_string()))?;
    }
    let extraction = entry
        .parameters
        .get(param::ID_EXTRACTION)
        .map(String::as_str)
        .unwrap_or("analyze-id");
    if extraction == "analyze-id" && !regions::has_analyze_id(&entry.region) {
        return Err((
            at(param::ID_EXTRACTION).or(at("region")),
            format!(
                "{} has no Textract AnalyzeID: set `{}: detect-text` for this region",
                entry.region,
                param::ID_EXTRACTION
            ),
        ));
    }
    Ok(())
}

/// The line (1-based) where each item of the top-level `stacks:` list starts, for block-style YAML; empty
/// for flow style, whose messages then name no line.
fn entry_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut in_stacks = false;
    let mut indent: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let depth = line.len() - content.len();
        if depth == 0 && !content.starts_with('-') {
            in_stacks = content.trim_end() == "stacks:";
            continue;
        }
        let item = content.starts_with("- ") || content == "-";
        if in_stacks && item && *indent.get_or_insert(depth) == depth {
            lines.push(n + 1);
        }
    }
    lines
}

/// The line of `key:` inside the entry that starts at `start`, before the next entry or top-level key.
fn key_line(text: &str, start: usize, key: &str) -> Option<usize> {
    let mut depth_of_entry = None;
    for (n, line) in text.lines().enumerate().skip(start - 1) {
        let content = line.trim_start();
        let depth = line.len() - content.len();
        match depth_of_entry {
            None => depth_of_entry = Some(depth),
            Some(d) if !content.is_empty() && !content.starts_with('#') && depth <= d => {
                return None;
            }
            _ => {}
        }
        let content = content.trim_start_matches("- ");
        if content
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
        {
            return Some(n + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Fleet, FleetError> {
        parse(Path::new("riv.fleet.yaml"), text, Flavor::Aws)
    }

    fn error(text: &str) -> (Option<usize>, String) {
        let e = parse_text(text).expect_err("the file is wrong");
        (e.line, e.message)
    }

    #[test]
    fn defaults_are_shared_and_overridden_per_entry() {
        let fleet = parse_text(
            "defaults:\n  parameters:\n    FaceMatchThreshold: 97\n    MaxPose: \"30\"\n  profile: ops\nstacks:\n  \
             - region: eu-west-1\n  - region: us-east-1\n    stack: Riv-Staging\n    parameters:\n      \
             FaceMatchThreshold: 99\n    profile: us\n",
        )
        .unwrap();
        let [eu, us] = fleet.entries.as_slice() else {
            panic!("two entries: {fleet:?}")
        };
        assert_eq!(
            (eu.region.as_str(), eu.stack.as_str(), eu.line),
            ("eu-west-1", "Riv-Prod", Some(7))
        );
        assert_eq!(eu.parameters["FaceMatchThreshold"], "97");
        assert_eq!(eu.parameters["MaxPose"], "30");
        assert_eq!(eu.profile.as_deref(), Some("ops"));
        assert_eq!(
            (us.stack.as_str(), us.line, us.profile.as_deref()),
            ("Riv-Staging", Some(8), Some("us"))
        );
        assert_eq!(us.parameters["FaceMatchThreshold"], "99");
        assert_eq!(us.parameters["MaxPose"], "30");
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let (line, message) =
            error("stacks:\n  - region: eu-west-1\n  - region: us-east-1\n    regoin: x\n");
        assert_eq!(line, Some(4), "{message}");
        assert!(message.contains("unknown field `regoin`"), "{message}");
    }

    #[test]
    fn an_unknown_parameter_or_a_value_outside_its_set_names_its_line() {
        let (line, message) =
            error("stacks:\n  - region: eu-west-1\n    parameters:\n      FaceMatchTreshold: 97\n");
        assert_eq!(line, Some(4), "{message}");
        assert!(
            message.contains("unknown parameter FaceMatchTreshold"),
            "{message}"
        );
        let (line, message) = error(
            "stacks:\n  - region: eu-west-1\n    parameters:\n      MaxPose: 30\n      IdExtraction: ocr\n",
        );
        assert_eq!(line, Some(5), "{message}");
        assert!(
            message.contains("IdExtraction=ocr is not allowed"),
            "{message}"
        );
        let (line, message) = error(
            "defaults:\n  parameters:\n    Architecture: arm64\nstacks:\n  - region: eu-west-1\n",
        );
        assert!(message.contains("set by the fleet commands"), "{message}");
        assert_eq!(line, Some(5), "the entry it applies to: {message}");
    }

    #[test]
    fn a_region_and_stack_listed_twice_names_both_lines() {
        let (line, message) = error(
            "stacks:\n  - region: eu-west-1\n  - region: us-east-1\n  - region: eu-west-1\n    stack: Riv-Prod\n",
        );
        assert_eq!(line, Some(4), "{message}");
        assert!(message.contains("first at line 2"), "{message}");
        // Another stack name in the same region is another stack.
        assert!(parse_text(
            "stacks:\n  - region: eu-west-1\n  - region: eu-west-1\n    stack: Riv-Canary\n"
        )
        .is_ok());
    }

    #[test]
    fn regions_without_rekognition_or_analyze_id_are_refused_with_the_fix() {
        let (line, message) = error("stacks:\n  - region: us-east-1\n  - region: sa-east-1\n");
        assert_eq!(line, Some(3), "{message}");
        assert!(message.contains("no Amazon Rekognition"), "{message}");
        let (line, message) = error("stacks:\n  - region: ap-northeast-1\n");
        assert_eq!(line, Some(2), "{message}");
        assert!(message.contains("IdExtraction: detect-text"), "{message}");
        assert!(parse_text(
            "stacks:\n  - region: ap-northeast-1\n    parameters:\n      IdExtraction: detect-text\n"
        )
        .is_ok());
    }

    #[test]
    fn syntax_errors_and_empty_fleets_are_reported() {
        let (line, message) = error("stacks:\n  - region: [eu-west-1\n");
        assert!(line.is_some(), "{message}");
        let (_, message) = error("stacks: []\n");
        assert!(message.contains("list at least one region"), "{message}");
        let (line, message) = error("stacks:\n  - stack: Riv-Prod\n");
        assert_eq!(line, Some(2), "{message}");
        assert!(message.contains("no `region`"), "{message}");
        let (line, message) = error("stacks:\n  - region: eu-west-1\n    stack: 9lives\n");
        assert_eq!(line, Some(3), "{message}");
    }

    #[test]
    fn the_example_in_the_repository_is_a_valid_fleet() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../riv.fleet.example.yaml");
        let fleet = load(&path, Flavor::Aws).unwrap();
        assert!(fleet.entries.len() >= 3, "{fleet:?}");
    }

    #[test]
    fn a_missing_file_says_how_to_make_one() {
        let e = load(Path::new("/nonexistent/riv.fleet.yaml"), Flavor::Aws).unwrap_err();
        assert!(e.to_string().contains("riv.fleet.example.yaml"), "{e}");
    }
}
