//! The synthesized template is deterministic and equals the checked-in snapshot, so every infrastructure change
//! shows up as a reviewable YAML diff. `RIV_BLESS=1 cargo test -p riv-infra --test golden` refreshes it.

use std::path::Path;

const SNAPSHOT: &str = "riv.template.yaml";

#[test]
fn template_matches_the_checked_in_snapshot() {
    let first = riv_infra::synth_yaml().unwrap();
    let second = riv_infra::synth_yaml().unwrap();
    assert_eq!(first, second, "synthesis is not deterministic");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var_os("RIV_BLESS").is_some() {
        std::fs::write(&path, &first).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == first,
        "infra/{SNAPSHOT} is stale: review the change, then run `RIV_BLESS=1 cargo test -p riv-infra --test golden`"
    );
}

/// The test hooks (`InjectFault` crashes functions on purpose; `EndpointUrl` sends every SDK call, images
/// included, to any host) exist only in the local stack's template.
#[test]
fn the_production_template_has_no_test_hooks() {
    let hooks = [
        "InjectFault",
        "EndpointUrl",
        "HasEndpointUrl",
        "RIV_INJECT_FAULT",
        "AWS_ENDPOINT_URL",
    ];
    let production = riv_infra::synth_yaml().unwrap();
    let stored = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT))
        .expect("the golden template is checked in");
    for template in [&production, &stored] {
        for hook in hooks {
            assert!(
                !template.contains(hook),
                "the production template mentions {hook}"
            );
        }
    }
    let local = riv_infra::synth_local_yaml().unwrap();
    for hook in [
        "InjectFault",
        "EndpointUrl",
        "RIV_INJECT_FAULT",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(local.contains(hook), "the local template lacks {hook}");
    }
}
