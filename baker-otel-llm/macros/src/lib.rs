//! Attribute macros `#[llm_call]` and `#[tool]` for baker-otel-llm. Use them through
//! `baker_otel_llm::{llm_call, tool}`; the generated code only names `::baker_otel_llm` paths.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ItemFn, Lit, MetaNameValue, ReturnType, Token, Type};

const LLM_KEYS: &[&str] = &[
    "model",
    "provider",
    "operation",
    "role",
    "iteration",
    "temperature",
    "max_tokens",
    "top_p",
];
const TOOL_KEYS: &[&str] = &["name", "call_id", "tool_type", "description", "iteration"];
const STRING_KEYS: &[&str] = &[
    "model",
    "provider",
    "operation",
    "role",
    "name",
    "call_id",
    "tool_type",
    "description",
];

/// Traces a function or method as an LLM call: `chat {model}` span (CLIENT), duration, token and
/// cost metrics. Usage is recorded from the return value when it implements
/// `baker_otel_llm::ReportsUsage` (`Result<T, E>` when `T` does); `Err` sets `error.type`
/// (from `ClassifyError`, else the error's type name) and an ERROR status.
///
/// Arguments: `model`, `provider`, `operation`, `role`, `iteration`,
/// `temperature`, `max_tokens`, `top_p` — any expressions, evaluated when the call starts
/// (they may use the function's parameters, e.g. `model = self.model.clone()`). Without
/// `role = …`, `model = …`, `temperature = …` or `max_tokens = …`, each comes from the first
/// named parameter whose type implements `baker_otel_llm::LlmRequest` (and answers; a model
/// nobody names is `_OTHER`). `model` is required when the function has no parameter.
///
/// Content (only when the content policy captures that kind — nothing is serialised
/// otherwise): `gen_ai.input.messages` from that parameter's `LlmRequest::input_messages`,
/// `gen_ai.output.messages` from the return value's `ReportsUsage::output_messages`, both
/// redacted on their parsed JSON. With capture off, an `Err` records its error type only, not
/// its text.
///
/// ```ignore
/// #[llm_call(provider = "anthropic", model = "claude-sonnet-4-5")]
/// async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> { /* … */ }
/// ```
#[proc_macro_attribute]
pub fn llm_call(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into(), Kind::Llm)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Traces a function or method as a tool execution: `execute_tool {name}` span (INTERNAL) and
/// `baker.tool.duration`. `Err` sets `error.type` and an ERROR status.
///
/// When the content policy captures them (and only then are they serialised): the parameters
/// that implement `serde::Serialize` become `gen_ai.tool.call.arguments` (one parameter as
/// itself, several as an object keyed by name; others are skipped), and the `Ok` value (or the
/// return value) that implements `Serialize` becomes `gen_ai.tool.call.result` — both redacted
/// on their parsed JSON.
///
/// Arguments: `name` (required), `call_id`, `tool_type`, `description`
/// (`gen_ai.tool.description`), `iteration`.
///
/// ```ignore
/// #[tool(name = "web_search", description = "Searches the web")]
/// async fn web_search(&self, args: SearchArgs) -> Result<SearchResult, ToolError> { /* … */ }
/// ```
#[proc_macro_attribute]
pub fn tool(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into(), Kind::Tool)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Llm,
    Tool,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Llm => "llm_call",
            Kind::Tool => "tool",
        }
    }
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Llm => LLM_KEYS,
            Kind::Tool => TOOL_KEYS,
        }
    }
    fn required(self) -> &'static str {
        match self {
            Kind::Llm => "model",
            Kind::Tool => "name",
        }
    }
}

fn parse_args(args: TokenStream2, kind: Kind) -> syn::Result<Vec<(syn::Ident, Expr)>> {
    let parsed = Punctuated::<MetaNameValue, Token![,]>::parse_terminated
        .parse2(args)
        .map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "#[{}] expects `key = value` arguments, e.g. #[{}({} = \"...\")]: {e}",
                    kind.attr(),
                    kind.attr(),
                    kind.required()
                ),
            )
        })?;
    let mut out: Vec<(syn::Ident, Expr)> = Vec::new();
    for nv in parsed {
        let ident = nv.path.get_ident().cloned().ok_or_else(|| {
            syn::Error::new(
                nv.path.span(),
                format!("expected one of: {}", kind.keys().join(", ")),
            )
        })?;
        let key = ident.to_string();
        if !kind.keys().contains(&key.as_str()) {
            return Err(syn::Error::new(
                ident.span(),
                format!(
                    "unknown #[{}] argument `{key}`; expected one of: {}",
                    kind.attr(),
                    kind.keys().join(", ")
                ),
            ));
        }
        if out.iter().any(|(k, _)| *k == ident) {
            return Err(syn::Error::new(
                ident.span(),
                format!("duplicate #[{}] argument `{key}`", kind.attr()),
            ));
        }
        if let Expr::Lit(l) = &nv.value {
            let is_str = matches!(l.lit, Lit::Str(_));
            if STRING_KEYS.contains(&key.as_str()) && !is_str {
                return Err(syn::Error::new(
                    l.span(),
                    format!("`{key}` must be a string"),
                ));
            }
            if let Lit::Str(s) = &l.lit {
                if !STRING_KEYS.contains(&key.as_str()) {
                    return Err(syn::Error::new(
                        s.span(),
                        format!("`{key}` must be a number, not a string"),
                    ));
                }
                if s.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        s.span(),
                        format!("`{key}` must not be empty"),
                    ));
                }
            }
        }
        out.push((ident, nv.value));
    }
    let req = kind.required();
    let Some(pos) = out.iter().position(|(k, _)| k == req) else {
        if kind == Kind::Llm {
            // `model` comes from the request (`LlmRequest::model`) — see `llm_request_probes`;
            // `expand` checks that there is a parameter to ask.
            return Ok(out);
        }
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "#[{}] needs `{req} = ...`, e.g. #[{}({req} = \"...\")]",
                kind.attr(),
                kind.attr()
            ),
        ));
    };
    let first = out.remove(pos);
    out.insert(0, first);
    Ok(out)
}

fn contains_impl_trait(ty: &Type) -> bool {
    let s = quote!(#ty).to_string();
    s.split(|c: char| !c.is_alphanumeric() && c != '_')
        .any(|w| w == "impl")
}

fn expand(args: TokenStream2, item: TokenStream2, kind: Kind) -> syn::Result<TokenStream2> {
    let args = parse_args(args, kind)?;
    let func: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "#[{}] can only be applied to a function or method",
                kind.attr()
            ),
        )
    })?;
    if let Some(c) = &func.sig.constness {
        return Err(syn::Error::new(
            c.span(),
            format!("#[{}] cannot be applied to a `const fn`", kind.attr()),
        ));
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    if kind == Kind::Llm && !args.iter().any(|(k, _)| k == "model") && param_idents(&sig).is_empty()
    {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[llm_call] needs `model = ...` (e.g. #[llm_call(model = \"...\")]) or a parameter whose type implements `baker_otel_llm::LlmRequest`",
        ));
    }
    let ret_ty: Option<Type> = match &sig.output {
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => Some((**ty).clone()),
        ReturnType::Default => Some(syn::parse_quote!(())),
        ReturnType::Type(..) => None,
    };
    let span_macro = match kind {
        Kind::Llm => quote!(::baker_otel_llm::llm_span!),
        Kind::Tool => quote!(::baker_otel_llm::tool_span!),
    };
    let mut mac_args = Vec::new();
    for (i, (k, v)) in args.iter().enumerate() {
        if kind == Kind::Tool && i == 0 {
            mac_args.push(quote_spanned!(v.span()=> #v));
        } else {
            mac_args.push(quote_spanned!(v.span()=> #k = #v));
        }
    }
    // No `role = …`: derive it from the first parameter that implements `LlmRequest`.
    let derive_role = kind == Kind::Llm && !args.iter().any(|(k, _)| k == "role");
    let role_probe = derive_role.then(|| {
        let params = param_idents(&sig);
        quote! {
            #[allow(unused_imports)]
            use ::baker_otel_llm::__private::{ViaNoRequest as _, ViaRequest as _};
            let __baker_role: ::baker_otel_llm::__private::core::option::Option<::std::string::String> =
                ::baker_otel_llm::__private::core::option::Option::None
                #(.or_else(|| (&::baker_otel_llm::__private::Probe(&#params)).__baker_role()))*;
        }
    });
    if derive_role {
        mac_args.push(quote!(role = __baker_role));
    }
    let (request_probes, request_args) = match kind {
        Kind::Llm => llm_request_probes(&sig, &args),
        Kind::Tool => (TokenStream2::new(), Vec::new()),
    };
    // `model` first: `llm_span!` takes it as its first argument.
    for a in request_args.into_iter().rev() {
        if a.to_string().starts_with("model") {
            mac_args.insert(0, a);
        } else {
            mac_args.push(a);
        }
    }
    let capture = match kind {
        Kind::Llm => llm_input_capture(&sig),
        Kind::Tool => tool_arguments_capture(&sig),
    };
    let start = quote!(#role_probe #request_probes let __baker_span = #span_macro(#(#mac_args),*); #capture);
    let body = if sig.asyncness.is_some() {
        let fake = ret_ty.as_ref().map(|t| {
            quote! {
                #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
                if false {
                    let __baker_fake: #t = loop {};
                    return __baker_fake;
                }
            }
        });
        let annot = ret_ty.as_ref().map(|t| quote!(: #t));
        quote! {
            #start
            let __baker_ret #annot = __baker_span.instrument(async move { #fake #block }).await;
        }
    } else {
        let annot = ret_ty.as_ref().map(|t| quote!(: #t));
        let closure_ret = ret_ty.as_ref().map(|t| quote!(-> #t));
        quote! {
            #start
            #[allow(clippy::redundant_closure_call)]
            let __baker_ret #annot = __baker_span.in_scope(|| #closure_ret #block);
        }
    };
    let result_capture = (kind == Kind::Tool).then(tool_result_capture);
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
            #result_capture
            ::baker_otel_llm::__baker_outcome!(&__baker_span, &__baker_ret);
            __baker_ret
        }
    })
}

/// The named parameters of `sig` (receivers and destructuring patterns are skipped).
fn param_idents(sig: &syn::Signature) -> Vec<syn::Ident> {
    sig.inputs
        .iter()
        .filter_map(|a| match a {
            syn::FnArg::Typed(t) => match &*t.pat {
                syn::Pat::Ident(p) => Some(p.ident.clone()),
                _ => None,
            },
            syn::FnArg::Receiver(_) => None,
        })
        .collect()
}

// ---- Request plumbing (issue #14): `LlmRequest` model/parameters, content capture. ----

/// `model`, `temperature`, `max_tokens` from the first parameter implementing `LlmRequest` that
/// answers, for each one the attribute does not give. Returns the `let`s and the `llm_span!`
/// arguments (`model = …` first when present).
fn llm_request_probes(
    sig: &syn::Signature,
    args: &[(syn::Ident, Expr)],
) -> (TokenStream2, Vec<TokenStream2>) {
    let given = |k: &str| args.iter().any(|(i, _)| i == k);
    let params = param_idents(sig);
    let mut lets = TokenStream2::new();
    let mut mac = Vec::new();
    let probe = |method: &str| {
        let m = syn::Ident::new(method, Span::call_site());
        let params = params.clone();
        quote! {
            ::baker_otel_llm::__private::core::option::Option::None
                #(.or_else(|| (&::baker_otel_llm::__private::Probe(&#params)).#m()))*
        }
    };
    if !given("model") {
        let p = probe("__baker_model");
        lets.extend(quote! {
            let __baker_model = ::baker_otel_llm::__private::model_or_other(#p);
        });
        mac.push(quote!(model = __baker_model));
    }
    if !given("temperature") {
        let p = probe("__baker_temperature");
        lets.extend(quote! {
            let __baker_temperature: ::baker_otel_llm::__private::core::option::Option<f64> = #p;
        });
        mac.push(quote!(temperature = __baker_temperature));
    }
    if !given("max_tokens") {
        let p = probe("__baker_max_tokens");
        lets.extend(quote! {
            let __baker_max_tokens: ::baker_otel_llm::__private::core::option::Option<u64> = #p;
        });
        mac.push(quote!(max_tokens = __baker_max_tokens));
    }
    let lets = quote! {
        #[allow(unused_imports)]
        use ::baker_otel_llm::__private::{ViaNoRequest as _, ViaRequest as _};
        #lets
    };
    (lets, mac)
}

/// `gen_ai.input.messages` from the first `LlmRequest` parameter that answers — asked only when
/// the content policy captures input.
fn llm_input_capture(sig: &syn::Signature) -> TokenStream2 {
    let params = param_idents(sig);
    quote! {
        if __baker_span.captures(::baker_otel_llm::content::ContentKind::Input) {
            #[allow(unused_imports)]
            use ::baker_otel_llm::__private::{ViaNoRequest as _, ViaRequest as _};
            let __baker_input: ::baker_otel_llm::__private::core::option::Option<::baker_otel_llm::__private::JsonValue> =
                ::baker_otel_llm::__private::core::option::Option::None
                #(.or_else(|| (&::baker_otel_llm::__private::Probe(&#params)).__baker_input_messages()))*;
            if let ::baker_otel_llm::__private::core::option::Option::Some(__m) = __baker_input {
                __baker_span.record_input_messages_json(__m);
            }
        }
    }
}

/// `gen_ai.tool.call.arguments` from the parameters that implement `serde::Serialize` (others
/// are skipped) — serialised only when the content policy captures tool arguments.
fn tool_arguments_capture(sig: &syn::Signature) -> TokenStream2 {
    let params = param_idents(sig);
    let names: Vec<String> = params.iter().map(|p| p.to_string()).collect();
    quote! {
        if __baker_span.captures(::baker_otel_llm::content::ContentKind::ToolArguments) {
            #[allow(unused_imports)]
            use ::baker_otel_llm::__private::{ViaArgJson as _, ViaNoArgJson as _};
            #[allow(unused_mut)]
            let mut __baker_args: ::std::vec::Vec<(&'static str, ::baker_otel_llm::__private::JsonValue)> = ::std::vec::Vec::new();
            #(
                if let ::baker_otel_llm::__private::core::option::Option::Some(__v) =
                    (&::baker_otel_llm::__private::Probe(&#params)).__baker_arg_json()
                {
                    __baker_args.push((#names, __v));
                }
            )*
            ::baker_otel_llm::__private::record_tool_arguments(&__baker_span, __baker_args);
        }
    }
}

/// `gen_ai.tool.call.result` from the `Ok` value (or the return value) when it implements
/// `serde::Serialize` — serialised only when the content policy captures tool results.
fn tool_result_capture() -> TokenStream2 {
    quote! {
        if __baker_span.captures(::baker_otel_llm::content::ContentKind::ToolResults) {
            #[allow(unused_imports)]
            use ::baker_otel_llm::__private::{ViaNoRetJson as _, ViaOkJson as _, ViaRetJson as _};
            if let ::baker_otel_llm::__private::core::option::Option::Some(__v) =
                (&&&::baker_otel_llm::__private::Probe(&__baker_ret)).__baker_result_json()
            {
                __baker_span.record_result_json(__v);
            }
        }
    }
}
