//! Structural rules of the template: every reference resolves, every flow's tasks exist, every write is
//! rolled back on failure, every route reaches a state machine, and IAM stays least-privilege.

use riv_domain::names::{env, function, route};
use riv_infra::iam::UNSCOPED_ACTIONS;
use riv_infra::model::Expr;
use riv_infra::names::*;
use riv_infra::stack::{riv, template, Flavor};
use std::collections::BTreeSet;

#[test]
fn every_reference_names_something_in_the_template() {
    for flavor in [Flavor::Aws, Flavor::Local, Flavor::Bench] {
        references_resolve(&template(flavor));
    }
}

fn references_resolve(t: &riv_infra::model::Template) {
    let known: BTreeSet<&String> = t.resources.keys().chain(t.parameters.keys()).collect();
    for (name, resource) in &t.resources {
        for target in resource.references() {
            // GetAtt-style `${Res.Attr}` in Sub, and DefinitionSubstitutions variables, are resolved elsewhere.
            assert!(known.contains(&target), "{name} refers to unknown {target}");
        }
        if let Some(condition) = &resource.condition {
            assert!(
                t.conditions.contains_key(condition),
                "{name}: unknown condition {condition}"
            );
        }
    }
}

#[test]
fn only_the_bench_template_has_the_floor() {
    let floor = state_machine_id(route::FLOOR);
    let echo = function_id(function::ECHO);
    for flavor in [Flavor::Aws, Flavor::Local] {
        let t = template(flavor);
        assert!(
            !t.resources.contains_key(&floor),
            "{flavor:?} has the floor"
        );
        assert!(
            !t.resources.contains_key(&echo),
            "{flavor:?} has the echo function"
        );
    }
    let t = template(Flavor::Bench);
    assert!(t.resources[&floor].references().contains(&echo));
    let method = &t.resources[&format!("{}Method", pascal(route::FLOOR))];
    assert!(serde_json::to_string(method).unwrap().contains(&floor));
    assert_eq!(
        *field(
            &t.resources[&echo].properties["Environment"],
            &["Variables", env::FUNCTION]
        ),
        Expr::from(function::ECHO)
    );
}

/// The value at `path` in a map-valued property.
fn field<'a>(mut value: &'a Expr, path: &[&str]) -> &'a Expr {
    for key in path {
        match value {
            Expr::Map(map) => value = &map[*key],
            other => panic!("{other:?} has no field {key}"),
        }
    }
    value
}

#[test]
fn every_function_has_code_role_and_log_group() {
    let t = riv();
    for f in function::ALL {
        let resource = &t.resources[&function_id(f)];
        assert_eq!(resource.kind, "AWS::Lambda::Function");
        assert_eq!(
            *field(&resource.properties["Code"], &["S3Key"]),
            Expr::r(param::CODE_KEY),
            "every function runs the one bootstrap"
        );
        assert_eq!(
            *field(
                &resource.properties["Environment"],
                &["Variables", env::FUNCTION]
            ),
            Expr::from(f),
            "the bootstrap serves {f} only when told so"
        );
        assert!(resource.references().contains(&role_id(f)));
        assert!(resource.references().contains(&log_group_id(f)));
        assert_eq!(
            resource.properties["Runtime"],
            Expr::from("provided.al2023")
        );
    }
}

#[test]
fn every_route_maps_to_its_state_machine() {
    let t = riv();
    for r in route::ALL {
        let method = &t.resources[&format!("{}Method", pascal(r))];
        let text = serde_json::to_string(&method.properties["Integration"]).unwrap();
        assert!(
            text.contains(&format!("${{{}}}", state_machine_id(r))),
            "{r}: {text}"
        );
        assert!(text.contains("StartSyncExecution"));
        let machine = &t.resources[&state_machine_id(r)];
        assert_eq!(
            machine.properties["StateMachineType"],
            Expr::from("EXPRESS")
        );
    }
}

/// Every state of a definition, those inside Parallel branches included (names are unique across scopes).
fn all_states(definition: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    let mut all = serde_json::Map::new();
    for (name, state) in definition["States"].as_object().unwrap() {
        for branch in state["Branches"].as_array().into_iter().flatten() {
            for (inner, s) in all_states(branch) {
                assert!(all.insert(inner.clone(), s).is_none(), "{inner} twice");
            }
        }
        assert!(
            all.insert(name.clone(), state.clone()).is_none(),
            "{name} twice"
        );
    }
    all
}

#[test]
fn every_task_of_every_flow_is_a_function_or_the_topic() {
    let t = riv();
    for (r, machine) in riv_infra::flows::all() {
        let definition = serde_json::to_value(&machine).unwrap();
        let subs = &t.resources[&state_machine_id(r)].properties["DefinitionSubstitutions"];
        let Expr::Map(subs) = subs else {
            panic!("no substitutions")
        };
        for (name, state) in &all_states(&definition) {
            let Some(resource) = state.get("Resource").and_then(|r| r.as_str()) else {
                continue;
            };
            if resource.starts_with("arn:aws:states:::sns:publish") {
                continue;
            }
            let var = resource.trim_start_matches("${").trim_end_matches('}');
            let target = subs
                .get(var)
                .unwrap_or_else(|| panic!("{r}/{name}: no substitution for {resource}"));
            let mut refs = Vec::new();
            target.references(&mut refs);
            assert!(
                t.resources.contains_key(&refs[0]),
                "{r}/{name} calls missing {}",
                refs[0]
            );
        }
    }
}

#[test]
fn every_write_is_caught_and_rolled_back() {
    for (r, machine) in riv_infra::flows::all() {
        let definition = serde_json::to_value(&machine).unwrap();
        let states = &all_states(&definition);
        let writers: Vec<&String> = states
            .iter()
            .filter(|(_, s)| {
                s["Resource"] == format!("${{{}}}", arn_variable(function::INDEX_FACE))
            })
            .map(|(n, _)| n)
            .collect();
        // Auth reads; uploads only signs URLs (the objects are the caller's until a flow takes them).
        if r == route::AUTH || r == route::UPLOADS {
            assert!(writers.is_empty(), "{r} must not write");
            continue;
        }
        assert_eq!(writers.len(), 1, "{r}");
        let catch = &states[writers[0]]["Catch"][0];
        assert_eq!(catch["ErrorEquals"][0], "States.ALL");
        let rollback = &states[catch["Next"].as_str().unwrap()];
        assert_eq!(
            rollback["Resource"],
            format!("${{{}}}", arn_variable(function::ROLLBACK)),
            "{r}"
        );
        // An undo that cannot finish answers 500, whatever error started it.
        let undo_failed = &states[rollback["Catch"][0]["Next"].as_str().unwrap()];
        assert_eq!(undo_failed["Type"], "Fail", "{r}");
        assert_eq!(undo_failed["Error"], "InternalError", "{r}");
    }
}

fn statements(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("Effect") && map.contains_key("Action") {
                out.push(value.clone());
            }
            map.values().for_each(|v| statements(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| statements(v, out)),
        _ => {}
    }
}

#[test]
fn iam_wildcards_only_where_aws_requires_them() {
    let t = riv();
    let mut all = Vec::new();
    for (name, resource) in &t.resources {
        if resource.kind == "AWS::IAM::Role" {
            statements(
                &serde_json::to_value(&resource.properties["Policies"]).unwrap(),
                &mut all,
            );
            let text = serde_json::to_string(&resource.properties).unwrap();
            assert!(
                !text.contains("FullAccess"),
                "{name} uses a managed FullAccess policy"
            );
        }
    }
    assert!(all.len() > 10);
    for statement in all {
        // A computed list (`Fn::Split`, the collections) holds no `*`: tests/iam.rs evaluates it.
        let Some(resources) = statement["Resource"].as_array() else {
            assert!(
                statement["Resource"].get("Fn::Split").is_some(),
                "{statement}"
            );
            continue;
        };
        if resources.iter().any(|r| r == "*") {
            for action in statement["Action"].as_array().unwrap() {
                let action = action.as_str().unwrap();
                assert!(
                    UNSCOPED_ACTIONS.contains(&action),
                    "{action} on * : scope it to a resource"
                );
            }
        }
        for action in statement["Action"].as_array().unwrap() {
            assert!(
                !action.as_str().unwrap().ends_with(":*"),
                "service-wide action {action}"
            );
        }
    }
}

#[test]
fn the_image_bucket_is_private_encrypted_versioned_and_retained() {
    let t = riv();
    let bucket = &t.resources["ImageBucket"];
    assert_eq!(bucket.deletion_policy, Some("Retain"));
    let text = serde_json::to_string(&bucket.properties).unwrap();
    for needle in [
        "\"Status\":\"Enabled\"",
        "AES256",
        "RestrictPublicBuckets",
        "riv:stack",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    let policy = serde_json::to_string(&t.resources["ImageBucketPolicy"].properties).unwrap();
    assert!(policy.contains("aws:SecureTransport"));
}

#[test]
fn parameter_defaults_can_be_set_and_are_checked() {
    use riv_infra::stack::{set_defaults, ParamError};
    let mut t = riv();
    set_defaults(
        &mut t,
        &[
            "FaceMatchThreshold=90".into(),
            "IdExtraction=detect-text".into(),
        ],
    )
    .unwrap();
    assert_eq!(
        t.parameters["FaceMatchThreshold"].default.as_deref(),
        Some("90")
    );
    let bad = [
        ("FaceMatchThreshold=101", "between"),
        // The 0-1 scale mistake of the original sample: every face would match.
        ("FaceMatchThreshold=0.95", "between 80 and 100"),
        ("MinConfidence=0.9", "between 50 and 100"),
        ("MaxFailedAttempts=0", "between 1 and 100"),
        ("IdExtraction=ocr", "one of"),
        ("Nope=1", "unknown parameter"),
        ("FaceMatchThreshold", "KEY=VALUE"),
    ];
    for (pair, expected) in bad {
        let err: ParamError = set_defaults(&mut t, &[pair.into()]).unwrap_err();
        assert!(err.to_string().contains(expected), "{pair}: {err}");
    }
}

#[test]
fn the_template_holds_no_null_values() {
    // LocalStack's CloudFormation engine fails on them ("Unsupported type NoneType").
    let yaml = riv_infra::synth_yaml().unwrap();
    for (n, line) in yaml.lines().enumerate() {
        assert!(
            !line.trim_end().ends_with(": null") && line.trim() != "- null",
            "line {}: {line}",
            n + 1
        );
    }
}
