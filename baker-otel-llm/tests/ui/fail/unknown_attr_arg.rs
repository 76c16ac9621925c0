#[baker_otel_llm::llm_call(model = "m", modle = "x")]
fn f() {}
fn main() {}
