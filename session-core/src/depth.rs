//! The nesting `serde_json` reads back: it writes any depth, but refuses to
//! read more than 127 levels of arrays and objects, so a deeper value must
//! never be stored.

use serde_json::Value;

/// The deepest nesting of arrays and objects `serde_json` reads back.
pub(crate) const MAX_DEPTH: usize = 127;

fn too_deep() -> serde_json::Error {
    serde::ser::Error::custom(format!(
        "the value nests deeper than {MAX_DEPTH} levels, which serde_json cannot read back"
    ))
}

/// Refuses JSON text that nests arrays and objects deeper than
/// [`MAX_DEPTH`]; `text` is well-formed JSON.
pub(crate) fn check_text(text: &str) -> Result<(), serde_json::Error> {
    // Nesting that deep needs that many opening brackets; counting them is
    // much cheaper than the walk below, and almost every value has fewer.
    // (`b'[' | 0x20 == b'{'`, and no other byte maps to it: a branch-free
    // count the compiler vectorises; a chunk of 255 bytes fits a `u8`.)
    let openings: usize = text
        .as_bytes()
        .chunks(255)
        .map(|chunk| {
            usize::from(
                chunk
                    .iter()
                    .fold(0_u8, |count, &byte| count + u8::from(byte | 0x20 == b'{')),
            )
        })
        .sum();
    if openings <= MAX_DEPTH {
        return Ok(());
    }
    let (mut depth, mut in_string, mut escaped) = (0_usize, false, false);
    for &byte in text.as_bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep());
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Refuses a JSON tree that nests deeper than [`MAX_DEPTH`]. The walk
/// stops one level below the limit, so it recurses at most that deep.
pub(crate) fn check_value(value: &Value) -> Result<(), serde_json::Error> {
    check_below(value, 0)
}

fn check_below(value: &Value, depth: usize) -> Result<(), serde_json::Error> {
    let children: &mut dyn Iterator<Item = &Value> = match value {
        Value::Array(items) => &mut items.iter(),
        Value::Object(map) => &mut map.values(),
        _ => return Ok(()),
    };
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    for child in children {
        check_below(child, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Value {
        (0..depth).fold(serde_json::json!({"s": "x]}\\\"["}), |inner, _| {
            serde_json::json!([inner])
        })
    }

    #[test]
    fn both_checks_agree_with_what_serde_json_reads_back() {
        for depth in [0, 1, 100, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 200] {
            let value = nested(depth);
            let text = serde_json::to_string(&value).expect("`serde_json` writes any depth");
            let readable = serde_json::from_str::<Value>(&text).is_ok();
            assert_eq!(check_text(&text).is_ok(), readable, "text, {depth}");
            assert_eq!(check_value(&value).is_ok(), readable, "tree, {depth}");
        }
    }
}
