//! Pure comparisons for drift: lifecycle rules in the template's terms, the TLS-only statement, the first place
//! two JSON documents differ, definition substitutions, and the code hash Lambda reports for an artifact key.

use super::resolve::scalar;
use base64::Engine;
use serde_json::Value;
use std::collections::BTreeMap;

/// A lifecycle rule in the terms Riv's template uses, so the template's and the bucket's can be compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub prefix: Option<String>,
    pub expire_days: Option<i32>,
    pub noncurrent_days: Option<i32>,
    pub abort_upload_days: Option<i32>,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.id,
            if self.enabled { "Enabled" } else { "Disabled" }
        )?;
        if let Some(p) = &self.prefix {
            write!(f, " prefix={p}")?;
        }
        for (what, days) in [
            ("expire", self.expire_days),
            ("noncurrent", self.noncurrent_days),
            ("abort-uploads", self.abort_upload_days),
        ] {
            if let Some(d) = days {
                write!(f, " {what}={d}d")?;
            }
        }
        Ok(())
    }
}

fn days(value: &Value) -> Option<i32> {
    scalar(value)?.parse().ok()
}

/// The template's lifecycle rules.
pub(super) fn template_rules(lifecycle: &Value) -> Vec<Rule> {
    let mut rules: Vec<Rule> = lifecycle["Rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| Rule {
            id: r["Id"].as_str().unwrap_or_default().into(),
            enabled: r["Status"].as_str() == Some("Enabled"),
            prefix: r["Prefix"].as_str().map(str::to_string),
            expire_days: days(&r["ExpirationInDays"]),
            noncurrent_days: days(&r["NoncurrentVersionExpiration"]["NoncurrentDays"])
                .or_else(|| days(&r["NoncurrentVersionExpirationInDays"])),
            abort_upload_days: days(&r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]),
        })
        .collect();
    rules.sort();
    rules
}

pub(super) fn list(rules: &[Rule]) -> String {
    if rules.is_empty() {
        return "(none)".into();
    }
    rules
        .iter()
        .map(Rule::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a bucket policy denies every request that does not use TLS.
pub(super) fn denies_plain_http(policy: &Value) -> bool {
    let statements = match &policy["Statement"] {
        Value::Array(s) => s.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => Vec::new(),
    };
    statements.iter().any(|s| {
        s["Effect"] == "Deny"
            && scalar(&s["Condition"]["Bool"]["aws:SecureTransport"]).as_deref() == Some("false")
    })
}

/// The first place two JSON documents differ: its path, and each side there.
pub(super) fn first_difference(
    path: &str,
    a: &Value,
    b: &Value,
) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                first_difference(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(&format!("{path}[{i}]"), p, q)),
        _ if a == b => None,
        _ => Some((path.to_string(), short(a), short(b))),
    }
}

fn short(value: &Value) -> String {
    let text = match value {
        Value::Null => "(absent)".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

/// Replaces `${name}` in every string of `value` with its substitution.
pub(super) fn substitute(value: &Value, substitutions: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => {
            let mut out = s.clone();
            for (name, with) in substitutions {
                out = out.replace(&format!("${{{name}}}"), with);
            }
            Value::String(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute(v, substitutions)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, substitutions)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Lambda's CodeSha256 (base64 of the zip's SHA-256) for an artifact key `functions/bootstrap/<sha256 hex>.zip`.
pub(super) fn code_sha256(key: &str) -> Option<String> {
    let hex_digest = key.rsplit('/').next()?.strip_suffix(".zip")?;
    let bytes = hex::decode(hex_digest).ok().filter(|b| b.len() == 32)?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub(super) fn rule_of(r: &aws_sdk_s3::types::LifecycleRule) -> Rule {
    use aws_sdk_s3::types::LifecycleRuleFilter;
    #[allow(deprecated)]
    let prefix = r
        .filter()
        .and_then(LifecycleRuleFilter::prefix)
        .or(r.prefix())
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    Rule {
        id: r.id().unwrap_or_default().into(),
        enabled: r.status().as_str() == "Enabled",
        prefix,
        expire_days: r.expiration().and_then(|e| e.days()),
        noncurrent_days: r
            .noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        abort_upload_days: r
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_code_hash_lambda_reports_follows_from_the_artifact_key() {
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(
            code_sha256(&format!("functions/bootstrap/{hex}.zip")).as_deref(),
            Some("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=")
        );
        assert_eq!(code_sha256("functions/bootstrap/latest.zip"), None);
    }

    #[test]
    fn the_tls_only_statement_is_recognised_in_either_spelling() {
        let deny = |v: Value| json!({"Statement": [{"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": v}}}]});
        assert!(denies_plain_http(&deny(json!("false"))));
        assert!(denies_plain_http(&deny(json!(false))));
        assert!(!denies_plain_http(&deny(json!("true"))));
        assert!(!denies_plain_http(&Value::Null));
    }

    #[test]
    fn the_first_difference_names_its_path() {
        let a = json!({"States": {"A": {"Type": "Task", "Next": "B"}}});
        let b = json!({"States": {"A": {"Type": "Task", "Next": "C"}}});
        assert_eq!(
            first_difference("Definition", &a, &b),
            Some(("Definition.States.A.Next".into(), "B".into(), "C".into()))
        );
        assert_eq!(first_difference("Definition", &a, &a), None);
    }

    #[test]
    fn definition_substitutions_fill_every_string() {
        let subs = BTreeMap::from([("AuthArn".to_string(), "arn:fn:auth".to_string())]);
        assert_eq!(
            substitute(
                &json!({"Resource": "${AuthArn}", "Keep": ["${Other}", 3]}),
                &subs
            ),
            json!({"Resource": "arn:fn:auth", "Keep": ["${Other}", 3]})
        );
    }

    #[test]
    fn lifecycle_rules_read_from_the_template_sort_and_print() {
        let rules = template_rules(&json!({"Rules": [
            {"Id": "ExpireUploads", "Status": "Enabled", "Prefix": "uploads/", "ExpirationInDays": 1,
             "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
            {"Id": "AbortIncompleteUploads", "Status": "Enabled",
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        ]}));
        assert_eq!(
            list(&rules),
            "AbortIncompleteUploads Enabled abort-uploads=7d; ExpireUploads Enabled prefix=uploads/ expire=1d noncurrent=1d"
        );
    }
}
