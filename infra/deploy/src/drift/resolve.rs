//! The synthesized template's values as a deployed stack has them: `Ref`, `Fn::GetAtt`, `Fn::Sub` and the
//! other intrinsics worked out from the stack's parameters and its resources' physical ids, so a property can be
//! compared with what the live resource says. Where a value cannot be known without asking the service (an
//! attribute this module does not derive), the answer is `None` and the property is not compared.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What a deployed stack knows: its name, region and account, parameter values, and each resource's physical id
/// and type.
#[derive(Debug, Clone, Default)]
pub struct Deployed {
    pub stack: String,
    pub region: String,
    pub account: String,
    pub parameters: BTreeMap<String, String>,
    /// Logical id → (physical id, resource type).
    pub resources: BTreeMap<String, (String, String)>,
    /// The template's `Conditions`, unresolved.
    pub conditions: Map<String, Value>,
}

impl Deployed {
    /// `value` with every intrinsic worked out; `None` if any part cannot be.
    pub fn resolve(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Array(items) => items
                .iter()
                .map(|v| self.resolve(v))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next()?;
                match key.as_str() {
                    "Ref" => self.reference(arg.as_str()?).map(Value::String),
                    "Fn::GetAtt" => {
                        let parts = arg.as_array()?;
                        self.attribute(parts.first()?.as_str()?, parts.get(1)?.as_str()?)
                            .map(Value::String)
                    }
                    "Fn::Sub" => self.sub(arg).map(Value::String),
                    "Fn::Join" => {
                        let parts = arg.as_array()?;
                        let separator = parts.first()?.as_str()?;
                        let items = self.resolve(parts.get(1)?)?;
                        let strings: Option<Vec<String>> =
                            items.as_array()?.iter().map(scalar).collect();
                        Some(Value::String(strings?.join(separator)))
                    }
                    "Fn::If" => {
                        let parts = arg.as_array()?;
                        let branch = if self.condition(parts.first()?.as_str()?)? {
                            parts.get(1)?
                        } else {
                            parts.get(2)?
                        };
                        self.resolve(branch)
                    }
                    "Fn::Select" => {
                        let parts = arg.as_array()?;
                        let index = parts.first()?.as_u64()? as usize;
                        self.resolve(parts.get(1)?)?.as_array()?.get(index).cloned()
                    }
                    "Fn::Split" => {
                        let parts = arg.as_array()?;
                        let separator = parts.first()?.as_str()?;
                        let text = scalar(&self.resolve(parts.get(1)?)?)?;
                        Some(Value::Array(
                            text.split(separator)
                                .map(|s| Value::String(s.to_string()))
                                .collect(),
                        ))
                    }
                    _ => self.object(map),
                }
            }
            Value::Object(map) => self.object(map),
            other => Some(other.clone()),
        }
    }

    /// An object's members resolved; a member set to `AWS::NoValue` is left out, as CloudFormation does.
    fn object(&self, map: &Map<String, Value>) -> Option<Value> {
        let mut out = Map::new();
        for (k, v) in map {
            if is_no_value(v) {
                continue;
            }
            if let Value::Object(inner) = v {
                if let Some(Value::Array(parts)) = inner.get("Fn::If") {
                    let condition = parts.first().and_then(Value::as_str)?;
                    let branch = if self.condition(condition)? {
                        parts.get(1)?
                    } else {
                        parts.get(2)?
                    };
                    if is_no_value(branch) {
                        continue;
                    }
                }
            }
            out.insert(k.clone(), self.resolve(v)?);
        }
        Some(Value::Object(out))
    }

    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::StackName" => Some(self.stack.clone()),
            "AWS::Region" => Some(self.region.clone()),
            "AWS::AccountId" => Some(self.account.clone()),
            "AWS::Partition" => Some("aws".into()),
            "AWS::URLSuffix" => Some("amazonaws.com".into()),
            _ => self
                .parameters
                .get(name)
                .cloned()
                .or_else(|| self.resources.get(name).map(|(id, _)| id.clone())),
        }
    }

    /// The attributes Riv's templates use, derived from physical ids the way AWS forms them.
    fn attribute(&self, resource: &str, attribute: &str) -> Option<String> {
        let (id, kind) = self.resources.get(resource)?;
        let (region, account) = (&self.region, &self.account);
        match (kind.as_str(), attribute) {
            ("AWS::Lambda::Function", "Arn") => {
                Some(format!("arn:aws:lambda:{region}:{account}:function:{id}"))
            }
            ("AWS::IAM::Role", "Arn") => Some(format!("arn:aws:iam::{account}:role/{id}")),
            // A key's physical id is its key id.
            ("AWS::KMS::Key", "Arn") => Some(format!("arn:aws:kms:{region}:{account}:key/{id}")),
            ("AWS::S3::Bucket", "Arn") => Some(format!("arn:aws:s3:::{id}")),
            ("AWS::Logs::LogGroup", "Arn") => {
                Some(format!("arn:aws:logs:{region}:{account}:log-group:{id}:*"))
            }
            // Their `Ref` is the ARN already.
            ("AWS::StepFunctions::StateMachine" | "AWS::SNS::Topic", "Arn") => Some(id.clone()),
            _ => None,
        }
    }

    fn sub(&self, arg: &Value) -> Option<String> {
        let (text, variables) = match arg {
            Value::String(text) => (text.as_str(), None),
            Value::Array(parts) => (parts.first()?.as_str()?, parts.get(1)?.as_object()),
            _ => return None,
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.and_then(|v| v.get(name)) {
                out.push_str(&scalar(&self.resolve(value)?)?);
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(resource, attribute)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// A named condition of the template, evaluated.
    pub fn condition(&self, name: &str) -> Option<bool> {
        self.truth(self.conditions.get(name)?)
    }

    fn truth(&self, value: &Value) -> Option<bool> {
        let map = value.as_object()?;
        let (key, arg) = map.iter().next()?;
        match key.as_str() {
            "Fn::Equals" => {
                let parts = arg.as_array()?;
                Some(
                    scalar(&self.resolve(parts.first()?)?)?
                        == scalar(&self.resolve(parts.get(1)?)?)?,
                )
            }
            "Fn::Not" => Some(!self.truth(arg.as_array()?.first()?)?),
            "Fn::Or" => {
                let all: Option<Vec<bool>> =
                    arg.as_array()?.iter().map(|c| self.truth(c)).collect();
                Some(all?.into_iter().any(|b| b))
            }
            "Fn::And" => {
                let all: Option<Vec<bool>> =
                    arg.as_array()?.iter().map(|c| self.truth(c)).collect();
                Some(all?.into_iter().all(|b| b))
            }
            "Condition" => self.condition(arg.as_str()?),
            _ => None,
        }
    }
}

fn is_no_value(value: &Value) -> bool {
    value.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue")
}

/// A string, number or boolean as CloudFormation passes it on: as text.
pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployed() -> Deployed {
        Deployed {
            stack: "Riv-Prod".into(),
            region: "eu-west-1".into(),
            account: "111122223333".into(),
            parameters: BTreeMap::from([
                ("Stage".into(), "prod".into()),
                ("MaxPose".into(), "30".into()),
            ]),
            resources: BTreeMap::from([
                (
                    "FaceTable".into(),
                    ("Riv-Prod-FaceTable-1".into(), "AWS::DynamoDB::Table".into()),
                ),
                (
                    "AuthFunction".into(),
                    ("riv-auth".into(), "AWS::Lambda::Function".into()),
                ),
                (
                    "AuthRole".into(),
                    ("Riv-Prod-AuthRole-X".into(), "AWS::IAM::Role".into()),
                ),
                (
                    "Api".into(),
                    ("abc123".into(), "AWS::ApiGateway::RestApi".into()),
                ),
            ]),
            conditions: json!({
                "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
                "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
            })
            .as_object()
            .cloned()
            .unwrap(),
        }
    }

    #[test]
    fn refs_attributes_and_subs_resolve_from_the_stack() {
        let d = deployed();
        let value = json!({
            "Table": {"Ref": "FaceTable"},
            "Pose": {"Ref": "MaxPose"},
            "Role": {"Fn::GetAtt": ["AuthRole", "Arn"]},
            "Url": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"},
            "Fn": {"Fn::Sub": ["${F}:live ${!Literal}", {"F": {"Fn::GetAtt": ["AuthFunction", "Arn"]}}]},
            "Joined": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "x", 3]]},
            "Second": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]},
            "Gone": {"Ref": "AWS::NoValue"},
            "Chosen": {"Fn::If": ["NotProd", "dev", "prod"]},
            "Dropped": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "kept"]},
        });
        assert_eq!(
            d.resolve(&value),
            Some(json!({
                "Table": "Riv-Prod-FaceTable-1",
                "Pose": "30",
                "Role": "arn:aws:iam::111122223333:role/Riv-Prod-AuthRole-X",
                "Url": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
                "Fn": "arn:aws:lambda:eu-west-1:111122223333:function:riv-auth:live ${Literal}",
                "Joined": "Riv-Prod-x-3",
                "Second": "b",
                "Chosen": "prod",
            }))
        );
    }

    #[test]
    fn what_cannot_be_derived_is_unknown_not_guessed() {
        let d = deployed();
        assert_eq!(
            d.resolve(&json!({"Fn::GetAtt": ["Api", "RootResourceId"]})),
            None
        );
        assert_eq!(d.resolve(&json!({"Ref": "NoSuchThing"})), None);
        assert_eq!(d.resolve(&json!(["a", {"Ref": "NoSuchThing"}])), None);
        assert_eq!(d.resolve(&json!({"Fn::Sub": "${Unclosed"})), None);
    }
}
