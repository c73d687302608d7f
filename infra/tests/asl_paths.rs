//! The state machines are valid ASL for our functions: every transition names a state, every state is
//! reachable, and a walk down every branch with sample data resolves every path and feeds each function a
//! request its own type accepts, field for field.

use riv_domain::events::*;
use riv_domain::names::{function as f, route};
use riv_domain::quality::DetectedFace;
use riv_infra::asl::State;
use riv_infra::names::arn_variable;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn definition(r: &str) -> Value {
    serde_json::to_value(&riv_infra::flows::all()[r]).unwrap()
}

/// Within one scope (the machine, or a Parallel's branch): transitions name states of that scope, and every
/// state is reachable from `start`.
fn check_scope(r: &str, start: &str, states: &BTreeMap<String, State>) {
    assert!(states.contains_key(start), "{r}: StartAt {start}");
    let mut seen = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        if let State::Parallel(p) = &states[name] {
            for branch in &p.branches {
                check_scope(&format!("{r}/{name}"), &branch.start_at, &branch.states);
            }
        }
        for next in states[name].successors() {
            assert!(states.contains_key(next), "{r}/{name} -> missing {next}");
            todo.push(next);
        }
    }
    assert_eq!(seen.len(), states.len(), "{r}: unreachable states");
}

#[test]
fn every_transition_names_a_state_and_every_state_is_reachable() {
    for (r, machine) in riv_infra::flows::all() {
        check_scope(r, &machine.start_at, &machine.states);
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
        value = match part.strip_suffix("[0]") {
            Some(name) => value.get(name)?.get(0)?,
            None => value.get(part)?,
        };
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
            let input = &params["Input"];
            // A card, inline or uploaded, is passed on as a reference; none without.
            let card = (input.get("IdCard").is_some() || input.get("IdCardKey").is_some())
                .then(|| ImageRef::Inline("aGk=".into()));
            json!(DetectFacesResult {
                user_id: input["UserId"].as_str().unwrap().into(),
                image: ImageRef::Inline("aGk=".into()),
                id_card: card,
                face: DetectedFace::default(),
                properties: Properties::new()
            })
        }
        f::UPLOADS => {
            accept::<UploadsCall>(params, at);
            json!(DiscardUploadsResult::default())
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

/// Walks where each of a state's Catch rules leads, with an error in its ResultPath.
fn walk_catches(
    r: &str,
    def: &Value,
    s: &Value,
    state: &Value,
    outputs: &mut Vec<Value>,
    depth: usize,
) {
    for catch in s["Catch"].as_array().into_iter().flatten() {
        let mut failed = state.clone();
        put(
            &mut failed,
            &catch["ResultPath"],
            json!({"Error": "X", "Cause": "{}"}),
        );
        let to = catch["Next"].as_str().unwrap();
        walk(r, def, to, failed, outputs, depth + 1);
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
            walk_catches(r, def, s, &state, outputs, depth);
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
            let value = match s.get("Parameters") {
                Some(template) => parameters(template, &state, &at),
                None => state.clone(),
            };
            match s.get("ResultPath") {
                Some(path) => put(&mut state, path, value),
                None => state = value,
            }
            if let Some(path) = s.get("OutputPath").and_then(Value::as_str) {
                state = resolve(path, &state).unwrap_or_else(|| panic!("{at}: {path} missing"));
            }
        }
        "Parallel" => {
            let branches = s["Branches"].as_array().unwrap();
            assert_eq!(branches.len(), 1, "{at}: one branch");
            walk_catches(r, def, s, &state, outputs, depth);
            let mut ends = Vec::new();
            let branch = &branches[0];
            walk(
                r,
                branch,
                branch["StartAt"].as_str().unwrap(),
                state.clone(),
                &mut ends,
                depth + 1,
            );
            for end in ends {
                let mut after = state.clone();
                put(&mut after, &s["ResultPath"], json!([end]));
                match next(s) {
                    Some(n) => walk(r, def, &n, after, outputs, depth + 1),
                    None => outputs.push(after),
                }
            }
            return;
        }
        // A Choice on whether paths exist follows the sample state: the first rule that holds, or the default.
        "Choice"
            if s["Choices"]
                .as_array()
                .unwrap()
                .iter()
                .all(|rule| rule.get("IsPresent").is_some()) =>
        {
            let taken = s["Choices"].as_array().unwrap().iter().find(|rule| {
                let var = rule["Variable"].as_str().unwrap();
                resolve(var, &state).is_some() == rule["IsPresent"].as_bool().unwrap()
            });
            let to = taken.map_or(&s["Default"], |rule| &rule["Next"]);
            return walk(r, def, to.as_str().unwrap(), state, outputs, depth + 1);
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
fn flows_given_uploads_discard_them_and_answer_as_without() {
    let keys_only =
        json!({"UserId": "ann", "ImageKey": "uploads/x/selfie", "IdCardKey": "uploads/x/idcard"});
    for r in [
        route::REGISTER,
        route::REGISTER_IDCARD,
        route::AUTH,
        route::UPDATE,
    ] {
        let plain = outputs_of(
            r,
            json!({"UserId": "ann", "Image": "aGk=", "IdCard": "aGk="}),
        );
        let uploaded = outputs_of(r, keys_only.clone());
        // The discard's own failure is caught: one more way to the same answers.
        assert_eq!(uploaded.len(), 2 * plain.len(), "{r}");
        for out in uploaded {
            assert!(
                plain.contains(&out),
                "{r}: {out} is not an answer without uploads"
            );
        }
    }
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
