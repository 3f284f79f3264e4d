//! Kubernetes resource quantities (`500m`, `2`, `8Gi`, `1e3`), as the API
//! server's `resource.ParseQuantity` accepts them, minus signs: a quota is
//! never negative.

const BINARY_SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
const DECIMAL_SUFFIXES: [&str; 7] = ["m", "k", "M", "G", "T", "P", "E"];

/// Checks `text` is a non-negative Kubernetes quantity; the error says how to fix it.
pub fn check(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("is empty; give a quantity such as \"2\", \"500m\" or \"4Gi\"".into());
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!(
            "contains whitespace; write it without spaces, e.g. {:?}",
            text.split_whitespace().collect::<String>()
        ));
    }
    if text.starts_with('-') {
        return Err("is negative; a quota must be 0 or more".into());
    }
    if text.starts_with('+') {
        return Err("has a sign; write the number without `+`".into());
    }
    if text.len() > 64 {
        return Err("is longer than 64 characters; no real quota needs that".into());
    }
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    if number.is_empty() {
        return Err(
            "does not start with a number; give a quantity such as \"2\", \"500m\" or \"4Gi\""
                .into(),
        );
    }
    if !is_number(number) {
        return Err(format!(
            "has the malformed number {number:?}; write digits with at most one `.`"
        ));
    }
    if suffix.is_empty() || BINARY_SUFFIXES.contains(&suffix) || DECIMAL_SUFFIXES.contains(&suffix)
    {
        return Ok(());
    }
    if let Some(exponent) = suffix.strip_prefix(['e', 'E']) {
        let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if is_number(digits) && !digits.contains('.') {
            return Ok(());
        }
    }
    let hint = match suffix {
        "GB" | "G" | "gb" | "g" | "Gb" | "gi" | "GiB" => {
            " (use \"Gi\" for gibibytes or \"G\" for gigabytes)"
        }
        "MB" | "mb" | "Mb" | "mi" | "MiB" => " (use \"Mi\" for mebibytes or \"M\" for megabytes)",
        "KB" | "kb" | "Kb" | "ki" | "KiB" => " (use \"Ki\" for kibibytes or \"k\" for kilobytes)",
        _ => "",
    };
    Err(format!(
        "has an unknown suffix {suffix:?}{hint}; valid suffixes are {}, {} and exponents like e3",
        BINARY_SUFFIXES.join(" "),
        DECIMAL_SUFFIXES.join(" ")
    ))
}

/// `<digits>`, `<digits>.<digits>`, `<digits>.` or `.<digits>`.
fn is_number(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction) && (!whole.is_empty() || !fraction.is_empty())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_kubernetes_quantities() {
        for ok in [
            "0", "2", "500m", "0.5", ".5", "1.", "8Gi", "20Gi", "1e3", "1E-2", "4k", "10M", "1Ei",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("8GB", "unknown suffix \"GB\""),
            ("-1", "negative"),
            ("8 Gi", "whitespace"),
            ("", "empty"),
            ("Gi", "does not start with a number"),
            ("1.2.3", "malformed number"),
            ("+4", "sign"),
            ("4gi", "unknown suffix"),
            ("1e", "unknown suffix"),
            ("1e1.5", "unknown suffix"),
            ("${x}", "does not start with a number"),
        ];
        for (input, reason) in cases {
            let error = check(input).expect_err(input);
            assert!(error.contains(reason), "{input}: {error}");
        }
    }
}
