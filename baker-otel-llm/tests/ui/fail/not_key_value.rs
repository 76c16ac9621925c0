#[baker_otel_llm::tool(web_search)]
fn f() {}
fn main() {}
