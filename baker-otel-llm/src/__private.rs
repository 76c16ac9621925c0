//! Support for the macros. Not public API: may change in any release.
#![allow(missing_docs, missing_debug_implementations)]

pub use ::core;
pub use ::opentelemetry::StringValue;
pub use ::serde_json::Value as JsonValue;
pub use ::tracing;
pub use ::tracing::Instrument;

pub use crate::args::{AgentArgs, Dynamic, LlmArgs, NameKind, Static, ToolArgs};
pub use crate::spans::outcome::{DynReports, Outcome};
use crate::usage::{short_type_name, ClassifyError, ReportsUsage};

/// Starts the handle of a span the macros created.
#[inline]
pub fn start_llm(span: tracing::Span, a: LlmArgs) -> crate::LlmSpan {
    crate::LlmSpan::start(span, a)
}
#[inline]
pub fn start_tool(span: tracing::Span, a: ToolArgs) -> crate::ToolSpan {
    crate::ToolSpan::start(span, a)
}
#[inline]
pub fn start_agent(span: tracing::Span, name: StringValue) -> crate::AgentSpan {
    crate::AgentSpan::start(span, name)
}
#[inline]
pub fn start_iteration(span: tracing::Span, n: i64) -> crate::IterationSpan {
    crate::IterationSpan::start(span, n)
}
#[inline]
pub fn start_memory(
    span: tracing::Span,
    store: StringValue,
    op: &'static str,
) -> crate::MemorySpan {
    crate::MemorySpan::start(span, store, op)
}

/// Conversion of a macro argument into its slot type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid value for this baker-otel-llm macro argument",
    label = "expected a string (&'static str, String, &String, Arc<str>) for names, an integer for counts, a float for sampling parameters",
    note = "borrowed non-'static strings need `.to_owned()`"
)]
pub trait IntoArg<T> {
    fn into_arg(self) -> T;
}

#[inline]
pub fn arg<T: IntoArg<U>, U>(v: T) -> U {
    v.into_arg()
}

macro_rules! str_args {
    ($($t:ty => |$v:ident| $e:expr;)*) => {$(
        impl IntoArg<StringValue> for $t {
            #[inline]
            fn into_arg(self) -> StringValue { let $v = self; $e }
        }
        impl IntoArg<Option<StringValue>> for $t {
            #[inline]
            fn into_arg(self) -> Option<StringValue> { let $v = self; Some($e) }
        }
        impl IntoArg<Option<StringValue>> for Option<$t> {
            #[inline]
            fn into_arg(self) -> Option<StringValue> { self.map(|$v| $e) }
        }
    )*};
}
str_args! {
    &'static str => |v| StringValue::from(v);
    String => |v| StringValue::from(v);
    &String => |v| StringValue::from(v.clone());
    std::sync::Arc<str> => |v| StringValue::from(v);
    std::borrow::Cow<'static, str> => |v| StringValue::from(v);
    StringValue => |v| v;
}

macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl IntoArg<Option<i64>> for $t {
            #[inline]
            fn into_arg(self) -> Option<i64> { Some(i64::try_from(self).unwrap_or(i64::MAX)) }
        }
        impl IntoArg<Option<i64>> for Option<$t> {
            #[inline]
            fn into_arg(self) -> Option<i64> { self.map(|v| i64::try_from(v).unwrap_or(i64::MAX)) }
        }
    )*};
}
int_args!(i64, i32, i16, i8, u64, u32, u16, u8, usize, isize);

impl IntoArg<Option<f64>> for f64 {
    #[inline]
    fn into_arg(self) -> Option<f64> {
        Some(self)
    }
}
impl IntoArg<Option<f64>> for f32 {
    #[inline]
    fn into_arg(self) -> Option<f64> {
        Some(f64::from(self))
    }
}
impl IntoArg<Option<f64>> for Option<f64> {
    #[inline]
    fn into_arg(self) -> Option<f64> {
        self
    }
}

/// Formats a dynamic name (memory spans).
#[inline]
pub fn dyn_name<K: NameKind>(_k: K, prefix: &str, name: &str) -> Option<String> {
    K::DYNAMIC.then(|| format!("{prefix} {name}"))
}

/// Autoref-specialization probe around a return value.
pub struct Probe<'a, T: ?Sized>(pub &'a T);

// --- request role/model/parameters/messages: Probe<T: LlmRequest> beats &Probe<T> ---
pub trait ViaRequest {
    fn __baker_role(&self) -> Option<String>;
    fn __baker_model(&self) -> Option<String>;
    fn __baker_temperature(&self) -> Option<f64>;
    fn __baker_max_tokens(&self) -> Option<u64>;
    fn __baker_input_messages(&self) -> Option<serde_json::Value>;
}
impl<T: crate::LlmRequest + ?Sized> ViaRequest for Probe<'_, T> {
    #[inline]
    fn __baker_role(&self) -> Option<String> {
        self.0.role().map(str::to_owned)
    }
    #[inline]
    fn __baker_model(&self) -> Option<String> {
        self.0.model().map(str::to_owned)
    }
    #[inline]
    fn __baker_temperature(&self) -> Option<f64> {
        self.0.temperature()
    }
    #[inline]
    fn __baker_max_tokens(&self) -> Option<u64> {
        self.0.max_tokens()
    }
    #[inline]
    fn __baker_input_messages(&self) -> Option<serde_json::Value> {
        self.0.input_messages()
    }
}
pub trait ViaNoRequest {
    fn __baker_role(&self) -> Option<String>;
    fn __baker_model(&self) -> Option<String>;
    fn __baker_temperature(&self) -> Option<f64>;
    fn __baker_max_tokens(&self) -> Option<u64>;
    fn __baker_input_messages(&self) -> Option<serde_json::Value>;
}
impl<T: ?Sized> ViaNoRequest for &Probe<'_, T> {
    #[inline]
    fn __baker_role(&self) -> Option<String> {
        None
    }
    #[inline]
    fn __baker_model(&self) -> Option<String> {
        None
    }
    #[inline]
    fn __baker_temperature(&self) -> Option<f64> {
        None
    }
    #[inline]
    fn __baker_max_tokens(&self) -> Option<u64> {
        None
    }
    #[inline]
    fn __baker_input_messages(&self) -> Option<serde_json::Value> {
        None
    }
}

/// `gen_ai.request.model` of an `#[llm_call]` without `model = …`: from the request, else
/// `_OTHER`.
#[inline]
pub fn model_or_other(model: Option<String>) -> StringValue {
    model.map_or(
        StringValue::from(crate::usage::OTHER_ERROR),
        StringValue::from,
    )
}

/// Whether the current hub's content policy captures `kind` (checked before serialising).
#[inline]
pub fn captures(kind: crate::content::ContentKind) -> bool {
    crate::telemetry::shared().capture.enabled(kind)
}

// --- tool arguments: Probe<T: Serialize> beats &Probe<T> ---
pub trait ViaArgJson {
    fn __baker_arg_json(&self) -> Option<serde_json::Value>;
}
impl<T: serde::Serialize + ?Sized> ViaArgJson for Probe<'_, T> {
    #[inline]
    fn __baker_arg_json(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self.0).ok()
    }
}
pub trait ViaNoArgJson {
    fn __baker_arg_json(&self) -> Option<serde_json::Value>;
}
impl<T: ?Sized> ViaNoArgJson for &Probe<'_, T> {
    #[inline]
    fn __baker_arg_json(&self) -> Option<serde_json::Value> {
        None
    }
}

/// Records the serialisable arguments of a `#[tool]` function: one argument as itself, several
/// as an object keyed by parameter name.
pub fn record_tool_arguments(
    span: &crate::ToolSpan,
    mut args: Vec<(&'static str, serde_json::Value)>,
) {
    let value = match args.len() {
        0 => return,
        1 => args.pop().map(|(_, v)| v).unwrap_or_default(),
        _ => serde_json::Value::Object(args.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
    };
    span.record_arguments_json(value);
}

// --- tool result: Ok(T: Serialize) > T: Serialize > nothing; call on `&&&Probe` ---
pub trait ViaOkJson {
    fn __baker_result_json(&self) -> Option<serde_json::Value>;
}
impl<T: serde::Serialize, E> ViaOkJson for &&Probe<'_, Result<T, E>> {
    #[inline]
    fn __baker_result_json(&self) -> Option<serde_json::Value> {
        self.0
            .as_ref()
            .ok()
            .and_then(|v| serde_json::to_value(v).ok())
    }
}
pub trait ViaRetJson {
    fn __baker_result_json(&self) -> Option<serde_json::Value>;
}
impl<T: serde::Serialize + ?Sized> ViaRetJson for &Probe<'_, T> {
    #[inline]
    fn __baker_result_json(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self.0).ok()
    }
}
pub trait ViaNoRetJson {
    fn __baker_result_json(&self) -> Option<serde_json::Value>;
}
impl<T: ?Sized> ViaNoRetJson for Probe<'_, T> {
    #[inline]
    fn __baker_result_json(&self) -> Option<serde_json::Value> {
        None
    }
}

// --- usage: Probe<T: ReportsUsage> beats &Probe<T> ---
pub trait ViaReports {
    fn __baker_report(&self, s: &dyn Outcome);
}
impl<T: ReportsUsage> ViaReports for Probe<'_, T> {
    #[inline]
    fn __baker_report(&self, s: &dyn Outcome) {
        s.report(self.0)
    }
}
pub trait ViaNoReports {
    fn __baker_report(&self, s: &dyn Outcome);
}
impl<T: ?Sized> ViaNoReports for &Probe<'_, T> {
    #[inline]
    fn __baker_report(&self, _s: &dyn Outcome) {}
}

// --- error type: ClassifyError > type name > not a Result; call on `&&&Probe` ---
pub trait ViaClassified {
    fn __baker_error_type(&self) -> Option<&str>;
}
impl<T, E: ClassifyError> ViaClassified for &&Probe<'_, Result<T, E>> {
    #[inline]
    fn __baker_error_type(&self) -> Option<&str> {
        self.0.as_ref().err().map(|e| {
            let t = e.error_type();
            if t.is_empty() {
                crate::usage::OTHER_ERROR
            } else {
                t
            }
        })
    }
}
pub trait ViaResult {
    fn __baker_error_type(&self) -> Option<&str>;
}
impl<T, E> ViaResult for &Probe<'_, Result<T, E>> {
    #[inline]
    fn __baker_error_type(&self) -> Option<&str> {
        self.0.as_ref().err().map(|_| short_type_name::<E>())
    }
}
pub trait ViaPlain {
    fn __baker_error_type(&self) -> Option<&str>;
}
impl<T: ?Sized> ViaPlain for Probe<'_, T> {
    #[inline]
    fn __baker_error_type(&self) -> Option<&str> {
        None
    }
}

// --- error description: Display > nothing ---
pub trait ViaDisplay {
    fn __baker_error_text(&self) -> Option<String>;
}
impl<T, E: std::fmt::Display> ViaDisplay for Probe<'_, Result<T, E>> {
    #[inline]
    fn __baker_error_text(&self) -> Option<String> {
        self.0.as_ref().err().map(ToString::to_string)
    }
}
pub trait ViaNoDisplay {
    fn __baker_error_text(&self) -> Option<String>;
}
impl<T: ?Sized> ViaNoDisplay for &Probe<'_, T> {
    #[inline]
    fn __baker_error_text(&self) -> Option<String> {
        None
    }
}
