//! The local stack works end to end: a Lambda through LocalStack's Invoke API, and a flow through the API URL.

use riv_e2e::{photo, stack, unique};
use riv_emulator::testimage::Case;
use serde_json::json;

#[tokio::test]
async fn a_lambda_runs_through_localstack_invoke() {
    let s = stack();
    let lambda = aws_sdk_lambda::Client::new(&s.sdk_config().await);
    let event = json!({"Input": {"UserId": "ann", "Image": photo(Case::Selfie, "ann")}, "RequireIdCard": false});
    let out = lambda
        .invoke()
        .function_name(s.function_name("detect-faces"))
        .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), None, "{:?}", out.payload());
    let result: serde_json::Value =
        serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert!(
        result["Face"]["Confidence"].as_f64().unwrap() > 90.0,
        "{result}"
    );

    let bad = json!({"Input": {"UserId": "../x", "Image": photo(Case::Selfie, "ann")}});
    let out = lambda
        .invoke()
        .function_name(s.function_name("detect-faces"))
        .payload(aws_sdk_lambda::primitives::Blob::new(bad.to_string()))
        .send()
        .await
        .unwrap();
    assert!(out.function_error().is_some());
    let error: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(error["errorType"], "InvalidRequest", "{error}");
}

#[tokio::test]
async fn a_flow_runs_through_the_api_url() {
    let s = stack();
    let user = unique("ann");
    let body = json!({"UserId": user, "Image": photo(Case::Selfie, &user)});
    let (status, answer) = s.post("register", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Status"], "Registered");
    assert_eq!(answer["UserId"], user.as_str());
    let (status, answer) = s.post("register", &body).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["Reason"], "UserAlreadyExists");
}
