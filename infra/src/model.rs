//! A small typed model of the CloudFormation we emit: values and intrinsic functions as one enum serialised in
//! long form (`Ref`, `Fn::GetAtt`, …), and a template of parameters, conditions, resources and outputs.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::collections::BTreeMap;

/// A template value: a literal, a list or map of values, or an intrinsic function.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Str(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
    Ref(String),
    GetAtt(String, String),
    Sub(String),
    /// `Fn::Sub` with its own variables.
    SubWith(String, BTreeMap<String, Expr>),
    Join(String, Vec<Expr>),
    If(String, Box<Expr>, Box<Expr>),
    Equals(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Or(Vec<Expr>),
    Condition(String),
    Select(usize, Box<Expr>),
    Split(String, Box<Expr>),
}

impl Expr {
    pub fn r(name: &str) -> Expr {
        Expr::Ref(name.to_string())
    }

    pub fn att(resource: &str, attribute: &str) -> Expr {
        Expr::GetAtt(resource.to_string(), attribute.to_string())
    }

    pub fn sub(template: &str) -> Expr {
        Expr::Sub(template.to_string())
    }

    pub fn iff(condition: &str, then: Expr, otherwise: Expr) -> Expr {
        Expr::If(condition.to_string(), Box::new(then), Box::new(otherwise))
    }

    pub fn equals(a: Expr, b: Expr) -> Expr {
        Expr::Equals(Box::new(a), Box::new(b))
    }

    /// `Ref: AWS::NoValue`: the property is left out.
    pub fn no_value() -> Expr {
        Expr::r("AWS::NoValue")
    }

    pub fn list<T: Into<Expr>>(items: impl IntoIterator<Item = T>) -> Expr {
        Expr::List(items.into_iter().map(Into::into).collect())
    }

    /// A literal JSON document as a value (no intrinsics inside).
    pub fn from_json(value: &serde_json::Value) -> Expr {
        use serde_json::Value as V;
        match value {
            V::Null => Expr::Null,
            V::Bool(b) => Expr::Bool(*b),
            V::Number(n) => match n.as_i64() {
                Some(i) => Expr::Int(i),
                None => Expr::Num(n.as_f64().unwrap_or_default()),
            },
            V::String(s) => Expr::Str(s.clone()),
            V::Array(items) => Expr::List(items.iter().map(Expr::from_json).collect()),
            V::Object(map) => Expr::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Expr::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The names of the resources this value refers to (`Ref` to a non-pseudo name, `GetAtt`, `${X}` in `Sub`).
    pub fn references(&self, out: &mut Vec<String>) {
        match self {
            Expr::Ref(name) if !name.starts_with("AWS::") => out.push(name.clone()),
            Expr::GetAtt(name, _) => out.push(name.clone()),
            Expr::Sub(template) => sub_variables(template, out),
            Expr::SubWith(template, vars) => {
                let mut names = Vec::new();
                sub_variables(template, &mut names);
                out.extend(names.into_iter().filter(|n| !vars.contains_key(n)));
                vars.values().for_each(|v| v.references(out));
            }
            Expr::List(items) | Expr::Join(_, items) | Expr::Or(items) => {
                items.iter().for_each(|i| i.references(out))
            }
            Expr::Map(map) => map.values().for_each(|v| v.references(out)),
            Expr::If(_, a, b) | Expr::Equals(a, b) => {
                a.references(out);
                b.references(out);
            }
            Expr::Not(a) | Expr::Select(_, a) | Expr::Split(_, a) => a.references(out),
            _ => {}
        }
    }
}

/// `${Name}` and `${Name.Attr}` variables of a `Fn::Sub` template, pseudo parameters left out.
fn sub_variables(template: &str, out: &mut Vec<String>) {
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let var = &rest[..end];
        if !var.starts_with("AWS::") && !var.starts_with('!') {
            out.push(var.split('.').next().unwrap_or(var).to_string());
        }
        rest = &rest[end + 1..];
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::Str(s.to_string())
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::Str(s)
    }
}

impl From<i64> for Expr {
    fn from(n: i64) -> Self {
        Expr::Int(n)
    }
}

impl From<bool> for Expr {
    fn from(b: bool) -> Self {
        Expr::Bool(b)
    }
}

impl From<Vec<Expr>> for Expr {
    fn from(items: Vec<Expr>) -> Self {
        Expr::List(items)
    }
}

/// Builds a map value from `(key, value)` pairs.
pub fn obj<K: Into<String>, V: Into<Expr>>(pairs: impl IntoIterator<Item = (K, V)>) -> Expr {
    Expr::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    )
}

fn one<S: Serializer, V: Serialize + ?Sized>(
    s: S,
    key: &str,
    value: &V,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(key, value)?;
    map.end()
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expr::Null => s.serialize_unit(),
            Expr::Str(v) => s.serialize_str(v),
            Expr::Int(v) => s.serialize_i64(*v),
            Expr::Num(v) => s.serialize_f64(*v),
            Expr::Bool(v) => s.serialize_bool(*v),
            Expr::List(items) => items.serialize(s),
            Expr::Map(map) => map.serialize(s),
            Expr::Ref(name) => one(s, "Ref", name),
            Expr::GetAtt(r, a) => one(s, "Fn::GetAtt", &[r, a]),
            Expr::Sub(t) => one(s, "Fn::Sub", t),
            Expr::SubWith(t, vars) => one(s, "Fn::Sub", &(t, vars)),
            Expr::Join(sep, items) => one(s, "Fn::Join", &(sep, items)),
            Expr::If(c, a, b) => one(s, "Fn::If", &(c, a, b)),
            Expr::Equals(a, b) => one(s, "Fn::Equals", &[a, b]),
            Expr::Not(a) => one(s, "Fn::Not", &[a]),
            Expr::Or(items) => one(s, "Fn::Or", items),
            Expr::Condition(c) => one(s, "Condition", c),
            Expr::Select(i, a) => one(s, "Fn::Select", &(i.to_string(), a)),
            Expr::Split(sep, a) => one(s, "Fn::Split", &(sep, a)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole_if_whole"
    )]
    pub min_value: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole_if_whole"
    )]
    pub max_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
}

impl Parameter {
    pub fn string(description: &str, default: Option<&str>) -> Self {
        Parameter {
            kind: "String",
            description: description.to_string(),
            default: default.map(str::to_string),
            allowed_values: Vec::new(),
            min_value: None,
            max_value: None,
            allowed_pattern: None,
        }
    }

    pub fn number(description: &str, default: f64, min: f64, max: f64) -> Self {
        Parameter {
            kind: "Number",
            default: Some(format_number(default)),
            min_value: Some(min),
            max_value: Some(max),
            ..Parameter::string(description, None)
        }
    }

    pub fn one_of(description: &str, default: &str, allowed: &[&str]) -> Self {
        Parameter {
            allowed_values: allowed.iter().map(|s| s.to_string()).collect(),
            ..Parameter::string(description, Some(default))
        }
    }
}

/// `0`, not `0.0`: a bound printed as a float makes linters read the parameter as one, and an integer property
/// (`ReservedConcurrentExecutions`) then looks mistyped.
fn whole_if_whole<S: Serializer>(n: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => s.serialize_i64(*n as i64),
        Some(n) => s.serialize_f64(*n),
        None => s.serialize_none(),
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_replace_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Expr>,
    pub properties: BTreeMap<String, Expr>,
}

impl Resource {
    pub fn new<K: Into<String>>(
        kind: &str,
        properties: impl IntoIterator<Item = (K, Expr)>,
    ) -> Self {
        Resource {
            kind: kind.to_string(),
            condition: None,
            depends_on: Vec::new(),
            deletion_policy: None,
            update_replace_policy: None,
            metadata: None,
            properties: properties.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }

    /// Kept when the stack is deleted or the resource replaced.
    pub fn retained(mut self) -> Self {
        self.deletion_policy = Some("Retain");
        self.update_replace_policy = Some("Retain");
        self
    }

    /// Removed with the stack, said explicitly for stateful resources. A replacement keeps the old copy when
    /// `keep_on_replace`.
    pub fn deleted_with_stack(mut self, keep_on_replace: bool) -> Self {
        self.deletion_policy = Some("Delete");
        self.update_replace_policy = Some(if keep_on_replace { "Retain" } else { "Delete" });
        self
    }

    pub fn depends_on(mut self, name: &str) -> Self {
        self.depends_on.push(name.to_string());
        self
    }

    /// Findings of the security scanner (checkov) that do not apply to this resource, each with its reason in
    /// one sentence, in checkov's own `Metadata: checkov: skip:` form so the scanner and a reader see the same.
    pub fn scanner_skips(mut self, skips: &[(&str, &str)]) -> Self {
        let skip = Expr::list(
            skips
                .iter()
                .map(|(id, reason)| obj([("id", *id), ("comment", *reason)])),
        );
        self.metadata = Some(obj([("checkov", obj([("skip", skip)]))]));
        self
    }

    pub fn when(mut self, condition: &str) -> Self {
        self.condition = Some(condition.to_string());
        self
    }

    /// Every resource name this one refers to, through properties or `DependsOn`.
    pub fn references(&self) -> Vec<String> {
        let mut out = self.depends_on.clone();
        self.properties
            .values()
            .for_each(|v| v.references(&mut out));
        out.sort();
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub description: String,
    pub value: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub format_version: &'static str,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Parameters")]
    pub parameters: BTreeMap<String, Parameter>,
    #[serde(rename = "Conditions", skip_serializing_if = "BTreeMap::is_empty")]
    pub conditions: BTreeMap<String, Expr>,
    #[serde(rename = "Resources")]
    pub resources: BTreeMap<String, Resource>,
    #[serde(rename = "Outputs")]
    pub outputs: BTreeMap<String, Output>,
}

impl Template {
    pub fn new(description: &str) -> Self {
        Template {
            format_version: "2010-09-09",
            description: description.to_string(),
            ..Template::default()
        }
    }

    /// Adds a resource; a name used twice is a bug in the stack code.
    pub fn add(&mut self, name: &str, resource: Resource) {
        let previous = self.resources.insert(name.to_string(), resource);
        assert!(previous.is_none(), "resource {name} defined twice");
    }

    pub fn output(&mut self, name: &str, description: &str, value: Expr) {
        self.outputs.insert(
            name.to_string(),
            Output {
                description: description.to_string(),
                value,
                condition: None,
            },
        );
    }

    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(self)
    }
}

/// The tag every taggable resource carries, so destroy and cleanup can tell Riv's resources from anyone else's.
pub fn stack_tags() -> Expr {
    Expr::list([stack_tag()])
}

/// The `riv:stack` tag alone, for a resource with more tags.
pub fn stack_tag() -> Expr {
    obj([
        ("Key", Expr::from(crate::names::STACK_TAG)),
        ("Value", Expr::r("AWS::StackName")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intrinsics_serialise_in_long_form() {
        let cases = [
            (Expr::r("Bucket"), json!({"Ref": "Bucket"})),
            (Expr::att("Fn", "Arn"), json!({"Fn::GetAtt": ["Fn", "Arn"]})),
            (
                Expr::sub("${AWS::StackName}-x"),
                json!({"Fn::Sub": "${AWS::StackName}-x"}),
            ),
            (
                Expr::iff("IsLocal", "a".into(), Expr::no_value()),
                json!({"Fn::If": ["IsLocal", "a", {"Ref": "AWS::NoValue"}]}),
            ),
            (
                Expr::Join(",".into(), vec!["a".into(), Expr::r("B")]),
                json!({"Fn::Join": [",", ["a", {"Ref": "B"}]]}),
            ),
            (
                Expr::Not(Box::new(Expr::equals(Expr::r("P"), "".into()))),
                json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]}),
            ),
            (
                Expr::Select(1, Box::new(Expr::r("L"))),
                json!({"Fn::Select": ["1", {"Ref": "L"}]}),
            ),
        ];
        for (expr, expected) in cases {
            assert_eq!(serde_json::to_value(&expr).unwrap(), expected);
        }
    }

    #[test]
    fn references_are_found_everywhere() {
        let e = obj([
            ("A", Expr::r("One")),
            ("B", Expr::sub("arn:${AWS::Partition}:s3:::${Two}/*")),
            (
                "C",
                Expr::list([Expr::att("Three", "Arn"), Expr::r("AWS::Region")]),
            ),
        ]);
        let mut refs = Vec::new();
        e.references(&mut refs);
        refs.sort();
        assert_eq!(refs, ["One", "Three", "Two"]);
    }

    #[test]
    fn numbers_print_without_needless_decimals() {
        assert_eq!(
            Parameter::number("d", 95.0, 0.0, 100.0).default.as_deref(),
            Some("95")
        );
        assert_eq!(
            Parameter::number("d", 0.5, 0.0, 1.0).default.as_deref(),
            Some("0.5")
        );
    }
}
