"""A seeded generator of labelled agent payloads, for the PII detector's accuracy and speed.

Each :class:`Sample` is what an agent might send — a prompt, JSON tool arguments, shell lines,
an ``.env`` block, log lines — with the exact span of every entity in it, both in its text and
at its path in the JSON-like payload. Entities are written the ways people and tools write
them (phones in E.164, international and national layouts; cards with and without
separators; IBANs printed and electronic; secrets in ``.env``, YAML, JSON, headers, flags,
connection strings …) and are made valid independently of the detector: cards by Luhn, IBANs
by mod-97, phones by ``phonenumbers``, GitHub tokens by their CRC32.

Hard negatives surround them and fill the clean payloads (about 35 %): UUIDs, git SHAs,
Luhn-failing card numbers, IMEIs, versions (``1.2.3``, ``build 10.0.0.1``, ``1.2.3.4-beta``),
timestamps and dates, order ids, invalid phones, IBANs, SSNs and addresses, documentation
keys, GitHub-shaped strings with a bad checksum, placeholders (``changeme``, ``<your-key>``,
``${VAR}``), public keys and certificates.

Out of scope, so not generated: national phone layouts outside US/GB/DE/FR/IN, SSNs without
dashes and without an SSN word nearby, lowercase IBANs, secrets in prose without a key
(``my password is …``).
"""

from __future__ import annotations

import json
import random
import string
import uuid
import zlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from policy_engine.domain.pii import Entity, Finding, LocatedFinding

EMAIL, PHONE, CARD, IBAN = Entity.EMAIL, Entity.PHONE, Entity.CREDIT_CARD, Entity.IBAN
SSN, IP, SECRET = Entity.US_SSN, Entity.IP_ADDRESS, Entity.SECRET
PERSON, LOCATION = Entity.PERSON, Entity.LOCATION
R = random.Random
Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Label:
    entity: Entity
    kind: str  # for SECRET the kind the detector must report; otherwise a note on the format
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PayloadLabel:
    path: Path
    in_key: bool
    label: Label


@dataclass(frozen=True, slots=True)
class Sample:
    category: str
    text: str  # the payload as text; JSON tool arguments serialised
    labels: tuple[Label, ...]
    payload: object  # the JSON-like value
    payload_labels: tuple[PayloadLabel, ...]


# --- building labelled text ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frag:
    """A piece of text and the labels inside it (offsets relative to the piece)."""

    text: str
    labels: tuple[Label, ...] = ()


class Writer:
    def __init__(self) -> None:
        self._parts: list[str] = []
        self._labels: list[Label] = []
        self._length = 0

    def add(self, text: str) -> Writer:
        self._parts.append(text)
        self._length += len(text)
        return self

    def ent(self, entity: Entity, kind: str, value: str) -> Writer:
        self._labels.append(Label(entity, kind, self._length, self._length + len(value)))
        return self.add(value)

    def frag(self, piece: Frag) -> Writer:
        shift = self._length
        self._labels += [
            Label(x.entity, x.kind, x.start + shift, x.end + shift) for x in piece.labels
        ]
        return self.add(piece.text)

    def done(self) -> Frag:
        return Frag("".join(self._parts), tuple(self._labels))


def ent(entity: Entity, kind: str, value: str) -> Frag:
    return Writer().ent(entity, kind, value).done()


def join(pieces: Sequence[Frag], sep: str) -> Frag:
    writer = Writer()
    for i, piece in enumerate(pieces):
        writer.add(sep if i else "").frag(piece)
    return writer.done()


def around(r: R, value: Frag, templates: Sequence[str]) -> Frag:
    """``value`` placed at the ``{}`` of one of the templates; ``[[…]]`` in a template marks
    a person's name written into it (labelled PERSON, brackets dropped)."""
    before, _, after = r.choice(templates).partition("{}")
    return _marked(_marked(Writer(), before).frag(value), after).done()


def _marked(writer: Writer, text: str) -> Writer:
    while "[[" in text:
        head, _, rest = text.partition("[[")
        name, _, text = rest.partition("]]")
        writer.add(head).ent(PERSON, "template", name)
    return writer.add(text)


def words(text: str) -> list[str]:
    return text.split()


def lines(text: str) -> list[str]:
    """One entry per line of ``text``; a literal ``\\n`` inside a line stands for a newline."""
    return [line.replace("\\n", "\n") for line in text.strip("\n").split("\n")]


def rand(r: R, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


DIGITS, HEX, UPPER = string.digits, "0123456789abcdef", string.ascii_uppercase
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"

# --- structured entities ------------------------------------------------------------------

FIRST = words("john maria wei aisha carlos olga liam priya kenji fatima lucas emma noah sofia")
LAST = words("doe garcia zhang khan silva petrova murphy sharma tanaka haddad martin smith")
DOMAINS = words(
    "gmail.com outlook.com yahoo.co.uk acme-corp.io mail.example.org uni-heidelberg.de "
    "protonmail.ch company.travel dept.gov.in x.ai eng.mega-retail.com.au web.de"
)


def email(r: R) -> str:
    first, last = r.choice(FIRST), r.choice(LAST)
    local = r.choice(
        [
            f"{first}.{last}",
            f"{first[0]}{last}",
            f"{first}_{last}{r.randint(1, 99)}",
            f"{first}+{r.choice(['billing', 'news', 'ai'])}",
            f"{last}.{first}{r.randint(70, 99)}",
            f"{first.capitalize()}.{last.capitalize()}",
            f"{first}-{last}",
            str(r.randint(10_000, 999_999_999)),
        ]
    )
    address = f"{local}@{r.choice(DOMAINS)}"
    return address.upper() if r.random() < 0.05 else address


INTL_REGIONS = words("US GB DE FR IN JP AU BR ES IT NL MX ZA SG CH")
NATIONAL_REGIONS = words("US GB DE FR IN")


def phone_number(r: R, region: str) -> phonenumbers.PhoneNumber:
    """A random valid number of the region: its example number with the tail re-drawn."""
    kind = r.choice([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE])
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    national = str(example.national_number)
    for _ in range(200):
        keep = r.randint(1, 3)
        digits = national[:keep] + rand(r, DIGITS, len(national) - keep)
        if region == "US":
            digits = rand(r, "23456789", 1) + rand(r, DIGITS, 2) + rand(r, "23456789", 1)
            digits += rand(r, DIGITS, 6)
        number = phonenumbers.parse(f"+{example.country_code}{digits}")
        if phonenumbers.is_valid_number(number):
            return number
    return example


def phone(r: R) -> tuple[str, bool]:
    """A valid number as written; True when it is a bare digit run (which needs a phone word)."""
    if r.random() < 0.5:
        return _international(r, phone_number(r, r.choice(INTL_REGIONS))), False
    region = r.choice(NATIONAL_REGIONS)
    national = phonenumbers.format_number(phone_number(r, region), PhoneNumberFormat.NATIONAL)
    digits = "".join(c for c in national if c.isdigit())
    style = r.randrange(6)
    if style == 0:
        return digits, True
    if region == "US":
        a, b, c = digits[:3], digits[3:6], digits[6:]
        return r.choice(
            [national, f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"1-{a}-{b}-{c}", f"{a} {b} {c}"]
        ), False
    if region == "FR" and style == 1:
        return national.replace(" ", "."), False
    if region == "DE" and style == 2:
        return national.replace(" ", "/", 1), False  # 030/123456
    if region == "IN" and style == 3 and digits[1] in "6789":
        return f"{digits[1:6]}-{digits[6:]}", False  # a mobile without its trunk 0
    return national, False


def _international(r: R, number: phonenumbers.PhoneNumber) -> str:
    intl = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    cc, national = str(number.country_code), str(number.national_number)
    rest = intl[len(cc) + 2 :]
    trunk = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    layouts = [
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
        intl,
        f"00{cc} {rest}",
        f"+{cc}-{rest.replace(' ', '-')}",
        f"(+{cc}) {rest}",
    ]
    if cc in ("44", "49", "33", "39", "41", "31") and trunk.startswith("0"):
        layouts.append(f"+{cc} (0){trunk[1:]}")
    if cc == "1":
        a, b, c = national[:3], national[3:6], national[6:]
        layouts += [f"+1 ({a}) {b}-{c}", f"+1.{a}.{b}.{c}"]
    return r.choice(layouts)


def luhn_digit(partial: str) -> str:
    total = 0
    for i, char in enumerate(reversed(partial)):
        d = int(char) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


# (IIN prefix chooser, length) per brand
CARD_BRANDS: list[tuple[Callable[[R], str], int]] = [
    (lambda _r: "4", 16),
    (lambda _r: "4", 13),
    (lambda _r: "4", 19),
    (lambda r: str(r.randint(51, 55)), 16),
    (lambda r: str(r.randint(2221, 2720)), 16),
    (lambda r: r.choice(["34", "37"]), 15),
    (lambda r: r.choice(["6011", "65", str(r.randint(644, 649))]), 16),
    (lambda r: str(r.randint(3528, 3589)), 16),
    (lambda r: r.choice(["36", "38", str(r.randint(300, 305))]), 14),
    (lambda _r: "62", 16),
    (lambda _r: "62", 19),
]


def card(r: R, valid: bool = True) -> str:
    prefix_of, length = r.choice(CARD_BRANDS)
    partial = prefix_of(r)
    partial += rand(r, DIGITS, length - 1 - len(partial))
    check = int(luhn_digit(partial))
    digits = partial + str(check if valid else (check + r.randint(1, 9)) % 10)
    style = r.randrange(4)
    if style == 0:
        return digits
    sep = "-" if style == 2 else " "
    if length in (14, 15):
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    return sep.join(digits[i : i + 4] for i in range(0, length, 4))


# BBAN layouts: runs of n digits, a upper-case letters, c alphanumerics
IBAN_LAYOUTS = {
    "DE": "8n10n",
    "GB": "4a6n8n",
    "FR": "5n5n11c2n",
    "NL": "4a10n",
    "ES": "4n4n2n10n",
    "IT": "1a5n5n12c",
    "BE": "3n7n2n",
    "CH": "5n12c",
    "AT": "5n11n",
    "PL": "8n16n",
    "SE": "3n17n",
    "NO": "4n6n1n",
    "IE": "4a6n8n",
    "PT": "4n4n11n2n",
    "DK": "4n9n1n",
    "FI": "6n7n1n",
    "LU": "3n13c",
    "BR": "8n5n10n1a1c",
    "SA": "2n18c",
    "AE": "3n16n",
    "TR": "5n1n16c",
    "RO": "4a16c",
    "MT": "4a5n18c",
    "KW": "4a22c",
}
_CLASSES = {"n": DIGITS, "a": UPPER, "c": DIGITS + UPPER}


def iban(r: R, valid: bool = True) -> str:
    country = r.choice(sorted(IBAN_LAYOUTS))
    bban, count = "", ""
    for char in IBAN_LAYOUTS[country]:
        if char.isdigit():
            count += char
        else:
            bban, count = bban + rand(r, _CLASSES[char], int(count)), ""
    remainder = int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    check = 98 - remainder if valid else (98 - remainder + r.randint(1, 96)) % 97
    compact = f"{country}{check:02d}{bban}"
    if r.random() < 0.5:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def ssn(r: R, valid: bool = True) -> tuple[str, str, str]:
    area = r.choice([n for n in range(1, 900) if n != 666])
    group, serial = r.randint(1, 99), r.randint(1, 9999)
    if not valid:
        broken = r.randrange(5)
        area = (0, 666, r.randint(900, 999), area, area)[broken]
        group, serial = (0 if broken == 3 else group), (0 if broken == 4 else serial)
    return f"{area:03d}", f"{group:02d}", f"{serial:04d}"


IPV4 = lines("""
10.{a}.{b}.{c}
192.168.{a}.{c}
172.{p}.{a}.{c}
{q}.{a}.{b}.{c}
127.0.0.1
""")


def ipv4(r: R) -> str:
    a, b, c, p, q = (
        r.randint(0, 255),
        r.randint(0, 255),
        r.randint(1, 254),
        r.randint(16, 31),
        r.randint(1, 223),
    )
    return r.choice(IPV4).format(a=a, b=b, c=c, p=p, q=q)


def ipv6(r: R) -> str:
    g = [f"{r.randint(0, 0xFFFF):x}" for _ in range(8)]
    return r.choice(
        [
            ":".join(x.rjust(4, "0") for x in g),
            f"2001:db8::{g[6]}:{g[7]}",
            f"fe80::{g[4]}:{g[5]}:{g[6]}:{g[7]}",
            "::1",
            f"::ffff:{ipv4(r)}",
            ":".join(g).upper(),
        ]
    )


# --- secrets ------------------------------------------------------------------------------

BASE62 = DIGITS + UPPER + string.ascii_lowercase


def github_token(r: R, valid: bool = True) -> str:
    if valid and r.random() < 0.2:
        return f"github_pat_{rand(r, ALNUM, 22)}_{rand(r, ALNUM, 59)}"
    body, checksum = rand(r, ALNUM, 30), ""
    crc = zlib.crc32(body.encode())
    while crc:
        crc, digit = divmod(crc, 62)
        checksum = BASE62[digit] + checksum
    checksum = checksum.rjust(6, "0") if valid else rand(r, ALNUM, 6)
    return f"{r.choice(['ghp', 'gho', 'ghu', 'ghs', 'ghr'])}_{body}{checksum}"


def aws_key_id(r: R) -> str:
    return r.choice(["AKIA", "ASIA"]) + rand(r, UPPER + "234567", 16)


PEM_LABELS = lines("""
RSA PRIVATE KEY
EC PRIVATE KEY
PRIVATE KEY
OPENSSH PRIVATE KEY
ENCRYPTED PRIVATE KEY
""")


def pem(r: R) -> str:
    label = r.choice(PEM_LABELS)
    body = [rand(r, B64, 64) for _ in range(r.randint(3, 12))] + [rand(r, B64, 20) + "=="]
    block = f"-----BEGIN {label}-----\n" + "\n".join(body)
    return block if r.random() < 0.15 else f"{block}\n-----END {label}-----"  # or truncated


def slack_token(r: R) -> str:
    if r.random() < 0.5:
        return f"xoxb-{rand(r, DIGITS, 12)}-{rand(r, DIGITS, 13)}-{rand(r, ALNUM, 24)}"
    parts = "-".join(rand(r, DIGITS, r.randint(10, 13)) for _ in range(3))
    return f"xox{r.choice('pa')}-{parts}-{rand(r, HEX, 32)}"


def slack_webhook(r: R) -> str:
    team, bot = rand(r, UPPER + DIGITS, 10), rand(r, UPPER + DIGITS, 10)
    return f"https://hooks.slack.com/services/T{team}/B{bot}/{rand(r, ALNUM, 24)}"


def stripe_key(r: R) -> str:
    prefix = r.choice(["sk_live_", "rk_live_", "sk_test_", "sk_live_"])
    return prefix + rand(r, ALNUM, r.choice([24, 99]))


def password(r: R) -> str:
    return r.choice(
        [
            rand(r, ALNUM + "!@#%^*-_", r.randint(10, 20)),
            f"{r.choice(['Summer', 'Winter', 'Dragon', 'Tiger'])}{r.randint(2000, 2026)}!",
            rand(r, HEX, r.choice([32, 64])),
            rand(r, B64, 32) + "=",
            a_uuid(r),
            f"{rand(r, string.ascii_lowercase, 6)}-{rand(r, string.ascii_lowercase, 6)}-42",
        ]
    )


def jwt(r: R) -> str:
    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    return f"{header}.{rand(r, ALNUM, r.randint(30, 80))}.{rand(r, ALNUM + '-_', 43)}"


# --- hard negatives -----------------------------------------------------------------------


def a_uuid(r: R) -> str:
    return str(uuid.UUID(int=r.getrandbits(128), version=4))


def sha(r: R) -> str:
    return rand(r, HEX, r.choice([7, 12, 40, 64]))


VERSIONS = lines("""
{a}.{b}.{c}
v{a}.{b}.{c}
version {a}.{b}.{c}.{d}
build {a}.{b}.{c}.{d}
{a}.{b}.{c}.{d}-beta
{a}.{b}.{c}.{d}-rc2
pkg=={a}.{b}.{c}.{d}
release {a}.0.0.{d}
{a}.{b}.{c}+build.{d}
lodash@{a}.{b}.{c}
""")
TIMESTAMPS = lines("""
{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z
{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}
{d:02d}.{mo:02d}.{y}
{mo:02d}/{d:02d}/{y}
{y}{mo:02d}{d:02d}{h:02d}{mi:02d}{s:02d}
{epoch}
{epoch}{ms:03d}
""")
ORDER_IDS = lines("""
ORD-{y}{mo:02d}-{n5}
#{n7}
order {n8}
invoice INV{n10}
ticket JIRA-{n4}
id {n18}
txn_{token}
""")


def version(r: R) -> str:
    a, b, c, d = r.randint(1, 12), r.randint(0, 30), r.randint(0, 20), r.randint(0, 300)
    return r.choice(VERSIONS).format(a=a, b=b, c=c, d=d)


def timestamp(r: R) -> str:
    return r.choice(TIMESTAMPS).format(
        y=r.randint(2019, 2026),
        mo=r.randint(1, 12),
        d=r.randint(1, 28),
        h=r.randint(0, 23),
        mi=r.randint(0, 59),
        s=r.randint(0, 59),
        epoch=r.randint(1_500_000_000, 1_800_000_000),
        ms=r.randint(0, 999),
    )


def order_id(r: R) -> str:
    return r.choice(ORDER_IDS).format(
        y=r.randint(2019, 2026),
        mo=r.randint(1, 12),
        n4=r.randint(100, 9999),
        n5=r.randint(10**4, 10**5 - 1),
        n7=r.randint(10**5, 10**7 - 1),
        n8=r.randint(10**7, 10**8 - 1),
        n10=r.randint(10**9, 10**10 - 1),
        n18=r.randint(10**17, 10**18 - 1),
        token=rand(r, ALNUM, 24),
    )


def _valid_anywhere(text: str) -> bool:
    for region in [None, *NATIONAL_REGIONS]:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
                return True
        except phonenumbers.NumberParseException:
            pass
    return False


def invalid_phone(r: R) -> str:
    """Written like a phone number, but valid in no region (nor nationally in the defaults)."""
    for _ in range(100):
        d = rand(r, DIGITS, 10)
        text = r.choice(
            [f"+1 {d[:3]} {d[3:6]} {d[6:]}", f"({d[:3]}) {d[3:6]}-{d[6:]}", f"+44 {d[:2]} {d[2:]}"]
        )
        if not _valid_anywhere(text):
            return text
    return "+1 123 456 7890"


INVALID_IPS = lines("""
{big}.{a}.{b}.{c}
1.3.6.1.4.1.{oid}
{h:02d}:{mi:02d}:07
{mac}
std::map<int, std::string>
""")


def invalid_ip(r: R) -> str:
    return r.choice(INVALID_IPS).format(
        big=r.randint(256, 999),
        a=r.randint(0, 255),
        b=r.randint(0, 255),
        c=r.randint(0, 255),
        oid=r.randint(100, 60000),
        h=r.randint(0, 23),
        mi=r.randint(0, 59),
        mac=":".join(rand(r, "0123456789ABCDEF", 2) for _ in range(6)),
    )


DOC_SECRETS = lines("""
AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
sk_test_4eC39HqLyjWDarjtT1zdp7dc
ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
sk_live_xxxxxxxxxxxxxxxxxxxxxxxx
AKIAXXXXXXXXXXXXXXXX
xoxb-your-token-here
https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX
-----BEGIN RSA PRIVATE KEY-----\\n...\\n-----END RSA PRIVATE KEY-----
pk_live_51H8sLhGq2Bv0dpM3uK9eZrT
""")
PLACEHOLDERS = lines("""
password=changeme
API_KEY=<your-api-key>
GITHUB_TOKEN=${GITHUB_TOKEN}
secret: "****"
DB_PASSWORD=
"api_key": ""
api_key = os.environ["OPENAI_API_KEY"]
password = get_password()
token_type: Bearer
max_tokens=1024
"max_tokens": 512
secret_name: prod/db/credentials
password_min_length: 12
primary_key: id
Reset your password: click the link we sent you.
password: "{{ vault_db_password }}"
client_secret: null
SECRET_KEY=REPLACE_ME
password: your_password_here
Authorization: Bearer <token>
postgres://user:password@localhost:5432/app
export AWS_SECRET_ACCESS_KEY=$AWS_SECRET
token = settings.slack_token
API key: see the team vault
password: "<%= ENV['DB_PASS'] %>"
token: "{{ .Values.token }}"
PASSWORD=***
"password": "********"
secret = None
TOKEN=$(cat /run/secrets/token)
token_count=42
password_policy: strict
public_key: ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7
keyboard: us
tokenizer: cl100k_base
passport_number: X1234567
bypass_cache=true
api_key: null
client_secret: ''
export API_TOKEN="$API_TOKEN"
password = os.getenv('PASSWORD')
secret_ref: vault:secret/data/prod#db
""")


def public_material(r: R) -> str:
    kind = r.choice(["PUBLIC KEY", "CERTIFICATE"])
    body = "\n".join(rand(r, B64, 64) for _ in range(r.randint(2, 5)))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


HARD_NEGATIVES: list[Callable[[R], str]] = [
    a_uuid,
    sha,
    version,
    timestamp,
    order_id,
    invalid_phone,
    invalid_ip,
    public_material,
    lambda r: "-".join(ssn(r, valid=False)),
    lambda r: card(r, valid=False),
    lambda r: iban(r, valid=False),
    lambda r: github_token(r, valid=False),
    lambda r: r.choice(DOC_SECRETS),
    lambda r: r.choice(PLACEHOLDERS),
    lambda r: rand(r, ALNUM, r.choice([20, 32, 40])),
    lambda r: f"git@github.com:acme/{r.choice(['api', 'web'])}.git",
    lambda r: f"sha256:{rand(r, HEX, 64)}",
    lambda r: f"${r.randint(1, 9999)},{r.randint(100, 999)}.{r.randint(0, 99):02d}",
    lambda r: f"{r.uniform(-90, 90):.4f}, {r.uniform(-180, 180):.4f}",
    lambda r: f"ISBN 978-{r.randint(0, 9)}-{r.randint(10, 99)}-{r.randint(10**5, 10**6 - 1)}-3",
    lambda r: f"zip {r.randint(10000, 99999)}-{r.randint(1000, 9999)}",
    lambda r: (
        f"IMEI {r.randint(35, 99)}-{rand(r, DIGITS, 6)}-{rand(r, DIGITS, 6)}-{r.randint(0, 9)}"
    ),
    lambda r: f"part {r.randint(100, 899)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}-B",
    lambda r: f"card ending in {r.randint(1000, 9999)}, **** **** **** {r.randint(1000, 9999)}",
    lambda r: f"call_id={rand(r, DIGITS, 10)} duration={r.randint(1, 900)}s",
    lambda r: r.choice(["@channel", "user@localhost", "npm i @types/node@18.0.0", "a@b.c"]),
    lambda r: f"DOB {r.randint(1950, 2005)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    lambda r: f"session={a_uuid(r)}; Path=/; HttpOnly",
    lambda r: f"BIC DEUTDEFF{r.randint(100, 999)}",
]


def hard_negative(r: R) -> str:
    return r.choice(HARD_NEGATIVES)(r)


# --- entity kinds: each as a line of text and as a JSON field -----------------------------


@dataclass(frozen=True)
class Kind:
    text: Callable[[R], Frag]
    field: Callable[[R], tuple[str, Frag]]


def _email_text(r: R) -> Frag:
    name = f"[[{r.choice(FIRST).capitalize()} {r.choice(LAST).capitalize()}]]"
    templates = [
        "Please send the quarterly report to {} before Friday.",
        "cc: {}",
        "Reply to <{}> with the signed contract.",
        "mailto:{}",
        name + " ({}) asked for a refund.",
        "login failed for user={} from version 1.4.0.2",
        "Forward this thread to {}, then archive it.",
        'From: "[[Doe, Jane]]" <{}>',
        "recipients={};",
        "| 1042 | {} | active |",
    ]
    return around(r, ent(EMAIL, "email", email(r)), templates)


def _phone_text(r: R) -> Frag:
    value, bare = phone(r)
    worded = ["Call me at {} after 5pm.", "phone: {}", "Mobile {} (WhatsApp too)."]
    worded += ["Customer asked for a callback on {}.", "tel:{}", "Ph. {} ext. 204", "fax {}"]
    plain = ["Reach the front desk on {}.", "Emergency contact: {}, ask for [[Dana]]."]
    plain += [
        "{} is the new support line.",
        "| [[Dana Smith]] | {} | on call |",
        "Ring {} if paged",
    ]
    return around(
        r, ent(PHONE, "bare" if bare else "formatted", value), worded + (plain * (not bare))
    )


def _card_text(r: R) -> Frag:
    templates = ["Charge card {} for $42.00.", "card_number={}", "My Visa is {} exp 09/27 cvv 123."]
    templates += ["PAN: {}", "| 2024-03-01 | {} | declined |", "method=card&number={}&exp=0927"]
    return around(r, ent(CARD, "card", card(r)), templates)


def _iban_text(r: R) -> Frag:
    templates = [f"Wire EUR 500 to IBAN {{}} (ref {order_id(r)}).", "iban: {}"]
    templates += ["Beneficiary account {}.", "Please update my payout account to {} from May."]
    return around(r, ent(IBAN, "iban", iban(r)), templates)


def _ssn_text(r: R) -> Frag:
    area, group, serial = ssn(r)
    if r.random() < 0.8:
        templates = ["SSN {} on file.", "Applicant social security number: {}", "ssn={}"]
        templates += ["Employee 4412 has {} as SSN.", "SSN#: {}", "W-2 for [[J. Doe]] ({})"]
        return around(r, ent(SSN, "dashed", f"{area}-{group}-{serial}"), templates)
    value = r.choice([f"{area} {group} {serial}", f"{area}{group}{serial}"])
    return around(r, ent(SSN, "worded", value), ["SSN: {}", "her social security number is {}."])


def _ip_text(r: R) -> Frag:
    if r.random() < 0.3:
        templates = ["curl -6 http://[{}]:443/", "client {} connected", "ping6 {}"]
        templates += ["listen [{}]:80;", "route via {}%eth0"]
        return around(r, ent(IP, "ipv6", ipv6(r)), templates)
    if r.random() < 0.1:
        w = Writer().add("inet ").ent(IP, "ipv4", ipv4(r)).add("/24 brd ").ent(IP, "ipv4", ipv4(r))
        return w.add(" scope global eth0").done()
    templates = ["Blocked {} after 5 failed logins.", "ssh ubuntu@{} -i ~/.ssh/deploy"]
    templates += ["curl http://{}:8080/health", "X-Forwarded-For: {}", "allow from {}/24;"]
    templates += ["host={} port=5432", "The build server at {} is out of disk."]
    templates += ["upstream backend { server {}:9000; }", '{"remote": "{}"}', "nslookup api {}"]
    return around(r, ent(IP, "ipv4", ipv4(r)), templates)


PROVIDERS: dict[str, Callable[[R], str]] = {
    "aws_access_key": aws_key_id,
    "github_token": github_token,
    "slack_token": slack_token,
    "slack_webhook": slack_webhook,
    "stripe_key": stripe_key,
    "pem_private_key": pem,
}
PROVIDER_TEXT = {
    "aws_access_key": ["AWS_ACCESS_KEY_ID={}", "the leaked key {} was rotated?"],
    "github_token": [
        "export GITHUB_TOKEN={}",
        "git clone https://{}@github.com/acme/api.git",
        "git remote set-url origin https://x-access-token:{}@github.com/acme/api.git",
        "curl -H 'Authorization: token {}' https://api.github.com/user",
        "use {} for the release workflow",
    ],
    "slack_token": ["SLACK_BOT_TOKEN={}", "slack token {} posted in #general"],
    "slack_webhook": ["post the summary to {} when done", "SLACK_WEBHOOK_URL={}"],
    "stripe_key": ["STRIPE_SECRET_KEY={}", 'stripe.api_key = "{}"', "charge with {} in prod"],
    "pem_private_key": ["Here is the deploy key:\n{}\n", "{}", "cat > id_rsa <<EOF\n{}\nEOF"],
}
PROVIDER_KEYS = {
    "aws_access_key": ["AccessKeyId", "aws_access_key_id"],
    "github_token": ["github_token", "token", "GH_TOKEN", "auth"],
    "slack_token": ["slack_token", "bot_token"],
    "slack_webhook": ["webhook_url", "notify"],
    "stripe_key": ["stripe_key", "api_key", "secret_key"],
    "pem_private_key": ["private_key", "ssh_key", "key"],
}


def _provider(kind: str) -> Kind:
    def value(r: R) -> Frag:
        return ent(SECRET, kind, PROVIDERS[kind](r))

    return Kind(
        lambda r: around(r, value(r), PROVIDER_TEXT[kind]),
        lambda r: (r.choice(PROVIDER_KEYS[kind]), value(r)),
    )


SECRET_KEYS = words(
    "DB_PASSWORD PASSWORD API_KEY SECRET_KEY JWT_SECRET CLIENT_SECRET AUTH_TOKEN ACCESS_TOKEN "
    "REFRESH_TOKEN SMTP_PASS REDIS_PASSWORD ENCRYPTION_KEY WEBHOOK_SECRET passphrase apiKey "
    "clientSecret db_password passwd OPENAI_API_KEY SIGNING_KEY x-api-key accessToken"
)
# Where a secret named by its key appears: {k} the key, {v} the value.
KEY_NAMED_TEXT = [
    "{k}={v}",
    '{k}="{v}"',
    "export {k}='{v}'",
    "\n  {lk}: {v}\n",
    '{lk} = "{v}"',
    "GET https://api.vendor.io/v1/items?api_key={v}&limit=10",
    "curl -H 'X-Api-Key: {v}' https://api.vendor.io/v2/jobs",
    "./migrate --{fk}={v} --dry-run",
    "./migrate --{fk} {v} --dry-run",
    '{{"{k}": "{v}"}}',
    "{{'{lk}': '{v}'}}",
    "    '{lk}' => '{v}',",
    "Server=db01;Database=orders;User Id=svc;Password={v};",
    "docker run -e {k}={v} acme/api:latest",
    "curl -H 'X-Auth-Token: {v}' https://api.vendor.io/v2/jobs",
]


def _key_named_text(r: R) -> Frag:
    key = r.choice(SECRET_KEYS)
    value = rand(r, B64, 24) + "=" if r.random() < 0.15 else password(r)  # k8s Secret: base64
    template = r.choice(KEY_NAMED_TEXT)
    template = template.format(k=key, lk=key.lower(), fk=key.lower().replace("_", "-"), v="\0")
    before, _, after = template.partition("\0")
    return Writer().add(before).ent(SECRET, "key_named_secret", value).add(after).done()


def _key_named_field(r: R) -> tuple[str, Frag]:
    keys = words("password api_key client_secret token access_token db_password secretKey")
    return r.choice(keys), ent(SECRET, "key_named_secret", password(r))


def _aws_secret_text(r: R) -> Frag:
    secret = rand(r, B64, 40)
    if r.random() < 0.4:
        w = (
            Writer()
            .add("[default]\naws_access_key_id = ")
            .ent(SECRET, "aws_access_key", aws_key_id(r))
        )
        return w.add("\naws_secret_access_key = ").ent(SECRET, "aws_secret_key", secret).done()
    templates = ["export AWS_SECRET_ACCESS_KEY={}", '"SecretAccessKey": "{}"']
    return around(r, ent(SECRET, "aws_secret_key", secret), templates)


def _aws_secret_field(r: R) -> tuple[str, Frag]:
    key = r.choice(["aws_secret_access_key", "SecretAccessKey"])
    return key, ent(SECRET, "aws_secret_key", rand(r, B64, 40))


def _url_password_text(r: R) -> Frag:
    templates = [
        "DATABASE_URL=postgres://app:{}@db.internal:5432/app",
        "mongodb+srv://svc-reporting:{}@cluster0.ab1cd.mongodb.net/test",
        "redis://:{}@cache:6379/0",
        "amqp://orders:{}@rabbit:5672/",
        "psql postgresql://analyst:{}@warehouse.internal/dwh",
    ]
    value = ent(SECRET, "url_password", rand(r, ALNUM + "!-_~", r.randint(10, 24)))
    return around(r, value, templates)


def _bearer_text(r: R) -> Frag:
    if r.random() < 0.7:
        w = Writer().add("curl -H 'Authorization: Bearer ").ent(SECRET, "bearer_token", jwt(r))
        return w.add("' https://api.internal/v1/me").done()
    basic = rand(r, B64, 28) + "="
    return Writer().add("Authorization: Basic ").ent(SECRET, "bearer_token", basic).done()


def _bearer_field(r: R) -> tuple[str, Frag]:
    return "Authorization", Writer().add("Bearer ").ent(SECRET, "bearer_token", jwt(r)).done()


def _field(keys: str, make: Callable[[R], Frag]) -> Callable[[R], tuple[str, Frag]]:
    return lambda r: (r.choice(words(keys)), make(r))


def _phone_value(r: R) -> Frag:
    return ent(PHONE, "field", phone(r)[0])


def _ssn_value(r: R) -> Frag:
    area, group, serial = ssn(r)
    return ent(SSN, "field", r.choice([f"{area}-{group}-{serial}", f"{area}{group}{serial}"]))


# Names and places: this corpus's own lists and layouts (Faker writes the other corpus's).
GIVEN = words(
    "John Maria Wei Aisha Carlos Olga Liam Priya Kenji Fatima Lucas Emma Noah Sofia Jürgen "
    "Ingrid Søren Chloé Thérèse Joaquín Inés João Beatriz Giulia Matteo Anouk Pieter Zofia "
    "Kwame Amara Tomasz Dmitri Yusuf Leila Siobhan Declan Margarethe Hamza Nadia Rafael"
)
FAMILY = words(
    "Doe Garcia Zhang Khan Silva Petrova Murphy Sharma Tanaka Haddad Martin Smith Müller "
    "Schäfer Lindqvist Dubois Lefèvre Fernández Gonçalves Rossi Jansen Kowalski Mensah "
    "Okonkwo Novak Yilmaz O'Brien McAllister Nakamura Brandt Moreau Ortega Costa Vogel"
)
FAMILY_PARTICLES = words("van de von da del")
JA_FAMILY = words("佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤")
JA_GIVEN = words("太郎 花子 健一 美咲 大輔 由美 翔 さくら 陽菜 蓮")
TITLES = words("Mr Mrs Ms Dr Prof. Herr Frau Mme Sr. Sra.")
CITIES = lines("""
Berlin
München
Hamburg
Köln
Paris
Lyon
Marseille
Toulouse
Madrid
Barcelona
Sevilla
Valencia
Lisboa
Porto
São Paulo
Rio de Janeiro
Belo Horizonte
Manchester
Edinburgh
Bristol
Chicago
San Francisco
New York
Boston
Toronto
Melbourne
Rotterdam
Zürich
Kraków
Nairobi
Lagos
Istanbul
Osaka
東京都
大阪市
札幌市
名古屋市
福岡市
神戸市
""")


def person_name(r: R) -> str:
    given, family = r.choice(GIVEN), r.choice(FAMILY)
    layout = r.randrange(8)
    if layout == 0:
        return f"{given} {r.choice(GIVEN)} {family}"
    if layout == 1:
        return f"{family}, {given}"
    if layout == 2:
        return f"{given[0]}. {family}"
    if layout == 3:
        return f"{r.choice(TITLES)} {family}"
    if layout == 4:
        return f"{given} {r.choice(FAMILY_PARTICLES)} {family}"
    if layout == 5:
        return f"{r.choice(JA_FAMILY)} {r.choice(JA_GIVEN)}"
    return f"{given} {family}"


PERSON_TEXT = [
    "Assign the ticket to {} and set priority high.",
    "{} approved the refund yesterday.",
    "Escalated by {} (tier 2 support).",
    "Dear {},\nyour request has been processed.",
    "The meeting with {} moved to 3pm.",
    "author: {}",
    "Signed, {}",
    "Ask {} for the budget sign-off before Friday.",
    "Reviewer {} left three comments on the pull request.",
    "Ticket opened on behalf of {} by the support bot.",
    "担当者: {}",
    "{}様、ご注文ありがとうございます。",
]
PLACE_TEXT = [
    "Book a flight from {} to {} on Monday.",
    "What will the weather be like in {} tomorrow?",
    "Our {} warehouse is closed for inventory.",
    "She is relocating to {} in June.",
    "Which timezone is {} in?",
    "{} branch reported a 5% drop in sales.",
    "Find hotels near the station in {}.",
    "配送先: {}",
    "city={}",
]


def _person_text(r: R) -> Frag:
    return around(r, ent(PERSON, "person", person_name(r)), PERSON_TEXT)


def _place_text(r: R) -> Frag:
    template = r.choice(PLACE_TEXT)
    writer = Writer()
    pieces = template.split("{}")
    for i, piece in enumerate(pieces):
        writer.add(piece)
        if i < len(pieces) - 1:
            writer.ent(LOCATION, "place", r.choice(CITIES))
    return writer.done()


KINDS: list[Kind] = [
    Kind(
        _email_text, _field("email to recipient reply_to", lambda r: ent(EMAIL, "email", email(r)))
    ),
    Kind(_phone_text, _field("phone mobile phone_number contactPhone tel", _phone_value)),
    Kind(_card_text, _field("card_number pan payment_card", lambda r: ent(CARD, "card", card(r)))),
    Kind(
        _iban_text,
        _field("iban beneficiary_account payout_iban", lambda r: ent(IBAN, "iban", iban(r))),
    ),
    Kind(_ssn_text, _field("ssn customer_ssn SSN", _ssn_value)),
    Kind(
        _ip_text,
        _field("client_ip remote_addr ip", lambda r: ent(IP, "ip", r.choice([ipv4, ipv6])(r))),
    ),
    *(_provider(kind) for kind in PROVIDERS),
    Kind(_key_named_text, _key_named_field),
    Kind(_aws_secret_text, _aws_secret_field),
    Kind(_url_password_text, _field("dsn database_url", _url_password_text)),
    Kind(_bearer_text, _bearer_field),
    Kind(
        _person_text,
        _field(
            "customer_name full_name assignee contact requester firstName",
            lambda r: ent(PERSON, "person", person_name(r)),
        ),
    ),
    Kind(
        _place_text,
        _field(
            "city destination hometown shipping_city location",
            lambda r: ent(LOCATION, "place", r.choice(CITIES)),
        ),
    ),
]

# --- payload shapes -----------------------------------------------------------------------

SERVICES = words("billing-api checkout web-frontend ledger search-indexer auth-gateway")
NEUTRAL_SENTENCES: list[Callable[[R], str]] = [
    lambda r: f"Summarise the last {r.randint(5, 50)} messages in the #incident channel.",
    lambda r: f"Deploy {r.choice(SERVICES)} {version(r)} to staging and run the smoke tests.",
    lambda r: f"Commit {sha(r)} fixed the flaky test in the ledger module.",
    lambda r: f"Request {a_uuid(r)} took {r.randint(3, 900)} ms.",
    lambda r: f"Order {order_id(r)} shipped on {timestamp(r)}.",
    lambda _r: "Refactor the payment module but keep the public API stable.",
    lambda _r: "Translate the following paragraph into German and keep the tone formal.",
    lambda r: f"Note: {hard_negative(r)}",
    lambda r: f"The error budget for {r.choice(SERVICES)} is {r.randint(1, 99)}% used.",
    lambda r: f"Compare {hard_negative(r)} with {hard_negative(r)} and report any drift.",
    lambda r: f"Upgrade numpy to 1.{r.randint(0, 26)}.{r.randint(0, 9)} and re-run CI.",
    lambda r: f"Scale {r.choice(SERVICES)} to {r.randint(2, 40)} replicas at {timestamp(r)}.",
]
NEUTRAL_SHELL: list[Callable[[R], str]] = [
    lambda _r: "ls -la /var/log/nginx",
    lambda r: f"git checkout -b fix/{sha(r)[:7]}",
    lambda r: f"pip install requests==2.{r.randint(0, 32)}.{r.randint(0, 9)}",
    lambda r: f"docker pull nginx@sha256:{rand(r, HEX, 64)}",
    lambda r: f"kubectl rollout status deploy/{r.choice(SERVICES)} --timeout={r.randint(30, 600)}s",
    lambda r: f"git log --since={timestamp(r)[:10]} --oneline",
    lambda r: f"export APP_VERSION={version(r)}",
    lambda r: f"echo {hard_negative(r)!r}",
    lambda r: f"grep -rn {a_uuid(r)} logs/",
]
NEUTRAL_ENV: list[Callable[[R], str]] = [
    lambda r: f"PORT={r.choice([80, 443, 3000, 8080])}",
    lambda r: f"LOG_LEVEL={r.choice(['debug', 'info', 'warning'])}",
    lambda r: f"APP_VERSION={r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
    lambda r: f"TIMEOUT_MS={r.randint(100, 30000)}",
    lambda r: f"REQUEST_ID={a_uuid(r)}",
    lambda r: f"BUILD_SHA={sha(r)}",
    lambda r: f"MAX_TOKENS={r.randint(256, 8192)}",
    lambda _r: "FEATURE_FLAGS=new_checkout,beta_search",
    lambda r: r.choice(PLACEHOLDERS),
    lambda r: f"# generated {timestamp(r)}",
]
Json = Frag | str | int | float | bool | None | list["Json"] | dict["str | Frag", "Json"]
NEUTRAL_FIELDS: list[Callable[[R], tuple[str, Json]]] = [
    lambda r: ("limit", r.randint(1, 500)),
    lambda r: ("query", r.choice(NEUTRAL_SENTENCES)(r)),
    lambda r: ("request_id", a_uuid(r)),
    lambda r: ("version", version(r)),
    lambda r: ("created_at", timestamp(r)),
    lambda r: ("note", hard_negative(r)),
    lambda r: ("dry_run", r.random() < 0.5),
    lambda r: ("max_tokens", r.randint(256, 4096)),
    lambda r: ("commit", sha(r)),
    lambda r: ("temperature", round(r.random(), 2)),
    lambda r: ("order_id", order_id(r)),
    lambda r: ("tags", [r.choice(SERVICES), hard_negative(r)]),
    lambda r: ("amount_cents", r.randint(100, 10**7)),
]


def _lines(r: R, positives: list[Frag], neutral: list[Callable[[R], str]], sep: str) -> Frag:
    pieces = positives + [Frag(r.choice(neutral)(r)) for _ in range(r.randint(1, 4))]
    r.shuffle(pieces)
    return join(pieces, sep)


def _log(r: R, positives: list[Frag]) -> Frag:
    lines = []
    pieces = positives + [Frag(r.choice(NEUTRAL_SENTENCES)(r)) for _ in range(r.randint(1, 3))]
    r.shuffle(pieces)
    for piece in pieces:
        level = r.choice(["INFO", "WARN", "ERROR", "DEBUG"])
        head = f"{timestamp(r)} {level} [{r.choice(SERVICES)}] req={a_uuid(r)[:8]} "
        lines.append(Writer().add(head).frag(piece).done())
    return join(lines, "\n")


TEXT_SHAPES: dict[str, Callable[[R, list[Frag]], Frag]] = {
    "prompt": lambda r, p: _lines(r, p, NEUTRAL_SENTENCES, r.choice([" ", "\n", "\n\n"])),
    "shell": lambda r, p: _lines(r, p, NEUTRAL_SHELL, r.choice(["\n", " && ", "\n$ "])),
    "env": lambda r, p: _lines(r, p, NEUTRAL_ENV, "\n"),
    "log": _log,
}


def tool_args(r: R, kinds: list[Kind]) -> dict[str | Frag, Json]:
    fields: dict[str | Frag, Json] = {}
    for kind in kinds:
        key, value = kind.field(r)
        fields[key if key not in fields else f"{key}_{len(fields)}"] = value
    for _ in range(r.randint(1, 4)):
        key, plain = r.choice(NEUTRAL_FIELDS)(r)
        fields.setdefault(key, plain)
    if kinds and r.random() < 0.15:
        fields["roles"] = {ent(EMAIL, "email", email(r)): "admin"}  # an e-mail as a key
    if r.random() < 0.3:
        fields = {"customer": fields, "trace_id": a_uuid(r)}
    tool = r.choice(words("send_email create_ticket http_request update_customer run_sql"))
    return {"tool": tool, "arguments": fields}


# --- JSON rendering with labels -----------------------------------------------------------


@dataclass
class _Rendered:
    parts: list[str] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    payload_labels: list[PayloadLabel] = field(default_factory=list)
    length: int = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def string(self, piece: Frag, path: Path, in_key: bool) -> None:
        """``piece`` as a JSON string; label offsets follow the escapes before them."""

        def at(i: int) -> int:
            return self.length + len(json.dumps(piece.text[:i], ensure_ascii=False)) - 1

        self.labels += [Label(x.entity, x.kind, at(x.start), at(x.end)) for x in piece.labels]
        self.payload_labels += [PayloadLabel(path, in_key, x) for x in piece.labels]
        self.add(json.dumps(piece.text, ensure_ascii=False))


def _render(value: Json, path: Path, out: _Rendered) -> object:
    if isinstance(value, Frag | str):
        piece = value if isinstance(value, Frag) else Frag(value)
        out.string(piece, path, in_key=False)
        return piece.text
    if isinstance(value, dict):
        result: dict[str, object] = {}
        out.add("{")
        for i, (key, item) in enumerate(value.items()):
            name = key if isinstance(key, Frag) else Frag(key)
            step = (*path, i if name.labels else name.text)  # a key holding PII: its position
            out.add(", " if i else "")
            out.string(name, step, in_key=True)
            out.add(": ")
            result[name.text] = _render(item, step, out)
        out.add("}")
        return result
    if isinstance(value, list):
        out.add("[")
        items = []
        for i, item in enumerate(value):
            out.add(", " if i else "")
            items.append(_render(item, (*path, i), out))
        out.add("]")
        return items
    out.add(json.dumps(value))
    return value


# --- the corpus ---------------------------------------------------------------------------

CLEAN_SHARE = 0.35


def _text_sample(category: str, piece: Frag) -> Sample:
    payload_labels = tuple(PayloadLabel((), False, label) for label in piece.labels)
    return Sample(category, piece.text, piece.labels, piece.text, payload_labels)


def sample(r: R) -> Sample:
    """One payload; clean (hard negatives only) with probability CLEAN_SHARE."""
    kinds = [] if r.random() < CLEAN_SHARE else r.sample(KINDS, r.choice([1, 1, 1, 2, 2, 3]))
    category = r.choice(["prompt", "prompt", "tool_args", "tool_args", "shell", "env", "log"])
    if category != "tool_args":
        return _text_sample(category, TEXT_SHAPES[category](r, [k.text(r) for k in kinds]))
    out = _Rendered()
    payload = _render(tool_args(r, kinds), (), out)
    text = "".join(out.parts)
    return Sample(category, text, tuple(out.labels), payload, tuple(out.payload_labels))


def generate(n: int = 2400, seed: int = 20_240_611) -> list[Sample]:
    """``n`` labelled samples; the same seed always gives the same corpus."""
    r = random.Random(seed)
    return [sample(r) for _ in range(n)]


def sized(count: int, size: int = 1024, seed: int = 7) -> list[Sample]:
    """``count`` text payloads of about ``size`` characters, each made of whole samples."""
    r = random.Random(seed)
    out = []
    for _ in range(count):
        writer, length = Writer(), 0
        while length < size * 0.9:
            one = sample(r)
            if length and length + len(one.text) > size * 1.15:
                continue
            writer.add("\n" if length else "").frag(Frag(one.text, one.labels))
            length += len(one.text) + 1
        out.append(_text_sample("mixed", writer.done()))
    return out


# --- scoring ------------------------------------------------------------------------------

STRUCTURED = (EMAIL, PHONE, CARD, IBAN, SSN, IP)


@dataclass
class Tally:
    """Counts for one row of the accuracy table: an entity, or ``SECRET/<kind>``."""

    labels: int = 0
    recalled: int = 0  # labels overlapped by a finding of the same row
    findings: int = 0
    correct: int = 0  # findings overlapping a label of the same row

    @property
    def recall(self) -> float:
        return self.recalled / self.labels if self.labels else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.findings if self.findings else 1.0


def row(entity: Entity, kind: str) -> str:
    return f"SECRET/{kind}" if entity is SECRET else entity.value


def _matches(finding: Finding, label: Label) -> bool:
    same = finding.entity is label.entity and (
        label.entity is not SECRET or finding.kind == label.kind
    )
    return same and finding.start < label.end and label.start < finding.end


def _count(
    rows: dict[str, Tally],
    labels: Sequence[tuple[Hashable, Label]],
    found: Sequence[tuple[Hashable, Finding]],
) -> None:
    """Add one payload: a finding must be at the label's place (its path, in payload scans)."""
    for place, label in labels:
        counts = rows.setdefault(row(label.entity, label.kind), Tally())
        counts.labels += 1
        counts.recalled += any(at == place and _matches(f, label) for at, f in found)
    for at, f in found:
        counts = rows.setdefault(row(f.entity, f.kind), Tally())
        counts.findings += 1
        counts.correct += any(at == place and _matches(f, label) for place, label in labels)


def tally(samples: Sequence[Sample], findings: Sequence[Sequence[Finding]]) -> dict[str, Tally]:
    """Per-row counts of text scans; a finding is right when it overlaps a label of its row."""
    rows: dict[str, Tally] = {}
    for one, found in zip(samples, findings, strict=True):
        _count(rows, [(None, label) for label in one.labels], [(None, f) for f in found])
    return rows


def tally_payload(
    samples: Sequence[Sample], scans: Sequence[Sequence[LocatedFinding]]
) -> dict[str, Tally]:
    """Per-row counts of payload scans: right place (path, in key or not) and overlap."""
    rows: dict[str, Tally] = {}
    for one, found in zip(samples, scans, strict=True):
        labels = [((p.path, p.in_key), p.label) for p in one.payload_labels]
        _count(rows, labels, [((f.path, f.in_key), f.finding) for f in found])
    return rows


def structured_recall(rows: dict[str, Tally]) -> float:
    labels = sum(rows[e.value].labels for e in STRUCTURED if e.value in rows)
    recalled = sum(rows[e.value].recalled for e in STRUCTURED if e.value in rows)
    return recalled / labels if labels else 1.0


def table(rows: dict[str, Tally]) -> str:
    lines_out = [f"{'entity':<26} {'labels':>7} {'recall':>7} {'found':>7} {'precision':>9}"]
    for name in sorted(rows, key=lambda n: (n.startswith("SECRET/"), n)):
        t = rows[name]
        lines_out.append(
            f"{name:<26} {t.labels:>7} {t.recall:>7.4f} {t.findings:>7} {t.precision:>9.4f}"
        )
    return "\n".join(lines_out)
