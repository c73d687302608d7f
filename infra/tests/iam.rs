//! The synthesized policies, evaluated as CloudFormation would for a given stack name and parameters: each
//! role reaches exactly its own stack's collections, so stack `Riv` can never touch `Riv-Prod-1`.

use riv_infra::stack::riv;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";

/// A deployed template's view: pseudo parameters, parameters and conditions.
struct Deployed {
    values: BTreeMap<String, String>,
    conditions: BTreeMap<String, Value>,
}

impl Deployed {
    fn new(stack: &str, parameters: &[(&str, &str)]) -> Self {
        let t = serde_json::to_value(riv()).unwrap();
        let mut values: BTreeMap<String, String> = t["Parameters"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, p)| Some((k.clone(), p["Default"].as_str()?.to_string())))
            .collect();
        for (k, v) in parameters {
            values.insert(k.to_string(), v.to_string());
        }
        for (k, v) in [
            ("AWS::StackName", stack),
            ("AWS::Region", REGION),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::Partition", "aws"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ] {
            values.insert(k.into(), v.into());
        }
        let conditions = t["Conditions"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Deployed { values, conditions }
    }

    fn condition(&self, name: &str) -> bool {
        self.eval(&self.conditions[name]) == json!(true)
    }

    fn reference(&self, name: &str) -> String {
        self.values
            .get(name)
            .cloned()
            // A resource: its logical id stands for its physical one.
            .unwrap_or_else(|| format!("<{name}>"))
    }

    fn eval(&self, v: &Value) -> Value {
        let Some(map) = v.as_object() else {
            return match v {
                Value::Array(items) => Value::Array(items.iter().map(|i| self.eval(i)).collect()),
                other => other.clone(),
            };
        };
        if map.len() != 1 {
            return Value::Object(map.iter().map(|(k, v)| (k.clone(), self.eval(v))).collect());
        }
        let (f, arg) = map.iter().next().unwrap();
        match f.as_str() {
            "Ref" => json!(self.reference(arg.as_str().unwrap())),
            "Fn::GetAtt" => json!(format!(
                "<{}.{}>",
                arg[0].as_str().unwrap(),
                arg[1].as_str().unwrap()
            )),
            "Fn::Sub" => {
                let mut text = arg.as_str().unwrap().to_string();
                while let Some(start) = text.find("${") {
                    let end = start + text[start..].find('}').unwrap();
                    let name = &text[start + 2..end];
                    let value = match name.split_once('.') {
                        Some((res, att)) => format!("<{res}.{att}>"),
                        None => self.reference(name),
                    };
                    text.replace_range(start..=end, &value);
                }
                json!(text)
            }
            "Fn::Join" => {
                let parts: Vec<String> = self
                    .eval(&arg[1])
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_string())
                    .collect();
                json!(parts.join(arg[0].as_str().unwrap()))
            }
            "Fn::Split" => {
                let text = self.eval(&arg[1]);
                json!(text
                    .as_str()
                    .unwrap()
                    .split(arg[0].as_str().unwrap())
                    .collect::<Vec<_>>())
            }
            "Fn::If" => {
                let branch = if self.condition(arg[0].as_str().unwrap()) {
                    &arg[1]
                } else {
                    &arg[2]
                };
                self.eval(branch)
            }
            "Fn::Equals" => json!(self.eval(&arg[0]) == self.eval(&arg[1])),
            "Fn::Not" => json!(self.eval(&arg[0]) != json!(true)),
            "Fn::Or" => json!(arg
                .as_array()
                .unwrap()
                .iter()
                .any(|c| self.eval(c) == json!(true))),
            "Condition" => json!(self.condition(arg.as_str().unwrap())),
            _ => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.eval(v))).collect()),
        }
    }

    /// Every (role, action, resource) the roles allow, evaluated.
    fn grants(&self) -> Vec<(String, String, String)> {
        let t = serde_json::to_value(riv()).unwrap();
        let mut grants = Vec::new();
        for (name, resource) in t["Resources"].as_object().unwrap() {
            if resource["Type"] != "AWS::IAM::Role" {
                continue;
            }
            for policy in resource["Properties"]["Policies"].as_array().unwrap() {
                for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                    let resources = match self.eval(&statement["Resource"]) {
                        Value::Array(items) => items,
                        one => vec![one],
                    };
                    for action in statement["Action"].as_array().unwrap() {
                        for r in &resources {
                            grants.push((
                                name.clone(),
                                action.as_str().unwrap().to_string(),
                                r.as_str().unwrap().to_string(),
                            ));
                        }
                    }
                }
            }
        }
        grants
    }
}

/// IAM's resource matching: `*` any run of characters, `?` one.
fn iam_matches(pattern: &str, arn: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x == y => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), arn.as_bytes())
}

fn collection(stack: &str, n: u32) -> String {
    format!("arn:aws:rekognition:{REGION}:{ACCOUNT}:collection/{stack}-{n}")
}

#[test]
fn stack_riv_cannot_touch_the_collections_of_riv_prod() {
    for count in ["1", "8"] {
        let riv = Deployed::new("Riv", &[("CollectionCount", count)]);
        let grants = riv.grants();
        let rekognition: Vec<_> = grants
            .iter()
            .filter(|(_, action, r)| action.starts_with("rekognition:") && r != "*")
            .collect();
        assert!(rekognition.len() >= 4, "{rekognition:?}");
        for other in ["Riv-Prod", "Riv-Prod-1", "Riv-2x", "Riv-"] {
            for n in 1..=8 {
                let victim = collection(other, n);
                for (role, action, resource) in &rekognition {
                    assert!(
                        !iam_matches(resource, &victim),
                        "{role} may {action} on {victim} through {resource}"
                    );
                }
            }
        }
        // And it reaches exactly its own.
        let count: u32 = count.parse().unwrap();
        let own: Vec<String> = (1..=count).map(|n| collection("Riv", n)).collect();
        for (role, action, resource) in &rekognition {
            assert!(own.contains(resource), "{role} {action} on {resource}");
        }
        let indexer: Vec<&String> = rekognition
            .iter()
            .filter(|(_, a, _)| a == "rekognition:IndexFaces")
            .map(|(_, _, r)| r)
            .collect();
        assert_eq!(
            indexer.len(),
            own.len(),
            "IndexFaces on every own collection"
        );
    }
}

#[test]
fn no_rekognition_resource_ends_in_a_wildcard() {
    let grants = Deployed::new("Riv-Prod", &[("CollectionCount", "8")]).grants();
    for (role, action, resource) in grants {
        if action.starts_with("rekognition:") && resource != "*" {
            assert!(
                !resource.contains('*') && !resource.contains('?'),
                "{role}: {action} on {resource}"
            );
        }
    }
}

#[test]
fn the_matcher_matches_like_iam() {
    assert!(iam_matches(
        "arn:x:collection/Riv-*",
        "arn:x:collection/Riv-Prod-1"
    ));
    assert!(!iam_matches(
        "arn:x:collection/Riv-1",
        "arn:x:collection/Riv-Prod-1"
    ));
    assert!(iam_matches("a?c", "abc"));
}
