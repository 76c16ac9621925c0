//! Span names as `&'static str`: `{METHOD} {route template}`, interned once per route and
//! method in a bounded, process-wide table, so that a request's span name is a pointer copy
//! instead of a `String` allocated per request (the SDK's span name is a `Cow<'static, str>`,
//! so a shared, reference-counted name is not an option).
//!
//! Only names built from the application's own routes are interned: route templates come from
//! the router (`MatchedPath`) and the method part from a fixed set (extension methods are all
//! named `HTTP`), never from text a client chooses. What the table costs and saves is in the
//! axum bench's docs.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// Most span names ever interned by the process (bounded leak; beyond it names are formatted
/// per request). Up to 10 names per route template.
const MAX_INTERNED: usize = 4096;

/// Longest span name interned; a longer one is formatted per request. With [`MAX_INTERNED`],
/// the leak stays under 1 MiB (typically a few KiB: names are short).
const MAX_INTERNED_LEN: usize = 256;

static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// The span name `name` as a `&'static str`, shared by every layer of the process, or `None`
/// once [`MAX_INTERNED`] names exist or when `name` is longer than [`MAX_INTERNED_LEN`]. Called
/// once per route and method of a layer (`RouteState::span_name`), never per request.
pub(crate) fn intern_span_name(name: &str) -> Option<&'static str> {
    if name.len() > MAX_INTERNED_LEN {
        return None;
    }
    let mut guard = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let set = guard.get_or_insert_with(HashSet::new);
    if let Some(s) = set.get(name) {
        return Some(s);
    }
    if set.len() >= MAX_INTERNED {
        return None;
    }
    let s: &'static str = Box::leak(name.into());
    set.insert(s);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deduplicated() {
        let a = intern_span_name("GET /a/{id}").unwrap();
        let b = intern_span_name("GET /a/{id}").unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "GET /a/{id}");
    }

    #[test]
    fn long_names_are_not_interned() {
        let long = format!("GET /{}", "x".repeat(MAX_INTERNED_LEN));
        assert_eq!(intern_span_name(&long), None);
    }
}
