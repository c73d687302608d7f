//! Requests the API refuses before any function runs: every route, every way a body can be malformed, answered
//! 400 `InvalidRequest` in the contract's shape by API Gateway's validator (its gateway response) or by Step
//! Functions' input limit (through the integration's response mapping), with nothing stored.

use crate::ensure;
use crate::scenarios::{
    body, card, expect_bad_request, registered, Outcome, Scenario, CARD_FIELDS,
};
use crate::{photo, stack, Case};
use serde_json::{json, Value};

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![("every_route_refuses_each_kind_of_malformed_request", || {
        Box::pin(every_route_refuses_each_kind_of_malformed_request())
    })]
}

/// Each route, each way a body can be malformed (a member missing, of the wrong type, one the model does not
/// know, an input too big for Step Functions): 400 InvalidRequest in the contract's shape, and nothing stored.
/// A registered user is the target, so a request that slipped through could change something.
async fn every_route_refuses_each_kind_of_malformed_request() -> Outcome {
    let s = stack();
    let user = registered(s, "malformed-routes").await?;
    let before = s.user_state(&user).await?;
    let selfie = photo(Case::Selfie, &user);
    let big = crate::photo_over_256_kib(&user);
    let idcard = card(&user, &CARD_FIELDS);
    for route in riv_domain::names::route::FLOWS {
        // A well-formed request to this route, which each case then breaks in one way.
        let mut good = body(&user, &selfie);
        if route == "register-idcard" {
            good["IdCard"] = json!(idcard);
        }
        let with = |key: &str, value: Value| {
            let mut req = good.clone();
            req[key] = value;
            req
        };
        let mut missing_image = good.clone();
        missing_image.as_object_mut().map(|o| o.remove("Image"));
        let cases = [
            ("a missing member", missing_image),
            (
                "a wrong type",
                with("UserId", json!(["not", "a", "string"])),
            ),
            ("a wrong type inside", with("Image", json!({"b64": selfie}))),
            ("an extra member", with("IsAdmin", json!(true))),
            ("an input over 256 KiB", with("Image", json!(big))),
        ];
        for (what, req) in cases {
            let what = format!("{route}, {what}");
            expect_bad_request(&what, s.post(route, &req).await)?;
        }
        if route == "auth" {
            // auth takes no Properties: the model refuses them like any other unknown member.
            let req = with("Properties", json!({"team": "red"}));
            expect_bad_request("auth, Properties", s.post(route, &req).await)?;
        }
    }
    let after = s.user_state(&user).await?;
    ensure!(
        before == after,
        "a malformed request changed the user: {before:?} -> {after:?}"
    );
    Ok(())
}
