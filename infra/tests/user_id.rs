//! The UserId rule is written twice: as the API schema's pattern (API Gateway refuses a bad id before any
//! function runs) and as `riv_domain::validate::user_id` (the functions' own check). They must agree on every id.

use riv_domain::validate;
use riv_infra::api::USER_ID_PATTERN;

#[test]
fn the_api_pattern_and_the_functions_rule_agree() {
    let pattern = regex_lite::Regex::new(USER_ID_PATTERN).unwrap();
    let longest = "a".repeat(128);
    let too_long = "a".repeat(129);
    let accepted = [
        "a",
        "Z",
        "7",
        "ann.lee@example.com",
        "user_1-2",
        "A.b_c@d-e",
        longest.as_str(),
    ];
    let refused = [
        "",
        ".ann",
        "_ann",
        "@ann",
        "-ann",
        "ann lee",
        "ann/lee",
        "ann\nlee",
        "ann\n",
        "ann+tag@example.com",
        "anné",
        "ﬁ",
        "ann#1",
        too_long.as_str(),
    ];
    for id in accepted {
        assert!(pattern.is_match(id), "the API refuses {id:?}");
        assert!(validate::user_id(id).is_ok(), "the functions refuse {id:?}");
    }
    for id in refused {
        assert!(!pattern.is_match(id), "the API accepts {id:?}");
        assert!(
            validate::user_id(id).is_err(),
            "the functions accept {id:?}"
        );
    }
}
