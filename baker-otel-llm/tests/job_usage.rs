//! Security audit 2026-12, finding 6: jobs that run one after the other under one long-lived
//! span (a worker's `process` span) must not be chained to each other — no job's cost on an
//! earlier job, no quadratic walk per call, no unbounded chain to drop recursively.

use baker_otel_llm::{llm_span, JobUsage, Usage};

fn ten_tokens() {
    let llm = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
    llm.record_usage(Usage {
        input_tokens: 10,
        ..Default::default()
    });
}

#[test]
fn a_job_is_never_charged_for_the_next_job_of_the_same_span() {
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let span = tracing::info_span!("process jobs");
        let _e = span.enter();
        let j1 = JobUsage::start();
        let j2 = JobUsage::start();
        ten_tokens();
        assert_eq!(j2.totals().calls, 1);
        assert_eq!(j2.totals().usage.input_tokens, 10);
        assert_eq!(j1.totals().calls, 0, "j2's call was charged to j1");
        drop(j2);
        drop(j1);
        // A third job after both ended starts from zero too.
        let j3 = JobUsage::start();
        ten_tokens();
        assert_eq!(j3.finish().calls, 1);
    });
}

#[test]
fn a_job_inside_an_enclosing_job_span_still_rolls_up_to_it() {
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let outer_span = tracing::info_span!("batch");
        let _o = outer_span.enter();
        let outer = JobUsage::start();
        let inner_span = tracing::info_span!("item");
        let _i = inner_span.enter();
        let inner = JobUsage::start();
        ten_tokens();
        assert_eq!(inner.totals().calls, 1);
        assert_eq!(
            outer.totals().calls,
            1,
            "an enclosing span's job counts its children"
        );
    });
}

#[test]
fn two_hundred_thousand_jobs_under_one_span_then_the_span_closes() {
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let span = tracing::info_span!("worker loop");
        {
            let _e = span.enter();
            for _ in 0..200_000 {
                let job = JobUsage::start();
                drop(job);
            }
            let last = JobUsage::start();
            ten_tokens();
            assert_eq!(last.finish().calls, 1);
        }
        // Closing the span drops what it holds: no recursion through 200 000 jobs.
        drop(span);
    });
}
