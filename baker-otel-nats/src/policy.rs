//! Subject patterns (NATS wildcards) and the outbound policy built from them: which subjects a
//! publish, request or reply may carry trace context and baggage to, and which publishers are
//! untrusted. Configured on [`NatsTelemetry`](crate::NatsTelemetry).

use baker_otel::propagation::Field;

/// A list of NATS subject patterns: `*` matches one token, a final `>` one or more tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SubjectSet(Vec<Box<str>>);

impl SubjectSet {
    /// Every subject (`>`).
    pub(crate) fn all() -> Self {
        Self(vec![">".into()])
    }

    /// The subjects matching any of `patterns`.
    pub(crate) fn of<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(
            patterns
                .into_iter()
                .map(|p| p.into().into_boxed_str())
                .collect(),
        )
    }

    /// Whether `subject` matches one of the patterns.
    pub(crate) fn covers(&self, subject: &str) -> bool {
        self.0.iter().any(|p| subject_matches(p, subject))
    }
}

/// NATS subject matching: `*` matches one token, a final `>` one or more tokens.
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Where a send goes: the subject, and whether it answers a request that arrived on an
/// untrusted subject (whose publisher chose the reply subject).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Destination<'a> {
    pub(crate) subject: &'a str,
    pub(crate) reply_to_untrusted: bool,
}

impl<'a> Destination<'a> {
    /// A publish or request to `subject` (not a reply to an untrusted request).
    pub(crate) fn publish(subject: &'a str) -> Self {
        Self {
            subject,
            reply_to_untrusted: false,
        }
    }
}

/// The outbound side: subjects that get trace context, subjects that get baggage (both
/// default to every subject), and the untrusted subjects, which never get baggage.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub(crate) trace_context: SubjectSet,
    pub(crate) baggage: SubjectSet,
}

impl Default for Outbound {
    fn default() -> Self {
        Self {
            trace_context: SubjectSet::all(),
            baggage: SubjectSet::all(),
        }
    }
}

impl Outbound {
    /// Whether `field` may go to `to`, given the `untrusted` subjects.
    pub(crate) fn allows(&self, untrusted: &SubjectSet, field: Field, to: Destination<'_>) -> bool {
        match field {
            Field::Baggage => {
                !to.reply_to_untrusted
                    && !untrusted.covers(to.subject)
                    && self.baggage.covers(to.subject)
            }
            Field::TraceParent | Field::TraceState => self.trace_context.covers(to.subject),
            // A field this crate does not know of yet: refused.
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_patterns_follow_nats_wildcards() {
        for (p, s, m) in [
            (">", "a", true),
            (">", "a.b.c", true),
            ("ext.>", "ext.a.b", true),
            ("ext.>", "ext", false),
            ("ext.*", "ext.a", true),
            ("ext.*", "ext.a.b", false),
            ("*.jobs", "x.jobs", true),
            ("a.b", "a.b", true),
            ("a.b", "a.bc", false),
            ("a", "a.b", false),
            ("", "a", false),
        ] {
            assert_eq!(subject_matches(p, s), m, "{p} ~ {s}");
        }
    }

    #[test]
    fn baggage_never_goes_to_untrusted_subjects_or_their_requesters() {
        let untrusted = SubjectSet::of(["ext.>"]);
        let to = |subject, reply_to_untrusted| Destination {
            subject,
            reply_to_untrusted,
        };
        let default = Outbound::default();
        assert!(default.allows(&untrusted, Field::Baggage, to("jobs.a", false)));
        assert!(!default.allows(&untrusted, Field::Baggage, to("ext.a", false)));
        assert!(!default.allows(&untrusted, Field::Baggage, to("_INBOX.x", true)));
        assert!(default.allows(&untrusted, Field::TraceParent, to("_INBOX.x", true)));
        // An explicit pattern covering an untrusted subject does not override it.
        let wide = Outbound {
            baggage: SubjectSet::of([">"]),
            trace_context: SubjectSet::of(["jobs.>"]),
        };
        assert!(!wide.allows(&untrusted, Field::Baggage, to("ext.a", false)));
        assert!(!wide.allows(&untrusted, Field::TraceState, to("ext.a", false)));
        assert!(wide.allows(&untrusted, Field::TraceState, to("jobs.a", false)));
    }
}
