//! Copy-on-write storage for the prepared world ([`crate::Prepared`]): a
//! scenario's world is built once and every run starts from a copy of it,
//! so a copy must cost what a run changes, not what the estate holds.
//!
//! Single-threaded (`Rc`), as the simulator is: a prepared world is built
//! per thread.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Index, IndexMut};
use std::rc::Rc;

/// A vector whose items are shared between copies until one is changed.
/// Cloning costs a reference count per item; the first mutable access to
/// an item in a copy copies that item, and only it.
pub struct CowVec<T> {
    items: Vec<Rc<T>>,
}

impl<T> Clone for CowVec<T> {
    fn clone(&self) -> Self {
        CowVec {
            items: self.items.clone(),
        }
    }
}

impl<T: Clone> CowVec<T> {
    /// How many items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator + Clone {
        self.items.iter().map(|x| &**x)
    }

    /// How many items, position by position, are still the very items of
    /// `other` (shared, never copied): what a run has not changed of the
    /// world it was copied from.
    pub fn shared_with(&self, other: &CowVec<T>) -> usize {
        self.items
            .iter()
            .zip(&other.items)
            .filter(|(a, b)| Rc::ptr_eq(a, b))
            .count()
    }
}

impl<T> FromIterator<T> for CowVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        CowVec {
            items: items.into_iter().map(Rc::new).collect(),
        }
    }
}

impl<T> Index<usize> for CowVec<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.items[i]
    }
}

impl<T: Clone> IndexMut<usize> for CowVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        Rc::make_mut(&mut self.items[i])
    }
}

impl<'a, T: Clone> IntoIterator for &'a CowVec<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, Rc<T>>, fn(&'a Rc<T>) -> &'a T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter().map(|x| &**x)
    }
}

/// Shown as the plain vector it stands for.
impl<T: fmt::Debug> fmt::Debug for CowVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.items.iter().map(|x| &**x))
            .finish()
    }
}

/// A map whose entries at build are shared between copies; a copy keeps
/// the entries it sets itself (no entry is ever removed).
#[derive(Clone, Debug)]
pub struct CowMap<K, V> {
    built: Rc<BTreeMap<K, V>>,
    set: BTreeMap<K, V>,
}

impl<K: Ord, V> CowMap<K, V> {
    /// The map `built`, to be shared.
    pub fn new(built: BTreeMap<K, V>) -> Self {
        CowMap {
            built: Rc::new(built),
            set: BTreeMap::new(),
        }
    }

    /// The value of `k`: the last one set, else the one at build.
    pub fn get(&self, k: &K) -> Option<&V> {
        self.set.get(k).or_else(|| self.built.get(k))
    }

    /// Sets `k` to `v` in this copy only.
    pub fn insert(&mut self, k: K, v: V) {
        self.set.insert(k, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_shares_until_an_item_changes_and_then_copies_only_it() {
        let a: CowVec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
        let mut b = a.clone();
        assert_eq!(b.shared_with(&a), 3);
        b[1].push('!');
        assert_eq!(b.shared_with(&a), 2);
        assert_eq!(a.iter().collect::<Vec<_>>(), ["x", "y", "z"]);
        assert_eq!(b.iter().collect::<Vec<_>>(), ["x", "y!", "z"]);
        assert!(Rc::ptr_eq(&a.items[0], &b.items[0]));
        assert!(!Rc::ptr_eq(&a.items[1], &b.items[1]));
        assert_eq!(format!("{b:?}"), r#"["x", "y!", "z"]"#);
    }

    #[test]
    fn a_map_copy_sees_its_own_settings_over_the_shared_ones() {
        let a = CowMap::new(BTreeMap::from([(1, "a"), (2, "b")]));
        let mut b = a.clone();
        b.insert(2, "B");
        b.insert(3, "C");
        assert_eq!((a.get(&2), a.get(&3)), (Some(&"b"), None));
        assert_eq!(
            (b.get(&1), b.get(&2), b.get(&3)),
            (Some(&"a"), Some(&"B"), Some(&"C"))
        );
        assert!(Rc::ptr_eq(&a.built, &b.built));
    }
}
