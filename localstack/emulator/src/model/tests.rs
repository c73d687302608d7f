//! The model's validator against AWS's exact messages, and the output checker against responses that break the
//! model in each way it looks for.

use super::*;
use serde_json::{json, Value};

const UUID_PATTERN: &str = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const FACE_ID: &str = "11111111-2222-3333-4444-555555555555";

fn image() -> Value {
    json!({"Bytes": "/9j/4AAQ"})
}

fn message(operation: &str, request: Value) -> String {
    match validate_input(Service::Rekognition, operation, &request) {
        Ok(()) => panic!("{operation} {request} was accepted"),
        Err(e) => {
            assert_eq!(e.kind, "ValidationException", "{e}");
            assert_eq!(e.status, 400);
            e.message
        }
    }
}

#[test]
fn bad_inputs_get_aws_exact_messages() {
    let one = |rest: &str| format!("1 validation error detected: {rest}");
    let cases: Vec<(&str, Value, String)> = vec![
        (
            "CreateCollection",
            json!({}),
            one("Value null at 'collectionId' failed to satisfy constraint: Member must not be null"),
        ),
        (
            "CreateCollection",
            json!({"CollectionId": "a/b"}),
            one("Value 'a/b' at 'collectionId' failed to satisfy constraint: Member must satisfy regular expression \
                 pattern: [a-zA-Z0-9_.\\-]+"),
        ),
        (
            "SearchFacesByImage",
            json!({"CollectionId": "c", "Image": image(), "MaxFaces": 0}),
            one("Value '0' at 'maxFaces' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ),
        (
            "SearchFacesByImage",
            json!({"CollectionId": "c", "Image": image(), "FaceMatchThreshold": 101}),
            one("Value '101.0' at 'faceMatchThreshold' failed to satisfy constraint: Member must have value less than \
                 or equal to 100"),
        ),
        (
            "SearchFacesByImage",
            json!({"CollectionId": "c", "Image": image(), "QualityFilter": "BEST"}),
            one("Value 'BEST' at 'qualityFilter' failed to satisfy constraint: Member must satisfy enum value set: \
                 [NONE, AUTO, LOW, MEDIUM, HIGH]"),
        ),
        (
            "DetectFaces",
            json!({"Image": image(), "Attributes": ["DEFAULT", "SMILEY"]}),
            one("Value '[DEFAULT, SMILEY]' at 'attributes' failed to satisfy constraint: Member must satisfy \
                 constraint: [Member must satisfy enum value set: [DEFAULT, ALL, AGE_RANGE, BEARD, EMOTIONS, \
                 EYE_DIRECTION, EYEGLASSES, EYES_OPEN, GENDER, MOUTH_OPEN, MUSTACHE, FACE_OCCLUDED, SMILE, \
                 SUNGLASSES]]"),
        ),
        (
            "DeleteFaces",
            json!({"CollectionId": "c", "FaceIds": []}),
            one("Value '[]' at 'faceIds' failed to satisfy constraint: Member must have length greater than or equal \
                 to 1"),
        ),
        (
            "SearchFaces",
            json!({"CollectionId": "c", "FaceId": "not-a-uuid"}),
            one(&format!(
                "Value 'not-a-uuid' at 'faceId' failed to satisfy constraint: Member must satisfy regular expression \
                 pattern: {UUID_PATTERN}"
            )),
        ),
        (
            "DeleteFaces",
            json!({"CollectionId": "c", "FaceIds": [FACE_ID, "x"]}),
            one(&format!(
                "Value '[{FACE_ID}, x]' at 'faceIds' failed to satisfy constraint: Member must satisfy constraint: \
                 [Member must satisfy regular expression pattern: {UUID_PATTERN}]"
            )),
        ),
        (
            "SearchFaces",
            json!({"CollectionId": "a/b", "MaxFaces": 5000}),
            "3 validation errors detected: Value 'a/b' at 'collectionId' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+; Value null at 'faceId' failed to satisfy \
             constraint: Member must not be null; Value '5000' at 'maxFaces' failed to satisfy constraint: Member \
             must have value less than or equal to 4096"
                .into(),
        ),
        (
            "CreateCollection",
            json!({"CollectionId": ""}),
            "2 validation errors detected: Value '' at 'collectionId' failed to satisfy constraint: Member must have \
             length greater than or equal to 1; Value '' at 'collectionId' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+"
                .into(),
        ),
        (
            "DetectFaces",
            json!({"Image": {"S3Object": {"Bucket": "a!"}}}),
            "2 validation errors detected: Value 'a!' at 'image.s3Object.bucket' failed to satisfy constraint: \
             Member must have length greater than or equal to 3; Value 'a!' at 'image.s3Object.bucket' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z\\.\\-_]*"
                .into(),
        ),
        (
            "DetectFaces",
            json!({"Image": {"Bytes": ""}}),
            one("Value 'java.nio.HeapByteBuffer[pos=0 lim=0 cap=0]' at 'image.bytes' failed to satisfy constraint: \
                 Member must have length greater than or equal to 1"),
        ),
        (
            "TagResource",
            json!({"ResourceArn": "arn:aws:rekognition:us-east-1:000000000000:collection/c", "Tags": {"aws:x": "v"}}),
            one("Value '{aws:x=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member \
                 must have length less than or equal to 128, Member must have length greater than or equal to 1, \
                 Member must satisfy regular expression pattern: ^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$]"),
        ),
    ];
    for (operation, request, expected) in cases {
        assert_eq!(
            message(operation, request.clone()),
            expected,
            "{operation} {request}"
        );
    }
}

#[test]
fn good_inputs_pass_and_unknown_members_are_ignored() {
    let rekognition = [
        (
            "CreateCollection",
            json!({"CollectionId": "riv-faces_1.0", "Tags": {"Owner": "Émilie 42"}}),
        ),
        (
            "SearchFacesByImage",
            json!({"CollectionId": "c", "Image": image(), "MaxFaces": 1, "FaceMatchThreshold": 99.5, "QualityFilter": "AUTO"}),
        ),
        (
            "DeleteFaces",
            json!({"CollectionId": "c", "FaceIds": [FACE_ID]}),
        ),
        (
            "DetectFaces",
            json!({"Image": image(), "Attributes": ["ALL"], "SomethingNew": 1}),
        ),
        ("ListCollections", Value::Null),
        ("NotModelled", json!({"Anything": []})),
    ];
    for (operation, request) in rekognition {
        assert_eq!(
            validate_input(Service::Rekognition, operation, &request),
            Ok(()),
            "{operation}"
        );
    }
    let textract = json!({"Document": {"Bytes": "/9j/4AAQ"}});
    assert_eq!(
        validate_input(Service::Textract, "DetectDocumentText", &textract),
        Ok(())
    );
}

#[test]
fn a_wrong_json_type_is_a_serialization_error() {
    for (request, expected) in [
        (
            json!({"CollectionId": "c", "Image": image(), "MaxFaces": "5"}),
            "STRING_VALUE can not be converted to an Integer",
        ),
        (
            json!({"CollectionId": 5, "Image": image()}),
            "NUMBER_VALUE can not be converted to a String",
        ),
        (
            json!({"CollectionId": "c", "Image": "x"}),
            "STRING_VALUE can not be converted to a Structure",
        ),
        (
            json!({"CollectionId": {}, "Image": image()}),
            "Start of structure or map found where not expected.",
        ),
        (
            json!({"CollectionId": "c", "Image": {"Bytes": "not base64!"}}),
            "Value at 'image.bytes' is not valid base64",
        ),
    ] {
        let error =
            validate_input(Service::Rekognition, "SearchFacesByImage", &request).unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            ("SerializationException", expected),
            "{request}"
        );
    }
}

#[test]
fn every_generated_pattern_compiles_and_anchors() {
    fn visit(shape: &'static Shape, seen: &mut Vec<&'static str>) {
        if seen.contains(&shape.name) {
            return;
        }
        seen.push(shape.name);
        match &shape.kind {
            Kind::String {
                pattern: Some(p), ..
            } => {
                assert!(
                    pattern::matches(p, "").is_some(),
                    "{}: {p} does not compile",
                    shape.name
                )
            }
            Kind::Structure { members, .. } => members.iter().for_each(|m| visit(m.shape, seen)),
            Kind::List { member, .. } => visit(member, seen),
            Kind::Map { key, value, .. } => {
                visit(key, seen);
                visit(value, seen);
            }
            _ => {}
        }
    }
    for op in generated::OPERATIONS {
        let mut seen = Vec::new();
        visit(op.input, &mut seen);
        visit(op.output, &mut seen);
    }
    assert_eq!(generated::OPERATIONS.len(), 26);
    // Whole-value matching, the lookahead and the Unicode classes of tag keys.
    assert_eq!(pattern::matches("[a-z]+", "ab/"), Some(false));
    assert_eq!(
        pattern::matches("^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$", "Équipe 7"),
        Some(true)
    );
    assert_eq!(
        pattern::matches("^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$", "aws:team"),
        Some(false)
    );
    assert_eq!(
        pattern::matches("^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$", "a*b"),
        Some(false)
    );
}

#[test]
fn output_checks_find_missing_required_members_bad_enums_and_extra_members() {
    let liveness = check_output(
        Service::Rekognition,
        "CreateFaceLivenessSession",
        &json!({}),
    );
    assert_eq!(
        liveness,
        vec![Mismatch {
            path: "SessionId".into(),
            what: "required member of CreateFaceLivenessSessionResponse is missing".into()
        }]
    );
    let faces = json!({"FaceDetails": [{"Confidence": 99.0, "Gender": {"Value": "Robot", "Confidence": 90.0}, "Smiley": true}]});
    let found = check_output_counted(Service::Rekognition, "DetectFaces", &faces);
    let mut mismatches = found.mismatches.clone();
    mismatches.sort_by(|a, b| a.path.cmp(&b.path));
    let paths: Vec<(&str, bool)> = mismatches
        .iter()
        .map(|m| (m.path.as_str(), m.what.contains("enum value set")))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("FaceDetails[0].Gender.Value", true),
            ("FaceDetails[0].Smiley", false)
        ]
    );
    assert!(
        mismatches[1].what.contains("not a member of FaceDetail"),
        "{}",
        mismatches[1]
    );
    // FaceDetails, its element, Confidence, Gender, Gender.Value, Gender.Confidence, Smiley.
    assert_eq!(found.members_checked, 7);

    let typed = check_output(
        Service::Rekognition,
        "CreateCollection",
        &json!({"StatusCode": "200", "CollectionArn": null}),
    );
    let mut typed: Vec<String> = typed.iter().map(Mismatch::to_string).collect();
    typed.sort();
    assert_eq!(
        typed,
        [
            "CollectionArn: null where String (String) is expected",
            "StatusCode: a string where UInteger (Integer) is expected"
        ]
    );

    let fine = json!({"StatusCode": 200, "CollectionArn": "aws:rekognition:us-east-1:000000000000:collection/c", "FaceModelVersion": "7.0"});
    assert_eq!(
        check_output(Service::Rekognition, "CreateCollection", &fine),
        vec![]
    );
    assert_eq!(
        members_checked(Service::Rekognition, "CreateCollection", &fine),
        3
    );
    assert_eq!(check_output(Service::Textract, "Nope", &json!({})).len(), 1);
}
