//! Placeholder (lead): replaced by the real bench.
fn main() {}
