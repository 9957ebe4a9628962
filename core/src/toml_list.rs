//! The shape shared by the team's TOML files (`ALERT_RULES`, `PEOPLE`): a list of `[[<key>]]` tables and nothing
//! else, each entry reported by its position (and name, when it has one) so an error points at it.

/// Where in a file a problem is, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// "the file", "rule 2 (\"ci\")", "person 1".
    pub entry: String,
    pub problem: String,
}

/// The `[[key]]` tables of `text`, each with its label: `<key> <n>`, with ` ("<name>")` when it has a `name`.
pub fn entries(text: &str, key: &str) -> Result<Vec<(String, toml::Value)>, Problem> {
    let file_error = |problem: String| Problem {
        entry: "the file".to_owned(),
        problem,
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
    if let Some(other) = table.keys().find(|k| *k != key) {
        return Err(file_error(format!(
            "unknown field `{other}` (expected `[[{key}]]` tables)"
        )));
    }
    let Some(list) = table.get(key) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| file_error(format!("`{key}` must be `[[{key}]]` tables")))?;
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let label = match value.get("name").and_then(toml::Value::as_str) {
                Some(name) => format!("{key} {} ({name:?})", i + 1),
                None => format!("{key} {}", i + 1),
            };
            (label, value.clone())
        })
        .collect())
}
