"""The pure parts of notifications: the Slack body, signing, URL checks, backoff, secrets at
rest, the settings that must agree."""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from approval_workflow.approvals.repository import Details, StoredApproval
from approval_workflow.domain.model import Approval, Requirement, Subject, Vote
from approval_workflow.notifications import message, signing, urls
from approval_workflow.notifications.crypto import SecretBox, SecretUnreadable
from approval_workflow.notifications.delivery import backoff_s
from approval_workflow.settings import Settings
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def stored(**changes: object) -> StoredApproval:
    approval = Approval(
        id="apr-1",
        agency="acme",
        subject=Subject("deployment", "dep-1", "sha256:" + "ab" * 32),
        requested_by="ci",
        requester_team="payments",
        requirement=Requirement(("sre", "security"), 2),
        requested_at=NOW,
        expires_at=NOW + timedelta(hours=1),
    )
    approval = replace(approval, **changes)  # type: ignore[arg-type]
    details = Details(
        "<!channel> ship it & pray", "risk > 0.7", ("deploy.high-risk",), "org:1", 0.8
    )
    return StoredApproval(approval, details, "api", "sha256:x")


def test_a_body_is_slack_text_and_blocks_with_what_an_approver_needs() -> None:
    body = message.body("requested", stored(), link="https://c.test/a/apr-1")
    assert set(body) == {"text", "blocks"}
    assert [b["type"] for b in body["blocks"]] == [
        "header",
        "section",
        "section",
        "context",
        "actions",
    ]
    shown = json.dumps(body)
    for fact in ("ci (team `payments`)", "0.80", "2 approvers; roles `sre`, `security`", "apr-1"):
        assert fact in shown
    assert f"<!date^{int((NOW + timedelta(hours=1)).timestamp())}^" in shown
    assert "https://c.test/a/apr-1" in shown


def test_request_text_cannot_ping_a_channel_or_forge_a_link() -> None:
    text = message.body("requested", stored(), link=None)["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; ship it &amp; pray" in text


def test_the_outcome_says_who_decided_and_why() -> None:
    vote = Vote("bo", ("sre",), None, "reject", "not on a friday", NOW)
    rejected = message.body("rejected", stored(votes=(vote,), status="rejected"), link=None)
    assert "rejected by bo: “not on a friday”" in rejected["text"]
    superseded = message.body("superseded", stored(superseded_by="apr-2"), link=None)
    assert "superseded by the newer request `apr-2`" in superseded["text"]


def test_long_text_is_cut_to_slacks_limits() -> None:
    long = stored()
    long = StoredApproval(
        long.approval,
        Details("x" * 2000, "y" * 2000, (), "", None),
        long.origin,
        long.fingerprint,
    )
    body = message.body("requested", long, link=None)
    assert len(body["blocks"][1]["text"]["text"]) <= message.SECTION_LIMIT
    assert len(body["text"]) <= message.TEXT_LIMIT
    assert "Risk*\nunknown" in json.dumps(body, ensure_ascii=False).replace("\\n", "\n")


def test_a_signature_verifies_for_its_body_and_time_only() -> None:
    body = b'{"text":"hi"}'
    now = int(time.time())
    header = signing.signature("whsec_k", now, body)
    assert header.startswith(f"t={now},v1=")
    assert signing.verify("whsec_k", header, body, now=now)
    assert not signing.verify("whsec_k", header, body + b"x", now=now)
    assert not signing.verify("whsec_other", header, body, now=now)
    assert not signing.verify("whsec_k", header, body, now=now + 301)  # a replay, later
    assert not signing.verify("whsec_k", "v1=abc", body, now=now)
    assert signing.new_secret() != signing.new_secret()


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert urls.forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:85e5"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not urls.forbidden(ipaddress.ip_address(address))


def test_a_url_is_shown_by_its_origin_and_pinned_to_the_address_checked() -> None:
    url = "https://hooks.slack.com/services/T0/B0/secret-token?x=1"
    assert urls.redacted(url) == "https://hooks.slack.com/…"
    assert urls.redacted("https://example.com") == "https://example.com"
    target = urls.parse(url)
    pinned = urls.pinned(target, ipaddress.ip_address("93.184.215.14"))
    assert pinned == "https://93.184.215.14:443/services/T0/B0/secret-token?x=1"
    six = urls.pinned(urls.parse("http://h.test:8080/a"), ipaddress.ip_address("2001:db8::1"))
    assert six == "http://[2001:db8::1]:8080/a"
    assert urls.target_id(url) == urls.target_id(url)
    assert "token" not in urls.target_id(url)


@pytest.mark.parametrize(
    "url", ["ftp://h/x", "//h/x", "http://", "https://u:p@h/x", "http://h/ x", "http://h:0x/"]
)
def test_what_is_no_target_url(url: str) -> None:
    with pytest.raises(urls.BadUrl):
        urls.parse(url)


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert backoff_s(1, 2.0, 600, lambda: 0.0) == 1.0
    assert backoff_s(1, 2.0, 600, lambda: 1.0) == 2.0
    assert backoff_s(4, 2.0, 600, lambda: 1.0) == 16.0
    assert backoff_s(40, 2.0, 600, lambda: 1.0) == 600.0
    assert 300 <= backoff_s(40, 2.0, 600, lambda: 0.5) <= 600


def test_a_sealed_secret_opens_only_under_its_keys() -> None:
    box = SecretBox("", TEST_INTERNAL_SECRET)
    token = box.seal("whsec_abc")
    assert b"whsec_abc" not in token
    assert box.open(token) == "whsec_abc"
    assert "whsec" not in repr(box)
    other = SecretBox("", "another-internal-secret-" + "q" * 20)
    with pytest.raises(SecretUnreadable):
        other.open(token)


def test_a_configured_key_seals_and_the_derived_one_still_opens() -> None:
    derived = SecretBox("", TEST_INTERNAL_SECRET)
    old = derived.seal("whsec_abc")
    key = Fernet.generate_key().decode()
    keyed = SecretBox(key, TEST_INTERNAL_SECRET)
    assert keyed.open(old) == "whsec_abc"
    resealed = keyed.reseal(old)
    assert SecretBox(key, "another-internal-secret-" + "q" * 20).open(resealed) == "whsec_abc"


def test_settings_refuse_a_lease_shorter_than_an_attempt_and_bad_keys() -> None:
    base = {"internal_secret": TEST_INTERNAL_SECRET}
    with pytest.raises(ValidationError, match="lease"):
        Settings(**base, notification_timeout_s=40, notification_lease_s=60)
    with pytest.raises(ValidationError, match="Fernet"):
        Settings(**base, notification_secrets_key="not-a-key")
    with pytest.raises(ValidationError, match="id"):
        Settings(**base, notification_link_template="https://c.test/approvals")


def test_the_receivers_check_in_the_docs_accepts_our_signature_only() -> None:
    doc = (Path(__file__).resolve().parents[4] / "docs/approvals.md").read_text()
    section = doc.split("### Signature", 1)[1]
    snippet = section.split("```python", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(snippet, "docs/approvals.md", "exec"), scope)  # noqa: S102 (our own docs)
    body = b'{"text":"hi"}'
    header = signing.signature("whsec_k", int(time.time()), body)
    assert scope["verify"]("whsec_k", header, body)
    assert not scope["verify"]("whsec_k", header, body + b" ")
    old = signing.signature("whsec_k", int(time.time()) - 600, body)
    assert not scope["verify"]("whsec_k", old, body)
