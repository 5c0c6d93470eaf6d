"""``pii_name_context``: what the text around a name says about it, the rules that ``pii_ner``
adds to its model.

A small NER model reads an English sentence well and a payload poorly: a name in a JSON field,
after ``Frau``, in a Japanese sentence, or a place it has never seen (``Sondershausen``).
Payloads carry structure that says what a value is, and these rules read it; none of them
uses a list of names:

* **key names** — the whole value under ``customer_name``, ``first_name``, ``contact``,
  ``recipient`` … is a PERSON, under ``city``, ``town``, ``birthplace``, ``address`` … a
  LOCATION, if it is shaped like one (:func:`under_key`); the same for ``Name: …`` lines,
  ``"city": "…"`` pairs in JSON text, and ``name=…`` (:func:`labelled`);
* **titles and salutations** — ``Mr``, ``Dr``, ``Frau``, ``Mme``, ``Sr.``, ``Srta.``, ``Dear``,
  ``Hallo``, ``Bonjour``, ``Hola``, ``Olá`` … before capitalised words (:func:`titled`);
* **Japanese script** — a family and a given name of kanji/kana separated by a space, or
  followed by ``様``/``さん``/``氏``/``殿``; a run of kanji ending in ``都/道/府/県``, ``市``,
  ``郡``, ``区/町/村`` — how Japanese addresses are written (:func:`japanese`);
* **place words** — a span after ``in``, ``at``, ``near``, ``nach``, ``à``, ``em`` …, or a
  span with a toponymic part (``-sur-``, ``Saint``, ``San``, ``Bad``, ``-les-``) is a place even
  where the model said person (:func:`place_cue`).

It also says what is not a name: a word that opens a sentence on its own (``Summarise``,
``Tel.``), interface words (``Subject``, ``Invoice``, ``Order``), all-lowercase words in a cased
script, anything with a digit (:func:`plausible`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from policy_engine.domain.pii.keys import key_words
from policy_engine.domain.pii.model import Entity

PERSON, LOCATION = Entity.PERSON, Entity.LOCATION


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


PARTICLES = _words(
    "da das de del della dei der den di do dos du el la le las los van von y e zu ter ten "
    "af av bin ibn al d' l'"
)

# --- shapes -----------------------------------------------------------------------------------

_CJK = "\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANJI = "\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u30f6\u30b1"  # 々, ヶ, ケ too
_WORD = r"[^\W\d_](?:[^\W\d_]|['\u2019\-](?=[^\W\d_]))*\.?"  # O'Brien, O\u2019Brien
_CAPITALISED = re.compile(r"[^\W\d_]")

INTERFACE_WORDS = _words(
    """subject re fwd fw note notes tel fax mobile phone email mail cc bcc from to date time
    order invoice total version build release ticket issue customer client user account team
    meeting summary summarise summarize translate retry deploy hello hi dear thanks regards
    please ok yes no the a an and or of for on at in by with this that your my our his her
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december today tomorrow yesterday api json
    http https url id name city address street country state region office status error
    warning info debug admin support sales billing payment refund shipping"""
)


def _is_cap(word: str) -> bool:
    first = _CAPITALISED.search(word)
    return first is not None and first.group().isupper()


def shaped_like_name(value: str, *, max_words: int = 6) -> bool:
    """A person's name or a place's: letters (any script), no digit, at most ``max_words``
    words, and in a cased script every word but particles capitalised."""
    value = value.strip()
    if not 2 <= len(value) <= 80 or any(c.isdigit() for c in value) or "@" in value:
        return False
    if re.search(f"[{_CJK}]", value):
        return bool(re.fullmatch(rf"[{_CJK}\s・]+", value))
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= max_words:
        return False
    if not all(re.fullmatch(_WORD, w) for w in words):
        return False
    capitals = [_is_cap(w) for w in words]
    return any(capitals) and all(
        c or w.lower() in PARTICLES for w, c in zip(words, capitals, strict=True)
    )


def shaped_like_address(value: str) -> bool:
    """A postal address: letters, a few digits (numbers, postcodes), at most 160 characters."""
    value = value.strip()
    letters = sum(c.isalpha() for c in value)
    return 4 <= len(value) <= 160 and letters >= 3 and "@" not in value and "://" not in value


def plausible(span: str, entity: Entity) -> bool:
    """Whether a model span can be a name or a place (see the module docstring)."""
    if any(c.isdigit() for c in span) or not span.strip():
        return False
    words = span.split()
    if not span.isascii() and re.search(f"[{_CJK}]", span):
        return True
    if all(w.strip(".,:;").lower() in INTERFACE_WORDS for w in words):
        return False
    if not all(_is_cap(w) or w.lower() in PARTICLES for w in words) or not any(map(_is_cap, words)):
        return False
    return _is_cap(words[0]) or entity is LOCATION


# --- key names ----------------------------------------------------------------------------------

_PERSON_KEY_WORDS = _words(
    """name fullname firstname lastname givenname familyname surname forename middlename
    customer contact recipient sender author owner assignee reporter requester patient employee
    passenger guest attendee applicant holder cardholder beneficiary payee signatory driver
    client buyer seller tenant member person spouse manager approver reviewer nom prenom prénom
    nombre apellido apellidos nome sobrenome vorname nachname kunde empfänger absender
    氏名 名前 担当者 宛名"""
)
_LOCATION_KEY_WORDS = _words(
    """city town village municipality locality place location birthplace hometown
    destination origin province county ort stadt wohnort ville ciudad cidade localidad
    localidade comune 都市 市区町村 所在地 配送先 届け先 出身地 勤務地"""
)
_ADDRESS_KEY_WORDS = _words("address street addr adresse anschrift dirección endereço 住所")
_NOT_PERSONAL = _words(
    """file host hostname service app application model table bucket branch repo repository
    project product company org organisation organization team tool function field key queue
    topic index db database schema column image container pod node cluster region zone event
    metric tag label role group domain user username display screen device server package
    module class method variable env environment job task pipeline workflow stage step
    dataset bot channel account brand vendor store shop merchant email mail ip mac wallet
    remote bind listen web url uri contract memory base return reply smtp dns"""
)


@lru_cache(maxsize=4096)
def entity_of_key(key: str) -> Entity | None:
    """PERSON for ``customer_name``, ``firstName``; LOCATION for ``city``, ``home_address``;
    None for ``file_name``, ``email_address``, ``service``."""
    words = key_words(key) or [key.lower()]
    joined = "".join(words)
    if any(w in _NOT_PERSONAL for w in words):
        return None
    if any(w in _ADDRESS_KEY_WORDS for w in words) or any(w in _LOCATION_KEY_WORDS for w in words):
        return LOCATION
    if any(w in _PERSON_KEY_WORDS for w in words) or joined in _PERSON_KEY_WORDS:
        return PERSON
    return None


def _is_address_key(key: str) -> bool:
    return any(w in _ADDRESS_KEY_WORDS for w in key_words(key))


def under_key(key: str, value: str) -> tuple[Entity, int, int] | None:
    """The whole value (stripped) when ``key`` says it is a person or a place and its shape
    agrees; offsets into ``value``."""
    entity = entity_of_key(key) if key else None
    if entity is None:
        return None
    shaped = shaped_like_address if _is_address_key(key) else shaped_like_name
    if not shaped(value):
        return None
    start = len(value) - len(value.lstrip())
    return entity, start, len(value.rstrip())


# ``key: value`` / ``key=value`` / ``"key": "value"`` (also with escaped quotes, as in JSON text
# inside a JSON string); the value runs to the closing quote, or to the end of the line / a
# separator when unquoted.
_LABELLED = re.compile(
    r"""(?P<key>[^\W\d][\w\- ]{0,30}?)(?:\\?["'])?[ \t]*[:=][ \t]*
    (?:(?P<q>\\?["'])(?P<quoted>[^"'\\\n]{1,160})(?P=q)|(?P<bare>[^\s"'\\,;|<>{}\[\]]
    [^\n"'\\,;|<>{}\[\]=]{0,120}))""",
    re.VERBOSE,
)


def labelled(text: str) -> list[tuple[Entity, int, int]]:
    """Values after a person or place label in ``text`` (``Name: Ana Lima``, ``"city": "Jaén"``)."""
    out = []
    for m in _LABELLED.finditer(text):
        key = m.group("key").strip().split(" ")[-1] if m.group("key") else ""
        found = under_key(key, m.group("quoted") or m.group("bare") or "")
        if found is None and m.group("bare"):
            # ``Name: Ana Lima asked …`` — keep the capitalised words only
            bare = m.group("bare")
            run = _NAME_RUN.match(bare)
            found = under_key(key, run.group()) if run else None
        if found is not None:
            entity, start, end = found
            base = m.start("quoted") if m.group("quoted") else m.start("bare")
            out.append((entity, base + start, base + end))
    return out


# --- titles, salutations ------------------------------------------------------------------------

_NAME_RUN = re.compile(
    rf"(?:{_WORD}(?:[ \t]+(?:(?:{'|'.join(sorted(PARTICLES, key=len, reverse=True))})[ \t]+)*"
    rf"{_WORD}){{0,4}})"
)
_TITLES = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Dra|Prof|Sir|Dame|Herr|Frau|Hr|Fr|Mme|Mlle|Sr|Sra|Srta|Dña|Don|Doña|"
    r"Dom|Sig|Sig\.ra|Pan|Pani|Ing|Dipl\.-Ing|Mag|Univ\.Prof|M(?=\.)"
)
_SALUTATIONS = (
    r"[Hh]i|[Hh]ello|[Hh]ey|[Dd]ear|[Hh]allo|[Ll]iebe[rs]?|[Ss]ehr geehrte[rs]?|[Gg]uten Tag|"
    r"[Bb]onjour|[Ss]alut|[Cc]her|[Cc]hère|[Hh]ola|[Ee]stimad[oa]s?|[Qq]uerid[oa]s?|[Oo]lá|"
    r"[Oo]i|[Pp]rezad[oa]s?|[Cc]ar[oa]|[Cc]iao|[Gg]entile|[Tt]hanks|[Tt]hank you|[Cc]heers|"
    r"[Aa]ttn|[Aa]ttention|[Gg]ood morning|[Bb]om dia|[Bb]uenos días"
)
_TITLED = re.compile(
    rf"(?<![\w.])(?:(?P<title>(?:{_TITLES})\.?)|(?P<salutation>{_SALUTATIONS}),?)"
    rf"[ \t]+(?:(?:{_TITLES})\.?[ \t]+)?(?P<name>{_NAME_RUN.pattern})"
)


_INITIALLED = re.compile(
    r"(?<![\w.])[A-Z]\.(?:[ \t]?[A-Z]\.)*[ \t]+[A-Z][^\W\d_]{2,}(?:-[A-Z][^\W\d_]+)?"
)
_INVERTED = re.compile(r"(?<=[\"'])[A-Z][^\W\d_]+, [A-Z][^\W\d_]+(?=[\"'])")


def titled(text: str) -> list[tuple[Entity, int, int]]:
    """Names after a title (``Dr``, ``Frau``, ``Srta.``) or a salutation (``Dear``, ``Hola``),
    with initials (``J. Doe``), or inverted in quotes (``"Doe, Jane"``)."""
    out = [(PERSON, m.start(), m.end()) for m in _INITIALLED.finditer(text)]
    out += [(PERSON, m.start(), m.end()) for m in _INVERTED.finditer(text)]
    for m in _TITLED.finditer(text):
        words = []
        for word in re.finditer(r"\S+", m.group("name")):
            if not (_is_cap(word.group()) or word.group().lower() in PARTICLES):
                break  # ``Mr Dean Carr from Leeds``: the name ends before ``from``
            words.append(word)
        while words and (words[-1].group().lower() in PARTICLES or not _is_cap(words[-1].group())):
            words.pop()
        if not words or words[0].group().strip(".").lower() in INTERFACE_WORDS:
            continue
        if m.group("salutation") and words[0].group().lower() in ("team", "all", "everyone"):
            continue
        start = m.start("title") if m.group("title") else m.start("name")
        out.append((PERSON, start, m.start("name") + words[-1].end()))
    return out


# --- Japanese -----------------------------------------------------------------------------------

_HONORIFIC = "様|さま|さん|くん|君|ちゃん|氏|殿|先生"
_JA_PERSON = re.compile(
    rf"(?<![{_CJK}])(?:[{_KANJI}]{{1,4}}[ \u3000][{_CJK}]{{1,4}}(?![{_CJK}])(?:{_HONORIFIC})?"
    rf"|[{_KANJI}]{{2,6}}(?={_HONORIFIC}))"
)
_PART = f"[{_KANJI}]{{1,6}}?"
_JA_PLACE = re.compile(
    rf"(?:{_PART}(?:都|道|府|県))?(?:{_PART}(?:市|郡))?(?:{_PART}(?:区|町|村))?"
    rf"(?:[{_KANJI}\u30a0-\u30ff]{{1,8}}?\d+丁目(?:\d+番(?:\d+号)?)?)?"
)
_JA_NOT_PLACES = _words("都市 地区 市区町村 市町村 都道府県 区町村 町村 各市 同市 当市 本市 全市")


def japanese(text: str) -> list[tuple[Entity, int, int]]:
    """Japanese full names and municipalities (see the module docstring)."""
    if not re.search(f"[{_KANJI}]", text):
        return []
    out = [(PERSON, m.start(), m.end()) for m in _JA_PERSON.finditer(text)]
    places = _JA_PLACE.finditer(text)
    out += [
        (LOCATION, m.start(), m.end())
        for m in places
        if m.end() - m.start() >= 2 and m.group() not in _JA_NOT_PLACES
    ]
    return out


# --- place cues ---------------------------------------------------------------------------------

_STRONG_PLACE_BEFORE = re.compile(
    r"(?:\b(?:[Ii]n|[Aa]t|[Nn]ear|via|outside|left|reached|arrived in|ship(?:ped)? to|"
    r"deliver(?:ed|y)? to|moved to|based in|located in|lives? in|visit(?:ing)? the|nach|bei|"
    r"à|au|aux|vers|en|hacia|em|no|na|até)|\b[Ii]m)[ \t]+$"
)
_WEAK_PLACE_BEFORE = re.compile(r"\b(?:[Ff]rom|aus|von|de|desde|depuis)[ \t]+$")
_TOPONYM = re.compile(
    r"(?:-sur-|-les-|-la-|-le-|-en-|-lès-|-am-|\b(?:Saint|Sainte|St|Ste|San|Santa|Santo|São|"
    r"Bad|Port|Porto|Puerto|Lake|Mount|Mont|Monte|Fort|New|North|South|East|West|Nueva|Nuevo|"
    r"Nova|Novo|Ciudad|Villa|Vila|Val|Sankt|Alt|Neu|Ober|Unter|Groß|Klein)\b|"
    r"\A(?:La|Le|Les|Las|Los|El|Les)\s|"
    r"\b(?:City|County|Island|Islands|Bay|Beach|Valley|Springs|Heights|Kingdom|Republic|"
    r"States|Grande|Paulista|do Sul|do Norte|do Oeste|do Leste|am Main|an der \w+)\Z)"
)
_ORG_WORDS = _words(
    """inc inc. ltd ltd. llc corp corp. co co. gmbh ag sa s.a. sas sarl plc bv nv kg oy ab
    bank university universität université universidad college school institute group
    holdings partners services solutions systems technologies labs foundation association
    club hotel restaurant airlines airways motors"""
)


# ``to``/``for`` name a place only in a clause about going, sending or the place itself
# (``ship the parcel to …``, ``moved … to …``, ``weather forecast for …``); elsewhere they
# precede persons (``assign the ticket to Maria``, ``ask for Dana``).
_CLAUSE = re.compile(r"[^.!?;:\n]*\Z")
_TO_PLACE = re.compile(
    r"\b(?:mov(?:e|ed|es|ing)|relocat\w*|travel\w*|fl(?:y|ies|ying|ew|ights?)|"
    r"dr(?:ive|ives|ove|iving)|go(?:es|ing)?|went|head(?:s|ed|ing)?|return\w*|trips?|"
    r"journey\w*|routes?|commut\w*|ship\w*|deliver\w*|orders?|packages?|parcels?|"
    r"freight|post(?:ed)?|mail(?:ed)?|emigrat\w*|fahr\w*|reis\w*)\b",
    re.IGNORECASE,
)
_FOR_PLACE = re.compile(
    r"\b(?:weather|forecast|temperatures?|time ?zones?|local time|hotels?|flights?|"
    r"directions|map|population|post ?codes?|zip ?codes?)\b",
    re.IGNORECASE,
)
# ``the Wetzlar store``, ``our Lisboa warehouse``: a determiner, the name, a kind of place
_DETERMINER_BEFORE = re.compile(r"\b(?:the|our|your|their|its|this|that)[ \t]+\Z", re.IGNORECASE)
_PLACE_NOUN_AFTER = re.compile(
    r"[ \t]+(?:office|offices|store|shop|branch|warehouse|site|plant|factory|depot|airport|"
    r"station|area|region|campus|hub|headquarters|facility|harbou?r|city centre|city center|"
    r"suburbs?|outlet|location|data ?cent(?:er|re))\b"
)


def _place_noun_after(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 8) : start]
    return bool(_DETERMINER_BEFORE.search(before)) and bool(_PLACE_NOUN_AFTER.match(text, end))


_FROM_TO = re.compile(r"\b[Ff]rom[ \t]+\Z")


def travelled(text: str, start: int, end: int) -> bool:
    """``… to X`` / ``… for X`` in a clause about going or the place (see above), or
    ``from X to …``: a cue for a single word (``ship the parcel to Maria Schmidt`` is still
    a person)."""
    before = text[max(0, start - 60) : start]
    if _FROM_TO.search(before) and re.match(r"[ \t]+to[ \t]+[^\W\d_]", text[end : end + 12]):
        return True
    clause = _CLAUSE.search(before)
    head = clause.group() if clause else before
    if re.search(r"\bto[ \t]+\Z", head):
        return bool(_TO_PLACE.search(head))
    if re.search(r"\bfor[ \t]+\Z", head):
        return bool(_FOR_PLACE.search(head))
    return False


_PARTICLES_BEFORE = re.compile(rf"(?:(?<=\s)(?:{'|'.join(PARTICLES)})[ \t]+)+\Z")
_NAMED_FROM = re.compile(rf"({_WORD})[ \t]+(?:from|aus)[ \t]+\Z")


def place_cue(text: str, start: int, end: int) -> tuple[bool, bool]:
    """(strong, weak): whether the words before ``text[start:end]`` or its own toponymic parts
    say it is a place. A weak cue (``from``, ``de``, ``aus``) counts for a single word only;
    ``from`` after a capitalised word (``Dean Carr from …``, a person or a team from
    somewhere) is strong. Particles before the span are looked past (``left da Conceição``)."""
    before = text[max(0, start - 40) : start]
    particles = _PARTICLES_BEFORE.search(before)
    if particles:
        before = before[: particles.start()]
    strong = bool(_STRONG_PLACE_BEFORE.search(before[-16:]))
    strong = strong or bool(_TOPONYM.search(text[start:end]))
    strong = strong or _place_noun_after(text, start, end)
    named = _NAMED_FROM.search(before)
    if named and _is_cap(named.group(1)) and not _interface(named.group(1)):
        strong = strong or not opens_sentence(text, start - len(before) + named.start())
    return strong, bool(_WEAK_PLACE_BEFORE.search(before[-16:]))


_RUN_AFTER_CUE = re.compile(
    rf"(?<![^\W\d_])(?P<run>{_WORD}(?:[ \t]+(?:(?:{'|'.join(PARTICLES)})[ \t]+)*{_WORD}){{0,3}})"
)


def cued_places(text: str) -> list[tuple[Entity, int, int]]:
    """Capitalised words right after a place word (``left Bergzabern``, ``from Elliotttown``)
    that the model passed over. After ``from``, ``aus``, ``desde`` only with a stronger reading
    (``Dean Carr from …``, ``from … to …``: ``an email from Maria`` is not a place); after
    ``to`` and ``for`` only in a clause about travel or the place (``ship the parcel to …``);
    after these, several words only when they carry a toponymic part."""
    out = []
    for cue in _CUE_WORDS.finditer(text):
        m = _RUN_AFTER_CUE.match(text, cue.end())
        if not m:
            continue
        start = m.start()
        words = m.group().split()
        keep = []
        for w in words:
            if _interface(w) or not (_is_cap(w) or w.lower() in PARTICLES):
                break
            keep.append(w)
            if w.endswith((".", ",")):
                break
        while keep and keep[-1].lower() in PARTICLES:
            keep.pop()
        if not keep or (
            (cue.group("weak") or cue.group("travel"))
            and len(keep) > 1
            and not place_cue(text, start, start + len(" ".join(keep)))[0]
        ):
            continue
        end = start + len(" ".join(keep))
        if text[start:end] != " ".join(keep):
            continue  # words apart by tabs or several spaces: not one name
        start, end = trimmed(text, start, end)
        if cue.group("travel") and not travelled(text, start, end):
            continue  # ``assign it to Maria``: not a clause about a place
        stronger = place_cue(text, start, end)[0] or travelled(text, start, end)
        if cue.group("weak") and not stronger:
            continue  # ``an email from Maria``: ``from`` alone does not make a place
        if plausible(text[start:end], LOCATION) and not inside_code(text, start, end):
            out.append((LOCATION, start, end))
    return out


_CUE_WORDS = re.compile(
    r"(?:\b(?P<strong>[Ii]n|[Aa]t|[Nn]ear|via|outside|left|reached|arrived in|ship(?:ped)? to|"
    r"deliver(?:ed|y)? to|moved to|based in|located in|lives? in|visit(?:ing)? the|nach|bei|"
    r"à|vers|en|hacia|em|até|relocating to|flights? to)|\b(?P<weak>[Ff]rom|aus|desde)|"
    r"\b(?P<travel>to|for))"
    r"[ \t]+(?=[^\W\d_])"
)


def organisation(span: str) -> bool:
    return any(w.lower().strip(",") in _ORG_WORDS for w in span.split())


_ADJACENT = re.compile(rf"[ \t]+((?:(?:{'|'.join(PARTICLES)})[ \t]+)?{_WORD})")


_HYPHENATED = re.compile(r"(?:-[^\W\d_]+)+")


def extended(text: str, start: int, end: int) -> tuple[int, int]:
    """The span grown over the capitalised words next to it (``Sandra [Morera] Riba``) and
    over hyphenated parts (``[Hebert]-sur-Lucas``): a small model often tags part of a name
    it does not know."""
    hyphenated = _HYPHENATED.match(text, end)
    if hyphenated:
        end = hyphenated.end()
    while text[end - 1 : end] != "." and text[end : end + 1] not in (".", ","):
        m = _ADJACENT.match(text, end)
        if not m or not _is_cap(m.group(1).split()[-1]) or _interface(m.group(1).split()[-1]):
            break
        end = m.end()
    while True:
        head = text[max(0, start - 40) : start]
        m = re.search(rf"({_WORD})((?:[ \t]+(?:{'|'.join(PARTICLES)}))?)[ \t]+\Z", head)
        if not m or not _is_cap(m.group(1)) or _interface(m.group(1)) or m.group(1)[-1] == ".":
            break
        if opens_sentence(text, start - len(head) + m.start()) and " " in text[start:end]:
            break  # ``Call John Smith``: a capital opening a sentence says nothing
        start = start - len(head) + m.start()
    return start, end


def _interface(word: str) -> bool:
    return word.strip(".,:;").lower() in INTERFACE_WORDS


def opens_sentence(text: str, start: int) -> bool:
    """Whether ``start`` is the first word of a sentence, a line, a cell or a log message:
    the text before it (quotes and brackets aside) does not end with a word or a comma."""
    i = start
    while i > 0 and text[i - 1] in " \t\"'(*":
        i -= 1
    return i == 0 or not (text[i - 1].isalpha() or text[i - 1] == ",") or text[i - 2 : i] == "\\n"


__all__ = [
    "PARTICLES",
    "entity_of_key",
    "japanese",
    "labelled",
    "opens_sentence",
    "place_cue",
    "plausible",
    "shaped_like_name",
    "titled",
    "under_key",
]


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without leading interface words (``Customer Gérard Costa``), trailing
    particles (``Llámame al``) and a sentence's full stop."""
    words = list(re.finditer(r"\S+", text[start:end]))
    while len(words) > 1 and _interface(words[0].group()):
        words.pop(0)
    while len(words) > 1 and words[-1].group().lower() in PARTICLES:
        words.pop()
    while len(words) > 1 and words[-1].group().isupper() and len(words[-1].group()) <= 4:
        words.pop()
    if not words:
        return start, start
    new_start, new_end = start + words[0].start(), start + words[-1].end()
    if text[new_end - 1] == "." and not re.search(
        r"(?:\b[^\W\d_]|\.[^\W\d_])\.$", text[start:new_end]
    ):
        new_end -= 1
    return new_start, new_end


def inside_code(text: str, start: int, end: int) -> bool:
    """Whether the span is part of a token with digits or of an all-capitals code
    (``ORD-7399-GH``, ``SSN``)."""
    left = start
    while left > 0 and not text[left - 1].isspace():
        left -= 1
    right = end
    while right < len(text) and not text[right].isspace():
        right += 1
    if any(c.isdigit() for c in text[left:right]):
        return True
    words = text[start:end].split()
    return all(w.isupper() and len(w.strip(".")) <= 4 for w in words)


def cjk(word: str) -> bool:
    return bool(re.search(f"[{_CJK}]", word))
