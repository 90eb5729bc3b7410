//! Secret values masked in a workflow's YAML as every answer shows it (ALL-6).

use std::collections::BTreeSet;

use super::doc::WorkflowDoc;
use crate::job_table::MASK;

/// `yaml` with the values of secret variables replaced by `***` (ALL-6):
/// each `KEY: value` of a secret key whose value is the secret, then any
/// other verbatim occurrence of a secret of three characters or more.
pub(crate) fn mask_secrets(yaml: &str, doc: &WorkflowDoc) -> String {
    let secrets: Vec<(&str, &str)> = doc
        .secret_environment
        .iter()
        .chain(doc.jobs.iter().flat_map(|j| j.secret_environment.iter()))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if secrets.is_empty() {
        return yaml.to_owned();
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let keys: BTreeSet<&str> = secrets.iter().map(|(k, _)| *k).collect();
    for key in keys {
        let values: Vec<&str> = secrets
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .collect();
        for (pos, _) in yaml.match_indices(key) {
            if let Some(span) = value_span(yaml, pos, key, &values) {
                spans.push(span);
            }
        }
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(yaml.len());
    let mut at = 0;
    for (from, to) in spans {
        if from < at {
            continue;
        }
        out.push_str(&yaml[at..from]);
        out.push_str(&format!("\"{MASK}\""));
        at = to;
    }
    out.push_str(&yaml[at..]);
    for (_, value) in secrets {
        if value.chars().count() >= 3 && out.contains(value) {
            out = out.replace(value, MASK);
        }
    }
    out
}

/// The byte span of the value of `key` written at `pos`, when `pos` is a
/// mapping key and the value is one of `values` (or a block scalar, or a
/// quoted text with escapes).
fn value_span(yaml: &str, pos: usize, key: &str, values: &[&str]) -> Option<(usize, usize)> {
    let head = yaml.get(..pos)?;
    let mut before = head.chars().next_back();
    let mut after = pos + key.len();
    let quote = before.filter(|c| matches!(c, '"' | '\''));
    if let Some(q) = quote {
        before = head[..head.len() - 1].chars().next_back();
        if !yaml.get(after..)?.starts_with(q) {
            return None;
        }
        after += 1;
    }
    if !matches!(before, None | Some(' ' | '\t' | '\n' | '\r' | '{' | ',')) {
        return None;
    }
    let rest = yaml.get(after..)?;
    let colon = after + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
    if !yaml.get(colon..)?.starts_with(':') {
        return None;
    }
    let value_at = colon + 1;
    match yaml.get(value_at..)?.chars().next() {
        None | Some(' ' | '\t' | '\n' | '\r') => {}
        Some(_) if quote.is_some() => {}
        Some(_) => return None,
    }
    let rest = yaml.get(value_at..)?;
    let mut start = value_at + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
    // An anchor or a tag before the value.
    for _ in 0..2 {
        let text = yaml.get(start..)?;
        if text.starts_with('&') || text.starts_with('!') {
            let word = text.find([' ', '\t', '\n', '\r']).unwrap_or(text.len());
            let tail = text.get(word..)?;
            start += word + (tail.len() - tail.trim_start_matches([' ', '\t']).len());
        }
    }
    let text = yaml.get(start..)?;
    let line_end = text.find(['\n', '\r']).unwrap_or(text.len());
    let line = &text[..line_end];
    match line.chars().next()? {
        '"' => {
            let bytes = line.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        let raw = &line[1..i];
                        let plain = raw.replace("\\\"", "\"").replace("\\\\", "\\");
                        let hit =
                            raw.contains('\\') || values.iter().any(|v| *v == raw || *v == plain);
                        return hit.then_some((start, start + i + 1));
                    }
                    _ => i += 1,
                }
            }
            None
        }
        '\'' => {
            let bytes = line.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    let raw = line[1..i].replace("''", "'");
                    return values
                        .iter()
                        .any(|v| *v == raw)
                        .then_some((start, start + i + 1));
                }
                i += 1;
            }
            None
        }
        '|' | '>' => {
            // A block scalar: every following line indented deeper than the key's.
            let line_start = head.rfind(['\n', '\r']).map_or(0, |i| i + 1);
            let indent = yaml[line_start..].chars().take_while(|c| *c == ' ').count();
            let mut end = start + line_end;
            let mut cursor = end;
            while cursor < yaml.len() {
                let next = &yaml[cursor..];
                let skip = next
                    .chars()
                    .take_while(|c| matches!(c, '\n' | '\r'))
                    .count();
                let body = &next[skip..];
                let len = body.find(['\n', '\r']).unwrap_or(body.len());
                let content = &body[..len];
                let deeper = content.chars().take_while(|c| *c == ' ').count() > indent;
                if !(deeper || content.trim().is_empty()) || skip == 0 {
                    break;
                }
                cursor += skip + len;
                if !content.trim().is_empty() {
                    end = cursor;
                }
            }
            Some((start, end))
        }
        '*' => None,
        _ => {
            let token = line.split(" #").next().unwrap_or(line).trim_end();
            if values.contains(&token) {
                return Some((start, start + token.len()));
            }
            let cut = line.find([',', '}', ']']).unwrap_or(line.len());
            let token = line[..cut].trim_end();
            values
                .contains(&token)
                .then_some((start, start + token.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Forms, parse};

    fn masked(yaml: &str) -> String {
        let doc = parse(yaml, Forms::All).expect("parses");
        let out = mask_secrets(yaml, &doc);
        // Still YAML of the same shape.
        let again = parse(&out, Forms::All).expect("masked YAML parses");
        assert_eq!(again.jobs.len(), doc.jobs.len());
        out
    }

    #[test]
    fn secrets_are_masked_in_yaml_content_all_6() {
        let yaml = "secret_environment:\n  TOKEN: hunter2\n  PIN: '12'\njobs:\n  a:\n    command: echo\n    environment: {MODE: x, N: '12'}\n    secret_environment: {DB_PASSWORD: \"p@ss \\\"w\\\"\", K: v}\n  b:\n    command: echo\n    secret_environment:\n      CERT: |\n        line one\n        line two\n      ALIAS: &pw s3cret-value\n";
        let out = masked(yaml);
        for secret in ["hunter2", "p@ss", "line one", "line two", "s3cret-value"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        assert!(out.contains("PIN: \"***\""), "{out}");
        assert!(out.contains("K: \"***\"}"), "{out}");
        // Non-secret values stay, even when equal to a secret elsewhere.
        assert!(out.contains("N: '12'"), "{out}");
        assert!(out.contains("MODE: x"), "{out}");
        assert!(out.contains("command: echo"), "{out}");
    }

    #[test]
    fn yaml_without_secrets_is_unchanged() {
        let yaml = "jobs:\n  a: {command: echo, environment: {A: b}}\n";
        assert_eq!(masked(yaml), yaml);
    }

    proptest::proptest! {
        #[test]
        fn prop_masking_never_panics(text in "\\PC{0,60}", key in "[A-Z]{1,3}", value in "\\PC{1,4}") {
            let doc = WorkflowDoc {
                secret_environment: vec![(key.clone(), value.clone())],
                ..Default::default()
            };
            let _ = mask_secrets(&text, &doc);
            let yaml = format!("{key}: {text}\n{key}: '{value}'\n  {key}: |\n   {value}\n");
            let _ = mask_secrets(&yaml, &doc);
        }
    }

    #[test]
    fn masking_never_panics_on_odd_text() {
        let doc = WorkflowDoc {
            secret_environment: vec![("K".into(), "v".into()), ("É".into(), "ü".into())],
            ..Default::default()
        };
        for text in [
            "K",
            "K:",
            "'K':",
            "\"K\": \"v",
            "K: 'v",
            "É: ü",
            "K: |",
            "xK: v",
            "K: *a",
        ] {
            let _ = mask_secrets(text, &doc);
        }
    }
}
