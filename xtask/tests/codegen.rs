//! `localstack/emulator/src/model/generated.rs` is what `cargo xtask codegen` writes from the botocore in the
//! LocalStack venv: regenerated in memory and compared, so a model update or a hand edit cannot go unnoticed.

// The generator itself, compiled here too (xtask is a binary); the CLI half of it is unused by this test.
#[allow(dead_code)]
#[path = "../src/codegen.rs"]
mod codegen;

use std::path::Path;

#[test]
fn the_generated_model_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // No skip when the models cannot be read: a missing venv is created here as the end-to-end tests do, and
    // any other failure says why and how to fix it.
    let models = codegen::load_models(root, &|m| eprintln!("==> {m}"))
        .unwrap_or_else(|e| panic!("cannot read botocore's service models: {e:#}"));
    let fresh = codegen::generate(&models).expect("the models generate");
    let on_disk = std::fs::read_to_string(root.join(codegen::OUTPUT)).unwrap_or_default();
    assert!(
        fresh == on_disk,
        "generated.rs is stale: run cargo xtask codegen ({} from botocore {})",
        codegen::OUTPUT,
        models.botocore_version
    );
}
