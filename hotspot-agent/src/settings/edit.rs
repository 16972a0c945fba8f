//! Line-based edits of a settings file that keep its comments: set one key, in place.

/// Sets `key` in `table` (`None`: the top level) to `value` (already TOML-encoded).
///
/// An existing `key = ...` line is replaced; failing that a commented-out `# key = ...` line
/// is; failing that the key is added at the end of the table (which is created if missing).
pub fn set_value(text: &str, table: Option<&str>, key: &str, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let line = format!("{key} = {value}");
    let (start, end) = section(&lines, table);
    let position = [false, true]
        .into_iter()
        .find_map(|commented| (start..end).find(|&i| assigns(&lines[i], key, commented)));
    if let Some(i) = position {
        lines[i] = line;
    } else if table.is_none() || has_header(&lines, table) {
        let at = (start..end)
            .rev()
            .find(|&i| !lines[i].trim().is_empty())
            .map_or(start, |i| i + 1);
        lines.insert(at, line);
    } else {
        lines.push(String::new());
        lines.push(format!("[{}]", table.unwrap_or_default()));
        lines.push(line);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The table a header line opens, if it is one.
fn header(line: &str) -> Option<&str> {
    let trimmed = line.trim();
    trimmed.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

fn has_header(lines: &[String], table: Option<&str>) -> bool {
    lines.iter().any(|l| header(l) == table)
}

/// The line range of `table`'s body (after its header, up to the next header).
fn section(lines: &[String], table: Option<&str>) -> (usize, usize) {
    let start = match table {
        None => 0,
        Some(_) => match lines.iter().position(|l| header(l) == table) {
            Some(i) => i + 1,
            None => return (lines.len(), lines.len()),
        },
    };
    let end = (start..lines.len())
        .find(|&i| header(&lines[i]).is_some())
        .unwrap_or(lines.len());
    (start, end)
}

/// Whether `line` assigns `key` (or, with `commented`, is a commented-out assignment of it).
fn assigns(line: &str, key: &str, commented: bool) -> bool {
    let mut rest = line.trim_start();
    if commented {
        let Some(uncommented) = rest.strip_prefix('#') else {
            return false;
        };
        rest = uncommented.trim_start();
    }
    rest.strip_prefix(key)
        .is_some_and(|after| after.trim_start().starts_with('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# top\nregion = \"US915\"\n\n[oracle]\n# The address.\n# address = \"x:1\"\nrequest_timeout = \"10s\"\n\n[beacon]\nenabled = true\n";

    #[test]
    fn replaces_an_existing_top_level_key() {
        let out = set_value(TEXT, None, "region", "\"EU868\"");
        assert!(out.contains("region = \"EU868\"\n"));
        assert!(!out.contains("US915"));
        assert!(out.contains("# top"));
    }

    #[test]
    fn uncomments_a_documented_key_in_its_table() {
        let out = set_value(TEXT, Some("oracle"), "address", "\"1.2.3.4:9\"");
        assert!(
            out.contains("# The address.\naddress = \"1.2.3.4:9\"\nrequest_timeout"),
            "{out}"
        );
    }

    #[test]
    fn adds_missing_keys_and_tables() {
        let out = set_value(TEXT, None, "antenna_gain_dbi", "3.0");
        assert!(
            out.contains("region = \"US915\"\nantenna_gain_dbi = 3.0\n"),
            "{out}"
        );
        let out = set_value(TEXT, Some("beacon"), "interval", "\"1h\"");
        assert!(
            out.ends_with("enabled = true\ninterval = \"1h\"\n"),
            "{out}"
        );
        let out = set_value(TEXT, Some("radio"), "kind", "\"simulated\"");
        assert!(out.ends_with("[radio]\nkind = \"simulated\"\n"), "{out}");
        let parsed: toml::Table = out.parse().expect("still TOML");
        assert_eq!(parsed["radio"]["kind"].as_str(), Some("simulated"));
    }

    #[test]
    fn a_key_that_is_a_prefix_of_another_is_not_confused() {
        let out = set_value("key_file = \"a\"\nkey = 1\n", None, "key", "2");
        assert_eq!(out, "key_file = \"a\"\nkey = 2\n");
    }
}
