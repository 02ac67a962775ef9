//! Hand-written YAML for engine config files: block maps, flow lists, stable key order.

use std::collections::BTreeMap;
use std::fmt::Display;

use super::EngineError;

/// A YAML document built key by key, in order.
#[derive(Default)]
pub(super) struct YamlDoc {
    out: String,
    keys: Vec<String>,
}

impl YamlDoc {
    /// `key: value` at the top level.
    pub(super) fn scalar(&mut self, key: &str, v: impl Display) -> &mut Self {
        self.keys.push(key.to_string());
        self.out.push_str(&format!("{key}: {v}\n"));
        self
    }

    /// `key:` followed by indented `sub: value` lines.
    pub(super) fn map(&mut self, key: &str, entries: &[(&str, String)]) -> &mut Self {
        self.keys.push(key.to_string());
        self.out.push_str(&format!("{key}:\n"));
        for (k, v) in entries {
            self.out.push_str(&format!("  {k}: {v}\n"));
        }
        self
    }

    /// The text, with free-form options appended as top-level keys.
    pub(super) fn finish(
        mut self,
        engine: &'static str,
        extra: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        for (k, v) in extra {
            if self.keys.iter().any(|have| have == k) {
                return Err(EngineError::Invalid {
                    engine,
                    message: format!(
                        "extra option `{k}` is also set from the recipe's own fields; \
                         remove it from the extra options"
                    ),
                });
            }
            self.scalar(k, v);
        }
        Ok(self.out)
    }
}

/// `[1, 2, 4]`.
pub(super) fn flow_list(v: &[u32]) -> String {
    let items: Vec<String> = v.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(", "))
}
