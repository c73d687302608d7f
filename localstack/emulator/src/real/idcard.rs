//! AnalyzeID from OCR'd lines: the labels US identity documents print (`LN`, `DOB`, `EXP`, …) and the value
//! after each, mapped to Textract's normalized field types. Every type of the normalized set is returned, empty
//! where the card does not show it, as AnalyzeID does.

/// Textract AnalyzeID's normalized field types.
pub const NORMALIZED: [&str; 21] = [
    "FIRST_NAME",
    "LAST_NAME",
    "MIDDLE_NAME",
    "SUFFIX",
    "CITY_IN_ADDRESS",
    "ZIP_CODE_IN_ADDRESS",
    "STATE_IN_ADDRESS",
    "STATE_NAME",
    "DOCUMENT_NUMBER",
    "EXPIRATION_DATE",
    "DATE_OF_BIRTH",
    "DATE_OF_ISSUE",
    "ID_TYPE",
    "ENDORSEMENTS",
    "VETERAN",
    "RESTRICTIONS",
    "CLASS",
    "ADDRESS",
    "COUNTY",
    "PLACE_OF_BIRTH",
    "MRZ_CODE",
];

/// Printed labels (as word sequences) and the field each introduces; longer labels are tried first.
const LABELS: [(&str, &str); 27] = [
    ("DOCUMENT NUMBER", "DOCUMENT_NUMBER"),
    ("LICENSE NUMBER", "DOCUMENT_NUMBER"),
    ("DLN", "DOCUMENT_NUMBER"),
    ("DL", "DOCUMENT_NUMBER"),
    ("LAST NAME", "LAST_NAME"),
    ("SURNAME", "LAST_NAME"),
    ("LN", "LAST_NAME"),
    ("FIRST NAME", "FIRST_NAME"),
    ("GIVEN NAMES", "FIRST_NAME"),
    ("FN", "FIRST_NAME"),
    ("DATE OF BIRTH", "DATE_OF_BIRTH"),
    ("DOB", "DATE_OF_BIRTH"),
    ("EXPIRATION DATE", "EXPIRATION_DATE"),
    ("EXPIRES", "EXPIRATION_DATE"),
    ("EXP", "EXPIRATION_DATE"),
    ("DATE OF ISSUE", "DATE_OF_ISSUE"),
    ("ISSUED", "DATE_OF_ISSUE"),
    ("ISS", "DATE_OF_ISSUE"),
    ("ADDRESS", "ADDRESS"),
    ("ADDR", "ADDRESS"),
    ("CLASS", "CLASS"),
    ("RESTRICTIONS", "RESTRICTIONS"),
    ("RESTR", "RESTRICTIONS"),
    ("ENDORSEMENTS", "ENDORSEMENTS"),
    ("END", "ENDORSEMENTS"),
    ("COUNTY", "COUNTY"),
    ("PLACE OF BIRTH", "PLACE_OF_BIRTH"),
];

/// A label as OCR reads it, with its punctuation: `DOB:` is `DOB`.
fn bare(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_ascii_uppercase()
}

fn label_at(words: &[&str], at: usize) -> Option<(&'static str, usize)> {
    let mut best: Option<(&'static str, usize)> = None;
    for (label, field) in LABELS {
        let parts: Vec<&str> = label.split(' ').collect();
        let fits = at + parts.len() <= words.len()
            && parts
                .iter()
                .enumerate()
                .all(|(i, p)| bare(words[at + i]) == *p);
        if fits && best.is_none_or(|(_, n)| parts.len() > n) {
            best = Some((field, parts.len()));
        }
    }
    best
}

/// Field type → value, in `NORMALIZED` order, values as printed (dates too: the caller normalizes).
pub fn fields(lines: &[&str]) -> Vec<(String, String)> {
    let mut found: std::collections::BTreeMap<&str, String> = Default::default();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut current: Option<&str> = None;
        let mut i = 0;
        while i < words.len() {
            if let Some((field, len)) = label_at(&words, i) {
                current = Some(field);
                i += len;
                continue;
            }
            if let Some(field) = current {
                let value = found.entry(field).or_default();
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(words[i].trim_start_matches(':'));
            }
            i += 1;
        }
    }
    if let Some(names) = found.get("FIRST_NAME").cloned() {
        // "JANE ANN": AnalyzeID splits given names into first and middle.
        if let Some((first, middle)) = names.split_once(' ') {
            found.insert("FIRST_NAME", first.to_string());
            found.insert("MIDDLE_NAME", middle.trim().to_string());
        }
    }
    if let Some(address) = found.get("ADDRESS").cloned() {
        for (field, value) in address_parts(&address) {
            found.entry(field).or_insert(value);
        }
    }
    let all = lines.join(" ").to_ascii_uppercase();
    let id_type = if all.contains("PASSPORT") {
        "PASSPORT"
    } else if ["DRIVER LICENSE", "DRIVER'S LICENSE", "DRIVERS LICENSE"]
        .iter()
        .any(|t| all.contains(t))
    {
        "DRIVER LICENSE FRONT"
    } else {
        "OTHER"
    };
    found.insert("ID_TYPE", id_type.to_string());
    NORMALIZED
        .iter()
        .map(|k| (k.to_string(), found.remove(k).unwrap_or_default()))
        .collect()
}

/// `1200 MAIN ST, SPRINGFIELD, IL 62701` → city, state and ZIP code.
fn address_parts(address: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = address.split(',').map(str::trim).collect();
    let mut out = Vec::new();
    if let [.., city, state_zip] = parts.as_slice() {
        if parts.len() >= 3 {
            out.push(("CITY_IN_ADDRESS", city.to_string()));
        }
        let mut words = state_zip.split_whitespace();
        if let (Some(state), Some(zip)) = (words.next(), words.next()) {
            if state.len() == 2 && zip.chars().all(|c| c.is_ascii_digit() || c == '-') {
                out.push(("STATE_IN_ADDRESS", state.to_string()));
                out.push(("ZIP_CODE_IN_ADDRESS", zip.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
        &fields.iter().find(|(k, _)| k == key).expect(key).1
    }

    #[test]
    fn labelled_lines_become_normalized_fields() {
        let lines = [
            "RIVERIA DRIVER LICENSE",
            "DLN D123-456-789",
            "LN DOE",
            "FN JANE ANN",
            "DOB: 03/14/1985",
            "ISS 04/01/2021 EXP 03/14/2029",
            "ADDRESS 1200 MAIN ST, SPRINGFIELD, IL 62701",
            "CLASS D",
        ];
        let f = fields(&lines);
        assert_eq!(f.len(), NORMALIZED.len());
        assert_eq!(get(&f, "DOCUMENT_NUMBER"), "D123-456-789");
        assert_eq!(get(&f, "LAST_NAME"), "DOE");
        assert_eq!(get(&f, "FIRST_NAME"), "JANE");
        assert_eq!(get(&f, "MIDDLE_NAME"), "ANN");
        assert_eq!(get(&f, "DATE_OF_BIRTH"), "03/14/1985");
        assert_eq!(get(&f, "DATE_OF_ISSUE"), "04/01/2021");
        assert_eq!(get(&f, "EXPIRATION_DATE"), "03/14/2029");
        assert_eq!(get(&f, "CITY_IN_ADDRESS"), "SPRINGFIELD");
        assert_eq!(get(&f, "STATE_IN_ADDRESS"), "IL");
        assert_eq!(get(&f, "ZIP_CODE_IN_ADDRESS"), "62701");
        assert_eq!(get(&f, "CLASS"), "D");
        assert_eq!(get(&f, "ID_TYPE"), "DRIVER LICENSE FRONT");
        assert_eq!(get(&f, "VETERAN"), "");
    }

    #[test]
    fn a_page_without_labels_yields_empty_fields() {
        let f = fields(&["Hello world", "nothing here"]);
        assert!(f.iter().all(|(k, v)| v.is_empty() || k == "ID_TYPE"));
        assert_eq!(get(&f, "ID_TYPE"), "OTHER");
    }
}
