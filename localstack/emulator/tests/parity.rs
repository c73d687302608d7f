//! Every emulated operation answers in the shapes of the botocore model, member by member.

#[tokio::test]
async fn every_operation_answers_in_the_models_shapes() {
    let report = riv_emulator::parity::run().await.expect("the parity run");
    let mut failures = Vec::new();
    for ((service, operation), row) in &report {
        if row.calls == 0 {
            failures.push(format!("{service}.{operation}: never called"));
        }
        // Only an operation whose output has no members (TagResource, DeleteUser) answers nothing to check.
        let empty_output = riv_emulator::model::operation(
            if service == "Textract" {
                riv_emulator::model::Service::Textract
            } else {
                riv_emulator::model::Service::Rekognition
            },
            operation,
        )
        .is_some_and(|op| {
            matches!(op.output.kind, riv_emulator::model::Kind::Structure { members, .. } if members.is_empty())
        });
        if row.calls > 0 && row.members_checked == 0 && !empty_output {
            failures.push(format!("{service}.{operation}: no member checked"));
        }
        failures.extend(
            row.mismatches
                .iter()
                .map(|m| format!("{service}.{operation}: {m}")),
        );
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        report.len(),
        26,
        "operations in the report: {:?}",
        report.keys()
    );
}
