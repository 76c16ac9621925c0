//! The rule table: the default secret patterns and the JSON keys whose values are secrets.

/// Default secret patterns: `(id, regex)`; the named group `s` is the part replaced by
/// [`REDACTED`] (the rest of the match, such as a key name, is kept). They run one after the
/// other, in this order (specific token formats, URLs, key/value forms, authorization schemes,
/// card numbers), each on the previous one's output, so overlapping forms cannot shield a
/// secret from the rule that knows it.
///
/// Sources: the rule set of gitleaks (`config/gitleaks.toml`: `private-key`,
/// `anthropic-api-key`, `openai-api-key`, `stripe-access-token`, `aws-access-token`,
/// `github-pat`, `gitlab-pat`, `slack-*`, `slack-webhook-url`, `gcp-api-key`,
/// `huggingface-access-token`, `sendgrid-api-token`, `npm-access-token`, `pypi-upload-token`,
/// `twilio-api-key`, `grafana-service-account-token`, `jwt`, `generic-api-key`),
/// trufflehog's detectors (`uri` for credentials in URLs, `azure_storage` for `AccountKey=`) and
/// the published key formats of AI providers (`ai-provider-key`). Key/value forms cover
/// `key=value`, `key: value` (YAML), `"key": "value"` (JSON text) and `?key=value` (URL
/// queries). Card numbers are redacted when they pass the Luhn check and are not shaped like an
/// epoch timestamp (see [`looks_like_card_number`]).
///
/// Every rule runs in linear time (no unbounded lazy body, ASCII word boundaries `(?-u:\b)` so
/// that non-ASCII text keeps the regex engine's DFA), and [`CapturePolicy`] only ever redacts a
/// bounded window of the input.
///
/// [`REDACTED`]: super::REDACTED
/// [`looks_like_card_number`]: super::looks_like_card_number
/// [`CapturePolicy`]: super::CapturePolicy
pub const DEFAULT_SECRET_PATTERNS: &[(&str, &str)] = &[
    (
        // The body is base64, whitespace, `\` (JSON-escaped newlines) and `Name: value` header
        // lines: it cannot run over another `-----` marker, so each search stops at the next
        // one (linear time on any input; an unbounded lazy body to a missing END marker made
        // `replace_all` quadratic on repeated BEGIN lines). Without an END marker (a key cut
        // short) the body runs to where the base64 stops.
        "private-key",
        r"(?P<s>-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s\\]|[A-Za-z][A-Za-z0-9-]{0,40}:[^\n\\]{0,200})*(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)?)",
    ),
    (
        "anthropic-api-key",
        r"(?P<s>(?-u:\b)sk-ant-[A-Za-z0-9_\-]{8,})",
    ),
    (
        "openai-api-key",
        r"(?P<s>(?-u:\b)sk-(?:proj-|svcacct-|admin-|live-|test-)?[A-Za-z0-9_\-]{16,})",
    ),
    (
        // Groq `gsk_` (52), xAI `xai-` (80), Replicate `r8_` (37), Perplexity `pplx-` (48),
        // LangSmith `lsv2_pt_`/`lsv2_sk_` (32 hex, `_`, 10 hex), Pinecone `pcsk_` (~70),
        // Tavily `tvly-` / `tvly-dev-` (32). 20 characters are enough to match, so a key cut
        // short still goes.
        "ai-provider-key",
        r"(?P<s>(?-u:\b)(?:gsk_[A-Za-z0-9]{20,}|xai-[A-Za-z0-9_]{20,}|r8_[A-Za-z0-9]{20,}|pplx-[A-Za-z0-9]{20,}|lsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}|pcsk_[A-Za-z0-9_]{20,}|tvly-[A-Za-z0-9_\-]{20,}))",
    ),
    (
        "stripe-key",
        r"(?P<s>(?-u:\b)(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}|(?-u:\b)whsec_[A-Za-z0-9]{20,})",
    ),
    (
        "aws-access-key-id",
        r"(?P<s>(?-u:\b)(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b))",
    ),
    (
        "aws-secret-access-key",
        r#"(?i:aws)[A-Za-z0-9_.\-]{0,20}(?i:secret)[A-Za-z0-9_.\-]{0,20}["']?\s*(?::|=|:=|=>)\s*["']?(?P<s>[A-Za-z0-9/+=]{40})"#,
    ),
    (
        "github-token",
        r"(?P<s>(?-u:\b)gh[pousr]_[A-Za-z0-9]{20,}|(?-u:\b)github_pat_[A-Za-z0-9_]{20,})",
    ),
    (
        "gitlab-token",
        r"(?P<s>(?-u:\b)gl(?:pat|dt|rt|cbt|ptt|ft|soat)-[A-Za-z0-9_\-]{20,})",
    ),
    (
        "slack-token",
        r"(?P<s>(?-u:\b)xox[abeoprs]-[A-Za-z0-9\-]{10,})",
    ),
    (
        "slack-webhook-url",
        r"(?P<s>(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,})",
    ),
    ("gcp-api-key", r"(?P<s>(?-u:\b)AIza[0-9A-Za-z_\-]{20,})"),
    ("huggingface-token", r"(?P<s>(?-u:\b)hf_[A-Za-z0-9]{30,})"),
    (
        "sendgrid-api-key",
        r"(?P<s>(?-u:\b)SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,})",
    ),
    ("npm-token", r"(?P<s>(?-u:\b)npm_[A-Za-z0-9]{36})"),
    (
        "pypi-token",
        r"(?P<s>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
    ),
    (
        "twilio-api-key",
        r"(?P<s>(?-u:\b)SK[0-9a-fA-F]{32}(?-u:\b))",
    ),
    (
        "grafana-token",
        r"(?P<s>(?-u:\b)glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
    ),
    (
        // Signed (three segments) and unsigned (`alg: none`, empty third segment) tokens, and a
        // header followed by a JSON payload alone (a token cut short).
        "jwt",
        r"(?P<s>(?-u:\b)eyJ[A-Za-z0-9_\-]{5,}\.(?:[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*|eyJ[A-Za-z0-9_\-]*))",
    ),
    (
        // The user may be empty (`redis://:password@host`, Redis AUTH) and the password may
        // hold `/` (generated passwords, base64). A port and a path with an `@` in it
        // (`http://host:8080/users/ann@example.com`) read as a password too: a `/` after
        // digits is as likely a password (`postgres://app:0000/a0Aa@db`), so this errs on
        // the side of redacting.
        "url-credentials",
        r#"://[^\s:/@"'<>]{0,64}:(?P<s>[^\s@"'<>]{1,128})@"#,
    ),
    (
        "url-query-secret",
        r#"[?&](?i:key|api[_\-]?key|apikey|token|access_token|refresh_token|id_token|client_secret|secret|password|sig|signature|x-amz-signature|x-goog-signature)=(?P<s>[^&\s"'#<>]+)"#,
    ),
    (
        // The value: a double-quoted one up to its closing quote (`\"` in JSON-escaped text),
        // a single-quoted one up to its closing quote, else everything up to the next
        // whitespace — `;`, `&`, `!`, `,`, `}` and quotes included, as generated passwords hold
        // them. 256 bytes at most; an unclosed quote runs to the end of the line.
        "sensitive-key-value",
        r#"(?i:(?-u:\b)[A-Za-z0-9_.\-]{0,40}?(?:passw(?:or)?d|passphrase|pwd|(?:(?-u:\b)|_)pass|secret|token|api[_\-.]?key|apikey|access[_\-.]?key|account[_\-.]?key|private[_\-.]?key|credentials?|authorization|session[_\-.]?id|connection[_\-.]?string|(?:(?-u:\b)|_)dsn)(?:[_\-.][A-Za-z0-9_.\-]{0,20})?)(?:\\?["'])?\s*(?::|=|:=|=>)\s*(?i:(?:basic|bearer|token|digest)\s+)?(?:\\?"(?P<s1>(?:[^"\\\r\n]|\\[^"\r\n]){1,256})|'(?P<s2>[^'\r\n]{1,256})|(?P<s>[^\s"'][^\s]{0,255}))"#,
    ),
    (
        "authorization-scheme",
        r"(?i:(?-u:\b)(?:bearer|basic|digest))\s+(?P<s>[A-Za-z0-9_.=~+/][A-Za-z0-9_\-.=~+/]{7,})",
    ),
    (
        "card-number",
        r"(?P<card>(?-u:\b)[0-9](?:[ \-]?[0-9]){12,18}(?-u:\b))",
    ),
];

/// Object keys whose values are always redacted in captured JSON (compared after lower-casing
/// and removing `_`, `-`, `.` and spaces: `DB_PASSWORD`, `client-secret` and `accessToken` all
/// match). A key also matches when it *ends* with one of [`SENSITIVE_KEY_SUFFIXES`].
pub const SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "accountkey",
    "privatekey",
    "privatekeyid",
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "sessionid",
    "credential",
    "credentials",
    "connectionstring",
    "dsn",
    "signature",
];

/// Key suffixes that make a key sensitive (`db_password`, `github_token`,
/// `aws_secret_access_key`, `stripe_secret`, …). `tokens` (e.g. `max_tokens`) does not match.
pub const SENSITIVE_KEY_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "accountkey",
    "privatekey",
    "credentials",
];

/// Whether a JSON object key names a secret (see [`SENSITIVE_KEYS`]).
///
/// ```
/// use baker_otel_llm::content::is_sensitive_key;
/// assert!(is_sensitive_key("DB_PASSWORD") && is_sensitive_key("refresh_token"));
/// assert!(is_sensitive_key("clientSecret") && is_sensitive_key("AccountKey"));
/// assert!(!is_sensitive_key("max_tokens") && !is_sensitive_key("content"));
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    if key.len() > 64 {
        return false;
    }
    let norm: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    SENSITIVE_KEYS.contains(&norm.as_str())
        || SENSITIVE_KEY_SUFFIXES.iter().any(|s| norm.ends_with(s))
}
