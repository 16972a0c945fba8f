//! Environment overrides: `HOTSPOT_AGENT_<KEY>` for a top-level key and
//! `HOTSPOT_AGENT_<TABLE>_<KEY>` for a key of a table (`HOTSPOT_AGENT_ORACLE_ADDRESS`,
//! `HOTSPOT_AGENT_RADIO_LISTEN`, `HOTSPOT_AGENT_QUEUE_MAX_AGE`, ...). A value is read as a TOML
//! value when it is one (`5.5`, `true`, `100`) and as a string otherwise (`EU868`, `6h`).

use super::{ENV_PREFIX, Settings, SettingsError};
use toml::{Table, Value};

/// The tables of the settings file, in which `<TABLE>_<KEY>` names are looked up.
const TABLES: &[&str] = &["oracle", "beacon", "radio", "queue", "status"];

/// Applies the overrides in `env` to the parsed file `table`, checking each one.
pub(super) fn apply(
    table: &mut Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), SettingsError> {
    for (name, value) in env {
        let Some(key) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = key.to_ascii_lowercase();
        let invalid = |reason: String| SettingsError::Env {
            name: name.clone(),
            reason,
        };
        let target = match TABLES
            .iter()
            .find_map(|t| key.strip_prefix(t)?.strip_prefix('_').map(|k| (*t, k)))
        {
            Some((table_name, inner)) => {
                let entry = table
                    .entry(table_name)
                    .or_insert_with(|| Value::Table(Table::new()));
                let Value::Table(inner_table) = entry else {
                    return Err(invalid(format!("[{table_name}] is not a table")));
                };
                (inner_table, inner.to_string())
            }
            None => (&mut *table, key),
        };
        target.0.insert(target.1, value_of(&value));
        // Check now, so the error names this variable.
        Value::Table(table.clone())
            .try_into::<Settings>()
            .map_err(|e| invalid(e.message().to_string()))?;
    }
    Ok(())
}

fn value_of(text: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !matches!(v, Value::Table(_)))
        .unwrap_or_else(|| Value::String(text.to_string()))
}
