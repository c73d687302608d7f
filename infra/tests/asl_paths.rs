//! The state machines are valid ASL for our functions: every transition names a state, every state is
//! reachable, and a walk down every branch with sample data resolves every path and feeds each function a
//! request its own type accepts, field for field.

use riv_domain::events::*;
use riv_domain::names::{function as f, route};
use riv_domain::quality::DetectedFace;
use riv_infra::names::arn_variable;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn definition(r: &str) -> Value {
    serde_json::to_value(&riv_infra::flows::all()[r]).unwrap()
}

#[test]
fn every_transition_names_a_state_and_every_state_is_reachable() {
    for (r, machine) in riv_infra::flows::all() {
        let names: BTreeSet<&String> = machine.states.keys().collect();
        assert!(names.contains(&machine.start_at), "{r}: StartAt");
        let mut seen = BTreeSet::new();
        let mut todo = vec![machine.start_at.as_str()];
        while let Some(name) = todo.pop() {
            if !seen.insert(name) {
                continue;
            }
            for next in machine.states[name].successors() {
                assert!(
                    machine.states.contains_key(next),
                    "{r}/{name} -> missing {next}"
                );
                todo.push(next);
            }
        }
        assert_eq!(seen.len(), machine.states.len(), "{r}: unreachable states");
    }
}

/// Resolves `$`, `$.A.B`, `$$.…` and `States.JsonToString($.X)` against the state; `None` when a path is absent.
fn resolve(path: &str, state: &Value) -> Option<Value> {
    if let Some(inner) = path
        .strip_prefix("States.JsonToString(")
        .and_then(|p| p.strip_suffix(')'))
    {
        return resolve(inner, state).map(|v| Value::String(v.to_string()));
    }
    if let Some(context) = path.strip_prefix("$$.") {
        let known = [
            "Execution.Name",
            "Execution.Id",
            "Execution.StartTime",
            "State.EnteredTime",
        ];
        return known.contains(&context).then(|| json!("ctx"));
    }
    let mut value = state;
    for part in path.strip_prefix('$')?.split('.').filter(|p| !p.is_empty()) {
        value = value.get(part)?;
    }
    Some(value.clone())
}

fn parameters(template: &Value, state: &Value, at: &str) -> Value {
    match template {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(key) => {
                        let path = v.as_str().unwrap();
                        let value = resolve(path, state)
                            .unwrap_or_else(|| panic!("{at}: {path} is not in {state}"));
                        (key.to_string(), value)
                    }
                    None => (k.clone(), parameters(v, state, at)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Checks `params` deserialise into the function's request type with nothing ignored, and returns a sample
/// of its result.
fn call(function: &str, params: &Value, at: &str) -> Value {
    fn accept<T: serde::de::DeserializeOwned + serde::Serialize>(params: &Value, at: &str) {
        let typed: T = serde_json::from_value(params.clone())
            .unwrap_or_else(|e| panic!("{at}: {e} in {params}"));
        let back = serde_json::to_value(&typed).unwrap();
        for key in params.as_object().unwrap().keys() {
            assert!(
                back.get(key).is_some(),
                "{at}: field {key} is not part of the request type"
            );
        }
    }
    let face_id = "f-1".to_string();
    match function {
        f::DETECT_FACES => {
            accept::<DetectFacesRequest>(params, at);
            json!(DetectFacesResult {
                face: DetectedFace::default(),
                properties: Properties::new()
            })
        }
        f::SEARCH_FACES => {
            accept::<SearchFacesRequest>(params, at);
            json!(SearchFacesResult {
                matched: true,
                face_id: Some(face_id),
                similarity: Some(99.0),
                deny_at: Some("2026-12-02T00:00:01.500Z".into()),
            })
        }
        f::COMPARE_FACES => {
            accept::<CompareFacesRequest>(params, at);
            json!(CompareFacesResult {
                matched: true,
                similarity: 99.0,
                face_id: Some(face_id),
                deny_at: "2026-12-02T00:00:01.500Z".into(),
            })
        }
        f::COMPARE_IDCARD => {
            accept::<CompareIdCardRequest>(params, at);
            json!(CompareIdCardResult { similarity: 99.0 })
        }
        f::EXTRACT_IDCARD => {
            accept::<ExtractIdCardRequest>(params, at);
            json!(ExtractIdCardResult {
                fields: [("LAST_NAME".to_string(), "LEE".to_string())].into(),
                method: "analyze-id".into(),
                read_at: "t".into(),
            })
        }
        f::INDEX_FACE => {
            accept::<IndexFaceRequest>(params, at);
            json!(IndexFaceResult {
                user_id: "ann".into(),
                face_id,
                status: IndexStatus::Registered,
                properties: Properties::new(),
                id_card: Some(IdCardData {
                    fields: Properties::new(),
                    method: "analyze-id".into(),
                    read_at: "t".into(),
                }),
            })
        }
        f::ROLLBACK => {
            accept::<RollbackRequest>(params, at);
            json!(RollbackResult::default())
        }
        other => panic!("{at}: unknown function {other}"),
    }
}

fn put(state: &mut Value, result_path: &Value, value: Value) {
    match result_path.as_str() {
        None => {}
        Some("$") => *state = value,
        Some(path) => {
            let key = path.strip_prefix("$.").unwrap();
            state[key] = value;
        }
    }
}

/// Walks every branch from `name`, returning the outputs of the executions that succeed.
fn walk(
    r: &str,
    def: &Value,
    name: &str,
    mut state: Value,
    outputs: &mut Vec<Value>,
    depth: usize,
) {
    assert!(depth < 30, "{r}: loop at {name}");
    let s = &def["States"][name];
    let at = format!("{r}/{name}");
    let next = |s: &Value| s["Next"].as_str().map(str::to_string);
    match s["Type"].as_str().unwrap() {
        "Task" => {
            let params = parameters(&s["Parameters"], &state, &at);
            let resource = s["Resource"].as_str().unwrap();
            for catch in s["Catch"].as_array().into_iter().flatten() {
                let mut failed = state.clone();
                put(
                    &mut failed,
                    &catch["ResultPath"],
                    json!({"Error": "X", "Cause": "{}"}),
                );
                walk(
                    r,
                    def,
                    catch["Next"].as_str().unwrap(),
                    failed,
                    outputs,
                    depth + 1,
                );
            }
            let result = if resource.contains(":sns:publish") {
                assert!(
                    params["Message"].is_string(),
                    "{at}: SNS Message must be a string"
                );
                json!({})
            } else {
                let function = f::ALL
                    .into_iter()
                    .find(|fun| resource == format!("${{{}}}", arn_variable(fun)))
                    .unwrap_or_else(|| panic!("{at}: unknown resource {resource}"));
                call(function, &params, &at)
            };
            put(&mut state, &s["ResultPath"], result);
        }
        "Pass" => {
            let value = parameters(&s["Parameters"], &state, &at);
            match s.get("ResultPath") {
                Some(path) => put(&mut state, path, value),
                None => state = value,
            }
        }
        "Choice" => {
            for rule in s["Choices"].as_array().unwrap() {
                let var = rule["Variable"].as_str().unwrap();
                assert!(resolve(var, &state).is_some(), "{at}: {var} missing");
                walk(
                    r,
                    def,
                    rule["Next"].as_str().unwrap(),
                    state.clone(),
                    outputs,
                    depth + 1,
                );
            }
            return walk(
                r,
                def,
                s["Default"].as_str().unwrap(),
                state,
                outputs,
                depth + 1,
            );
        }
        "Wait" => {
            let path = s["TimestampPath"].as_str().unwrap();
            assert!(
                resolve(path, &state).is_some_and(|v| v.is_string()),
                "{at}: {path} missing"
            );
        }
        "Fail" => {
            for key in ["ErrorPath", "CausePath"] {
                if let Some(path) = s.get(key).and_then(|p| p.as_str()) {
                    assert!(resolve(path, &state).is_some(), "{at}: {path} missing");
                }
            }
            return;
        }
        other => panic!("{at}: unexpected state type {other}"),
    }
    match next(s) {
        Some(n) => walk(r, def, &n, state, outputs, depth + 1),
        None => outputs.push(state),
    }
}

fn outputs_of(r: &str, input: Value) -> Vec<Value> {
    let def = definition(r);
    let mut outputs = Vec::new();
    walk(
        r,
        &def,
        def["StartAt"].as_str().unwrap(),
        input,
        &mut outputs,
        0,
    );
    outputs
}

/// Sorted: serde_json keeps insertion order when another crate in the build enables `preserve_order`.
fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn register_flows_answer_with_the_contract_fields_from_minimal_input() {
    // Optional fields are absent: no path may depend on them.
    let minimal = json!({"UserId": "ann", "Image": "aGk="});
    for out in outputs_of(route::REGISTER, minimal.clone()) {
        assert_eq!(keys(&out), ["FaceId", "Status", "UserId"]);
    }
    for out in outputs_of(route::UPDATE, minimal) {
        assert_eq!(keys(&out), ["FaceId", "Properties", "Status", "UserId"]);
    }
    let with_card = json!({"UserId": "ann", "Image": "aGk=", "IdCard": "aGk="});
    let outs = outputs_of(route::REGISTER_IDCARD, with_card);
    assert_eq!(outs.len(), 1);
    assert_eq!(
        keys(&outs[0]),
        ["FaceId", "IdCard", "Properties", "Status", "UserId"]
    );
}

#[test]
fn auth_answers_verified_with_a_similarity_on_both_branches() {
    let outs = outputs_of(route::AUTH, json!({"UserId": "ann", "Image": "aGk="}));
    assert_eq!(
        outs.len(),
        2,
        "stored-face match and collection-search match"
    );
    for out in outs {
        assert_eq!(out["Status"], "Verified");
        assert!(out["Similarity"].is_number());
    }
}
