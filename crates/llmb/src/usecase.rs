//! The seeds' use-case grammar: `name:ISL/OSL`, several separated by spaces.

/// One named workload shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseCase {
    /// `chat`, `reasoning`, ...
    pub name: String,
    /// Input tokens.
    pub isl: u64,
    /// Output tokens.
    pub osl: u64,
}

/// Parses one or more space-separated `name:ISL/OSL` entries.
pub fn parse(s: &str) -> Result<Vec<UseCase>, String> {
    let out: Result<Vec<UseCase>, String> = s.split_whitespace().map(parse_one).collect();
    match out {
        Ok(v) if v.is_empty() => {
            Err("empty use case; write NAME:ISL/OSL, e.g. chat:128/128".into())
        }
        other => other,
    }
}

fn parse_one(s: &str) -> Result<UseCase, String> {
    let bad = |why: &str| format!("use case `{s}`: {why}; write NAME:ISL/OSL, e.g. chat:128/128");
    let (name, lens) = s.split_once(':').ok_or_else(|| bad("missing `:`"))?;
    let (isl, osl) = lens
        .split_once('/')
        .ok_or_else(|| bad("missing `/` between ISL and OSL"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err(bad("the name must be letters, digits, `_`, `-` or `.`"));
    }
    let num = |v: &str, what: &str| -> Result<u64, String> {
        v.trim()
            .parse::<u64>()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_grammar() {
        let v = parse("reasoning:1000/1000 chat:128/128").unwrap();
        assert_eq!(
            v[1],
            UseCase {
                name: "chat".into(),
                isl: 128,
                osl: 128
            }
        );
        for bad in [
            "chat",
            "chat:128",
            "chat:0/5",
            ":1/1",
            "chat:a/1",
            "chat:1/-1",
            "",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("NAME:ISL/OSL"), "{bad}: {e}");
        }
    }
}
