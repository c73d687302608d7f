//! Text through Tesseract (Debian's `tesseract-ocr`), run as a program: no native library to link, and a
//! machine without it still runs the deterministic engine. The image is decoded within limits and re-encoded
//! as PNG first, so Tesseract never parses a file a caller crafted.

use super::photo;
use crate::engine::TextLine;
use crate::error::{AwsError, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Cards and screenshots read well at this size; larger photos only cost time.
const OCR_SIDE: u32 = 2400;

/// What to install when Tesseract is missing.
pub const NEEDS: &str = "tesseract-ocr (apt-get install tesseract-ocr)";

#[derive(Debug, Clone)]
pub struct Tesseract {
    program: PathBuf,
}

impl Tesseract {
    /// Tesseract on PATH (or `RIV_TESSERACT`), if it runs.
    pub fn find() -> Option<Self> {
        let program = std::env::var_os("RIV_TESSERACT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("tesseract"));
        let runs = Command::new(&program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        runs.then_some(Tesseract { program })
    }

    pub fn lines(&self, image: &[u8]) -> Result<Vec<TextLine>> {
        let decoded = photo::decode(image)?;
        let decoded = match photo::fitted(decoded.width(), decoded.height(), OCR_SIDE) {
            Some((w, h)) => image::imageops::thumbnail(&decoded, w, h),
            None => decoded,
        };
        let mut png = Vec::new();
        decoded
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| AwsError::internal(format!("cannot re-encode the image for OCR: {e}")))?;
        // Page segmentation 3 (automatic, no orientation detection) reads cards and documents alike.
        let mut child = Command::new(&self.program)
            .args(["stdin", "stdout", "--psm", "3", "-l", "eng", "tsv"])
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                AwsError::internal(format!("cannot run {}: {e}", self.program.display()))
            })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| AwsError::internal("tesseract has no stdin"))?;
        let writer = std::thread::spawn(move || stdin.write_all(&png));
        let output = child
            .wait_with_output()
            .map_err(|e| AwsError::internal(format!("tesseract failed: {e}")))?;
        let written = writer
            .join()
            .map_err(|_| AwsError::internal("the thread feeding tesseract panicked"))?;
        if !output.status.success() {
            return Err(AwsError::internal(format!(
                "tesseract failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        written.map_err(|e| AwsError::internal(format!("cannot feed tesseract: {e}")))?;
        Ok(parse_tsv(&String::from_utf8_lossy(&output.stdout)))
    }
}

/// Tesseract's TSV (level, page, block, paragraph, line, word, left, top, width, height, conf, text) as lines
/// top to bottom, each with the union of its words' boxes as ratios of the page.
pub fn parse_tsv(tsv: &str) -> Vec<TextLine> {
    let mut page = (1.0f32, 1.0f32);
    // (block, paragraph, line) → (words, confidences, box in pixels)
    type Words = (Vec<String>, Vec<f32>, [f32; 4]);
    let mut lines: BTreeMap<(u32, u32, u32), Words> = BTreeMap::new();
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 {
            continue;
        }
        let num = |i: usize| cols[i].trim().parse::<f32>().unwrap_or(0.0);
        match cols[0] {
            "1" => page = (num(8).max(1.0), num(9).max(1.0)),
            "5" => {
                let text = cols[11].trim();
                if text.is_empty() || num(10) < 0.0 {
                    continue;
                }
                let key = (num(2) as u32, num(3) as u32, num(4) as u32);
                let (l, t, w, h) = (num(6), num(7), num(8), num(9));
                let entry = lines
                    .entry(key)
                    .or_insert_with(|| (Vec::new(), Vec::new(), [l, t, l + w, t + h]));
                entry.0.push(text.to_string());
                entry.1.push(num(10));
                let b = &mut entry.2;
                *b = [b[0].min(l), b[1].min(t), b[2].max(l + w), b[3].max(t + h)];
            }
            _ => {}
        }
    }
    let mut out: Vec<TextLine> = lines
        .into_values()
        .map(|(words, confidences, b)| TextLine {
            text: words.join(" "),
            confidence: confidences.iter().sum::<f32>() / confidences.len() as f32,
            bounding_box: [
                (b[2] - b[0]) / page.0,
                (b[3] - b[1]) / page.1,
                b[0] / page.0,
                b[1] / page.1,
            ],
        })
        .collect();
    // Reading order: top to bottom, then left to right for lines that share a row.
    out.sort_by(|a, b| {
        let row = |l: &TextLine| (l.bounding_box[3] * 50.0).round() as i32;
        row(a)
            .cmp(&row(b))
            .then(a.bounding_box[2].total_cmp(&b.bounding_box[2]))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_gather_into_lines_with_page_ratios() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t1000\t500\t-1\t\n\
            5\t1\t2\t1\t1\t1\t400\t100\t50\t20\t96\tLN\n\
            5\t1\t2\t1\t1\t2\t460\t100\t80\t20\t90\tDOE\n\
            5\t1\t1\t1\t1\t1\t100\t20\t300\t30\t80\tRIVERIA\n\
            5\t1\t2\t1\t2\t1\t400\t140\t50\t20\t-1\t \n";
        let lines = parse_tsv(tsv);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "RIVERIA");
        assert_eq!(lines[1].text, "LN DOE");
        assert_eq!(lines[1].confidence, 93.0);
        assert_eq!(lines[1].bounding_box, [0.14, 0.04, 0.4, 0.2]);
    }
}
