//! The one problem type: what a problem concerns (a user and field, a file,
//! a Vault path), what is wrong, and what to do next. Everything that finds
//! several problems in one pass reports them together through [`Problems`],
//! printed one way, git-style (`error:` / `hint:`) by the command line.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What it concerns, e.g. `user "alice": email = "x"` or `tenantgen.hcl`.
    pub subject: String,
    pub message: String,
    /// What to do next, when the message does not already say it.
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(subject: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            subject: subject.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subject.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.subject, self.message)
        }
    }
}

/// Every problem one input has, found in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// What has the problems, e.g. `k8s_users` or `config file tenantgen.hcl`.
    pub what: String,
    pub list: Vec<Problem>,
    /// What to do about all of them, printed once after the list.
    pub hint: Option<String>,
}

impl Problems {
    pub fn new(what: impl Into<String>, list: Vec<Problem>) -> Problems {
        Problems {
            what: what.into(),
            list,
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problems {
        self.hint = Some(hint.into());
        self
    }

    /// `Ok` when there is nothing to report.
    pub fn into_result(self) -> Result<(), Problems> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

/// `1 user`, `2 users`: a count with its noun in the right number.
pub fn count(n: usize, singular: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{n} {stem}ies")
    } else if singular.ends_with('s') || singular.ends_with("sh") {
        format!("{n} {singular}es")
    } else {
        format!("{n} {singular}s")
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} has {}:",
            self.what,
            count(self.list.len(), "problem")
        )?;
        let mut hints: Vec<&str> = Vec::new();
        for problem in &self.list {
            write!(f, "\n  - {problem}")?;
            if let Some(hint) = &problem.hint
                && !hints.contains(&hint.as_str())
            {
                hints.push(hint);
            }
        }
        hints.extend(self.hint.as_deref());
        for hint in hints {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}
impl std::error::Error for Problems {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_print_as_one_list_with_each_hint_once() {
        let problems = Problems::new(
            "k8s_users",
            vec![
                Problem::new("user \"a\"", "bad").hint("rename it"),
                Problem::new("user \"b\"", "worse").hint("rename it"),
            ],
        )
        .hint("fix the users source and run the command again");
        assert_eq!(
            problems.to_string(),
            "k8s_users has 2 problems:\n  - user \"a\": bad\n  - user \"b\": worse\nhint: rename it\nhint: fix the users source and run the command again"
        );
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1, "user"), "1 user");
        assert_eq!(count(0, "user"), "0 users");
        assert_eq!(count(2, "namespace"), "2 namespaces");
        assert_eq!(count(3, "policy"), "3 policies");
        assert_eq!(count(2, "address"), "2 addresses");
    }
}
