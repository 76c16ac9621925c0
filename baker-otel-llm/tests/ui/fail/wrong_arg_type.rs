#[baker_otel_llm::llm_call(model = "m", max_tokens = "many")]
fn f() {}
#[baker_otel_llm::tool(name = 3)]
fn g() {}
fn main() {}
