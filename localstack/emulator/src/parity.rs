//! The parity report: every emulated operation is sent valid requests over the wire (AWS JSON 1.1, as an SDK
//! sends them), and every member of every answer is checked against the operation's output shape in the
//! botocore model (`crate::model`). `cargo xtask bench parity` prints it; `tests/parity.rs` requires zero
//! mismatches and every operation covered.
//!
//! The requests reach the paths that shape answers differently: faces under a quality bar and over MaxFaces,
//! pages with a NextToken, users with refused associations, liveness sessions with an outcome, images read
//! from S3.

use crate::engine::Deterministic;
use crate::manifest::{FaceSpec, Manifest};
use crate::model::{check_output_counted, generated::OPERATIONS, Service};
use crate::testimage::{self, Case, Format};
use crate::Emulator;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

/// What one operation's answers showed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub calls: usize,
    pub members_checked: usize,
    /// Each mismatch, or a refused call, with the request's label.
    pub mismatches: Vec<String>,
}

/// Rows by (service, operation), every operation of the generated model included (with 0 calls if none was
/// made, which the test counts as a failure).
pub type Report = BTreeMap<(String, String), Row>;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A stand-in for the local S3: answers every GET with `object` (the emulator reads S3 over plain HTTP).
fn serve_object(object: Vec<u8>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            // The whole request, so closing does not reset the connection under unread bytes.
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: image/png\r\n\r\n",
                object.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&object);
        }
    });
    Ok(addr)
}

struct Client {
    url: String,
    http: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
    report: Report,
}

impl Client {
    /// POSTs `body` to `path` with `target` as `X-Amz-Target` (none for a control path) → (status, JSON answer).
    async fn send(
        &self,
        path: &str,
        target: Option<&str>,
        body: &Value,
    ) -> Result<(u16, Value), String> {
        use http_body_util::BodyExt;
        let what = target.unwrap_or(path);
        let mut request = hyper::Request::post(format!("{}{path}", self.url));
        if let Some(target) = target {
            request = request
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amz-target", target);
        }
        let request = request
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_string(),
            )))
            .map_err(|e| format!("{what}: {e}"))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{what}: {e}"))?
            .to_bytes();
        let answer =
            serde_json::from_slice(&bytes).map_err(|e| format!("{what}: not JSON: {e}"))?;
        Ok((status, answer))
    }

    /// Calls `operation` with `body`, checks the answer against the model and keeps it in the report.
    async fn call(
        &mut self,
        service: Service,
        operation: &str,
        label: &str,
        body: Value,
    ) -> Result<Value, String> {
        let target = match service {
            Service::Rekognition => format!("RekognitionService.{operation}"),
            Service::Textract => format!("Textract.{operation}"),
        };
        let (status, answer) = self.send("/", Some(&target), &body).await?;
        let row = self
            .report
            .entry((format!("{service:?}"), operation.to_string()))
            .or_default();
        row.calls += 1;
        if status != 200 {
            row.mismatches
                .push(format!("{label}: refused with {status} {answer}"));
            return Ok(answer);
        }
        let check = check_output_counted(service, operation, &answer);
        row.members_checked += check.members_checked;
        row.mismatches
            .extend(check.mismatches.iter().map(|m| format!("{label}: {m}")));
        Ok(answer)
    }
}

fn image(manifest: &Manifest) -> Value {
    json!({ "Bytes": b64(&testimage::render(manifest, Format::Png)) })
}

fn face(identity: &str, b: [f32; 4], change: impl FnOnce(&mut FaceSpec)) -> FaceSpec {
    let mut spec = FaceSpec::of(identity);
    spec.bounding_box = b;
    change(&mut spec);
    spec
}

fn text(v: &Value, pointer: &str) -> Result<String, String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("{pointer} missing from {v}"))
}

/// Runs every operation against a fresh emulator (deterministic engine) and reports.
pub async fn run() -> Result<Report, String> {
    let selfie = testimage::case(Case::Selfie, "ann");
    let s3 = serve_object(testimage::render(&selfie, Format::Png))
        .map_err(|e| format!("starting the stand-in S3: {e}"))?;
    let emulator = Emulator::new(Box::new(Deterministic))
        .with_s3(crate::s3::S3::new(Some(&format!("http://{s3}"))).map_err(|e| e.to_string())?);
    let addr = crate::spawn("127.0.0.1:0".parse().expect("an address"), emulator)
        .await
        .map_err(|e| format!("starting the emulator: {e}"))?;
    let mut report: Report = OPERATIONS
        .iter()
        .map(|op| {
            (
                (format!("{:?}", op.service), op.name.to_string()),
                Row::default(),
            )
        })
        .collect();
    let mut c = Client {
        url: format!("http://{addr}"),
        http: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        report: Report::new(),
    };
    calls(&mut c).await?;
    for (key, row) in std::mem::take(&mut c.report) {
        report.insert(key, row);
    }
    Ok(report)
}

async fn calls(c: &mut Client) -> Result<(), String> {
    use Service::{Rekognition as R, Textract as T};
    let collection = "parity";
    let ann = image(&testimage::case(Case::Selfie, "ann"));
    // Ann large and clear, Bob small and dark: HIGH indexes Ann only; MaxFaces 1 with NONE leaves Bob out too.
    let pair = image(&Manifest {
        faces: vec![
            face("ann", [0.4, 0.5, 0.05, 0.2], |_| {}),
            face("bob", [0.2, 0.25, 0.7, 0.2], |f| f.brightness = 20.0),
        ],
        ..Manifest::default()
    });
    let from_s3 = json!({"S3Object": {"Bucket": "parity", "Name": "uploads/ann.png"}});

    let created = c
        .call(
            R,
            "CreateCollection",
            "with tags",
            json!({"CollectionId": collection, "Tags": {"riv:stack": "parity"}}),
        )
        .await?;
    c.call(
        R,
        "CreateCollection",
        "a second",
        json!({"CollectionId": "parity-2"}),
    )
    .await?;
    let arn = format!("arn:{}", text(&created, "/CollectionArn")?);
    c.call(
        R,
        "DescribeCollection",
        "",
        json!({"CollectionId": collection}),
    )
    .await?;
    let page = c
        .call(R, "ListCollections", "first page", json!({"MaxResults": 1}))
        .await?;
    c.call(
        R,
        "ListCollections",
        "next page",
        json!({"MaxResults": 1, "NextToken": text(&page, "/NextToken")?}),
    )
    .await?;
    c.call(
        R,
        "TagResource",
        "",
        json!({"ResourceArn": arn, "Tags": {"team": "id"}}),
    )
    .await?;
    c.call(R, "ListTagsForResource", "", json!({ "ResourceArn": arn }))
        .await?;
    c.call(
        R,
        "UntagResource",
        "",
        json!({"ResourceArn": arn, "TagKeys": ["team"]}),
    )
    .await?;

    c.call(
        R,
        "DetectFaces",
        "ALL",
        json!({"Image": ann, "Attributes": ["ALL"]}),
    )
    .await?;
    c.call(
        R,
        "DetectFaces",
        "default, from S3",
        json!({ "Image": from_s3 }),
    )
    .await?;
    c.call(
        R,
        "DetectFaces",
        "two named",
        json!({"Image": pair, "Attributes": ["SMILE", "EMOTIONS"]}),
    )
    .await?;
    let indexed = c
        .call(
            R,
            "IndexFaces",
            "HIGH over two faces",
            json!({
                "CollectionId": collection, "Image": pair, "ExternalImageId": "ann",
                "QualityFilter": "HIGH", "DetectionAttributes": ["ALL"],
            }),
        )
        .await?;
    c.call(R, "IndexFaces", "MaxFaces 1", json!({
        "CollectionId": collection, "Image": pair, "ExternalImageId": "pair", "MaxFaces": 1, "QualityFilter": "NONE",
    }))
    .await?;
    let again = c
        .call(
            R,
            "IndexFaces",
            "from S3",
            json!({"CollectionId": collection, "Image": from_s3, "ExternalImageId": "ann"}),
        )
        .await?;
    let first = text(&indexed, "/FaceRecords/0/Face/FaceId")?;
    let second = text(&again, "/FaceRecords/0/Face/FaceId")?;
    c.call(R, "SearchFacesByImage", "", json!({
        "CollectionId": collection, "Image": ann, "FaceMatchThreshold": 90, "MaxFaces": 5, "QualityFilter": "LOW",
    }))
    .await?;
    c.call(
        R,
        "SearchFaces",
        "",
        json!({"CollectionId": collection, "FaceId": first, "MaxFaces": 2}),
    )
    .await?;
    c.call(
        R,
        "CompareFaces",
        "matched and unmatched",
        json!({"SourceImage": ann, "TargetImage": pair, "SimilarityThreshold": 90}),
    )
    .await?;
    let faces = c
        .call(
            R,
            "ListFaces",
            "first page",
            json!({"CollectionId": collection, "MaxResults": 1}),
        )
        .await?;
    c.call(R, "ListFaces", "next page", json!({"CollectionId": collection, "MaxResults": 1, "NextToken": text(&faces, "/NextToken")?}))
        .await?;
    c.call(
        R,
        "ListFaces",
        "by face id",
        json!({"CollectionId": collection, "FaceIds": [first]}),
    )
    .await?;

    c.call(R, "CreateUser", "", json!({"CollectionId": collection, "UserId": "ann-user", "ClientRequestToken": "parity-token-1"}))
        .await?;
    c.call(
        R,
        "CreateUser",
        "another",
        json!({"CollectionId": collection, "UserId": "bob-user"}),
    )
    .await?;
    let missing = uuid::Uuid::new_v4().to_string();
    c.call(R, "AssociateFaces", "one found, one missing", json!({
        "CollectionId": collection, "UserId": "ann-user", "FaceIds": [first, second, missing], "UserMatchThreshold": 70,
    }))
    .await?;
    c.call(
        R,
        "ListUsers",
        "",
        json!({"CollectionId": collection, "MaxResults": 1}),
    )
    .await?;
    c.call(
        R,
        "ListFaces",
        "by user",
        json!({"CollectionId": collection, "UserId": "ann-user"}),
    )
    .await?;
    c.call(
        R,
        "SearchUsers",
        "by user",
        json!({"CollectionId": collection, "UserId": "ann-user"}),
    )
    .await?;
    c.call(R, "SearchUsers", "by face", json!({"CollectionId": collection, "FaceId": first, "UserMatchThreshold": 50, "MaxUsers": 2}))
        .await?;
    c.call(
        R,
        "SearchUsersByImage",
        "two faces",
        json!({"CollectionId": collection, "Image": pair, "QualityFilter": "NONE"}),
    )
    .await?;
    c.call(
        R,
        "DeleteFaces",
        "associated and unknown",
        json!({"CollectionId": collection, "FaceIds": [first, missing]}),
    )
    .await?;
    c.call(
        R,
        "DisassociateFaces",
        "",
        json!({"CollectionId": collection, "UserId": "ann-user", "FaceIds": [second, missing]}),
    )
    .await?;
    c.call(
        R,
        "DeleteFaces",
        "free now",
        json!({"CollectionId": collection, "FaceIds": [second]}),
    )
    .await?;
    c.call(
        R,
        "DeleteUser",
        "",
        json!({"CollectionId": collection, "UserId": "ann-user"}),
    )
    .await?;

    let card = image(&testimage::id_card_manifest(
        "ann",
        &[("LAST_NAME", "DOE"), ("DATE_OF_BIRTH", "01/31/1990")],
    ));
    c.call(R, "DetectText", "", json!({ "Image": card }))
        .await?;
    c.call(T, "AnalyzeID", "", json!({ "DocumentPages": [card] }))
        .await?;
    c.call(T, "DetectDocumentText", "", json!({ "Document": card }))
        .await?;
    c.call(
        T,
        "DetectDocumentText",
        "from S3",
        json!({"Document": {"S3Object": {"Bucket": "parity", "Name": "card.png"}}}),
    )
    .await?;

    let session = c
        .call(
            R,
            "CreateFaceLivenessSession",
            "",
            json!({"Settings": {"AuditImagesLimit": 2}}),
        )
        .await?;
    let id = text(&session, "/SessionId")?;
    c.call(
        R,
        "GetFaceLivenessSessionResults",
        "before an outcome",
        json!({ "SessionId": id }),
    )
    .await?;
    let (status, answer) = c
        .send(
            &format!("/_riv/liveness/{id}"),
            None,
            &json!({"Status": "SUCCEEDED", "Confidence": 97.0, "ReferenceImage": ann["Bytes"]}),
        )
        .await?;
    if status != 200 {
        return Err(format!("setting the liveness outcome: {status} {answer}"));
    }
    c.call(
        R,
        "GetFaceLivenessSessionResults",
        "succeeded",
        json!({ "SessionId": id }),
    )
    .await?;

    c.call(
        R,
        "DeleteCollection",
        "",
        json!({ "CollectionId": "parity-2" }),
    )
    .await?;
    c.call(
        R,
        "DeleteCollection",
        "",
        json!({ "CollectionId": collection }),
    )
    .await?;
    Ok(())
}
