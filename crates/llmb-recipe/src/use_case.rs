//! The seeds' use-case grammar: `name:ISL/OSL`, several separated by spaces or commas
//! (`USE_CASES="reasoning:1000/1000 chat:128/128"`).

use std::fmt;

use serde::Serialize;

/// One named request shape parsed from `name:ISL/OSL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UseCase {
    /// `chat`, `reasoning`, ... (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Input sequence length in tokens.
    pub isl: u32,
    /// Output sequence length in tokens.
    pub osl: u32,
}

impl fmt::Display for UseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.name, self.isl, self.osl)
    }
}

/// Why a use-case list did not parse; the message shows the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UseCaseError(pub String);

/// Parses one or more `name:ISL/OSL` entries separated by whitespace and/or commas.
pub fn parse_list(s: &str) -> Result<Vec<UseCase>, UseCaseError> {
    let v = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .map(parse_one)
        .collect::<Result<Vec<_>, _>>()?;
    if v.is_empty() {
        return Err(UseCaseError(
            "empty use case list; write NAME:ISL/OSL, e.g. chat:128/128".into(),
        ));
    }
    Ok(v)
}

/// Parses exactly one `name:ISL/OSL`.
pub fn parse_one(s: &str) -> Result<UseCase, UseCaseError> {
    let bad = |why: &str| {
        UseCaseError(format!(
            "use case `{s}`: {why}; write NAME:ISL/OSL, e.g. chat:128/128"
        ))
    };
    let (name, lens) = s.split_once(':').ok_or_else(|| bad("missing `:`"))?;
    let (isl, osl) = lens
        .split_once('/')
        .ok_or_else(|| bad("missing `/` between ISL and OSL"))?;
    if !valid_name(name) {
        return Err(bad("the name must be letters, digits, `_`, `-` or `.`"));
    }
    let num = |v: &str, what: &str| -> Result<u32, UseCaseError> {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(&format!("{what} must be a positive whole number")))
    };
    Ok(UseCase {
        name: name.to_owned(),
        isl: num(isl, "ISL")?,
        osl: num(osl, "OSL")?,
    })
}

/// Whether `name` is a valid use-case name (non-empty; letters, digits, `_`, `-`, `.`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_grammar() {
        let v = parse_list("reasoning:1000/1000 chat:128/128").unwrap();
        assert_eq!(
            v[1],
            UseCase {
                name: "chat".into(),
                isl: 128,
                osl: 128
            }
        );
        assert_eq!(v[0].to_string(), "reasoning:1000/1000");
    }

    #[test]
    fn commas_and_mixed_separators() {
        let v = parse_list(" chat:128/128,summarization:8000/512  generation:512/8000 ").unwrap();
        let names: Vec<_> = v.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["chat", "summarization", "generation"]);
    }

    #[test]
    fn malformed_entries_show_the_grammar() {
        for bad in [
            "chat",
            "chat:128",
            "chat:0/5",
            ":1/1",
            "chat:a/1",
            "chat:1/-1",
            "",
            " , ",
        ] {
            let e = parse_list(bad).unwrap_err();
            assert!(e.0.contains("NAME:ISL/OSL"), "{bad}: {e}");
        }
    }
}
