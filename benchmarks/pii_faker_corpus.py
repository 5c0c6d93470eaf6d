"""A second labelled corpus, made another way than :mod:`benchmarks.pii_corpus`: values from
Faker across seven locales, in other templates and containers.

The first corpus writes its own values and layouts; this one takes what Faker's locale
providers produce (``en_US``, ``en_GB``, ``de_DE``, ``fr_FR``, ``es_ES``, ``pt_BR``,
``ja_JP``): their phone layouts with extensions (``206.269.0743x9150``) and trunk prefixes
(``+49(0) 778353374``), every card type Faker issues (JCB 15 with 2131/1800, Maestro 12-digit,
Diners, Discover …), locale IBANs, names and cities. The containers are other ones too:
e-mails and chat turns, CSV rows, Markdown tables, URLs with tokens in their query, and JSON
whose string values are themselves JSON text (escaped quotes in the serialised form).

A value is labelled for what it is by its own specification, never by asking the detectors:
cards are Faker's (Luhn-valid by construction), IBANs Faker's (mod-97), GitHub tokens carry
their published CRC32, PEM keys are real keys made by ``cryptography``. A phone number is
labelled only when the numbering plan of its locale says it is a valid number
(``phonenumbers.is_valid_number``): Faker also prints numbers of unassigned ranges, which are
redrawn, as a detector that follows the plans must not report them.

Seeded: the same seed gives the same corpus.
"""

from __future__ import annotations

import json
import random
import string
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import phonenumbers
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from faker import Faker

from benchmarks.pii_corpus import (
    Frag,
    Label,
    PayloadLabel,
    Sample,
    Writer,
    ent,
)
from policy_engine.domain.pii import Entity

LOCALES = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "es_ES": "ES",
    "pt_BR": "BR",
    "ja_JP": "JP",
}
CARD_TYPES = [
    "maestro",
    "mastercard",
    "visa13",
    "visa16",
    "visa19",
    "amex",
    "discover",
    "diners",
    "jcb15",
    "jcb16",
]
CARD_WORDS = {
    "en_US": "card",
    "en_GB": "card",
    "de_DE": "Karte",
    "fr_FR": "carte",
    "es_ES": "tarjeta",
    "pt_BR": "cartão",
    "ja_JP": "カード",
}
CLEAN_SHARE = 0.3
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits


@dataclass
class Gen:
    """One draw: a seeded random source and the locale's Faker."""

    r: random.Random
    locale: str
    fake: Faker


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


# --- values ---------------------------------------------------------------------------------


def phone(g: Gen) -> str:
    region = LOCALES[g.locale]
    for _ in range(50):
        value: str = g.fake.phone_number()
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                return value
        except phonenumbers.NumberParseException:
            continue
    raise RuntimeError(f"no valid {region} number from Faker in 50 draws")


def card(g: Gen) -> str:
    digits: str = g.fake.credit_card_number(g.r.choice(CARD_TYPES))
    layout = g.r.random()
    if layout < 0.5 or len(digits) not in (15, 16):
        return digits
    sep = g.r.choice([" ", "-"])
    if len(digits) == 15:  # Amex and JCB 15 print as 4-6-5
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def iban(g: Gen) -> str:
    value: str = g.fake.iban()
    if g.r.random() < 0.4:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def ssn(_g: Gen) -> str:
    return str(_faker("en_US").ssn())


def ip(g: Gen) -> str:
    pick = g.r.random()
    if pick < 0.6:
        return str(g.fake.ipv4())
    if pick < 0.8:
        return str(g.fake.ipv4_private())
    return str(g.fake.ipv6())


def github_token(g: Gen) -> str:
    body = "".join(g.r.choices(ALNUM, k=30))
    crc, check = zlib.crc32(body.encode()), ""
    while crc:
        crc, digit = divmod(crc, 62)
        check = BASE62[digit] + check
    return f"ghp_{body}{check.rjust(6, '0')}"


def aws_key(g: Gen) -> str:
    return "AKIA" + "".join(g.r.choices(string.ascii_uppercase + "234567", k=16))


def stripe_key(g: Gen) -> str:
    return f"sk_live_{g.fake.pystr(min_chars=24, max_chars=24)}{g.r.randint(10, 99)}"


def slack_token(g: Gen) -> str:
    team, user = g.r.randint(10**9, 10**12), g.r.randint(10**9, 10**12)
    return f"xoxb-{team}-{user}-{''.join(g.r.choices(ALNUM, k=24))}"


def pem(g: Gen) -> str:
    """A real private key from seeded secret bytes: EC P-256 (SEC1) or Ed25519 (PKCS#8)."""
    if g.r.random() < 0.5:
        scalar = g.r.randrange(1, 2**255)
        return _pem(ec.derive_private_key(scalar, ec.SECP256R1()), traditional=True)
    return _pem(ed25519.Ed25519PrivateKey.from_private_bytes(g.r.randbytes(32)), traditional=False)


def _pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, *, traditional: bool) -> str:
    encoding = serialization.PrivateFormat
    return (
        key.private_bytes(
            serialization.Encoding.PEM,
            encoding.TraditionalOpenSSL if traditional else encoding.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
        .strip()
    )


# --- labelled fragments ---------------------------------------------------------------------

Value = Callable[[Gen], str]
SECRET = Entity.SECRET
# Entity, kind (the detector's kind for secrets), value, templates (one ``{}`` each).
KINDS: tuple[tuple[Entity, str, Value, tuple[str, ...]], ...] = (
    (
        Entity.PHONE,
        "phone",
        phone,
        (
            "You can reach me on {} after 5pm.",
            "Tel.: {}",
            "contact {} if the courier is late",
            "Rückruf unter {} bitte",
            "Appelez le {} demain",
            "Llámame al {}",
            "Meu telefone é {}",
            "電話番号は {} です",
        ),
    ),
    (
        Entity.CREDIT_CARD,
        "card",
        card,
        ("{word} {} expires next year", "refund to the {word} ending {}", "{word}: {}"),
    ),
    (Entity.EMAIL, "email", lambda g: str(g.fake.email()), ("mail {} the contract", "cc: {}")),
    (Entity.IBAN, "iban", iban, ("wire it to {} today", "IBAN {}")),
    (Entity.US_SSN, "ssn", ssn, ("applicant ssn {} verified", "SSN: {}")),
    (Entity.IP_ADDRESS, "ip", ip, ("login from {} failed", "client_ip={}")),
    (SECRET, "github_token", github_token, ("git push https://{}@github.com/org/repo",)),
    (SECRET, "aws_access_key", aws_key, ("aws configure set aws_access_key_id {}",)),
    (SECRET, "stripe_key", stripe_key, ("curl https://api.stripe.com/v1/charges -u {}:",)),
    (SECRET, "slack_token", slack_token, ("SLACK_BOT={}",)),
    (SECRET, "pem_private_key", pem, ("deploy key:\n{}\nend",)),
)
NAME_TEMPLATES = (
    "Please book a table for {person} on Friday.",
    "{person} asked whether the order can ship to {place}.",
    "Meeting notes: {person} will visit the {place} office next week.",
    "Customer {person} from {place} reported a billing issue.",
    "Hi {person}, your parcel has left {place}.",
)
CLEAN_SENTENCES = (
    "The nightly build finished in {n} minutes with {m} warnings.",
    "Summarise the attached quarterly report in three bullet points.",
    "Retry the failed upload; the checksum was {hex}.",
    "Order {order} was packed on {date} and weighs {kg} kg.",
    "Set the cache TTL to {n} seconds and the pool size to {m}.",
    "Version {ver} fixes the memory leak in the scheduler.",
    "Translate the release notes into French and German.",
    "Invoice total {price} EUR, due in {n} days, reference {order}.",
    "job {uuid} took {ms} ms; p99 over the last hour {m} ms",
)


def _fill(g: Gen, template: str) -> str:
    fake = g.fake
    return template.format(
        n=g.r.randint(2, 99),
        m=g.r.randint(2, 999),
        hex=fake.sha256()[:16],
        order=fake.bothify("ORD-####-??").upper(),
        date=fake.date(),
        kg=round(g.r.uniform(0.1, 40), 2),
        ver=fake.numerify("%.#.##"),
        price=fake.pricetag().lstrip("$"),
        uuid=fake.uuid4(),
        ms=g.r.randint(1, 5000),
    )


def clean_text(g: Gen) -> str:
    return " ".join(_fill(g, t) for t in g.r.sample(CLEAN_SENTENCES, g.r.randint(1, 3)))


def _place(template: str, value: Frag, word: str) -> Frag:
    before, _, after = template.replace("{word}", word).partition("{}")
    return Writer().add(before).frag(value).add(after).done()


def sensitive(g: Gen) -> Frag:
    entity, kind, value, templates = g.r.choice(KINDS)
    label_kind = kind if entity is SECRET else g.locale
    piece = ent(entity, label_kind, value(g))
    return _place(g.r.choice(templates), piece, CARD_WORDS[g.locale])


def names(g: Gen) -> Frag:
    template = g.r.choice(NAME_TEMPLATES)
    writer = Writer()
    rest = template
    while "{" in rest:
        before, _, rest = rest.partition("{")
        field, _, rest = rest.partition("}")
        writer.add(before)
        if field == "person":
            writer.ent(Entity.PERSON, g.locale, str(g.fake.name()))
        else:
            writer.ent(Entity.LOCATION, g.locale, str(g.fake.city()))
    return writer.add(rest).done()


def _sentence_mix(g: Gen, pieces: Sequence[Frag]) -> Frag:
    writer = Writer()
    for piece in pieces:
        writer.add(clean_text(g) + " " if g.r.random() < 0.5 else "").frag(piece).add(" ")
    return writer.done()


# --- containers -----------------------------------------------------------------------------


def _escaped(piece: Frag) -> Frag:
    """``piece`` as the body of a JSON string (quotes, backslashes and newlines escaped);
    labels move with the escapes before them."""

    def at(i: int) -> int:
        return len(json.dumps(piece.text[:i], ensure_ascii=False)) - 2

    labels = tuple(Label(x.entity, x.kind, at(x.start), at(x.end)) for x in piece.labels)
    return Frag(json.dumps(piece.text, ensure_ascii=False)[1:-1], labels)


def as_email(g: Gen, body: Frag) -> Frag:
    subject = g.fake.sentence(nb_words=4)
    return Writer().add(f"Subject: {subject}\n\nHello,\n\n").frag(body).add("\n\nThanks").done()


def as_csv(g: Gen, body: Frag) -> Frag:
    row = Writer().add(f'{g.r.randint(1, 9999)},{g.fake.date()},"').frag(body).add('",open')
    return Writer().add("id,created,note,status\n").frag(row.done()).done()


def as_markdown(_g: Gen, body: Frag) -> Frag:
    return Writer().add("| field | value |\n|---|---|\n| note | ").frag(body).add(" |").done()


def as_url(g: Gen, body: Frag) -> Frag:
    """A URL whose query carries a token (``access_token``), the text after it."""
    token = github_token(g) if g.r.random() < 0.5 else aws_key(g)
    kind = "github_token" if token.startswith("ghp_") else "aws_access_key"
    host = g.fake.domain_name()
    writer = Writer().add(f"GET https://{host}/v2/export?format=csv&access_token=")
    return writer.ent(SECRET, kind, token).add("&page=2\n").frag(body).done()


def as_nested_json(_g: Gen, body: Frag) -> Frag:
    """A tool result: JSON text inside a JSON string (``"result": "{\\"note\\": …}"``)."""
    inner = Writer().add('{"note": "').frag(_escaped(body)).add('", "ok": true}').done()
    return Writer().add('{"tool": "crm.lookup", "result": "').frag(_escaped(inner)).add('"}').done()


CONTAINERS: tuple[Callable[[Gen, Frag], Frag], ...] = (
    lambda _g, body: body,
    as_email,
    as_csv,
    as_markdown,
    as_url,
    as_nested_json,
)


def sample(g: Gen) -> Sample:
    """One payload: clean (ordinary agent text, no PII) with probability CLEAN_SHARE."""
    if g.r.random() < CLEAN_SHARE:
        text = clean_text(g)
        return Sample("clean", text, (), text, ())
    pieces = [sensitive(g) for _ in range(g.r.choice([1, 1, 2, 3]))]
    if g.r.random() < 0.5:
        pieces.insert(g.r.randrange(len(pieces) + 1), names(g))
    container = g.r.choice(CONTAINERS)
    piece = container(g, _sentence_mix(g, pieces))
    return Sample(
        container.__name__,
        piece.text,
        piece.labels,
        piece.text,
        tuple(PayloadLabel((), False, label) for label in piece.labels),
    )


def generate(n: int = 3000, seed: int = 10_2026) -> list[Sample]:
    """``n`` labelled samples over the locales in turn; the same seed gives the same corpus."""
    r = random.Random(seed)
    Faker.seed(seed)
    out = []
    for i in range(n):
        locale = list(LOCALES)[i % len(LOCALES)]
        out.append(sample(Gen(r, locale, _faker(locale))))
    return out


def sample_locale(index: int) -> str:
    """The locale the ``index``-th sample of :func:`generate` was drawn in."""
    return list(LOCALES)[index % len(LOCALES)]


def locale_of(label: Label) -> str:
    """The locale a PERSON/LOCATION/PHONE label was drawn in (its ``kind``)."""
    return label.kind
