#[baker_otel_llm::llm_call(provider = "anthropic")]
fn f() {}
fn main() {}
