//! ID card data: Textract AnalyzeID fields, or labelled lines read by Rekognition DetectText, normalised to
//! one set of keys with ISO dates.

use std::collections::BTreeMap;

pub const FIRST_NAME: &str = "FIRST_NAME";
pub const LAST_NAME: &str = "LAST_NAME";
pub const DATE_OF_BIRTH: &str = "DATE_OF_BIRTH";
pub const DOCUMENT_NUMBER: &str = "DOCUMENT_NUMBER";
pub const EXPIRATION_DATE: &str = "EXPIRATION_DATE";
pub const ADDRESS: &str = "ADDRESS";

/// The keys we keep, in the order they are documented.
pub const FIELDS: [&str; 6] = [
    FIRST_NAME,
    LAST_NAME,
    DATE_OF_BIRTH,
    DOCUMENT_NUMBER,
    EXPIRATION_DATE,
    ADDRESS,
];

const DATE_FIELDS: [&str; 2] = [DATE_OF_BIRTH, EXPIRATION_DATE];

/// One field as Textract AnalyzeID returns it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalyzedField {
    /// `Type.Text`, e.g. `FIRST_NAME`.
    pub key: String,
    /// `ValueDetection.Text` as printed on the card.
    pub text: String,
    /// `ValueDetection.NormalizedValue.Value`, e.g. `1990-01-31T00:00:00` for dates.
    pub normalized: Option<String>,
}

/// The normalised fields of a card.
pub type IdCardFields = BTreeMap<String, String>;

/// Normalises AnalyzeID output: our keys only, trimmed, dates as `YYYY-MM-DD`, an address assembled from its
/// parts when AnalyzeID gives no full `ADDRESS`. Fields whose value is empty or an unreadable date are left out.
pub fn from_analyze_id(fields: &[AnalyzedField]) -> IdCardFields {
    let mut out = IdCardFields::new();
    let mut address_parts: BTreeMap<&str, String> = BTreeMap::new();
    for field in fields {
        let key = field.key.trim();
        let text = clean(&field.text);
        if text.is_empty() {
            continue;
        }
        match key {
            k if DATE_FIELDS.contains(&k) => {
                let iso = field
                    .normalized
                    .as_deref()
                    .and_then(iso_date)
                    .or_else(|| iso_date(&text));
                if let Some(iso) = iso {
                    out.insert(k.to_string(), iso);
                }
            }
            k if FIELDS.contains(&k) => {
                out.insert(k.to_string(), text);
            }
            "CITY_IN_ADDRESS" | "STATE_IN_ADDRESS" | "ZIP_CODE_IN_ADDRESS" => {
                address_parts.insert(key_rank(key), text);
            }
            _ => {}
        }
    }
    if !out.contains_key(ADDRESS) && !address_parts.is_empty() {
        let joined: Vec<String> = address_parts.into_values().collect();
        out.insert(ADDRESS.to_string(), joined.join(", "));
    }
    out
}

fn key_rank(key: &str) -> &'static str {
    match key {
        "CITY_IN_ADDRESS" => "1",
        "STATE_IN_ADDRESS" => "2",
        _ => "3",
    }
}

/// Labels seen on ID cards, longest first within a field so `DATE OF BIRTH` wins over `DOB`-like prefixes.
const LABELS: [(&str, &[&str]); 6] = [
    (
        FIRST_NAME,
        &["FIRST NAME", "GIVEN NAMES", "GIVEN NAME", "FIRST", "FN"],
    ),
    (
        LAST_NAME,
        &["LAST NAME", "FAMILY NAME", "SURNAME", "LAST", "LN"],
    ),
    (
        DATE_OF_BIRTH,
        &["DATE OF BIRTH", "BIRTH DATE", "BIRTHDATE", "DOB"],
    ),
    (
        DOCUMENT_NUMBER,
        &[
            "DOCUMENT NUMBER",
            "DOCUMENT NO",
            "DOC NO",
            "LICENSE NO",
            "ID NUMBER",
            "ID NO",
            "DLN",
            "NUMBER",
            "NO",
        ],
    ),
    (
        EXPIRATION_DATE,
        &[
            "EXPIRATION DATE",
            "EXPIRY DATE",
            "DATE OF EXPIRY",
            "EXPIRES",
            "EXPIRY",
            "EXP",
        ],
    ),
    (ADDRESS, &["ADDRESS", "ADDR"]),
];

/// Parses labelled lines (`LAST NAME: DOE`, `DOB 01/31/1990`, or a label alone with its value on the next
/// line) into the same fields AnalyzeID yields.
pub fn from_labelled_lines<S: AsRef<str>>(lines: &[S]) -> IdCardFields {
    let lines: Vec<String> = lines.iter().map(|l| clean(l.as_ref())).collect();
    let mut out = IdCardFields::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some((field, rest)) = match_label(&lines[i]) {
            let (value, used_next) = if rest.is_empty() {
                match lines.get(i + 1) {
                    Some(next) if match_label(next).is_none() => (next.clone(), true),
                    _ => (String::new(), false),
                }
            } else {
                (rest, false)
            };
            let value = if DATE_FIELDS.contains(&field) {
                iso_date(&value).unwrap_or_default()
            } else {
                value
            };
            if !value.is_empty() {
                out.entry(field.to_string()).or_insert(value);
            }
            if used_next {
                i += 1;
            }
        }
        i += 1;
    }
    out
}

/// If the line starts with a known label (as a whole word), the field and what follows the label.
fn match_label(line: &str) -> Option<(&'static str, String)> {
    let upper = line.to_ascii_uppercase();
    let mut best: Option<(&'static str, usize)> = None;
    for (field, labels) in LABELS {
        for label in labels {
            let Some(rest) = upper.strip_prefix(label) else {
                continue;
            };
            let at_word_end =
                rest.is_empty() || !rest.starts_with(|c: char| c.is_ascii_alphanumeric());
            if at_word_end && best.is_none_or(|(_, len)| label.len() > len) {
                best = Some((field, label.len()));
            }
        }
    }
    let (field, len) = best?;
    let rest = line[len..]
        .trim_start_matches(|c: char| {
            c == ':' || c == '.' || c == '#' || c == '-' || c.is_whitespace()
        })
        .trim()
        .to_string();
    Some((field, rest))
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a date in the forms IDs print and returns `YYYY-MM-DD`: ISO (`1990-01-31`, with or without a time),
/// `1990/01/31`, US `01/31/1990`, day-first `31.01.1990` or `31/01/1990` when the first number exceeds 12, and
/// `31 JAN 1990` / `JAN 31 1990`. Impossible dates give `None`.
pub fn iso_date(raw: &str) -> Option<String> {
    let s = raw.trim().to_ascii_uppercase();
    let s = s.split('T').next().unwrap_or_default();
    let parts: Vec<&str> = s
        .split(['-', '/', '.', ' ', ','])
        .filter(|p| !p.is_empty())
        .collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let num = |p: &str| {
        p.parse::<u32>()
            .ok()
            .filter(|_| p.chars().all(|c| c.is_ascii_digit()))
    };
    let (y, m, d) = if a.len() == 4 {
        (num(a)?, month(b).or_else(|| num(b))?, num(c)?)
    } else if c.len() == 4 {
        let year = num(c)?;
        match (month(a), month(b)) {
            (Some(m), _) => (year, m, num(b)?),
            (_, Some(m)) => (year, m, num(a)?),
            _ => {
                let (x, y2) = (num(a)?, num(b)?);
                let day_first = s.contains('.') || x > 12;
                if day_first {
                    (year, y2, x)
                } else {
                    (year, x, y2)
                }
            }
        }
    } else {
        return None;
    };
    valid(y, m, d).then(|| format!("{y:04}-{m:02}-{d:02}"))
}

fn month(p: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    if p.len() < 3 || !p.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| p.starts_with(m))
        .map(|i| i as u32 + 1)
}

fn valid(y: u32, m: u32, d: u32) -> bool {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1000..=9999).contains(&y) && (1..=days).contains(&d)
}

/// A card is readable when it names its holder.
pub fn is_readable(fields: &IdCardFields) -> bool {
    fields.contains_key(FIRST_NAME) || fields.contains_key(LAST_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, text: &str, normalized: Option<&str>) -> AnalyzedField {
        AnalyzedField {
            key: key.into(),
            text: text.into(),
            normalized: normalized.map(Into::into),
        }
    }

    #[test]
    fn analyze_id_output_is_normalised() {
        let fields = [
            field("FIRST_NAME", " JANE ", None),
            field("LAST_NAME", "DOE", None),
            field("MIDDLE_NAME", "Q", None),
            field("DATE_OF_BIRTH", "01/31/1990", Some("1990-01-31T00:00:00")),
            field("EXPIRATION_DATE", "12/31/2030", None),
            field("DOCUMENT_NUMBER", "D1234567", None),
            field("ADDRESS", "1 MAIN  ST", None),
            field("ID_TYPE", "DRIVER LICENSE FRONT", None),
            field("VETERAN", "", None),
        ];
        let out = from_analyze_id(&fields);
        let expected: IdCardFields = [
            ("FIRST_NAME", "JANE"),
            ("LAST_NAME", "DOE"),
            ("DATE_OF_BIRTH", "1990-01-31"),
            ("EXPIRATION_DATE", "2030-12-31"),
            ("DOCUMENT_NUMBER", "D1234567"),
            ("ADDRESS", "1 MAIN ST"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(out, expected);
        assert!(is_readable(&out));
    }

    #[test]
    fn analyze_id_address_is_assembled_and_bad_dates_dropped() {
        let out = from_analyze_id(&[
            field("ZIP_CODE_IN_ADDRESS", "98101", None),
            field("CITY_IN_ADDRESS", "SEATTLE", None),
            field("STATE_IN_ADDRESS", "WA", None),
            field("DATE_OF_BIRTH", "13/45/1990", None),
        ]);
        assert_eq!(
            out.get(ADDRESS).map(String::as_str),
            Some("SEATTLE, WA, 98101")
        );
        assert!(!out.contains_key(DATE_OF_BIRTH));
        assert!(!is_readable(&out));
    }

    #[test]
    fn labelled_lines_on_one_line_or_two() {
        let lines = [
            "DRIVER LICENSE",
            "LAST NAME: DOE",
            "First Name",
            "JANE",
            "DOB 31.01.1990",
            "DOC NO # X-99",
            "EXP: 2030-12-31",
            "ADDRESS: 1 Main St, Springfield",
            "SEX F",
        ];
        let out = from_labelled_lines(&lines);
        assert_eq!(out[LAST_NAME], "DOE");
        assert_eq!(out[FIRST_NAME], "JANE");
        assert_eq!(out[DATE_OF_BIRTH], "1990-01-31");
        assert_eq!(out[DOCUMENT_NUMBER], "X-99");
        assert_eq!(out[EXPIRATION_DATE], "2030-12-31");
        assert_eq!(out[ADDRESS], "1 Main St, Springfield");
        assert_eq!(out.len(), 6);
    }

    #[test]
    fn a_label_followed_by_another_label_has_no_value() {
        let out = from_labelled_lines(&["FIRST NAME", "LAST NAME", "DOE"]);
        assert!(!out.contains_key(FIRST_NAME));
        assert_eq!(out[LAST_NAME], "DOE");
    }

    #[test]
    fn labels_match_whole_words_only() {
        // "NOTES" must not be read as the "NO" label, nor "FIRSTLY" as "FIRST".
        let out = from_labelled_lines(&["NOTES: none", "FIRSTLY hello"]);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn dates_in_card_formats() {
        let table = [
            ("1990-01-31", Some("1990-01-31")),
            ("1990-01-31T00:00:00", Some("1990-01-31")),
            ("1990/01/31", Some("1990-01-31")),
            ("01/31/1990", Some("1990-01-31")),
            ("31/01/1990", Some("1990-01-31")),
            ("02/03/1990", Some("1990-02-03")),
            ("02.03.1990", Some("1990-03-02")),
            ("31 JAN 1990", Some("1990-01-31")),
            ("Jan 31, 1990", Some("1990-01-31")),
            ("29 FEB 2000", Some("2000-02-29")),
            ("29 FEB 1900", None),
            ("31/31/1990", None),
            ("1990", None),
            ("tomorrow", None),
        ];
        for (raw, expected) in table {
            assert_eq!(iso_date(raw).as_deref(), expected, "{raw}");
        }
    }
}
