//! `demo`: runs the whole pipeline and prints one trace tree per request. `demo --help`.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() {
    let args = match agent_pipeline::demo::app::parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("demo: {e}");
            }
            eprintln!("{}", agent_pipeline::demo::app::USAGE);
            std::process::exit(if e.is_empty() { 0 } else { 2 });
        }
    };
    std::process::exit(agent_pipeline::demo::app::run(args).await);
}
