//! Per-route state: the route template, span names and metric attribute sets, built on the
//! route's first request and reused by the following ones.
//!
//! axum applies a layer to a handler lazily, each time the router is given its state (once
//! per connection under `axum::serve`, once per call for a bare `Router` used as a service),
//! so [`OtelService`](crate::OtelService) instances come and go. The states therefore live in
//! a [`RouteRegistry`] owned by the layer, and each service instance only keeps a pointer to
//! its route's state, resolved on its first request.

use crate::intern::intern_span_name;
use crate::metrics::AttrCache;
use crate::request::{METHODS, OTHER_METHOD};
use opentelemetry::StringValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// Most routes a layer keeps state for; requests of further routes are served uncached.
const MAX_ROUTES: usize = 1024;

/// The states of the routes of one layer (and of requests without a route).
#[derive(Debug, Default)]
pub(crate) struct RouteRegistry {
    routes: RwLock<HashMap<Arc<str>, Arc<RouteState>>>,
    /// Requests without a `MatchedPath` (router fallback, layer outside the router).
    pub(crate) unrouted: RouteState,
}

impl RouteRegistry {
    /// The state of `route`, created on first use; `None` once [`MAX_ROUTES`] routes exist.
    pub(crate) fn get(&self, route: &str) -> Option<Arc<RouteState>> {
        let read = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(st) = read.get(route) {
            return Some(st.clone());
        }
        drop(read);
        let mut write = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(st) = write.get(route) {
            return Some(st.clone());
        }
        if write.len() >= MAX_ROUTES {
            return None;
        }
        let route: Arc<str> = Arc::from(route);
        let st = Arc::new(RouteState::new(Some(route.clone())));
        write.insert(route, st.clone());
        Some(st)
    }
}

#[derive(Debug)]
pub(crate) struct RouteState {
    /// The route template (`None`: requests without a route), as the `http.route` value of
    /// spans and metrics (the registry's key, shared by reference count).
    route: Option<StringValue>,
    /// `{METHOD} {route}` per method slot, interned on first use.
    names: [OnceLock<&'static str>; METHODS.len()],
    /// `http.server.request.duration` attribute sets of this route.
    pub(crate) attrs: AttrCache,
}

/// The span name's method part: the method, or `HTTP` for extension methods (semconv).
#[inline]
fn name_prefix(method: usize) -> &'static str {
    if method == OTHER_METHOD {
        "HTTP"
    } else {
        METHODS[method]
    }
}

/// `{METHOD} {route}` formatted per request (routes beyond the registry's capacity).
pub(crate) fn span_name(method: usize, route: Option<&str>) -> Cow<'static, str> {
    match route {
        Some(r) => Cow::Owned(format_name(method, r)),
        None => Cow::Borrowed(name_prefix(method)),
    }
}

fn format_name(method: usize, route: &str) -> String {
    let prefix = name_prefix(method);
    let mut s = String::with_capacity(prefix.len() + 1 + route.len());
    s.push_str(prefix);
    s.push(' ');
    s.push_str(route);
    s
}

impl Default for RouteState {
    fn default() -> Self {
        Self::new(None)
    }
}

impl RouteState {
    pub(crate) fn new(route: Option<Arc<str>>) -> Self {
        Self {
            route: route.map(StringValue::from),
            names: [const { OnceLock::new() }; METHODS.len()],
            attrs: AttrCache::default(),
        }
    }

    /// The route template, as the `http.route` value.
    #[inline]
    pub(crate) fn route(&self) -> Option<&StringValue> {
        self.route.as_ref()
    }

    /// `{METHOD} {route}` of this state's route (`{METHOD}` alone without a route), interned
    /// once per method.
    pub(crate) fn span_name(&self, method: usize) -> Cow<'static, str> {
        let Some(route) = self.route.as_ref().map(StringValue::as_str) else {
            return Cow::Borrowed(name_prefix(method));
        };
        let slot = &self.names[method];
        if let Some(name) = slot.get() {
            return Cow::Borrowed(name);
        }
        match intern_span_name(&format_name(method, route)) {
            Some(name) => Cow::Borrowed(slot.get_or_init(|| name)),
            None => Cow::Owned(format_name(method, route)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let reg = RouteRegistry::default();
        let st = reg.get("/users/{id}").unwrap();
        assert!(Arc::ptr_eq(&st, &reg.get("/users/{id}").unwrap()));
        assert_eq!(st.route().map(StringValue::as_str), Some("/users/{id}"));
        let v = st.route().unwrap();
        assert_eq!(v.as_str(), "/users/{id}");
        assert!(
            std::ptr::eq(v.as_str(), v.clone().as_str()),
            "shared, not copied"
        );
        let n = st.span_name(0);
        assert_eq!(n, "GET /users/{id}");
        assert!(matches!(n, Cow::Borrowed(_)));
        assert_eq!(st.span_name(OTHER_METHOD), "HTTP /users/{id}");
        assert_eq!(reg.unrouted.span_name(OTHER_METHOD), "HTTP");
        assert_eq!(reg.unrouted.span_name(1), "POST");
        assert_eq!(span_name(1, Some("/other")), "POST /other");
        assert_eq!(span_name(0, None), "GET");
    }

    #[test]
    fn registry_is_bounded() {
        let reg = RouteRegistry::default();
        for i in 0..MAX_ROUTES {
            assert!(reg.get(&format!("/r{i}")).is_some());
        }
        assert!(reg.get("/one-too-many").is_none());
        assert!(reg.get("/r0").is_some(), "known routes stay cached");
    }
}
