fn main() {
    let _s = baker_otel_llm::llm_span!(model = "m", temprature = 0.5);
    let _t = baker_otel_llm::llm_span!(provider = "p");
    let _u = baker_otel_llm::llm_span!(model = "m", iteration = "first");
}
