//! Customer-managed encryption, as an option: the `KmsKey` parameter. Empty (the default) keeps the AWS-managed
//! keys; `create` makes a stack key with yearly rotation; a key ARN uses that key. A customer key covers the
//! image bucket, the table, the events topic, the log groups and the functions' environment.
//!
//! The key's policy lets the account's principals tagged with the stack's name (its roles) use it, and one IAM
//! policy attached to those roles gives them the same actions: both are needed, as with any key policy that
//! delegates to IAM.

use crate::model::{obj, stack_tags, Expr, Resource, Template};
use crate::names::{function_log_group, id, param, role_id, states_log_group, STACK_TAG};
use crate::params::Flavor;

/// What a role does with the key: S3 objects, table items and topic messages are encrypted with data keys.
const KEY_USE: [&str; 4] = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
];

/// A key's id, from its ARN (`arn:…:key/<id>`) or the id itself: services answer with either, and both name
/// the same key.
pub fn key_id(key: &str) -> &str {
    key.rsplit_once("key/").map_or(key, |(_, id)| id)
}

/// The roles that read or write data the key encrypts: every function's, Step Functions' (it publishes to the
/// topic) and the portal's (API Gateway reads the portal's files from the image bucket).
pub fn key_users(flavor: Flavor) -> Vec<String> {
    let mut roles: Vec<String> = flavor.functions().iter().map(|f| role_id(f)).collect();
    roles.push(id::STATES_ROLE.into());
    roles.push(crate::portal::ROLE.into());
    roles
}

/// The customer key's ARN: the stack's own, or the one given.
pub fn key_arn() -> Expr {
    Expr::iff(
        id::CREATES_STACK_KEY,
        Expr::att(id::STACK_KEY, "Arn"),
        Expr::r(param::KMS_KEY),
    )
}

/// `with_key` when a customer key is in use, else `otherwise` (the AWS-managed key, or the property left out).
pub fn with_customer_key(with_key: Expr, otherwise: Expr) -> Expr {
    Expr::iff(id::USES_CUSTOMER_KEY, with_key, otherwise)
}

/// The customer key's ARN when one is in use, else the property left out (the service's AWS-managed key).
pub fn key_or_default() -> Expr {
    with_customer_key(key_arn(), Expr::no_value())
}

pub fn conditions(t: &mut Template) {
    t.conditions.insert(
        id::USES_CUSTOMER_KEY.into(),
        Expr::Not(Box::new(Expr::equals(Expr::r(param::KMS_KEY), "".into()))),
    );
    t.conditions.insert(
        id::CREATES_STACK_KEY.into(),
        Expr::equals(Expr::r(param::KMS_KEY), "create".into()),
    );
}

pub fn add(t: &mut Template, flavor: Flavor) {
    let users = key_users(flavor);
    let account_root = obj([(
        "AWS",
        Expr::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"),
    )]);
    let mut log_groups: Vec<Expr> = flavor
        .functions()
        .iter()
        .map(|f| log_group_arn(&function_log_group("${AWS::StackName}", f)))
        .collect();
    log_groups.push(log_group_arn(&states_log_group("${AWS::StackName}")));
    let statements = vec![
        // Without it nobody could manage the key again: the account's administrators keep it, through IAM.
        obj([
            ("Sid", Expr::from("AccountAdministersTheKey")),
            ("Effect", Expr::from("Allow")),
            ("Principal", account_root.clone()),
            ("Action", Expr::from("kms:*")),
            ("Resource", Expr::from("*")),
        ]),
        // Named by their `riv:stack` tag, not their ARNs: the roles' policies name the table, which names the
        // key, so the key cannot name the roles without a cycle. The roles also need the IAM policy below.
        obj([
            ("Sid", Expr::from("StackRolesUseTheKey")),
            ("Effect", Expr::from("Allow")),
            ("Principal", account_root.clone()),
            ("Action", Expr::list(KEY_USE)),
            ("Resource", Expr::from("*")),
            (
                "Condition",
                obj([(
                    "StringEquals",
                    obj([(
                        format!("aws:PrincipalTag/{STACK_TAG}"),
                        Expr::r("AWS::StackName"),
                    )]),
                )]),
            ),
        ]),
        // The login failure alarm publishes to its encrypted topic.
        obj([
            ("Sid", Expr::from("AlarmsPublishToTheEncryptedTopic")),
            ("Effect", Expr::from("Allow")),
            (
                "Principal",
                obj([("Service", Expr::from("cloudwatch.amazonaws.com"))]),
            ),
            ("Action", Expr::list(["kms:Decrypt", "kms:GenerateDataKey"])),
            ("Resource", Expr::from("*")),
            (
                "Condition",
                obj([(
                    "StringEquals",
                    obj([("aws:SourceAccount", Expr::r("AWS::AccountId"))]),
                )]),
            ),
        ]),
        // CloudWatch Logs encrypts the stack's log groups, and only those.
        obj([
            ("Sid", Expr::from("LogsEncryptTheStackLogGroups")),
            ("Effect", Expr::from("Allow")),
            (
                "Principal",
                obj([(
                    "Service",
                    Expr::sub("logs.${AWS::Region}.${AWS::URLSuffix}"),
                )]),
            ),
            (
                "Action",
                Expr::list([
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ]),
            ),
            ("Resource", Expr::from("*")),
            (
                "Condition",
                obj([(
                    "ArnLike",
                    obj([("kms:EncryptionContext:aws:logs:arn", Expr::List(log_groups))]),
                )]),
            ),
        ]),
    ];
    t.add(
        id::STACK_KEY,
        Resource::new(
            "AWS::KMS::Key",
            [
                (
                    "Description",
                    Expr::sub(
                        "Riv stack ${AWS::StackName}: face images, face records, security events, logs and \
                         function settings",
                    ),
                ),
                ("EnableKeyRotation", Expr::Bool(true)),
                (
                    "KeyPolicy",
                    obj([
                        ("Version", Expr::from("2012-10-17")),
                        ("Statement", Expr::List(statements)),
                    ]),
                ),
                ("Tags", stack_tags()),
            ],
        )
        // It outlives the stack with the image bucket it can read: `cargo xtask destroy` and `cleanup` schedule
        // its deletion once the images are gone.
        .retained()
        .when(id::CREATES_STACK_KEY),
    );
    t.add(
        id::STACK_KEY_ALIAS,
        Resource::new(
            "AWS::KMS::Alias",
            [
                ("AliasName", Expr::sub("alias/riv/${AWS::StackName}")),
                ("TargetKeyId", Expr::r(id::STACK_KEY)),
            ],
        )
        .when(id::CREATES_STACK_KEY),
    );
    t.add(
        id::STACK_KEY_USE,
        Resource::new(
            "AWS::IAM::Policy",
            [
                ("PolicyName", Expr::from("riv-stack-key")),
                (
                    "PolicyDocument",
                    obj([
                        ("Version", Expr::from("2012-10-17")),
                        (
                            "Statement",
                            Expr::list([crate::iam::allow(&KEY_USE, vec![key_arn()])]),
                        ),
                    ]),
                ),
                (
                    "Roles",
                    Expr::List(users.iter().map(|r| Expr::r(r)).collect()),
                ),
            ],
        )
        .when(id::USES_CUSTOMER_KEY),
    );
}

fn log_group_arn(name: &str) -> Expr {
    Expr::sub(&format!(
        "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{name}"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_arn_and_its_id_name_the_same_key() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let arn = format!("arn:aws:kms:eu-west-1:111122223333:key/{id}");
        assert_eq!(super::key_id(&arn), id);
        assert_eq!(super::key_id(id), id);
        assert_eq!(super::key_id("alias/riv/Riv-Prod"), "alias/riv/Riv-Prod");
    }
}
