//! Store pairing of the Exchange Failover utility (guide, Appendix C): a
//! source store pairs with the target store whose database *file name*
//! matches; duplicate names need `-r` rules `group[,store]:group[,store]`.
//! Paired storage groups must share their log prefix (E00, E01...), or the
//! replicated logs will not replay on the target.

use std::collections::BTreeMap;
use std::fmt;

use crate::format::{GroupDef, PublicFolders};

/// A store as pairing sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreKey {
    /// Storage group.
    pub group: String,
    /// Store name.
    pub store: String,
    /// Database file name.
    pub file: String,
    /// Log prefix of its group.
    pub prefix: String,
    /// Public folder store.
    pub public: bool,
}

/// The stores of a storage layout.
pub fn stores_of(groups: &[GroupDef]) -> Vec<StoreKey> {
    groups
        .iter()
        .flat_map(|g| {
            g.stores.iter().map(move |s| StoreKey {
                group: g.name.clone(),
                store: s.name.clone(),
                file: s.file.clone(),
                prefix: g.prefix.clone(),
                public: s.public,
            })
        })
        .collect()
}

/// One `-r` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Source group.
    pub from_group: String,
    /// Source store, if the rule names one.
    pub from_store: Option<String>,
    /// Target group.
    pub to_group: String,
    /// Target store, if the rule names one.
    pub to_store: Option<String>,
}

impl Rule {
    /// Parses `group[,store]:group[,store]` (spaces around names ignored).
    pub fn parse(text: &str) -> Result<Rule, String> {
        let bad = || {
            format!(
                "pairing rule {text:?} is not `group[,store]:group[,store]` \
                 (e.g. \"Indy,Sales:Indy_Bkup,Sales\")"
            )
        };
        let (from, to) = text.split_once(':').ok_or_else(bad)?;
        let side = |s: &str| -> Result<(String, Option<String>), String> {
            let mut parts = s.split(',').map(str::trim);
            let group = parts.next().filter(|g| !g.is_empty()).ok_or_else(bad)?;
            let store = parts.next().map(str::to_string);
            if parts.next().is_some() || store.as_deref() == Some("") {
                return Err(bad());
            }
            Ok((group.to_string(), store))
        };
        let (from_group, from_store) = side(from)?;
        let (to_group, to_store) = side(to)?;
        if from_store.is_some() != to_store.is_some() {
            return Err(format!(
                "pairing rule {text:?} names a store on one side only; name both or neither"
            ));
        }
        Ok(Rule {
            from_group,
            from_store,
            to_group,
            to_store,
        })
    }
}

/// Why stores could not be paired.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// Two stores on one side share a database file name and no rule separates them.
    #[error(
        "database file {file:?} is used by more than one store on the {side} ({stores}); \
         add pairing rules `group,store:group,store` for them"
    )]
    DuplicateFile {
        /// `source` or `target`.
        side: &'static str,
        /// The file name.
        file: String,
        /// The stores sharing it.
        stores: String,
    },
    /// No target store matches a source store.
    #[error("source store {group}/{store} ({file}) has no target store to pair with; {hint}")]
    Unpaired {
        /// Group.
        group: String,
        /// Store.
        store: String,
        /// File.
        file: String,
        /// What to check.
        hint: String,
    },
    /// Paired groups have different log prefixes.
    #[error(
        "source group {from_group:?} logs with prefix {from_prefix} but target group \
         {to_group:?} uses {to_prefix}: replicated logs will not replay; make the prefixes match"
    )]
    PrefixMismatch {
        /// Source group.
        from_group: String,
        /// Its prefix.
        from_prefix: String,
        /// Target group.
        to_group: String,
        /// Its prefix.
        to_prefix: String,
    },
}

/// A source store and the target store it fails over to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Source store.
    pub from: StoreKey,
    /// Target store.
    pub to: StoreKey,
}

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} -> {}/{}",
            self.from.group, self.from.store, self.to.group, self.to.store
        )
    }
}

/// Pairs every selected source store with a target store.
pub fn pair(
    source: &[StoreKey],
    target: &[StoreKey],
    rules: &[Rule],
    public: PublicFolders,
) -> Result<Vec<Pair>, PairingError> {
    let selected = source.iter().filter(|s| match public {
        PublicFolders::Include => true,
        PublicFolders::Only => s.public,
        PublicFolders::Exclude => !s.public,
    });
    let mut pairs = Vec::new();
    for s in selected {
        let store_rule = rules
            .iter()
            .find(|r| r.from_group == s.group && r.from_store.as_deref() == Some(s.store.as_str()));
        let group_rule = rules
            .iter()
            .find(|r| r.from_group == s.group && r.from_store.is_none());
        let found = if let Some(r) = store_rule {
            let want = r.to_store.as_deref().unwrap_or(&s.store);
            target
                .iter()
                .find(|t| t.group == r.to_group && t.store == want)
                .ok_or_else(|| {
                    unpaired(
                        s,
                        format!("rule names {}/{want}, which the target lacks", r.to_group),
                    )
                })?
        } else if let Some(r) = group_rule {
            target
                .iter()
                .find(|t| t.group == r.to_group && t.store == s.store)
                .or_else(|| {
                    target
                        .iter()
                        .find(|t| t.group == r.to_group && t.file == s.file)
                })
                .ok_or_else(|| {
                    unpaired(
                        s,
                        format!(
                            "target group {:?} has no store of that name or file",
                            r.to_group
                        ),
                    )
                })?
        } else {
            unique_file(source, "source", &s.file)?;
            unique_file(target, "target", &s.file)?;
            target.iter().find(|t| t.file == s.file).ok_or_else(|| {
                unpaired(
                    s,
                    "no target store has that database file name; add a pairing rule".into(),
                )
            })?
        };
        if found.prefix != s.prefix {
            return Err(PairingError::PrefixMismatch {
                from_group: s.group.clone(),
                from_prefix: s.prefix.clone(),
                to_group: found.group.clone(),
                to_prefix: found.prefix.clone(),
            });
        }
        pairs.push(Pair {
            from: s.clone(),
            to: found.clone(),
        });
    }
    Ok(pairs)
}

fn unpaired(s: &StoreKey, hint: String) -> PairingError {
    PairingError::Unpaired {
        group: s.group.clone(),
        store: s.store.clone(),
        file: s.file.clone(),
        hint,
    }
}

fn unique_file(side: &[StoreKey], name: &'static str, file: &str) -> Result<(), PairingError> {
    let users: Vec<&StoreKey> = side.iter().filter(|k| k.file == file).collect();
    if users.len() > 1 {
        let mut by_group: BTreeMap<&str, &str> = BTreeMap::new();
        for u in &users {
            by_group.insert(&u.group, &u.store);
        }
        return Err(PairingError::DuplicateFile {
            side: name,
            file: file.to_string(),
            stores: users
                .iter()
                .map(|u| format!("{}/{}", u.group, u.store))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str, store: &str, file: &str, prefix: &str) -> StoreKey {
        StoreKey {
            group: group.into(),
            store: store.into(),
            file: file.into(),
            prefix: prefix.into(),
            public: store.starts_with("Public"),
        }
    }

    #[test]
    fn pairs_by_file_name_by_default() {
        let src = vec![
            key("SG1", "Mailbox", "priv1.edb", "E00"),
            key("SG1", "Public", "pub1.edb", "E00"),
        ];
        let tgt = vec![
            key("SG1", "Public", "pub1.edb", "E00"),
            key("SG1", "Other name", "priv1.edb", "E00"),
        ];
        let p = pair(&src, &tgt, &[], PublicFolders::Include).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].to.store, "Other name");
        let only = pair(&src, &tgt, &[], PublicFolders::Only).unwrap();
        assert_eq!(only.len(), 1);
        assert!(only[0].from.public);
        let none = pair(&src, &tgt, &[], PublicFolders::Exclude).unwrap();
        assert!(none.iter().all(|p| !p.from.public));
    }

    #[test]
    fn duplicate_file_names_need_rules() {
        // The guide's example: groups Indy and Boston each hold a store "Sales".
        let src = vec![
            key("Indy", "Sales", "sales.edb", "E00"),
            key("Boston", "Sales", "sales.edb", "E01"),
        ];
        let tgt = vec![
            key("Indy_Bkup", "Sales", "sales.edb", "E00"),
            key("Boston_Bkup", "Sales", "sales.edb", "E01"),
        ];
        let err = pair(&src, &tgt, &[], PublicFolders::Include).unwrap_err();
        assert!(
            matches!(err, PairingError::DuplicateFile { side: "source", .. }),
            "{err}"
        );
        let rules = vec![
            Rule::parse("Indy, Sales:Indy_Bkup, Sales").unwrap(),
            Rule::parse("Boston,Sales:Boston_Bkup,Sales").unwrap(),
        ];
        let p = pair(&src, &tgt, &rules, PublicFolders::Include).unwrap();
        assert_eq!(p[0].to.group, "Indy_Bkup");
        assert_eq!(p[1].to.group, "Boston_Bkup");
        let group_rules = vec![
            Rule::parse("Indy:Indy_Bkup").unwrap(),
            Rule::parse("Boston:Boston_Bkup").unwrap(),
        ];
        assert_eq!(
            pair(&src, &tgt, &group_rules, PublicFolders::Include).unwrap(),
            p
        );
    }

    #[test]
    fn log_prefixes_must_match() {
        let src = vec![key("SG2", "Mailbox", "priv2.edb", "E01")];
        let tgt = vec![key("SG2", "Mailbox", "priv2.edb", "E02")];
        let err = pair(&src, &tgt, &[], PublicFolders::Include).unwrap_err();
        assert!(
            err.to_string().contains("E01") && err.to_string().contains("E02"),
            "{err}"
        );
    }

    #[test]
    fn unpaired_store_is_named() {
        let src = vec![key("SG1", "Mailbox", "priv1.edb", "E00")];
        let err = pair(&src, &[], &[], PublicFolders::Include).unwrap_err();
        assert!(err.to_string().contains("SG1/Mailbox"), "{err}");
    }

    #[test]
    fn rule_syntax() {
        assert!(Rule::parse("a").is_err());
        assert!(Rule::parse(":b").is_err());
        assert!(Rule::parse("a,x:b").is_err());
        assert!(Rule::parse("a,x,y:b,z").is_err());
        let r = Rule::parse("a:b").unwrap();
        assert_eq!((r.from_group.as_str(), r.to_group.as_str()), ("a", "b"));
    }
}
