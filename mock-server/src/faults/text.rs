//! The one-line rule syntax of `--fault` (`rpc=RunJob fail=UNAVAILABLE`):
//! parsing, quoting, and a rule written back as one line.

use std::fmt;
use std::str::FromStr;

use super::rule::*;

/// The keys of the one-line syntax, for error messages.
pub(crate) const KEYS: &str = "rpc, session, field.NAME, command, delay, concurrency, fail, \
                    cut_after_messages, cut_after_bytes, stall_after_messages, after, times, probability";

/// One `KEY=VALUE` item (or a bare value) of a one-line rule.
pub(crate) struct Item {
    key: Option<String>,
    value: String,
    raw: String,
    quoted: bool,
}

/// Splits a one-line rule into items, honouring quotes.
pub(crate) fn split_items(text: &str) -> Result<Vec<Item>, (String, String)> {
    let mut items = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut start = 0;
    loop {
        let mut key: Option<String> = None;
        let mut buf = String::new();
        let mut keep = 0; // length of `buf` up to its last significant char
        let mut started = false;
        let mut quoted = false;
        let mut end = text.len();
        let mut more = false;
        while let Some((i, c)) = chars.next() {
            match c {
                ',' | ':' => {
                    end = i;
                    more = true;
                    break;
                }
                '=' if key.is_none() => {
                    buf.truncate(keep);
                    key = Some(std::mem::take(&mut buf));
                    keep = 0;
                    started = false;
                }
                '"' => {
                    let mut closed = false;
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' if matches!(chars.peek(), Some((_, '"' | '\\'))) => {
                                if let Some((_, n)) = chars.next() {
                                    buf.push(n);
                                }
                            }
                            c => buf.push(c),
                        }
                    }
                    if !closed {
                        return Err((text[start..].trim().to_owned(), "unterminated \"".into()));
                    }
                    keep = buf.len();
                    started = true;
                    quoted = true;
                }
                '\'' => {
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '\'' {
                            closed = true;
                            break;
                        }
                        buf.push(c);
                    }
                    if !closed {
                        return Err((text[start..].trim().to_owned(), "unterminated '".into()));
                    }
                    keep = buf.len();
                    started = true;
                    quoted = true;
                }
                c if c.is_whitespace() => {
                    if started {
                        buf.push(c);
                    }
                }
                c => {
                    buf.push(c);
                    keep = buf.len();
                    started = true;
                }
            }
        }
        buf.truncate(keep);
        items.push(Item {
            key,
            value: buf,
            raw: text[start..end].trim().to_owned(),
            quoted,
        });
        if !more {
            break;
        }
        start = end + 1;
    }
    Ok(items)
}

/// Parses one `--fault` rule (syntax in the module docs).
pub fn parse_rule(text: &str) -> Result<FaultRule, FaultError> {
    let syntax = |(part, reason): (String, String)| FaultError::Syntax {
        rule: text.to_owned(),
        part,
        reason,
    };
    let items = split_items(text).map_err(syntax)?;
    let mut rule = FaultRule::new("");
    let mut seen: Vec<&'static str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(key) = &item.key else {
            if item.value.is_empty() && !item.quoted {
                continue; // an empty item: `a,,b` or a trailing separator
            }
            if i == 0 {
                rule.rpc = item.value.clone();
                seen.push("rpc");
                continue;
            }
            return Err(syntax((
                item.raw.clone(),
                "expected KEY=VALUE (quote values that hold `,` or `:`)".into(),
            )));
        };
        let err = |reason: String| syntax((key.clone(), reason));
        let value = item.value.clone();
        let number = |v: &str| -> Result<u64, FaultError> {
            v.parse::<u64>()
                .map_err(|_| err(format!("`{v}` is not a whole number")))
        };
        let slot: &'static str = match key.as_str() {
            "rpc" => {
                rule.rpc = value;
                "rpc"
            }
            "session" => {
                rule.session = Some(value);
                "session"
            }
            "command" => {
                rule.field = Some(FieldMatch {
                    name: "command".into(),
                    value,
                });
                "field"
            }
            k if k.starts_with("field.") => {
                rule.field = Some(FieldMatch {
                    name: k["field.".len()..].to_owned(),
                    value,
                });
                "field"
            }
            "delay" => {
                rule.delay = Some(value.parse().map_err(err)?);
                "delay"
            }
            "concurrency" => {
                let n = number(&value)?;
                rule.concurrency =
                    Some(u32::try_from(n).map_err(|_| err(format!("`{value}` is too large")))?);
                "concurrency"
            }
            "fail" => {
                rule.fail = Some(value.parse().map_err(err)?);
                "fail"
            }
            "cut_after_messages" => {
                rule.cut_after_messages = Some(number(&value)?);
                "cut_after_messages"
            }
            "cut_after_bytes" => {
                rule.cut_after_bytes = Some(number(&value)?);
                "cut_after_bytes"
            }
            "stall_after_messages" => {
                rule.stall_after_messages = Some(number(&value)?);
                "stall_after_messages"
            }
            "after" => {
                rule.after = number(&value)?;
                "after"
            }
            "times" => {
                rule.times = Some(number(&value)?);
                "times"
            }
            "probability" => {
                let p = value
                    .parse::<f64>()
                    .map_err(|_| err(format!("`{value}` is not a number between 0 and 1")))?;
                rule.probability = Some(p);
                "probability"
            }
            "" => return Err(err("empty key".into())),
            _ => return Err(err(format!("unknown key (keys: {KEYS})"))),
        };
        if seen.contains(&slot) {
            let what = if slot == "field" {
                "only one field matcher per rule".to_owned()
            } else {
                format!("`{slot}` given twice")
            };
            return Err(syntax((key.clone(), what)));
        }
        seen.push(slot);
    }
    if !seen.contains(&"rpc") {
        return Err(syntax((
            "rpc".into(),
            "missing: start with an RPC glob (`RunJob:...`) or give rpc=GLOB".into(),
        )));
    }
    rule.check().map_err(syntax)?;
    Ok(rule)
}

impl FromStr for FaultRule {
    type Err = FaultError;

    fn from_str(s: &str) -> Result<Self, FaultError> {
        parse_rule(s)
    }
}

/// Quotes `value` for the one-line syntax when it needs it.
pub(crate) fn quote(value: &str) -> String {
    let needs = value.is_empty()
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace)
        || value.contains([',', ':', '"', '\'']);
    if !needs {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl fmt::Display for FaultRule {
    /// The one-line syntax, which [`parse_rule`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rpc={}", quote(&self.rpc))?;
        if let Some(s) = &self.session {
            write!(f, ",session={}", quote(s))?;
        }
        if let Some(m) = &self.field {
            write!(f, ",field.{}={}", m.name, quote(&m.value))?;
        }
        if let Some(d) = &self.delay {
            write!(f, ",delay={d}")?;
        }
        if let Some(n) = self.concurrency {
            write!(f, ",concurrency={n}")?;
        }
        if let Some(x) = &self.fail {
            write!(f, ",fail={}", quote(&x.to_string()))?;
        }
        if let Some(n) = self.cut_after_messages {
            write!(f, ",cut_after_messages={n}")?;
        }
        if let Some(n) = self.cut_after_bytes {
            write!(f, ",cut_after_bytes={n}")?;
        }
        if let Some(n) = self.stall_after_messages {
            write!(f, ",stall_after_messages={n}")?;
        }
        if self.after != 0 {
            write!(f, ",after={}", self.after)?;
        }
        if let Some(n) = self.times {
            write!(f, ",times={n}")?;
        }
        if let Some(p) = self.probability {
            write!(f, ",probability={p}")?;
        }
        Ok(())
    }
}
