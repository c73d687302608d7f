//! `cargo xtask bench engine`: the emulator's real engine on the fixtures, through the emulator's own request
//! dispatch (the AWS JSON a client sends, without the HTTP hop): time per DetectFaces, IndexFaces,
//! CompareFaces and AnalyzeID, and the similarity of every pair of fixture photos.

use crate::bench::percentile;
use base64::Engine as _;
use riv_emulator::engine::Engine;
use riv_emulator::photos::{self, CardFields, Person};
use riv_emulator::Emulator;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct Timing {
    pub operation: String,
    pub calls: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub timings: Vec<Timing>,
    /// Fixture files, in the order of the table's rows and columns.
    pub photos: Vec<String>,
    /// CompareFaces similarity of row (source) and column (target).
    pub similarity: Vec<Vec<f64>>,
    pub threshold: f64,
}

fn image(bytes: &[u8]) -> Value {
    json!({"Bytes": base64::engine::general_purpose::STANDARD.encode(bytes)})
}

fn call(emulator: &Emulator, target: &str, body: &Value) -> Result<(Value, f64), String> {
    let started = Instant::now();
    let (status, answer) = emulator.dispatch(target, "us-east-1", body.to_string().as_bytes());
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status != 200 {
        return Err(format!("{target}: {status} {answer}"));
    }
    Ok((answer, ms))
}

fn timing(operation: &str, mut samples: Vec<f64>) -> Timing {
    samples.sort_by(f64::total_cmp);
    Timing {
        operation: operation.into(),
        calls: samples.len(),
        p50_ms: percentile(&samples, 50.0),
        p95_ms: percentile(&samples, 95.0),
    }
}

/// Runs `rounds` passes over the fixtures with `engine` (the real one).
pub fn engine(engine: Box<dyn Engine>, rounds: usize) -> Result<Figures, String> {
    let emulator = Emulator::new(engine);
    let people: Vec<(Person, Vec<u8>)> = Person::ALL
        .iter()
        .map(|p| p.bytes().map(|b| (*p, b)).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let cards: Vec<Vec<u8>> = [Person::Obama, Person::Biden]
        .iter()
        .map(|p| {
            p.portrait()
                .map(|portrait| photos::jpeg(&photos::id_card(&portrait, &CardFields::sample())))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    call(
        &emulator,
        "RekognitionService.CreateCollection",
        &json!({"CollectionId": "bench"}),
    )?;
    let (mut detect, mut index, mut compare, mut analyze) = (vec![], vec![], vec![], vec![]);
    let mut similarity = vec![vec![0.0; people.len()]; people.len()];
    for _ in 0..rounds.max(1) {
        for (_, bytes) in &people {
            detect.push(
                call(
                    &emulator,
                    "RekognitionService.DetectFaces",
                    &json!({"Image": image(bytes), "Attributes": ["ALL"]}),
                )?
                .1,
            );
            index.push(
                call(
                    &emulator,
                    "RekognitionService.IndexFaces",
                    &json!({"CollectionId": "bench", "Image": image(bytes), "MaxFaces": 1}),
                )?
                .1,
            );
        }
        for (i, (_, source)) in people.iter().enumerate() {
            for (j, (_, target)) in people.iter().enumerate() {
                let body = json!({"SourceImage": image(source), "TargetImage": image(target), "SimilarityThreshold": 0});
                let (answer, ms) = call(&emulator, "RekognitionService.CompareFaces", &body)?;
                compare.push(ms);
                similarity[i][j] = answer["FaceMatches"][0]["Similarity"]
                    .as_f64()
                    .unwrap_or(0.0);
            }
        }
        for card in &cards {
            let body = json!({"DocumentPages": [image(card)]});
            let (answer, ms) = call(&emulator, "Textract.AnalyzeID", &body)?;
            let fields = &answer["IdentityDocuments"][0]["IdentityDocumentFields"];
            let last = fields
                .as_array()
                .and_then(|f| f.iter().find(|f| f["Type"]["Text"] == "LAST_NAME"))
                .map(|f| f["ValueDetection"]["Text"].clone());
            if last != Some(json!("DOE")) {
                return Err(format!("AnalyzeID misread the card's LAST_NAME: {answer}"));
            }
            analyze.push(ms);
        }
    }
    Ok(Figures {
        timings: vec![
            timing("DetectFaces", detect),
            timing("IndexFaces", index),
            timing("CompareFaces", compare),
            timing("AnalyzeID", analyze),
        ],
        photos: people.iter().map(|(p, _)| p.file().to_string()).collect(),
        similarity,
        threshold: 95.0,
    })
}
