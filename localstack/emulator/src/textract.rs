//! Textract AnalyzeID and DetectDocumentText from what the engine reads.

use crate::engine::Engine;
use crate::error::{AwsError, Result};
use crate::request::{Req, MAX_DOCUMENT_BYTES};
use serde_json::{json, Value};

pub fn call(engine: &dyn Engine, op: &str, body: &Value) -> Result<Value> {
    match op {
        "AnalyzeID" => analyze_id(engine, body),
        "DetectDocumentText" => detect_document_text(engine, body),
        other => Err(AwsError::new(
            "UnknownOperationException",
            format!("Textract operation {other} is not emulated"),
        )),
    }
}

/// AnalyzeID answers every normalized field type, empty where the document shows none, in the model's order;
/// fields outside the set follow.
fn every_normalized_field(found: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut found: std::collections::BTreeMap<String, String> = found.into_iter().collect();
    let mut all: Vec<(String, String)> = crate::real::idcard::NORMALIZED
        .iter()
        .map(|k| (k.to_string(), found.remove(*k).unwrap_or_default()))
        .collect();
    all.extend(found);
    all
}

/// An engine's refusal of an image, in Textract's words (the real engine speaks Rekognition's).
fn as_textract(e: AwsError) -> AwsError {
    let kind = match e.kind {
        "InvalidImageFormatException" => "UnsupportedDocumentException",
        "ImageTooLargeException" => "DocumentTooLargeException",
        other => other,
    };
    AwsError { kind, ..e }
}

/// `MM/DD/YYYY` as AnalyzeID normalises US dates: `YYYY-MM-DDT00:00:00`.
fn normalized_date(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        [m, d, y] if y.len() == 4 && m.len() <= 2 && d.len() <= 2 => {
            let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
            Some(format!("{y}-{m:02}-{d:02}T00:00:00"))
        }
        _ => None,
    }
}

fn analyze_id(engine: &dyn Engine, body: &Value) -> Result<Value> {
    let pages = body
        .get("DocumentPages")
        .and_then(Value::as_array)
        .filter(|p| (1..=2).contains(&p.len()))
        .ok_or_else(|| AwsError::invalid("DocumentPages must hold one or two documents"))?;
    let mut documents = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        let wrapper = json!({"Document": page});
        let bytes = Req(&wrapper).image(
            "Document",
            MAX_DOCUMENT_BYTES,
            "DocumentTooLargeException",
            "UnsupportedDocumentException",
        )?;
        let fields: Vec<Value> =
            every_normalized_field(engine.id_fields(&bytes).map_err(as_textract)?)
                .into_iter()
                .map(|(key, text)| {
                    let mut value = json!({"Text": text, "Confidence": 98.5});
                    if key.contains("DATE") {
                        if let Some(date) = normalized_date(&text) {
                            value["NormalizedValue"] = json!({"Value": date, "ValueType": "DATE"});
                        }
                    }
                    json!({"Type": {"Text": key, "Confidence": 99.0}, "ValueDetection": value})
                })
                .collect();
        documents.push(json!({"DocumentIndex": index + 1, "IdentityDocumentFields": fields}));
    }
    Ok(json!({
        "IdentityDocuments": documents,
        "DocumentMetadata": {"Pages": pages.len()},
        "AnalyzeIDModelVersion": "1.0",
    }))
}

fn detect_document_text(engine: &dyn Engine, body: &Value) -> Result<Value> {
    let bytes = Req(body).image(
        "Document",
        MAX_DOCUMENT_BYTES,
        "DocumentTooLargeException",
        "UnsupportedDocumentException",
    )?;
    let lines = engine.text(&bytes).map_err(as_textract)?;
    let ids: Vec<String> = (0..lines.len()).map(|i| format!("line-{i}")).collect();
    let mut blocks = vec![json!({
        "BlockType": "PAGE",
        "Id": "page-1",
        "Relationships": [{"Type": "CHILD", "Ids": ids}],
        "Geometry": {"BoundingBox": {"Width": 1.0, "Height": 1.0, "Left": 0.0, "Top": 0.0}},
    })];
    for (i, line) in lines.iter().enumerate() {
        let [width, height, left, top] = line.bounding_box;
        blocks.push(json!({
            "BlockType": "LINE", "Id": ids[i], "Text": line.text, "Confidence": line.confidence, "Page": 1,
            "Geometry": {"BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top}},
        }));
    }
    Ok(
        json!({"DocumentMetadata": {"Pages": 1}, "Blocks": blocks, "DetectDocumentTextModelVersion": "1.0"}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_the_engine_refuses_is_refused_in_textracts_words() {
        let refused = as_textract(AwsError::new("InvalidImageFormatException", "not a JPEG"));
        assert_eq!(refused.kind, "UnsupportedDocumentException");
        assert_eq!(refused.message, "not a JPEG");
        let large = as_textract(AwsError::new("ImageTooLargeException", "too big"));
        assert_eq!(large.kind, "DocumentTooLargeException");
        assert_eq!(as_textract(AwsError::internal("x")).status, 500);
    }

    #[test]
    fn analyze_id_answers_the_whole_normalized_set_with_dates_typed_as_the_model_says() {
        let card = crate::testimage::render(
            &crate::testimage::id_card_manifest(
                "ann",
                &[("LAST_NAME", "DOE"), ("DATE_OF_BIRTH", "01/31/1990")],
            ),
            crate::testimage::Format::Png,
        );
        let body = json!({"DocumentPages": [{"Bytes": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, card)}]});
        let answer = call(&crate::engine::Deterministic, "AnalyzeID", &body).expect("analyzed");
        let fields = answer["IdentityDocuments"][0]["IdentityDocumentFields"]
            .as_array()
            .expect("fields")
            .clone();
        let types: Vec<&str> = fields
            .iter()
            .filter_map(|f| f["Type"]["Text"].as_str())
            .collect();
        assert_eq!(types, crate::real::idcard::NORMALIZED);
        let get = |k: &str| {
            fields
                .iter()
                .find(|f| f["Type"]["Text"] == k)
                .expect(k)
                .clone()
        };
        assert_eq!(get("LAST_NAME")["ValueDetection"]["Text"], "DOE");
        assert_eq!(get("FIRST_NAME")["ValueDetection"]["Text"], "");
        let dob = &get("DATE_OF_BIRTH")["ValueDetection"]["NormalizedValue"];
        assert_eq!(dob["Value"], "1990-01-31T00:00:00");
        assert_eq!(dob["ValueType"], "DATE");
    }
}
