import string
import zlib

import pytest

from policy_engine.domain.pii import scan_text

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in scan_text(text)]


def github_classic(random_part: str, prefix: str = "ghp") -> str:
    """A token whose last six characters decode (base62, 0-9A-Za-z) to the CRC32 of the rest."""
    crc, digits = zlib.crc32(random_part.encode()), ""
    while crc:
        crc, rest = divmod(crc, 62)
        digits = BASE62[rest] + digits
    return f"{prefix}_{random_part}{digits.rjust(6, '0')}"


def test_github_helper_agrees_with_decoding_the_checksum() -> None:
    token = github_classic("a" * 15 + "B" * 15)
    decoded = 0
    for char in token[-6:]:
        decoded = decoded * 62 + BASE62.index(char)
    assert decoded == zlib.crc32(token[4:-6].encode())


# --- provider secrets ---------------------------------------------------------------------


def test_aws_access_key_id_is_a_secret_but_the_documentation_key_is_not() -> None:
    assert kinds("AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986") == [
        ("aws_access_key", "AKIA2E0A8F3B244C9986")
    ]
    assert scan_text("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE") == []
    assert scan_text("AKIAXXXXXXXXXXXXXXXX") == []


def test_aws_secret_key_next_to_its_key_name_is_a_secret_but_the_documentation_key_is_not() -> None:
    secret = "Zk9mT2VxR2lIbU1wQ3Z4cW1sYXZ0bGZ3Q3ZxYWI0"
    assert kinds(f"aws_secret_access_key = {secret}") == [("aws_secret_key", secret)]
    assert scan_text("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == []


@pytest.mark.parametrize("prefix", ["ghp", "gho", "ghu", "ghs", "ghr"])
def test_github_token_with_a_valid_checksum_is_a_secret(prefix: str) -> None:
    token = github_classic("R4nd0mPartOfTheToken0123456789", prefix)
    assert kinds(f"export GITHUB_TOKEN={token}") == [("github_token", token)]


def test_github_shaped_string_with_a_bad_checksum_is_not_a_secret() -> None:
    token = github_classic("R4nd0mPartOfTheToken0123456789")
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert scan_text(f"use {forged} now") == []
    assert scan_text("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") == []


def test_fine_grained_github_token_is_a_secret() -> None:
    token = "github_pat_11ABCDEFG0123456789abc_" + "Zq8" * 19 + "xy"
    assert kinds(token) == [("github_token", token)]


def test_pem_private_key_block_is_one_secret() -> None:
    body = "MIIEowIBAAKCAQEA7bq9" + "Qk" * 40
    block = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    assert kinds(f"key:\n{block}\ndone") == [("pem_private_key", block)]


def test_pem_key_inside_json_text_with_escaped_newlines_is_found() -> None:
    text = '{"key": "-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIB' + "x9" * 30 + '=="}'
    ((kind, span),) = kinds(text)
    assert kind == "pem_private_key"
    assert span.startswith("-----BEGIN EC PRIVATE KEY-----")
    assert span.endswith("==")


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + "a" * 40 + "\n"
        "-----END PUBLIC KEY-----",
    ],
)
def test_placeholder_or_public_pem_is_not_a_secret(text: str) -> None:
    assert scan_text(text) == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack_token"),
        (
            "https://hooks.slack.com/services/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",
            "slack_webhook",
        ),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dX", "stripe_key"),
        ("rk_live_51H8sLhGq2Bv0dpM3uK9eZrTqq", "stripe_key"),
    ],
)
def test_slack_and_stripe_secrets_are_found(text: str, kind: str) -> None:
    assert kinds(f"value {text} end") == [(kind, text)]


@pytest.mark.parametrize(
    "text",
    [
        "xoxb-your-token-here",
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # Stripe's documentation key
        "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
        "pk_live_51H8sLhGq2Bv0dpM3uK9eZrT",  # publishable
    ],
)
def test_slack_and_stripe_placeholders_are_not_secrets(text: str) -> None:
    assert scan_text(text) == []


# --- secrets named by their key -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "DB_PASSWORD=s3cr3t!Pass",
        'API_KEY="s3cr3t!Pass"',
        "export CLIENT_SECRET='s3cr3t!Pass'",
        "database:\n  password: s3cr3t!Pass\n",
        '{"api_key": "s3cr3t!Pass"}',
        "{'passwd': 's3cr3t!Pass'}",
        'jwt_secret = "s3cr3t!Pass"',
        "GET /v1/items?api_key=s3cr3t!Pass&limit=10",
        "curl -H 'X-Api-Key: s3cr3t!Pass' https://api",
        "./migrate --db-password=s3cr3t!Pass",
        "./migrate --auth-token s3cr3t!Pass --dry-run",
        "Server=db;User Id=svc;Password=s3cr3t!Pass;",
        "    'secret' => 's3cr3t!Pass',",
    ],
)
def test_value_under_a_secret_key_name_is_a_secret(text: str) -> None:
    assert kinds(text) == [("key_named_secret", "s3cr3t!Pass")]


@pytest.mark.parametrize(
    "text",
    [
        "password=changeme",
        "API_KEY=<your-api-key>",
        "GITHUB_TOKEN=${GITHUB_TOKEN}",
        'secret: "****"',
        "DB_PASSWORD=",
        'api_key = os.environ["OPENAI_API_KEY"]',
        "password = get_password()",
        "token = settings.slack_token",
        "token_type: Bearer",
        "max_tokens=1024",
        "secret_name: prod/db/credentials",
        "password_min_length: 12",
        "primary_key: id",
        "Reset your password: click the link we sent you.",
        'password: "{{ vault_db_password }}"',
        "client_secret: null",
        "SECRET_KEY=REPLACE_ME",
        "password: your_password_here",
        "public_key: ssh-rsa AAAAB3NzaC1yc2E",
        "tokenizer: cl100k_base",
        "docker login --password-stdin registry.acme.io",
    ],
)
def test_placeholders_references_and_metadata_are_not_secrets(text: str) -> None:
    assert scan_text(text) == []


def test_authorization_header_credential_is_a_secret() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlF"
    assert kinds(f"curl -H 'Authorization: Bearer {jwt}' https://api") == [("bearer_token", jwt)]
    assert kinds("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==") == [
        ("bearer_token", "dXNlcjpwYXNzd29yZDEyMw==")
    ]
    assert scan_text("Authorization: Bearer <token>") == []


def test_password_in_a_connection_url_is_a_secret() -> None:
    assert kinds("DATABASE_URL=postgres://app:Sup3rS3cret@db.internal:5432/app") == [
        ("url_password", "Sup3rS3cret")
    ]
    assert scan_text("postgres://user:password@localhost:5432/app") == []


def test_overlapping_findings_keep_the_most_specific() -> None:
    token = github_classic("R4nd0mPartOfTheToken0123456789")
    assert kinds(f"api_key={token}") == [("github_token", token)]
    assert kinds(f"curl -H 'Authorization: token {token}'") == [("github_token", token)]
