//! Arguments of the span macros, shared by `__private` (which the macros call) and `spans`
//! (which starts the handles from them).
#![allow(missing_docs)]

use opentelemetry::StringValue;

/// Static span name (the model/tool name was a literal).
pub struct Static;
/// Dynamic span name (recorded in `otel.name`).
pub struct Dynamic;

pub trait NameKind {
    const DYNAMIC: bool;
}
impl NameKind for Static {
    const DYNAMIC: bool = false;
}
impl NameKind for Dynamic {
    const DYNAMIC: bool = true;
}

/// Arguments of `llm_span!` / `embeddings_span!`.
pub struct LlmArgs {
    pub model: StringValue,
    pub provider: Option<StringValue>,
    pub operation: Option<StringValue>,
    pub role: Option<StringValue>,
    pub iteration: Option<i64>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    pub top_p: Option<f64>,
}

impl LlmArgs {
    #[inline]
    pub fn defaults() -> LlmArgs {
        LlmArgs {
            model: StringValue::from(""),
            provider: None,
            operation: None,
            role: None,
            iteration: None,
            temperature: None,
            max_tokens: None,
            top_p: None,
        }
    }

    /// Fills the provider default and returns `otel.name` when the static name cannot be used.
    #[inline]
    pub fn prepare<K: NameKind>(
        &mut self,
        _k: K,
        default_op: &'static str,
    ) -> Option<std::sync::Arc<str>> {
        let shared = crate::telemetry::shared();
        if self.provider.is_none() {
            self.provider = Some(shared.default_provider.clone());
        }
        let op = self.operation.get_or_insert(StringValue::from(default_op));
        (K::DYNAMIC || op.as_str() != default_op)
            .then(|| shared.labels.span_name(op.as_str(), self.model.as_str()))
    }
    #[inline]
    pub fn provider_str(&self) -> &str {
        self.provider.as_ref().map_or("_OTHER", StringValue::as_str)
    }
    #[inline]
    pub fn operation_str(&self) -> &str {
        self.operation.as_ref().map_or("chat", StringValue::as_str)
    }
    #[inline]
    pub fn role_str(&self) -> Option<&str> {
        self.role.as_ref().map(StringValue::as_str)
    }
}

/// Arguments of `tool_span!`.
pub struct ToolArgs {
    pub name: StringValue,
    pub call_id: Option<StringValue>,
    pub tool_type: Option<StringValue>,
    pub description: Option<StringValue>,
    pub iteration: Option<i64>,
}

impl ToolArgs {
    #[inline]
    pub fn defaults() -> ToolArgs {
        ToolArgs {
            name: StringValue::from(""),
            call_id: None,
            tool_type: None,
            description: None,
            iteration: None,
        }
    }
    #[inline]
    pub fn otel_name<K: NameKind>(&self, _k: K) -> Option<String> {
        K::DYNAMIC.then(|| format!("execute_tool {}", self.name.as_str()))
    }
    #[inline]
    pub fn call_id_str(&self) -> Option<&str> {
        self.call_id.as_ref().map(StringValue::as_str)
    }
    #[inline]
    pub fn description_str(&self) -> Option<&str> {
        self.description.as_ref().map(StringValue::as_str)
    }
    #[inline]
    pub fn type_str(&self) -> &str {
        self.tool_type
            .as_ref()
            .map_or("function", StringValue::as_str)
    }
}

/// Arguments of `agent_span!`.
pub struct AgentArgs {
    pub name: StringValue,
    pub id: Option<StringValue>,
    pub provider: Option<StringValue>,
}

impl AgentArgs {
    #[inline]
    pub fn defaults() -> AgentArgs {
        AgentArgs {
            name: StringValue::from(""),
            id: None,
            provider: None,
        }
    }
    #[inline]
    pub fn otel_name<K: NameKind>(&self, _k: K) -> Option<String> {
        K::DYNAMIC.then(|| format!("invoke_agent {}", self.name.as_str()))
    }
}
