//! Unit tests of the redaction rules, one family of secrets at a time.

use super::*;

fn check(input: &str, expected: &str) {
    let once = redact(input);
    assert_eq!(once, expected, "redacting {input:?}");
    assert_eq!(redact(&once), once, "idempotent on {input:?}");
}

#[test]
fn ordinary_text_is_borrowed_and_unchanged() {
    for line in [
        "Listening on 0.0.0.0:8080",
        "GET /health 200 3ms",
        "Connected to database in 12ms",
        "Error: connect ECONNREFUSED 10.0.1.5:5432",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "{line}");
    }
}

#[test]
fn triggers_without_secrets_are_not_over_redacted() {
    for line in [
        "FATAL: password authentication failed for user \"app\"",
        "max_tokens=100 temperature=0.2",
        "see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/",
        "the bearer of bad news",
        "Timezone Asia/Tokyo loaded",
        "token refresh scheduled",
        "failed to fetch secret arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    ] {
        assert_eq!(redact(line), line);
    }
}

#[test]
fn aws_access_key_ids() {
    check(
        "using key AKIAIOSFODNN7EXAMPLE now",
        "using key [REDACTED AWS ACCESS KEY ID] now",
    );
    check("ASIAY34FZKBOKMUTVV7A", "[REDACTED AWS ACCESS KEY ID]");
}

#[test]
fn aws_secret_keys_when_labelled() {
    check(
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key = [REDACTED]",
    );
    check(
        r#"{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
        r#"{"SecretAccessKey": "[REDACTED]"}"#,
    );
    check(
        "AWS Secret Access Key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS Secret Access Key: [REDACTED]",
    );
}

#[test]
fn passwords_in_urls() {
    check(
        "connecting to postgres://app:s3cr3t!@db.internal:5432/orders",
        "connecting to postgres://app:[REDACTED]@db.internal:5432/orders",
    );
    check(
        "redis://default:hunter2@cache:6379",
        "redis://default:[REDACTED]@cache:6379",
    );
}

#[test]
fn bearer_tokens() {
    check(
        "Authorization: Bearer abcdef0123456789abcdef",
        "Authorization: Bearer [REDACTED]",
    );
}

#[test]
fn jwts() {
    check(
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
        "token [REDACTED JWT] end",
    );
}

#[test]
fn key_value_pairs_in_every_form() {
    check("password=hunter2 user=app", "password=[REDACTED] user=app");
    check("db_passwd: hunter2", "db_passwd: [REDACTED]");
    check("pwd=abc&x=1", "pwd=[REDACTED]&x=1");
    check("token=abc123", "token=[REDACTED]");
    check("client_secret=abc123", "client_secret=[REDACTED]");
    check(
        "api_key=abc123 apikey=def",
        "api_key=[REDACTED] apikey=[REDACTED]",
    );
    check("access_token=abc123", "access_token=[REDACTED]");
    check(
        r#"{"password": "two words", "user": "app"}"#,
        r#"{"password": "[REDACTED]", "user": "app"}"#,
    );
    check(r#"{"apiKey":"k-123"}"#, r#"{"apiKey":"[REDACTED]"}"#);
    check("SECRET='abc def'", "SECRET='[REDACTED]'");
}

#[test]
fn slack_tokens() {
    check(
        "posting with xoxb-1234567890-abcdefghij",
        "posting with [REDACTED SLACK TOKEN]",
    );
    check("xapp-1-A0123-456-abcdef", "[REDACTED SLACK TOKEN]");
    check("xoxp-1234567890-abc", "[REDACTED SLACK TOKEN]");
}

#[test]
fn private_key_blocks() {
    check(
        "key: -----BEGIN RSA PRIVATE KEY-----MIIEow...-----END RSA PRIVATE KEY----- done",
        "key: [REDACTED PRIVATE KEY] done",
    );
    check(
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "[REDACTED PRIVATE KEY]",
    );
}

#[test]
fn well_known_token_formats() {
    check(
        "token ghp_1234567890abcdefghijklmnopqrstuvwxyzAB used",
        "token [REDACTED GITHUB TOKEN] used",
    );
    check(
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123",
        "[REDACTED GITHUB TOKEN]",
    );
    check(
        "stripe key sk_live_4eC39HqLyjWDarjtT1zdp7dc failed",
        "stripe key [REDACTED STRIPE KEY] failed",
    );
    check("rk_test_4eC39HqLyjWDarjtT1zdp7dc", "[REDACTED STRIPE KEY]");
    check(
        "key=AIzaSyA-1234567890abcdefghijklmnopqrstu",
        "key=[REDACTED GOOGLE CREDENTIAL]",
    );
    check("glpat-abcdefghij1234567890", "[REDACTED GITLAB TOKEN]");
    check(
        "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "POST https://hooks.slack.com/services/[REDACTED]",
    );
}

#[test]
fn authorization_headers_and_cookies_of_any_scheme() {
    check(
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "Authorization: Basic [REDACTED]",
    );
    check(
        "authorization=Token abcdef123456",
        "authorization=Token [REDACTED]",
    );
    check(
        r#"headers: {"Authorization": "Digest username=bob, response=abc"}"#,
        r#"headers: {"Authorization": "Digest [REDACTED]"}"#,
    );
    check(
        "Cookie: session=abcdef0123456789; theme=dark",
        "Cookie: [REDACTED]",
    );
}

#[test]
fn passwords_in_urls_without_a_user_and_on_the_command_line() {
    check(
        "connecting to redis://:s3cr3t@cache:6379",
        "connecting to redis://:[REDACTED]@cache:6379",
    );
    check(
        "mysql://user:pw@host:3306/db",
        "mysql://user:[REDACTED]@host:3306/db",
    );
    check(
        "exec mysqldump --password hunter2 --db orders",
        "exec mysqldump --password [REDACTED] --db orders",
    );
    check("run --api-key=abc123", "run --api-key=[REDACTED]");
}

#[test]
fn private_key_bodies_on_lines_of_their_own() {
    check(
        "MIIEpAIBAAKCAQEA7bq2Zr1d9Jx0f3s8XkqLmN4uV5wY6zA7bC8dE9fG0hI1jK2lM3n",
        "[REDACTED KEY MATERIAL]",
    );
    // A hex digest, a word run and a path are not key material.
    for line in [
        "sha256:af296b188c7b7df99ba960ca614439c99cb7cf252ed7bbc23e90cfda59092305",
        "af296b188c7b7df99ba960ca614439c99cb7cf252ed7bbc23e90cfda59092305",
        "GET /api/v1/items/12345/details/summary/overview/latest 200",
    ] {
        assert_eq!(redact(line), line);
    }
}

/// Prints the measures of every long token in the corpora, clean and secret, and whether
/// it is redacted: how the thresholds in `entropy.rs` were chosen. Run with
/// `cargo test --lib redact::tests::token_measures -- --ignored --nocapture`.
#[test]
#[ignore = "prints measurements; asserts nothing"]
fn token_measures() {
    let corpora = [
        ("clean", include_str!("../../tests/redaction/clean.txt")),
        ("secret", include_str!("../../tests/redaction/secrets.txt")),
    ];
    for (name, corpus) in corpora {
        for line in corpus.lines().filter(|l| !l.starts_with('#')) {
            let line = line.split_once('\t').map_or(line, |(secret, _)| secret);
            for token in line
                .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_' | '-')))
            {
                if let Some(f) = entropy::Features::of(token.as_bytes()) {
                    println!(
                        "{name}\t{}\tlen={}\tcase={:.2}\tdigits={}\tH={:.2}/{:.2}\tchanges={:.2}\t{token}",
                        if redact(token) != token { "REDACTED" } else { "-" },
                        f.alnum,
                        f.case_share,
                        f.digits,
                        f.entropy,
                        entropy::entropy_threshold(f.alnum),
                        f.class_changes
                    );
                }
            }
        }
    }
}

#[test]
fn bare_keys_are_caught_by_their_shape() {
    check(
        "using credentials AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "using credentials [REDACTED AWS ACCESS KEY ID] / [REDACTED AWS SECRET KEY]",
    );
    check(
        "partner rejected Xk9mP2qR7sT4vW8yZ1aB3cD5eF6gH0jKEXAMPLE as unknown",
        "partner rejected [REDACTED HIGH-ENTROPY STRING] as unknown",
    );
    // Base64 padding goes with the key.
    check(
        "rotated to kP9x2LmQw7Rt4Zb8Nc3Vh6Jd1Sf5Gy0EXAMPLEa1b2c== today",
        "rotated to [REDACTED HIGH-ENTROPY STRING] today",
    );
    // A key at the end of a URL path; the path's words stay.
    check(
        "GET /v1/hooks/Xk9mP2qR7sT4vW8yZ1aB3cD5eF6gH0jK 404",
        "GET /v1/hooks/[REDACTED HIGH-ENTROPY STRING] 404",
    );
}

#[test]
fn names_and_ids_that_merely_mix_cases_and_digits_pass() {
    for line in [
        "service/EcsStack-ClusterEB0386A7-BygXkQgSvdjY/EcsStack-ServiceD69D759B-kW2q9TJzlGNd",
        "assumed-role/AWSReservedSSO_AdministratorAccess_6f1e2d3c4b5a6978/jane.doe",
        "Registered ProcessorV1Beta2ServiceGrpcImpl and Log4j2LoggerContextFactory",
        "UpdateCustomerShippingAddressCommandHandlerV3",
        "go: downloading golang.org/x/net v0.0.0-20231121144807-4b825dc642cb",
        "550E8400-E29B-41D4-A716-446655440000",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "{line}");
    }
}

#[test]
fn labelled_hex_keys_but_not_hashes_under_index_names() {
    check(
        "signing_key=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "signing_key=[REDACTED]",
    );
    check(
        "API key: 5d41402abc4b2a76b9719d911017c592ab12cd34",
        "API key: [REDACTED]",
    );
    for line in [
        "cache_key=5d41402abc4b2a76b9719d911017c592 hit=false",
        "idempotency_key=550e8400-e29b-41d4-a716-446655440000",
        "key=uploads/2026/11/21/invoice-8812.pdf",
        "sort_key: 00000000000000000000000000000000",
    ] {
        assert_eq!(redact(line), line);
    }
}

#[test]
fn placeholders_in_secret_pairs_are_not_secrets() {
    for line in [
        "Access denied for user 'orders'@'10.0.3.17' (using password: YES)",
        "token=null retry=3",
        "password=******** user=app",
    ] {
        assert_eq!(redact(line), line);
    }
}

#[test]
fn connection_strings_and_newer_token_formats() {
    check(
        "DefaultEndpointsProtocol=https;AccountName=orders;AccountKey=bm90LWEta2V5LUVYQU1QTEUtYnV0LXNoYXBlZC1saWtlLW9uZQ==;EndpointSuffix=core.windows.net",
        "DefaultEndpointsProtocol=https;AccountName=orders;AccountKey=[REDACTED];EndpointSuffix=core.windows.net",
    );
    check(
        "GET https://x.blob.core.windows.net/c/f.csv?sv=2022-11-02&sp=r&sig=EXAMPLEsig0123456789abcdef%3D",
        "GET https://x.blob.core.windows.net/c/f.csv?sv=2022-11-02&sp=r&sig=[REDACTED]",
    );
    check(
        "client ready with sk-proj-EXAMPLE0123456789abcdefghij",
        "client ready with [REDACTED API KEY]",
    );
    check(
        "HF_TOKEN=hf_EXAMPLEabcdefghijklmnopqrstuvwxyz12",
        "HF_TOKEN=[REDACTED HUGGING FACE TOKEN]",
    );
    check(
        "VAULT_TOKEN set to hvs.EXAMPLEabcdefghijklmnopqr",
        "VAULT_TOKEN set to [REDACTED VAULT TOKEN]",
    );
    check(
        "twilio key SK0123456789abcdef0123456789abcdef",
        "twilio key [REDACTED TWILIO KEY]",
    );
}

#[test]
fn nothing_to_redact_means_nothing_allocated() {
    for line in [
        "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "Connecting to postgres://orders-db.internal:5432/orders?sslmode=require",
        "secret rotation completed for prod/orders/db (version AWSCURRENT)",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "{line}");
    }
}

#[test]
fn environment_entries_with_secret_names() {
    check(
        r#"[{"name":"DB_PASSWORD","value":"Summer2026"},{"name":"PORT","value":"8080"}]"#,
        r#"[{"name":"DB_PASSWORD","value":"[REDACTED]"},{"name":"PORT","value":"8080"}]"#,
    );
    for line in [
        r#"{"name":"TOKEN_TTL_SECONDS","value":"3600"}"#,
        r#"{"name":"DB_PASSWORD","valueFrom":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-Xy12Ab"}"#,
    ] {
        assert_eq!(redact(line), line);
    }
}

#[test]
fn an_error_message_about_a_credential_is_not_a_credential() {
    for line in [
        "CannotPullContainerAuthError: engine docker private registry credentials: not found",
        "authentication failed: token: expired",
        "password: missing",
    ] {
        assert_eq!(redact(line), line);
    }
    assert_eq!(redact("password: hunter2"), "password: [REDACTED]");
}
