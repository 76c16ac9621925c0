//! Declarative macros: `llm_span!`, `embeddings_span!`, `tool_span!`, `agent_span!`,
//! `iteration_span!`, `memory_span!`.
//!
//! Arguments are `key = value` pairs. An unknown key is a compile error naming it ("struct has
//! no field named …"); a value of the wrong type is a compile error on the value. When the model
//! (tool, agent, store) name is a literal the span name is a `'static` string built at compile
//! time; otherwise it is recorded in `otel.name`.

/// Starts an LLM call span `chat {model}` (CLIENT) and returns an [`LlmSpan`](crate::LlmSpan).
///
/// `model = …` must come first. Optional: `provider` (default from the builder),
/// `operation` (`chat`; e.g. `text_completion`), `role` (`baker.llm.role`), `iteration`
/// (default: the enclosing iteration span's), `temperature`, `max_tokens`, `top_p`.
///
/// ```
/// use baker_otel_llm::{llm_span, Usage};
/// let model = String::from("gpt-4o");
/// let span = llm_span!(model = model, provider = "openai", role = "assistant", iteration = 2, temperature = 0.2);
/// span.record_usage(Usage { input_tokens: 10, output_tokens: 3, ..Default::default() });
/// ```
#[macro_export]
macro_rules! llm_span {
    (model = $model:literal $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::__llm_span_impl!($crate::__private::core::concat!("chat ", $model), Static, "chat", model = $model $(, $k = $v)*)
    };
    (model = $model:expr $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::__llm_span_impl!("chat", Dynamic, "chat", model = $model $(, $k = $v)*)
    };
    ($($t:tt)*) => {
        $crate::__private::core::compile_error!("llm_span! expects `model = ...` first, then `key = value` pairs (provider, operation, role, iteration, temperature, max_tokens, top_p)")
    };
}

/// Starts an embeddings span `embeddings {model}` (CLIENT); same arguments as [`llm_span!`].
///
/// ```
/// let span = baker_otel_llm::embeddings_span!(model = "text-embedding-3-small", provider = "openai");
/// span.record_usage(baker_otel_llm::Usage { input_tokens: 42, ..Default::default() });
/// ```
#[macro_export]
macro_rules! embeddings_span {
    (model = $model:literal $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::__llm_span_impl!($crate::__private::core::concat!("embeddings ", $model), Static, "embeddings", model = $model $(, $k = $v)*)
    };
    (model = $model:expr $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::__llm_span_impl!("embeddings", Dynamic, "embeddings", model = $model $(, $k = $v)*)
    };
    ($($t:tt)*) => {
        $crate::__private::core::compile_error!("embeddings_span! expects `model = ...` first, then `key = value` pairs")
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __llm_span_impl {
    ($name:expr, $kind:ident, $op:literal, $($k:ident = $v:expr),*) => {{
        let mut __a = $crate::__private::LlmArgs {
            $($k: $crate::__private::arg($v),)*
            ..$crate::__private::LlmArgs::defaults()
        };
        let __otel_name = __a.prepare($crate::__private::$kind, $op);
        let __span = $crate::__private::tracing::span!(
            target: "baker_otel_llm",
            $crate::__private::tracing::Level::INFO,
            $name,
            otel.name = __otel_name.as_deref(),
            otel.kind = "client",
            otel.status_code = $crate::__private::tracing::field::Empty,
            otel.status_description = $crate::__private::tracing::field::Empty,
            gen_ai.operation.name = __a.operation_str(),
            gen_ai.provider.name = __a.provider_str(),
            gen_ai.request.model = __a.model.as_str(),
            gen_ai.request.temperature = __a.temperature,
            gen_ai.request.max_tokens = __a.max_tokens,
            gen_ai.request.top_p = __a.top_p,
            baker.llm.role = __a.role_str(),
            baker.agent.iteration = __a.iteration,
            // Found by position (LlmSpan's `USAGE_FIELDS`, from index 12): keep the order, or
            // update it there too (a unit test checks). Rarer attributes (response id/model,
            // cache/reasoning tokens, time to first chunk, cancelled, content) are set on the
            // OpenTelemetry span directly: fewer declared fields keep the span layer's
            // per-span attribute buffer small.
            gen_ai.usage.input_tokens = $crate::__private::tracing::field::Empty,
            gen_ai.usage.output_tokens = $crate::__private::tracing::field::Empty,
            gen_ai.usage.cost.amount = $crate::__private::tracing::field::Empty,
            gen_ai.usage.cost.currency = $crate::__private::tracing::field::Empty,
            error.type = $crate::__private::tracing::field::Empty,
        );
        $crate::__private::start_llm(__span, __a)
    }};
}

/// Starts a tool span `execute_tool {name}` (INTERNAL) and returns a [`ToolSpan`](crate::ToolSpan).
///
/// Optional: `call_id` (`gen_ai.tool.call.id`), `tool_type` (`function`, `extension`,
/// `datastore`), `description` (`gen_ai.tool.description`), `iteration` (default: the
/// enclosing iteration span's).
///
/// ```
/// let t = baker_otel_llm::tool_span!(
///     "web_search",
///     call_id = "call_1",
///     tool_type = "function",
///     description = "Searches the web",
/// );
/// t.end();
/// ```
#[macro_export]
macro_rules! tool_span {
    ($name:literal $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::__tool_span_impl!($crate::__private::core::concat!("execute_tool ", $name), Static, $name $(, $k = $v)*)
    };
    ($name:expr $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::__tool_span_impl!("execute_tool", Dynamic, $name $(, $k = $v)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tool_span_impl {
    ($span_name:expr, $kind:ident, $name:expr $(, $k:ident = $v:expr)*) => {{
        let __a = $crate::__private::ToolArgs {
            name: $crate::__private::arg($name),
            $($k: $crate::__private::arg($v),)*
            ..$crate::__private::ToolArgs::defaults()
        };
        let __otel_name = __a.otel_name($crate::__private::$kind);
        let __span = $crate::__private::tracing::span!(
            target: "baker_otel_llm",
            $crate::__private::tracing::Level::INFO,
            $span_name,
            otel.name = __otel_name.as_deref(),
            otel.kind = "internal",
            otel.status_code = $crate::__private::tracing::field::Empty,
            otel.status_description = $crate::__private::tracing::field::Empty,
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = __a.name.as_str(),
            gen_ai.tool.call.id = __a.call_id_str(),
            "gen_ai.tool.type" = __a.type_str(),
            gen_ai.tool.description = __a.description_str(),
            baker.agent.iteration = __a.iteration,
            gen_ai.tool.call.arguments = $crate::__private::tracing::field::Empty,
            gen_ai.tool.call.result = $crate::__private::tracing::field::Empty,
            error.type = $crate::__private::tracing::field::Empty,
        );
        $crate::__private::start_tool(__span, __a)
    }};
}

/// Starts an agent span `invoke_agent {name}` (INTERNAL) and returns an
/// [`AgentSpan`](crate::AgentSpan) that totals the tokens and cost below it.
///
/// Optional: `id` (`gen_ai.agent.id`), `provider`.
///
/// ```
/// let agent = baker_otel_llm::agent_span!("planner", id = "agent-1");
/// agent.in_scope(|| { /* iterations, LLM calls, tools */ });
/// ```
#[macro_export]
macro_rules! agent_span {
    ($name:literal $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::__agent_span_impl!($crate::__private::core::concat!("invoke_agent ", $name), Static, $name $(, $k = $v)*)
    };
    ($name:expr $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::__agent_span_impl!("invoke_agent", Dynamic, $name $(, $k = $v)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __agent_span_impl {
    ($span_name:expr, $kind:ident, $name:expr $(, $k:ident = $v:expr)*) => {{
        let __a = $crate::__private::AgentArgs {
            name: $crate::__private::arg($name),
            $($k: $crate::__private::arg($v),)*
            ..$crate::__private::AgentArgs::defaults()
        };
        let __otel_name = __a.otel_name($crate::__private::$kind);
        let __span = $crate::__private::tracing::span!(
            target: "baker_otel_llm",
            $crate::__private::tracing::Level::INFO,
            $span_name,
            otel.name = __otel_name.as_deref(),
            otel.kind = "internal",
            otel.status_code = $crate::__private::tracing::field::Empty,
            otel.status_description = $crate::__private::tracing::field::Empty,
            gen_ai.operation.name = "invoke_agent",
            gen_ai.agent.name = __a.name.as_str(),
            gen_ai.agent.id = __a.id.as_ref().map(|v| v.as_str()),
            gen_ai.provider.name = __a.provider.as_ref().map(|v| v.as_str()),
            gen_ai.usage.input_tokens = $crate::__private::tracing::field::Empty,
            gen_ai.usage.output_tokens = $crate::__private::tracing::field::Empty,
            gen_ai.usage.cost.amount = $crate::__private::tracing::field::Empty,
            gen_ai.usage.cost.currency = $crate::__private::tracing::field::Empty,
            baker.llm.calls = $crate::__private::tracing::field::Empty,
            baker.llm.unpriced_calls = $crate::__private::tracing::field::Empty,
            error.type = $crate::__private::tracing::field::Empty,
        );
        $crate::__private::start_agent(__span, __a.name)
    }};
}

/// Starts an iteration span `baker.agent.iteration` (INTERNAL) for reasoning step `n` and
/// returns an [`IterationSpan`](crate::IterationSpan).
///
/// ```
/// let it = baker_otel_llm::iteration_span!(3);
/// it.end();
/// ```
#[macro_export]
macro_rules! iteration_span {
    ($n:expr $(,)?) => {{
        let __n: $crate::__private::core::option::Option<i64> = $crate::__private::arg($n);
        let __n = __n.unwrap_or(0);
        let __span = $crate::__private::tracing::span!(
            target: "baker_otel_llm",
            $crate::__private::tracing::Level::INFO,
            "baker.agent.iteration",
            otel.kind = "internal",
            baker.agent.iteration = __n,
            gen_ai.agent.name = $crate::__private::tracing::field::Empty,
            gen_ai.usage.input_tokens = $crate::__private::tracing::field::Empty,
            gen_ai.usage.output_tokens = $crate::__private::tracing::field::Empty,
            gen_ai.usage.cost.amount = $crate::__private::tracing::field::Empty,
            gen_ai.usage.cost.currency = $crate::__private::tracing::field::Empty,
            baker.llm.calls = $crate::__private::tracing::field::Empty,
            baker.llm.unpriced_calls = $crate::__private::tracing::field::Empty,
        );
        $crate::__private::start_iteration(__span, __n)
    }};
}

/// Starts a memory-store span and returns a [`MemorySpan`](crate::MemorySpan), named
/// `{gen_ai.operation.name} {store}` as the GenAI memory conventions say:
///
/// | first argument | `gen_ai.operation.name` / span name | `baker.memory.operation` (metric label) |
/// |---|---|---|
/// | `search` | `search_memory` | `search` |
/// | `insert` | `create_memory` | `insert` |
/// | `update` | `update_memory` | `update` |
/// | `upsert` | `upsert_memory` | `upsert` |
/// | `delete` | `delete_memory` | `delete` |
/// | `create_store` | `create_memory_store` | `create_store` |
/// | `delete_store` | `delete_memory_store` | `delete_store` |
///
/// The span carries `gen_ai.memory.store.id` = `store`; the record count, record id and (under
/// the content-capture opt-in) the query text and records are set through the returned handle.
///
/// ```
/// let m = baker_otel_llm::memory_span!(delete, "notes");
/// m.record_record_id("note-7");
/// m.record_result_count(1);
/// ```
#[macro_export]
macro_rules! memory_span {
    (search, $store:literal) => {
        $crate::__memory_span_impl!(
            $crate::__private::core::concat!("search_memory ", $store),
            Static,
            "search_memory",
            "search",
            $store
        )
    };
    (insert, $store:literal) => {
        $crate::__memory_span_impl!(
            $crate::__private::core::concat!("create_memory ", $store),
            Static,
            "create_memory",
            "insert",
            $store
        )
    };
    (update, $store:literal) => {
        $crate::__memory_span_impl!(
            $crate::__private::core::concat!("update_memory ", $store),
            Static,
            "update_memory",
            "update",
            $store
        )
    };
    (upsert, $store:literal) => {
        $crate::__memory_span_impl!(
            $crate::__private::core::concat!("upsert_memory ", $store),
            Static,
            "upsert_memory",
            "upsert",
            $store
        )
    };
    (delete, $store:literal) => {
        $crate::__memory_span_impl!(
            $crate::__private::core::concat!("delete_memory ", $store),
            Static,
            "delete_memory",
            "delete",
            $store
        )
    };
    (create_store, $store:literal) => {
        $crate::__memory_span_impl!(
            $crate::__private::core::concat!("create_memory_store ", $store),
            Static,
            "create_memory_store",
            "create_store",
            $store
        )
    };
    (delete_store, $store:literal) => {
        $crate::__memory_span_impl!(
            $crate::__private::core::concat!("delete_memory_store ", $store),
            Static,
            "delete_memory_store",
            "delete_store",
            $store
        )
    };
    (search, $store:expr) => {
        $crate::__memory_span_impl!("search_memory", Dynamic, "search_memory", "search", $store)
    };
    (insert, $store:expr) => {
        $crate::__memory_span_impl!("create_memory", Dynamic, "create_memory", "insert", $store)
    };
    (update, $store:expr) => {
        $crate::__memory_span_impl!("update_memory", Dynamic, "update_memory", "update", $store)
    };
    (upsert, $store:expr) => {
        $crate::__memory_span_impl!("upsert_memory", Dynamic, "upsert_memory", "upsert", $store)
    };
    (delete, $store:expr) => {
        $crate::__memory_span_impl!("delete_memory", Dynamic, "delete_memory", "delete", $store)
    };
    (create_store, $store:expr) => {
        $crate::__memory_span_impl!("create_memory_store", Dynamic, "create_memory_store", "create_store", $store)
    };
    (delete_store, $store:expr) => {
        $crate::__memory_span_impl!("delete_memory_store", Dynamic, "delete_memory_store", "delete_store", $store)
    };
    ($($t:tt)*) => {
        $crate::__private::core::compile_error!(
            "memory_span! expects `search|insert|update|upsert|delete|create_store|delete_store, store`"
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __memory_span_impl {
    ($span_name:expr, $kind:ident, $prefix:literal, $op:literal, $store:expr) => {{
        let __store: $crate::__private::StringValue = $crate::__private::arg($store);
        let __otel_name = $crate::__private::dyn_name($crate::__private::$kind, $prefix, __store.as_str());
        let __span = $crate::__private::tracing::span!(
            target: "baker_otel_llm",
            $crate::__private::tracing::Level::INFO,
            $span_name,
            otel.name = __otel_name.as_deref(),
            otel.kind = "client",
            otel.status_code = $crate::__private::tracing::field::Empty,
            otel.status_description = $crate::__private::tracing::field::Empty,
            gen_ai.operation.name = $prefix,
            gen_ai.memory.store.id = __store.as_str(),
            gen_ai.memory.record.count = $crate::__private::tracing::field::Empty,
            gen_ai.memory.record.id = $crate::__private::tracing::field::Empty,
            gen_ai.memory.query.text = $crate::__private::tracing::field::Empty,
            gen_ai.memory.records = $crate::__private::tracing::field::Empty,
            error.type = $crate::__private::tracing::field::Empty,
        );
        $crate::__private::start_memory(__span, __store, $op)
    }};
}

/// Records the outcome of a call (usage from [`ReportsUsage`](crate::ReportsUsage), `error.type`
/// from `Err`) on a span handle. Used by `#[llm_call]` and `#[tool]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __baker_outcome {
    ($span:expr, $ret:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{
            ViaClassified as _, ViaDisplay as _, ViaNoDisplay as _, ViaNoReports as _,
            ViaPlain as _, ViaReports as _, ViaResult as _,
        };
        let __s: &dyn $crate::__private::Outcome = $span;
        let __r = $ret;
        (&$crate::__private::Probe(__r)).__baker_report(__s);
        if let $crate::__private::core::option::Option::Some(__t) =
            (&&&$crate::__private::Probe(__r)).__baker_error_type()
        {
            __s.fail(__t, (&$crate::__private::Probe(__r)).__baker_error_text());
        }
    }};
}
