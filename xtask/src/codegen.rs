//! `cargo xtask codegen`: the emulator's request validator and response checker read their rules from
//! botocore's Rekognition and Textract models; this writes the part of those models they need as static tables
//! (`localstack/emulator/src/model/generated.rs`), so the rules follow AWS's own definitions instead of hand copies.
//!
//! This file is also compiled into `xtask/tests/codegen.rs` (which regenerates in memory and compares), so it
//! uses nothing else of xtask's.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// The generated file, relative to the workspace root.
pub const OUTPUT: &str = "localstack/emulator/src/model/generated.rs";

/// The operations the emulator serves; only shapes reachable from their inputs and outputs are generated.
pub const REKOGNITION_OPERATIONS: &[&str] = &[
    "CreateCollection",
    "DeleteCollection",
    "DescribeCollection",
    "ListCollections",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
    "DetectFaces",
    "IndexFaces",
    "SearchFacesByImage",
    "SearchFaces",
    "CompareFaces",
    "DeleteFaces",
    "ListFaces",
    "DetectText",
    "CreateUser",
    "DeleteUser",
    "ListUsers",
    "AssociateFaces",
    "DisassociateFaces",
    "SearchUsers",
    "SearchUsersByImage",
    "CreateFaceLivenessSession",
    "GetFaceLivenessSessionResults",
];
pub const TEXTRACT_OPERATIONS: &[&str] = &["AnalyzeID", "DetectDocumentText"];

#[derive(clap::Args)]
pub struct Args {
    /// Compare the checked-in file with a fresh generation instead of writing it; exits non-zero naming the
    /// stale file.
    #[arg(long)]
    pub check: bool,
}

/// botocore's models as the LocalStack venv holds them.
pub struct Models {
    pub botocore_version: String,
    pub rekognition: Value,
    pub textract: Value,
}

/// Asks botocore's own loader (it knows whether a model is stored as `.json` or `.json.gz`) for both models.
const LOAD: &str = r#"
import json, botocore
from botocore.loaders import Loader
loader = Loader()
def ordered(model):
    # Members as [name, member] pairs: a JSON object's order is not kept by every serde_json build.
    for shape in model["shapes"].values():
        if "members" in shape:
            shape["members"] = [[name, member] for name, member in shape["members"].items()]
    return model
print(json.dumps({
    "version": botocore.__version__,
    "rekognition": ordered(loader.load_service_model("rekognition", "service-2", "2016-06-27")),
    "textract": ordered(loader.load_service_model("textract", "service-2", "2018-06-27")),
}))
"#;

/// Reads the models from the project's LocalStack venv, creating the venv (from PyPI) when it is missing, as
/// `cargo xtask local up` and the end-to-end tests do.
pub fn load_models(root: &Path, progress: &dyn Fn(&str)) -> Result<Models> {
    let fix = "the models come from botocore in the LocalStack venv that riv_launcher::venv::ensure creates \
               under .riv/ (needs Python >= 3.13 and PyPI the first time; `cargo xtask local up` creates it too)";
    let paths = riv_launcher::Paths::new(root);
    let python = riv_launcher::venv::ensure(&paths, progress)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("preparing the LocalStack venv: {fix}"))?;
    let out = Command::new(&python)
        .args(["-c", LOAD])
        .output()
        .with_context(|| format!("running {}: {fix}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} could not load botocore's models: {}\n{fix}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut all: Value =
        serde_json::from_slice(&out.stdout).context("botocore's models are not JSON")?;
    let version = all["version"]
        .as_str()
        .ok_or_else(|| anyhow!("botocore reported no version"))?
        .to_string();
    Ok(Models {
        botocore_version: version,
        rekognition: all["rekognition"].take(),
        textract: all["textract"].take(),
    })
}

/// `cargo xtask codegen [--check]`.
pub fn run(args: &Args, root: &Path) -> Result<()> {
    let models = load_models(root, &|m| eprintln!("==> {m}"))?;
    let text = generate(&models)?;
    let path = root.join(OUTPUT);
    if args.check {
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != text {
            bail!("{OUTPUT} is stale: run cargo xtask codegen");
        }
        eprintln!(
            "{OUTPUT} is up to date (botocore {})",
            models.botocore_version
        );
        return Ok(());
    }
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {OUTPUT} from botocore {}", models.botocore_version);
    Ok(())
}

/// The text of `generated.rs`: one line per shape, so a model update reads as a one-line-per-shape diff and the
/// file stays a few hundred lines.
pub fn generate(models: &Models) -> Result<String> {
    let mut out = format!(
        "//! Generated by `cargo xtask codegen` from botocore {}'s Rekognition and Textract models: do not edit.\n\
         //! Only the shapes reachable from the inputs and outputs of the operations the emulator serves.\n\
         //! One line per shape (hence `rustfmt::skip`), each a `static` named as the model names it.\n\n\
         use super::{{Operation, Service}};\n\n",
        models.botocore_version
    );
    let services = [
        (
            "rekognition",
            "Rekognition",
            &models.rekognition,
            REKOGNITION_OPERATIONS,
        ),
        (
            "textract",
            "Textract",
            &models.textract,
            TEXTRACT_OPERATIONS,
        ),
    ];
    let mut operations = String::new();
    for (module, service, model, names) in services {
        let shapes = &model["shapes"];
        let mut reachable = BTreeSet::new();
        for name in names {
            let op = &model["operations"][name];
            for io in ["input", "output"] {
                let shape = op[io]["shape"]
                    .as_str()
                    .ok_or_else(|| anyhow!("{service}.{name} has no {io}"))?;
                reach(shapes, shape, &mut reachable)?;
            }
            let errors: Vec<String> = op["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["shape"].as_str())
                .map(|e| format!("{e:?}"))
                .collect();
            writeln!(
                operations,
                "    Operation {{ service: Service::{service}, name: {name:?}, input: &{module}::{}, output: &{module}::{}, errors: &[{}] }},",
                ident(op["input"]["shape"].as_str().unwrap_or_default()),
                ident(op["output"]["shape"].as_str().unwrap_or_default()),
                errors.join(", ")
            )?;
        }
        writeln!(
            out,
            "/// {service}'s shapes.\n#[rustfmt::skip]\n#[allow(non_upper_case_globals)]\npub mod {module} {{\n    use super::super::{{Kind, Member, Shape}};\n"
        )?;
        for name in &reachable {
            let kind =
                kind(&shapes[name.as_str()]).with_context(|| format!("{service} shape {name}"))?;
            writeln!(
                out,
                "    pub static {}: Shape = Shape {{ name: {name:?}, kind: {kind} }};",
                ident(name)
            )?;
        }
        out.push_str("}\n\n");
    }
    write!(
        out,
        "/// Every generated operation.\n#[rustfmt::skip]\npub static OPERATIONS: &[Operation] = &[\n{operations}];\n"
    )?;
    Ok(out)
}

/// Adds `name` and every shape it refers to.
fn reach(shapes: &Value, name: &str, seen: &mut BTreeSet<String>) -> Result<()> {
    if !seen.insert(name.to_string()) {
        return Ok(());
    }
    let shape = &shapes[name];
    if shape.is_null() {
        bail!("shape {name} is not in the model");
    }
    for key in ["member", "key", "value"] {
        if let Some(target) = shape[key]["shape"].as_str() {
            reach(shapes, target, seen)?;
        }
    }
    for member in shape["members"].as_array().into_iter().flatten() {
        if let Some(target) = member[1]["shape"].as_str() {
            reach(shapes, target, seen)?;
        }
    }
    Ok(())
}

/// A shape's name as a Rust identifier (`r#` for the few that are keywords).
fn ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &["Self", "type", "match", "ref", "move", "box", "loop"];
    if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

/// A whole-number bound: every bound of these models is one, and a fractional one would need the runtime changed.
fn bound(shape: &Value, key: &str) -> Result<String> {
    match &shape[key] {
        Value::Null => Ok("None".into()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(format!("Some({i})")),
            None => bail!("{key} {n} is not a whole number"),
        },
        other => bail!("{key} is {other}"),
    }
}

/// The traits the runtime understands; any other (a `jsonName`, a `timestampFormat`, …) would change the wire
/// format, so the generator refuses it rather than generate a wrong table.
const KNOWN: &[&str] = &[
    "type",
    "members",
    "required",
    "member",
    "key",
    "value",
    "min",
    "max",
    "pattern",
    "enum",
    "documentation",
    "sensitive",
    "deprecated",
    "deprecatedMessage",
    "box",
    "exception",
    "error",
    "fault",
];

fn kind(shape: &Value) -> Result<String> {
    if let Some(unknown) = shape
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .find(|k| !KNOWN.contains(k))
    {
        bail!("unsupported trait {unknown}");
    }
    let (min, max) = (bound(shape, "min")?, bound(shape, "max")?);
    let target = |key: &str| -> Result<String> {
        shape[key]["shape"]
            .as_str()
            .map(|s| format!("&{}", ident(s)))
            .ok_or_else(|| anyhow!("no {key}"))
    };
    Ok(match shape["type"].as_str().unwrap_or_default() {
        "structure" => {
            let mut members = Vec::new();
            for pair in shape["members"].as_array().into_iter().flatten() {
                let (name, member) = (pair[0].as_str().unwrap_or_default(), &pair[1]);
                if let Some(unknown) = member
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.as_str())
                    .find(|k| {
                        ![
                            "shape",
                            "documentation",
                            "deprecated",
                            "deprecatedMessage",
                            "box",
                            "idempotencyToken",
                        ]
                        .contains(k)
                    })
                {
                    bail!("member {name}: unsupported trait {unknown}");
                }
                let target = member["shape"]
                    .as_str()
                    .ok_or_else(|| anyhow!("member {name} has no shape"))?;
                members.push(format!(
                    "Member {{ name: {name:?}, shape: &{} }}",
                    ident(target)
                ));
            }
            let required: Vec<String> = shape["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|r| format!("{r:?}"))
                .collect();
            format!(
                "Kind::Structure {{ members: &[{}], required: &[{}] }}",
                members.join(", "),
                required.join(", ")
            )
        }
        "list" => format!(
            "Kind::List {{ member: {}, min: {min}, max: {max} }}",
            target("member")?
        ),
        "map" => format!(
            "Kind::Map {{ key: {}, value: {}, min: {min}, max: {max} }}",
            target("key")?,
            target("value")?
        ),
        "string" => {
            let pattern = match shape["pattern"].as_str() {
                Some(p) => format!("Some({p:?})"),
                None => "None".into(),
            };
            let enums: Vec<String> = shape["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|e| format!("{e:?}"))
                .collect();
            format!(
                "Kind::String {{ min: {min}, max: {max}, pattern: {pattern}, enums: &[{}] }}",
                enums.join(", ")
            )
        }
        "integer" => format!("Kind::Integer {{ min: {min}, max: {max} }}"),
        "long" => format!("Kind::Long {{ min: {min}, max: {max} }}"),
        "float" => format!("Kind::Float {{ min: {min}, max: {max} }}"),
        "double" => format!("Kind::Double {{ min: {min}, max: {max} }}"),
        "blob" => format!("Kind::Blob {{ min: {min}, max: {max} }}"),
        "boolean" => "Kind::Boolean".into(),
        "timestamp" => "Kind::Timestamp".into(),
        other => bail!("unsupported type {other:?}"),
    })
}
