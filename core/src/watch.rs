//! Which changes a watch (`noetl.watch`) matches: the execution it names (or every one), its
//! name patterns and its kinds of change. The host loads the subscriptions and asks here, for
//! each changed variable, which of them want it.

/// A kind of change, as a watch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A variable was written (inserted or its value, type or source step changed).
    Set,
    /// A variable was deleted (`delete_var`, `vars_delete`, plain SQL).
    Delete,
    /// A variable whose lifetime had ended was removed (`purge_expired`, `purge_stale`).
    Expire,
    /// An execution's variables were removed together (`cleanup_execution`, `vars_cleanup`,
    /// `purge_stale`).
    Cleanup,
}

impl Kind {
    /// The word a watch and the outbox use.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Set => "set",
            Kind::Delete => "delete",
            Kind::Expire => "expire",
            Kind::Cleanup => "cleanup",
        }
    }

    /// The kind a word names, `None` for any other word.
    pub fn parse(word: &str) -> Option<Kind> {
        [Kind::Set, Kind::Delete, Kind::Expire, Kind::Cleanup]
            .into_iter()
            .find(|k| k.as_str() == word)
    }
}

/// Which values an outbox row of a watch carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    None,
    New,
    Both,
}

impl Values {
    /// `none`, `new` or `both`; anything else is `None`.
    pub fn parse(word: &str) -> Option<Values> {
        match word {
            "none" => Some(Values::None),
            "new" => Some(Values::New),
            "both" => Some(Values::Both),
            _ => None,
        }
    }

    pub fn old(self) -> bool {
        self == Values::Both
    }

    pub fn new_value(self) -> bool {
        self != Values::None
    }
}

/// One subscription, as the outbox needs it.
#[derive(Clone, Debug)]
pub struct Watch {
    pub id: i64,
    /// `None`: every execution.
    pub execution_id: Option<i64>,
    /// Name patterns (`*` any run of characters, `?` one character); `None`: every name.
    pub names: Option<Vec<String>>,
    pub kinds: Vec<Kind>,
    pub values: Values,
}

impl Watch {
    /// Whether a change of `kind` to variable `name` of `execution_id` is one this watch
    /// wants.
    pub fn matches(&self, execution_id: i64, name: &str, kind: Kind) -> bool {
        self.execution_id.is_none_or(|id| id == execution_id)
            && self.kinds.contains(&kind)
            && self
                .names
                .as_ref()
                .is_none_or(|patterns| patterns.iter().any(|p| glob(p, name)))
    }
}

/// Whether `name` matches `pattern`: `*` stands for any run of characters (none included),
/// `?` for exactly one, every other character for itself. Linear in practice: the classic
/// two-pointer match, which backtracks only to the last `*`.
pub fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_question_marks_and_literals() {
        assert!(glob("*", ""));
        assert!(glob("*", "anything"));
        assert!(glob("api_*", "api_token"));
        assert!(!glob("api_*", "the_api_token"));
        assert!(glob("*_count", "retry_count"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("a*b*c", "a__b__b__c"));
        assert!(!glob("a*b*c", "a__b__b__"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("ü*", "über"));
        assert!(!glob("", "x"));
    }

    #[test]
    fn glob_is_not_exponential_on_many_stars() {
        let pattern = "*a".repeat(40) + "b";
        let name = "a".repeat(5000);
        assert!(!glob(&pattern, &name));
    }

    fn watch(execution_id: Option<i64>, names: Option<&[&str]>, kinds: &[Kind]) -> Watch {
        Watch {
            id: 1,
            execution_id,
            names: names.map(|n| n.iter().map(|s| s.to_string()).collect()),
            kinds: kinds.to_vec(),
            values: Values::New,
        }
    }

    #[test]
    fn a_watch_matches_its_execution_names_and_kinds_only() {
        let all = watch(None, None, &[Kind::Set, Kind::Delete]);
        assert!(all.matches(1, "x", Kind::Set));
        assert!(all.matches(2, "y", Kind::Delete));
        assert!(!all.matches(2, "y", Kind::Cleanup));
        let one = watch(Some(7), Some(&["count", "result_*"]), &[Kind::Set]);
        assert!(one.matches(7, "count", Kind::Set));
        assert!(one.matches(7, "result_a", Kind::Set));
        assert!(!one.matches(8, "count", Kind::Set));
        assert!(!one.matches(7, "other", Kind::Set));
        assert!(!one.matches(7, "count", Kind::Expire));
    }

    #[test]
    fn kinds_and_value_choices_parse_their_words_only() {
        for word in ["set", "delete", "expire", "cleanup"] {
            assert_eq!(Kind::parse(word).map(Kind::as_str), Some(word));
        }
        assert_eq!(Kind::parse("update"), None);
        assert_eq!(Values::parse("both"), Some(Values::Both));
        assert!(Values::Both.old() && Values::Both.new_value());
        assert!(!Values::New.old() && Values::New.new_value());
        assert!(!Values::None.new_value());
        assert_eq!(Values::parse("old"), None);
    }
}
