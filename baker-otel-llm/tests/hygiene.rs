//! The macros expand in a module with `#![no_implicit_prelude]` and without the user importing
//! tracing or opentelemetry.

#[no_implicit_prelude]
mod user_code {
    use ::baker_otel_llm::{
        agent_span, embeddings_span, iteration_span, llm_call, llm_span, memory_span, tool,
        tool_span,
    };

    pub struct Reply;
    impl ::baker_otel_llm::ReportsUsage for Reply {
        fn usage(&self) -> ::std::option::Option<::baker_otel_llm::Usage> {
            ::std::option::Option::Some(::baker_otel_llm::Usage {
                input_tokens: 3,
                ..::std::default::Default::default()
            })
        }
    }

    #[llm_call(provider = "anthropic", model = "claude-sonnet-4-5", iteration = 1u32)]
    pub async fn complete(x: u64) -> ::std::result::Result<Reply, ::std::string::String> {
        if x == 0 {
            return ::std::result::Result::Err(<::std::string::String as ::std::convert::From<
                &str,
            >>::from("zero"));
        }
        ::std::result::Result::Ok(Reply)
    }

    #[tool(name = "echo")]
    pub fn echo(s: &str) -> &str {
        s
    }

    pub fn all(model: ::std::string::String) {
        let agent = agent_span!("hygienic", id = "a1");
        agent.in_scope(|| {
            let it = iteration_span!(1);
            let l = llm_span!(
                model = model,
                provider = "openai",
                temperature = 0.5,
                top_p = 0.9f32,
                max_tokens = 10usize
            );
            l.end();
            let e = embeddings_span!(model = "text-embedding-3-small");
            e.end();
            let t = tool_span!("t", tool_type = "extension");
            t.end();
            let m = memory_span!(search, "notes");
            m.record_result_count(2);
            it.end();
        });
    }
}

#[tokio::test]
async fn macros_expand_without_prelude() {
    let capture = baker_otel::testing::Capture::new();
    baker_otel_llm::LlmTelemetry::builder(capture.telemetry())
        .build()
        .unwrap();
    let _g = capture.set_default();
    assert!(user_code::complete(1).await.is_ok());
    assert!(user_code::complete(0).await.is_err());
    assert_eq!(user_code::echo("x"), "x");
    user_code::all("gpt-4o".into());
    let names: Vec<String> = capture.spans().iter().map(|s| s.name.to_string()).collect();
    for n in [
        "chat claude-sonnet-4-5",
        "execute_tool echo",
        "invoke_agent hygienic",
        "chat gpt-4o",
        "embeddings text-embedding-3-small",
        "execute_tool t",
        "search_memory notes",
        "baker.agent.iteration",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let err = capture
        .spans()
        .into_iter()
        .find(|s| {
            s.name == "chat claude-sonnet-4-5"
                && baker_otel::testing::Capture::attr(s, "error.type").is_some()
        })
        .unwrap();
    assert_eq!(
        baker_otel::testing::Capture::attr(&err, "error.type")
            .unwrap()
            .to_string(),
        "String"
    );
    let mem = capture.span("search_memory notes");
    assert_eq!(
        baker_otel::testing::Capture::attr(&mem, "gen_ai.memory.record.count")
            .unwrap()
            .to_string(),
        "2"
    );
    assert_eq!(
        capture.histogram_count("baker.memory.operation.duration"),
        Some(1)
    );
}
