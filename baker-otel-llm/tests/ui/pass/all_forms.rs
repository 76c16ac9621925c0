use baker_otel_llm::{llm_call, llm_span, tool, tool_span, Usage};

struct Svc;
impl Svc {
    #[llm_call(model = "claude-sonnet-4-5", provider = "anthropic", temperature = 0.1, max_tokens = 100)]
    async fn a(&self) -> Result<Usage, std::io::Error> {
        Ok(Usage::default())
    }
    #[tool(name = "t", tool_type = "function")]
    fn b(&mut self, x: u8) -> u8 {
        x
    }
}

#[llm_call(model = "m")]
fn returns_impl() -> impl std::fmt::Debug {
    1
}

fn main() {
    let s = llm_span!(model = "m", provider = String::from("p"), iteration = 3u64);
    s.record_usage(Usage { input_tokens: 1, ..Default::default() });
    let name = String::from("x");
    let _t = tool_span!(&name, call_id = "c");
    let _ = returns_impl();
    let _ = Svc.a();
    let _ = Svc.b(1);
}
