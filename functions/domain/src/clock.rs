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

/// Milliseconds since the epoch of an RFC 3339 UTC time as Step Functions writes it (`…T01:02:03.456Z`, or
/// with `+00:00`, any number of fraction digits); `None` for anything else.
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let body = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = body.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    if !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    // Days from civil (Howard Hinnant), the inverse of `rfc3339`.
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = (days * 86_400 + h * 3_600 + m * 60 + s) * 1000 + millis;
    u64::try_from(ms).ok()
}

#[cfg(test)]
mod tests {
    use super::{parse_rfc3339_ms, rfc3339};

    #[test]
    fn parses_what_it_formats_and_what_step_functions_writes() {
        for secs in [0, 951_782_400, 1_795_651_200 + 3_723] {
            assert_eq!(
                parse_rfc3339_ms(&rfc3339(secs, Some(7))),
                Some(secs as u64 * 1000 + 7)
            );
        }
        assert_eq!(
            parse_rfc3339_ms("2026-11-26T01:02:03.5+00:00"),
            Some(1_795_654_923_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-26T01:02:03.123456Z"),
            Some(1_795_654_923_123)
        );
        for bad in [
            "",
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "x",
            "2026-11-26T01:02:03+02:00",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

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
