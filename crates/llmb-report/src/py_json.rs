//! JSON as Python's `json.dump` writes it with its defaults, for files that scripts may
//! compare byte for byte: one line, `", "` and `": "` separators, floats as Python's
//! `repr` (`1.0`, `1e-05`, `1e+16`), `Infinity`/`NaN` bare, non-ASCII as `\uXXXX`
//! escapes. A writer that appends to one string, so large arrays cost no value tree.

use std::fmt::Write;

/// Python's `repr` of a float.
pub fn float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Python's repr does.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        // Fixed notation with at least one decimal.
        let point = exp + 1;
        let (int, frac) = if point <= 0 {
            (
                "0".to_owned(),
                format!("{}{digits}", "0".repeat((-point) as usize)),
            )
        } else if point as usize >= digits.len() {
            (
                format!("{digits}{}", "0".repeat(point as usize - digits.len())),
                String::new(),
            )
        } else {
            (
                digits[..point as usize].to_owned(),
                digits[point as usize..].to_owned(),
            )
        };
        let frac = if frac.is_empty() {
            "0".to_owned()
        } else {
            frac
        };
        format!("{sign}{int}.{frac}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Appends `s` as a JSON string with `ensure_ascii` escaping.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON value in Python's rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum Py<'a> {
    /// `null`.
    Null,
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'a str),
}

/// One JSON object written key by key.
#[derive(Debug, Default)]
pub struct Object {
    out: String,
}

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object { out: "{".into() }
    }

    fn key(&mut self, k: &str) {
        if self.out.len() > 1 {
            self.out.push_str(", ");
        }
        string(&mut self.out, k);
        self.out.push_str(": ");
    }

    /// `"k": v`.
    pub fn put(&mut self, k: &str, v: Py<'_>) {
        self.key(k);
        match v {
            Py::Null => self.out.push_str("null"),
            Py::Int(i) => {
                let _ = write!(self.out, "{i}");
            }
            Py::Float(f) => self.out.push_str(&float(f)),
            Py::Str(s) => string(&mut self.out, s),
        }
    }

    /// `"k": [floats]`.
    pub fn floats(&mut self, k: &str, values: impl IntoIterator<Item = f64>) {
        self.key(k);
        self.list(values, |out, v| out.push_str(&float(v)));
    }

    /// `"k": [ints]`.
    pub fn ints(&mut self, k: &str, values: impl IntoIterator<Item = u64>) {
        self.key(k);
        self.list(values, |out, v| {
            let _ = write!(out, "{v}");
        });
    }

    /// `"k": [strings]`.
    pub fn strs<'s>(&mut self, k: &str, values: impl IntoIterator<Item = &'s str>) {
        self.key(k);
        self.list(values, string);
    }

    /// `"k": [[floats], ...]`.
    pub fn float_lists<'v>(&mut self, k: &str, lists: impl IntoIterator<Item = &'v [f64]>) {
        self.key(k);
        self.list(lists, |out, l| {
            out.push('[');
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&float(*v));
            }
            out.push(']');
        });
    }

    fn list<T>(
        &mut self,
        values: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut String, T),
    ) {
        self.out.push('[');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            each(&mut self.out, v);
        }
        self.out.push(']');
    }

    /// The finished text (no trailing newline, as `json.dump`).
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_like_python_repr() {
        // Each right-hand side is what CPython 3 prints for repr(x).
        for (x, py) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456.789, "123456.789"),
            (0.30000000000000004, "0.30000000000000004"),
            (-2.5, "-2.5"),
            (1.5e-7, "1.5e-07"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (f64::INFINITY, "Infinity"),
            (0.0, "0.0"),
            (100.0, "100.0"),
        ] {
            assert_eq!(float(x), py, "{x}");
        }
    }

    #[test]
    fn objects_use_python_separators_and_ascii_escapes() {
        let mut o = Object::new();
        o.put("a", Py::Int(1));
        o.put("b", Py::Str("é\"\n"));
        o.put("c", Py::Null);
        o.floats("d", [0.5, 2.0]);
        o.float_lists("e", [&[1.0][..], &[][..]]);
        assert_eq!(
            o.finish(),
            r#"{"a": 1, "b": "\u00e9\"\n", "c": null, "d": [0.5, 2.0], "e": [[1.0], []]}"#
        );
        let mut s = String::new();
        string(&mut s, "😀");
        assert_eq!(s, r#""\ud83d\ude00""#);
    }
}
