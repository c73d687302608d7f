//! Textract AnalyzeID and DetectDocumentText from what the engine reads.

use crate::engine::TextLine;
use crate::error::{AwsError, Result};
use crate::rekognition::{polygon, words};
use crate::request::{Req, Sources, TEXTRACT_DOCUMENTS};
use serde_json::{json, Value};

pub fn call(sources: Sources, op: &str, body: &Value) -> Result<Value> {
    match op {
        "AnalyzeID" => analyze_id(sources, body),
        "DetectDocumentText" => detect_document_text(sources, body),
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

/// PAGE, LINE and WORD blocks of one page's lines, with geometry (box and polygon) and CHILD relationships, as
/// DetectDocumentText and AnalyzeID answer them.
fn blocks(lines: &[TextLine]) -> Vec<Value> {
    let geometry = |b: [f32; 4]| {
        let [width, height, left, top] = b;
        json!({"BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top}, "Polygon": polygon(b)})
    };
    let mut page_children = Vec::new();
    let mut out = Vec::new();
    for line in lines {
        let line_id = uuid::Uuid::new_v4().to_string();
        page_children.push(line_id.clone());
        let word_blocks: Vec<Value> = words(&line.text, line.bounding_box)
            .into_iter()
            .map(|(word, b)| {
                json!({
                    "BlockType": "WORD", "Id": uuid::Uuid::new_v4().to_string(), "Text": word,
                    "TextType": "PRINTED", "Confidence": line.confidence, "Page": 1, "Geometry": geometry(b),
                })
            })
            .collect();
        let mut block = json!({
            "BlockType": "LINE", "Id": line_id, "Text": line.text, "Confidence": line.confidence,
            "Page": 1, "Geometry": geometry(line.bounding_box),
        });
        if !word_blocks.is_empty() {
            let ids: Vec<&Value> = word_blocks.iter().map(|w| &w["Id"]).collect();
            block["Relationships"] = json!([{"Type": "CHILD", "Ids": ids}]);
        }
        // Each line, then its words, as Textract orders them.
        out.push(block);
        out.extend(word_blocks);
    }
    let mut page = json!({
        "BlockType": "PAGE", "Id": uuid::Uuid::new_v4().to_string(), "Page": 1,
        "Geometry": geometry([1.0, 1.0, 0.0, 0.0]),
    });
    if !page_children.is_empty() {
        page["Relationships"] = json!([{"Type": "CHILD", "Ids": page_children}]);
    }
    out.insert(0, page);
    out
}

fn analyze_id(sources: Sources, body: &Value) -> Result<Value> {
    let pages = body
        .get("DocumentPages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut documents = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        let wrapper = json!({"Document": page});
        let bytes = Req(&wrapper).image("Document", &TEXTRACT_DOCUMENTS, sources.s3)?;
        let lines = sources.engine.text(&bytes).map_err(as_textract)?;
        let fields: Vec<Value> =
            every_normalized_field(sources.engine.id_fields(&bytes).map_err(as_textract)?)
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
        documents.push(json!({"DocumentIndex": index + 1, "IdentityDocumentFields": fields, "Blocks": blocks(&lines)}));
    }
    Ok(json!({
        "IdentityDocuments": documents,
        "DocumentMetadata": {"Pages": pages.len()},
        "AnalyzeIDModelVersion": "1.0",
    }))
}

fn detect_document_text(sources: Sources, body: &Value) -> Result<Value> {
    let bytes = Req(body).image("Document", &TEXTRACT_DOCUMENTS, sources.s3)?;
    let lines = sources.engine.text(&bytes).map_err(as_textract)?;
    Ok(
        json!({"DocumentMetadata": {"Pages": 1}, "Blocks": blocks(&lines), "DetectDocumentTextModelVersion": "1.0"}),
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
        let sources = Sources {
            engine: &crate::engine::Deterministic,
            s3: &crate::s3::S3::default(),
        };
        let answer = call(sources, "AnalyzeID", &body).expect("analyzed");
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
