//! Glob patterns as `--focus`, `--skip` and replay rule paths write them.

/// `*` (any run of characters) and `?` (one character) glob match, ASCII
/// case-insensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn globs_match_names_and_ids() {
        assert!(glob_match(
            "jobs.*",
            "jobs.stop.finished_job_is_failed_precondition"
        ));
        assert!(glob_match("*stop*", "jobs.stop.x"));
        assert!(glob_match("JOB-STOP-?", "JOB-STOP-3"));
        assert!(glob_match("job-stop-3", "JOB-STOP-3"));
        assert!(!glob_match("jobs.*", "networks.create.x"));
        assert!(!glob_match("JOB-STOP-?", "JOB-STOP-12"));
        assert!(glob_match("*", ""));
    }

    proptest! {
        #[test]
        fn a_name_matches_itself_and_star(name in "[a-z_.]{0,30}") {
            prop_assert!(glob_match(&name, &name));
            prop_assert!(glob_match("*", &name));
            let prefix: String = name.chars().take(3).collect();
            let pattern = format!("{prefix}*");
            prop_assert!(glob_match(&pattern, &name));
        }
    }
}
