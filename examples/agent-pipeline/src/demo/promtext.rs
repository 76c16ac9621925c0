//! Minimal reader of the Prometheus text format, for the demo's metrics summary.

/// One sample: metric name, raw label text (without braces), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Series name.
    pub name: String,
    /// Labels as written, e.g. `state="pending",stream="X"`.
    pub labels: String,
    /// Value.
    pub value: f64,
}

/// Every sample of `text` (comments skipped, malformed lines ignored).
///
/// ```
/// let s = agent_pipeline::demo::promtext::parse("# HELP x y\nx_total{a=\"1\"} 3\nup 1\n");
/// assert_eq!(s.len(), 2);
/// assert_eq!(s[0].value, 3.0);
/// ```
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, rest) = match l.find('{') {
                Some(open) => {
                    let close = l.rfind('}')?;
                    ((&l[..open], &l[open + 1..close]), &l[close + 1..])
                }
                None => {
                    let sp = l.find(' ')?;
                    ((&l[..sp], ""), &l[sp..])
                }
            };
            let value = rest.split_whitespace().next()?.parse().ok()?;
            Some(Sample {
                name: series.0.to_string(),
                labels: series.1.to_string(),
                value,
            })
        })
        .collect()
}

/// Sum of the samples named `name` whose labels contain every string of `label_filters`.
///
/// ```
/// let s = agent_pipeline::demo::promtext::parse("x{t=\"a\"} 1\nx{t=\"b\"} 2\n");
/// assert_eq!(agent_pipeline::demo::promtext::sum(&s, "x", &[]), 3.0);
/// assert_eq!(agent_pipeline::demo::promtext::sum(&s, "x", &["t=\"b\""]), 2.0);
/// ```
pub fn sum(samples: &[Sample], name: &str, label_filters: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && label_filters.iter().all(|f| s.labels.contains(f)))
        .fold(0.0, |acc, s| acc + s.value)
}

/// Whether any sample is named `name`.
///
/// ```
/// let s = agent_pipeline::demo::promtext::parse("up 1\n");
/// assert!(agent_pipeline::demo::promtext::has(&s, "up"));
/// ```
pub fn has(samples: &[Sample], name: &str) -> bool {
    samples.iter().any(|s| s.name == name)
}
