//! Interned strings: a `'static` copy of each distinct value, kept for the
//! process. For the few names a configuration or a data file brings and
//! every row then borrows (site domains, mail-network operators): loading
//! the same configuration again (tests, a reload) adds nothing, where
//! leaking a fresh copy per load would grow without bound.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

static SEEN: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);

/// `s` as a `'static` string, stored once per distinct value.
pub fn intern(s: &str) -> &'static str {
    let mut seen = super::sync::lock(&SEEN);
    if let Some(v) = seen.get(s) {
        return v;
    }
    let v: &'static str = Box::leak(s.to_string().into_boxed_str());
    seen.insert(v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_value() {
        let a = intern(&String::from("example.com"));
        let b = intern(&String::from("example.com"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(intern("other.example"), "other.example");
    }
}
