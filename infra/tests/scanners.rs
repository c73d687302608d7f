//! Two independent scanners judge the production template, as deployed by default and with every option on:
//! checkov (0 failed: each finding that does not fit the design is skipped in the resource's `Metadata`, with
//! its reason) and parliament on every inline IAM policy, its intrinsic functions resolved to what
//! CloudFormation would give (no finding but the actions AWS does not scope, which need `Resource: "*"`).

mod support;

use riv_infra::model::{Expr, Template};
use riv_infra::names::param;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;

/// The production template with every option on: a key of its own, API keys, the alarm, every collection.
fn all_options() -> Template {
    let mut t = riv_infra::stack::riv();
    let options = [
        format!("{}=create", param::KMS_KEY),
        format!("{}=true", param::API_KEY_REQUIRED),
        format!("{}=10", param::LOGIN_FAILURE_ALARM),
        format!(
            "{}={}",
            param::COLLECTION_COUNT,
            riv_infra::names::MAX_COLLECTIONS
        ),
    ];
    riv_infra::stack::set_defaults(&mut t, &options).expect("every option is a valid parameter");
    t
}

fn variants() -> [(&'static str, Template); 2] {
    [
        ("riv-scan-default.template.yaml", riv_infra::stack::riv()),
        ("riv-scan-all-options.template.yaml", all_options()),
    ]
}

#[test]
fn checkov_fails_nothing_and_every_skip_says_why() {
    for (name, template) in variants() {
        for resource in template.resources.values() {
            let Some(metadata) = &resource.metadata else {
                continue;
            };
            let skips = serde_json::to_value(metadata).unwrap();
            for skip in skips["checkov"]["skip"].as_array().into_iter().flatten() {
                let reason = skip["comment"].as_str().unwrap_or_default();
                assert!(
                    reason.len() > 40 && reason.ends_with('.'),
                    "{name}: skip {skip} needs its reason in a sentence"
                );
            }
        }
        let path = support::write_template(name, &template.to_yaml().unwrap());
        // `--skip-download`: nothing is fetched from the vendor's API (the machine is offline, and it should be).
        let out = Command::new(support::lint_python())
            .args([
                "-c",
                "import sys; from checkov.main import Checkov; sys.exit(Checkov().run())",
            ])
            .args([
                "--framework",
                "cloudformation",
                "--skip-download",
                "--output",
                "json",
                "--file",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "checkov on {name} printed no report ({e}):\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let summary = &report["summary"];
        let failed: Vec<String> = report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} {} on {}", c["check_id"], c["check_name"], c["resource"]))
            .collect();
        assert!(
            summary["passed"].as_u64().unwrap_or_default() > 100 && failed.is_empty(),
            "checkov on {name}: {summary}\n{}",
            failed.join("\n")
        );
    }
}

/// What CloudFormation would make of the template's intrinsic functions, for one account, region and stack.
struct Resolver<'a> {
    t: &'a Template,
}

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const STACK: &str = "Riv-Prod";

impl Resolver<'_> {
    fn parameter(&self, name: &str) -> String {
        match name {
            "AWS::Region" => REGION.into(),
            "AWS::AccountId" => ACCOUNT.into(),
            "AWS::Partition" => "aws".into(),
            "AWS::StackName" => STACK.into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            p if p == param::ARTIFACT_BUCKET => format!("riv-artifacts-{ACCOUNT}-{REGION}"),
            p if p == param::CODE_KEY => "functions/bootstrap/0123.zip".into(),
            p => self.t.parameters[p].default.clone().unwrap_or_default(),
        }
    }

    /// `Ref` to a resource: its physical id, as each type answers it.
    fn reference(&self, name: &str) -> String {
        let Some(resource) = self.t.resources.get(name) else {
            return self.parameter(name);
        };
        let physical = format!("{STACK}-{name}");
        match resource.kind.as_str() {
            "AWS::S3::Bucket" => physical.to_lowercase(),
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{physical}"),
            "AWS::StepFunctions::StateMachine" => {
                format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{physical}")
            }
            "AWS::KMS::Key" => "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".into(),
            "AWS::Rekognition::Collection" => physical,
            _ => physical,
        }
    }

    fn attribute(&self, name: &str, attribute: &str) -> String {
        let kind = self.t.resources[name].kind.as_str();
        let physical = self.reference(name);
        match (kind, attribute) {
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{physical}"),
            ("AWS::DynamoDB::Table", "Arn") => {
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}")
            }
            ("AWS::Lambda::Function", "Arn") => {
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}")
            }
            ("AWS::Logs::LogGroup", "Arn") => {
                format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/{physical}:*")
            }
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{ACCOUNT}:role/{physical}"),
            ("AWS::KMS::Key", "Arn") => format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{physical}"),
            ("AWS::Rekognition::Collection", "Arn") => {
                format!("arn:aws:rekognition:{REGION}:{ACCOUNT}:collection/{physical}")
            }
            (_, "Arn") => panic!("the resolver does not know the ARN of a {kind} ({name})"),
            _ => physical,
        }
    }

    fn condition(&self, name: &str) -> bool {
        self.truth(&self.t.conditions[name])
    }

    fn truth(&self, e: &Expr) -> bool {
        match e {
            Expr::Bool(b) => *b,
            Expr::Equals(a, b) => self.resolve(a) == self.resolve(b),
            Expr::Not(a) => !self.truth(a),
            Expr::Or(items) => items.iter().any(|i| self.truth(i)),
            Expr::Condition(name) => self.condition(name),
            other => panic!("not a condition: {other:?}"),
        }
    }

    fn sub(&self, template: &str, vars: &BTreeMap<String, Expr>) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("a closed ${…}") + start;
            let var = &rest[start + 2..end];
            let value = match (vars.get(var), var.split_once('.')) {
                (Some(e), _) => self.resolve(e).as_str().unwrap_or_default().to_string(),
                (None, Some((resource, attribute))) => self.attribute(resource, attribute),
                (None, None) => self.reference(var),
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out + rest
    }

    /// The value, with `Fn::If` decided by the parameters' defaults; `AWS::NoValue` becomes `Null` and is
    /// dropped from maps and lists.
    fn resolve(&self, e: &Expr) -> Value {
        match e {
            Expr::Null => Value::Null,
            Expr::Str(s) => json!(s),
            Expr::Int(i) => json!(i),
            Expr::Num(n) => json!(n),
            Expr::Bool(b) => json!(b),
            Expr::List(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.resolve(i))
                    .filter(|v| !v.is_null())
                    .collect(),
            ),
            Expr::Map(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .filter(|(_, v)| !v.is_null())
                    .collect(),
            ),
            Expr::Ref(name) if name == "AWS::NoValue" => Value::Null,
            Expr::Ref(name) => json!(self.reference(name)),
            Expr::GetAtt(name, attribute) => json!(self.attribute(name, attribute)),
            Expr::Sub(template) => json!(self.sub(template, &BTreeMap::new())),
            Expr::SubWith(template, vars) => json!(self.sub(template, vars)),
            Expr::Join(sep, items) => json!(items
                .iter()
                .map(|i| self.resolve(i).as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(sep)),
            Expr::If(condition, then, otherwise) => self.resolve(if self.condition(condition) {
                then
            } else {
                otherwise
            }),
            Expr::Split(sep, a) => json!(self
                .resolve(a)
                .as_str()
                .unwrap_or_default()
                .split(sep.as_str())
                .collect::<Vec<_>>()),
            Expr::Select(i, a) => self.resolve(a)[*i].clone(),
            other => panic!("the resolver does not know {other:?}"),
        }
    }
}

/// Every inline IAM policy of the template (roles' `Policies` and `AWS::IAM::Policy` documents), resolved.
fn inline_policies(t: &Template) -> Vec<(String, Value)> {
    let resolver = Resolver { t };
    let mut out = Vec::new();
    for (name, resource) in &t.resources {
        if let Some(condition) = &resource.condition {
            if !resolver.condition(condition) {
                continue;
            }
        }
        let properties = resolver.resolve(&Expr::Map(resource.properties.clone()));
        match resource.kind.as_str() {
            "AWS::IAM::Role" => {
                for policy in properties["Policies"].as_array().into_iter().flatten() {
                    out.push((
                        format!(
                            "{name}-{}",
                            policy["PolicyName"].as_str().unwrap_or_default()
                        ),
                        policy["PolicyDocument"].clone(),
                    ));
                }
            }
            "AWS::IAM::Policy" => out.push((name.clone(), properties["PolicyDocument"].clone())),
            _ => {}
        }
    }
    out
}

#[test]
fn parliament_finds_nothing_but_the_unscoped_actions() {
    for (variant, template) in variants() {
        let policies = inline_policies(&template);
        assert!(
            policies.len() > 8,
            "{variant}: {} inline policies",
            policies.len()
        );
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "parliament-{}",
            variant.trim_end_matches(".template.yaml")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, document) in &policies {
            std::fs::write(dir.join(format!("{name}.json")), document.to_string()).unwrap();
        }
        // A policy parliament must flag, so a parliament that read nothing cannot pass.
        let canary = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}
        ]});
        std::fs::write(dir.join("Canary.json"), canary.to_string()).unwrap();
        // Exit 1 means findings, which are judged below; anything else is parliament failing to run.
        let out = Command::new(support::lint_python())
            .args([
                "-c",
                "import sys; from parliament.cli import main; sys.exit(main(sys.argv))",
            ])
            .args([
                "--json",
                "--include_policy_extension",
                ".json",
                "--directory",
            ])
            .arg(&dir)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "parliament on {variant} failed: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let mut unexpected = Vec::new();
        let mut canary_flagged = false;
        for line in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            let finding: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("parliament printed {line:?}, not JSON: {e}"));
            let file = finding["location"]["filepath"].as_str().unwrap_or_default();
            if file.ends_with("/Canary.json") {
                canary_flagged |= finding["issue"] == "RESOURCE_STAR";
                continue;
            }
            let actions: Vec<&str> = finding["detail"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let listed = finding["issue"] == "RESOURCE_STAR"
                && !actions.is_empty()
                && actions
                    .iter()
                    .all(|a| riv_infra::iam::UNSCOPED_ACTIONS.contains(a));
            if !listed {
                unexpected.push(line.to_string());
            }
        }
        assert!(
            canary_flagged,
            "parliament did not flag the canary policy: it read nothing in {}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            unexpected.is_empty(),
            "parliament on {variant} ({} policies in {}):\n{}",
            policies.len(),
            dir.display(),
            unexpected.join("\n")
        );
    }
}
