//! Compile-time parsing of `expires_in` durations such as `"1h30m"`.

/// The accepted forms, quoted in every error.
pub(crate) const ACCEPTED: &str = "a whole number followed by a unit `s`, `m`, `h` or `d`, combinable as in \"90s\", \"15m\", \"1h30m\" or \"7d\"";

/// The duration in seconds, or what is wrong with it.
pub(crate) fn parse_seconds(text: &str) -> Result<i64, String> {
    if text.trim().is_empty() {
        return Err(format!("empty duration: expected {ACCEPTED}"));
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "invalid duration `{text}`: unexpected `{c}`; expected {ACCEPTED}"
                ));
            }
        };
        if digits.is_empty() {
            return Err(format!(
                "invalid duration `{text}`: `{c}` has no number before it; expected {ACCEPTED}"
            ));
        }
        let amount: i64 = digits.parse().map_err(|_| {
            format!("invalid duration `{text}`: the number `{digits}` is too large")
        })?;
        total = amount
            .checked_mul(unit)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(|| format!("invalid duration `{text}`: too long"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "invalid duration `{text}`: `{digits}` has no unit; expected {ACCEPTED}"
        ));
    }
    if total == 0 {
        return Err(format!(
            "`expires_in = \"{text}\"` is zero: a value that expires at once would never be readable; give a positive duration"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn accepts_single_and_combined_units() {
        assert_eq!(parse_seconds("90s"), Ok(90));
        assert_eq!(parse_seconds("15m"), Ok(900));
        assert_eq!(parse_seconds("1h30m"), Ok(5_400));
        assert_eq!(parse_seconds("7d"), Ok(604_800));
        assert_eq!(parse_seconds("1d2h3m4s"), Ok(93_784));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            " ",
            "15",
            "m",
            "15x",
            "1.5h",
            "-1m",
            "0s",
            "0h0m",
            "99999999999999999999s",
            "9999999999999999d",
        ] {
            assert!(parse_seconds(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
