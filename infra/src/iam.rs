//! IAM building blocks: roles that a service assumes, with inline least-privilege statements.

use crate::model::{obj, Expr, Resource};

/// One `Allow` statement.
pub fn allow(actions: &[&str], resources: Vec<Expr>) -> Expr {
    obj([
        ("Effect", Expr::from("Allow")),
        ("Action", Expr::list(actions.iter().copied())),
        ("Resource", Expr::List(resources)),
    ])
}

/// One `Allow` statement on a list the template computes (e.g. `Fn::Split`).
pub fn allow_on(actions: &[&str], resources: Expr) -> Expr {
    obj([
        ("Effect", Expr::from("Allow")),
        ("Action", Expr::list(actions.iter().copied())),
        ("Resource", resources),
    ])
}

/// Actions that AWS does not scope to a resource: their statements must name `*`. Listed here so the
/// structural test can tell a necessary wildcard from a careless one.
pub const UNSCOPED_ACTIONS: [&str; 13] = [
    "rekognition:DetectFaces",
    "rekognition:CompareFaces",
    "rekognition:DetectText",
    "textract:AnalyzeID",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
];

/// A role `service` assumes, with one inline policy of `statements`.
pub fn role(service: &str, policy_name: &str, statements: Vec<Expr>) -> Resource {
    let trust = obj([
        ("Version", Expr::from("2012-10-17")),
        (
            "Statement",
            Expr::list([obj([
                ("Effect", Expr::from("Allow")),
                ("Principal", obj([("Service", Expr::from(service))])),
                ("Action", Expr::from("sts:AssumeRole")),
            ])]),
        ),
    ]);
    let policy = obj([
        ("PolicyName", Expr::from(policy_name)),
        (
            "PolicyDocument",
            obj([
                ("Version", Expr::from("2012-10-17")),
                ("Statement", Expr::List(statements)),
            ]),
        ),
    ]);
    Resource::new(
        "AWS::IAM::Role",
        [
            ("AssumeRolePolicyDocument", trust),
            ("Policies", Expr::list([policy])),
            ("Tags", crate::model::stack_tags()),
        ],
    )
}
