//! Strings shaped like credentials, wherever they appear in a value: HTTP `Bearer`/`Basic`
//! header values, JSON Web Tokens, and the tokens of the services NoETL's playbooks call
//! (OpenAI and Anthropic `sk-…` keys, Google `AIza…` keys and `ya29.` tokens, GitHub
//! `ghp_…`/`github_pat_…` tokens, Slack `xox…-` tokens), PEM private keys, and URLs whose query
//! string carries a key, token, secret or password.
//!
//! Each shape is a fixed prefix followed by a run of the characters its issuer uses, at least as
//! long as the shortest real one, so that prose mentioning `sk-` or `ghp_` is kept. One scan per
//! prefix: the check is linear in the length of the string.

/// A token shape: its prefixes, the characters its body is made of, and the body's least
/// length.
struct Token {
    prefixes: &'static [&'static str],
    body: fn(u8) -> bool,
    min_body: usize,
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn alnum_dash_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn alnum_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn oauth(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

const TOKENS: [Token; 6] = [
    // OpenAI (`sk-…`, `sk-proj-…`) and Anthropic (`sk-ant-…`) API keys.
    Token {
        prefixes: &["sk-"],
        body: alnum_dash_underscore,
        min_body: 20,
    },
    // Google API keys: `AIza` and 35 more characters.
    Token {
        prefixes: &["AIza"],
        body: alnum_dash_underscore,
        min_body: 35,
    },
    // Google OAuth 2.0 access tokens.
    Token {
        prefixes: &["ya29."],
        body: oauth,
        min_body: 20,
    },
    // GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens.
    Token {
        prefixes: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        body: alnum,
        min_body: 36,
    },
    // GitHub fine-grained personal access tokens.
    Token {
        prefixes: &["github_pat_"],
        body: alnum_underscore,
        min_body: 22,
    },
    // Slack bot, app, user, refresh and legacy workspace tokens.
    Token {
        prefixes: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        body: alnum_dash,
        min_body: 10,
    },
];

/// Whether `s` holds a credential (see the module's documentation).
pub(crate) fn is_secret_value(s: &str) -> bool {
    let t = s.trim();
    header_credential(t)
        || is_jwt(t)
        || TOKENS.iter().any(|token| has_token(t, token))
        || has_private_key(t)
        || url_with_secret_parameter(t)
}

/// An HTTP `Authorization` value: `Bearer …` or `Basic …`.
fn header_credential(t: &str) -> bool {
    ["bearer ", "basic "].iter().any(|scheme| {
        t.get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
            && !t[scheme.len()..].trim().is_empty()
    })
}

/// Three base64url segments separated by dots, the first one a JSON object (`eyJ` is `{"`).
fn is_jwt(t: &str) -> bool {
    let mut parts = 0;
    for part in t.split('.') {
        parts += 1;
        let valid = part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=');
        if parts > 3 || !valid || (parts <= 2 && part.len() < 4) {
            return false;
        }
    }
    parts == 3 && t.starts_with("eyJ")
}

/// A prefix of `token` that starts a word (not preceded by a letter, digit or `_`) and is
/// followed by at least `min_body` characters of its body.
fn has_token(t: &str, token: &Token) -> bool {
    let bytes = t.as_bytes();
    token.prefixes.iter().any(|prefix| {
        t.match_indices(prefix).any(|(at, _)| {
            let starts_word = at == 0 || !alnum_underscore(bytes[at - 1]);
            let body = bytes[at + prefix.len()..]
                .iter()
                .take_while(|b| (token.body)(**b))
                .take(token.min_body)
                .count();
            starts_word && body >= token.min_body
        })
    })
}

/// A PEM private-key block: `-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED …]PRIVATE KEY-----`.
fn has_private_key(t: &str) -> bool {
    const BEGIN: &str = "-----BEGIN ";
    const END: &[u8] = b"PRIVATE KEY-----";
    // The algorithm between the two, if any, is a few capital words: at most this long.
    const LABEL: usize = 40;
    t.match_indices(BEGIN).any(|(at, _)| {
        let rest = &t.as_bytes()[at + BEGIN.len()..];
        let window = &rest[..rest.len().min(LABEL + END.len())];
        window
            .windows(END.len())
            .position(|w| w == END)
            .is_some_and(|label| {
                rest[..label]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b' ')
            })
    })
}

/// A URL (`scheme://…`) whose query string has a non-empty parameter named like a credential:
/// a name holding `token`, `secret`, `password` or `passwd`, or ending in `key` (`key`,
/// `api_key`, `access-key`), compared lower-case without `-`, `_` and `.`.
fn url_with_secret_parameter(t: &str) -> bool {
    let mut from = 0;
    while let Some(found) = t[from..].find("://") {
        let url = &t[from + found..];
        let end = url
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '<' || c == '>')
            .unwrap_or(url.len());
        if query_has_secret(&url[..end]) {
            return true;
        }
        // Past this URL (a `://` inside it starts no other): every byte is looked at once.
        from += found + end.max(3);
    }
    false
}

fn query_has_secret(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    let query = query.split('#').next().unwrap_or_default();
    query.split(['&', ';']).any(|parameter| {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        !value.is_empty() && secret_parameter(name)
    })
}

fn secret_parameter(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    ["token", "secret", "password", "passwd"]
        .iter()
        .any(|w| folded.contains(w))
        || folded.ends_with("key")
}

#[cfg(test)]
mod tests {
    use super::is_secret_value;

    #[test]
    fn service_tokens_are_recognised_alone_and_inside_text() {
        let openai = format!("sk-proj-{}", "a1B2c3D4e5".repeat(3));
        let anthropic = format!("sk-ant-api03-{}", "Zx9_-".repeat(8));
        let google_key = format!("AIza{}", "SyA1b2C3d4E5f6G7h8I9j0K-_abcdefghij");
        let google_oauth = format!("ya29.{}", "a0AfH6SM".repeat(4));
        let github = format!("ghp_{}", "A1b2C3d4E5f6".repeat(3));
        let github_fine = format!("github_pat_{}", "11ABCDEFG0".repeat(3));
        let slack = "xoxb-1234567890-abcdefghij";
        for token in [
            openai.as_str(),
            anthropic.as_str(),
            google_key.as_str(),
            google_oauth.as_str(),
            github.as_str(),
            github_fine.as_str(),
            slack,
        ] {
            assert!(is_secret_value(token), "{token}");
            assert!(
                is_secret_value(&format!("key: {token}\n")),
                "inside text: {token}"
            );
        }
        for prefix in ["gho_", "ghu_", "ghs_", "ghr_"] {
            assert!(is_secret_value(&format!("{prefix}{}", "x".repeat(36))));
        }
        for prefix in ["xoxa-", "xoxp-", "xoxr-", "xoxs-"] {
            assert!(is_secret_value(&format!("{prefix}2-1234567890")));
        }
    }

    #[test]
    fn prose_and_short_lookalikes_are_kept() {
        for kept in [
            "sk-",
            "ask-me-anything",
            "task-1234567890123456789012345",
            "risk-free sk-short",
            "AIza",
            "ghp_short",
            "see ghp_ for GitHub tokens",
            "xoxb-",
            "the slack token starts with xoxb-",
            "ya29.",
            "-----BEGIN PUBLIC KEY-----",
            "https://example.com/search?q=token",
            "https://example.com/?api_key=",
            "api_key=abc (not a URL)",
        ] {
            assert!(!is_secret_value(kept), "{kept}");
        }
    }

    #[test]
    fn private_keys_headers_and_jwts_are_recognised() {
        for secret in [
            "-----BEGIN PRIVATE KEY-----\nMIIEvQ...\n-----END PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\nabc",
            "prefix -----BEGIN OPENSSH PRIVATE KEY----- b3Blbn",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----",
            "Bearer abc",
            "basic dXNlcjpwYXNz",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        ] {
            assert!(is_secret_value(secret), "{secret}");
        }
        assert!(!is_secret_value("Bearer"));
        assert!(!is_secret_value("eyJ.a.b"));
        assert!(!is_secret_value("eyJhbGc.eyJzdWIi.c2ln.extra"));
    }

    #[test]
    fn urls_with_credential_parameters_are_recognised() {
        for url in [
            "https://api.example.com/v1/items?api_key=abc123",
            "https://api.example.com/v1/items?page=2&access_token=xyz",
            "http://host/path?Client-Secret=s3cr3t#frag",
            "postgres://db/app?password=hunter2",
            "see https://x.test/cb?key=k1 for details",
            "https://x.test/a?sig=1;auth_token=t",
        ] {
            assert!(is_secret_value(url), "{url}");
        }
        for url in [
            "https://api.example.com/v1/items?page=2",
            "https://api.example.com/token/refresh",
            "https://x.test/a?monkeys=3",
            "https://x.test/a#api_key=abc",
        ] {
            assert!(!is_secret_value(url), "{url}");
        }
    }

    #[test]
    fn adversarial_repetitions_are_checked_in_one_pass() {
        // Each prefix and each URL is looked at once: were a match started at every `://` or
        // every `sk-` to scan to the end, these would take hours.
        let urls = "://".repeat(300_000) + "?key=1";
        assert!(is_secret_value(&format!("https{urls}")));
        let keys = "sk-".repeat(300_000);
        assert!(
            is_secret_value(&keys),
            "sk-sk-sk-… is a run of body characters"
        );
        let pem = "-----BEGIN ".repeat(100_000);
        assert!(!is_secret_value(&pem));
    }
}
