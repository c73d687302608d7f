//! UTC timestamps in RFC 3339, without a date library: stored records and Lambda's log lines use them.

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`, or `…SS.mmmZ` with `millis` (days-to-civil
/// conversion from Howard Hinnant's date algorithms).
pub fn rfc3339(unix_secs: i64, millis: Option<u32>) -> String {
    let days = unix_secs.div_euclid(86_400);
    let rem = unix_secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let fraction = millis.map(|m| format!(".{m:03}")).unwrap_or_default();
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Now, as [`rfc3339`] formats it.
pub fn now(with_millis: bool) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(
        now.as_secs() as i64,
        with_millis.then(|| now.subsec_millis()),
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, None), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400, None), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_651_200, None), "2026-11-26T00:00:00Z");
        assert_eq!(
            rfc3339(1_795_651_200 + 3_723, Some(7)),
            "2026-11-26T01:02:03.007Z"
        );
    }
}
