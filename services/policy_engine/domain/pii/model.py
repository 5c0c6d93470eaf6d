"""The vocabulary of the PII and secrets detector, shared by its detector modules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Entity(StrEnum):
    """What a policy allows, masks or denies; the mask token is ``[<value>]``."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    CREDIT_CARD = "CREDIT_CARD"
    IBAN = "IBAN"
    US_SSN = "US_SSN"
    IP_ADDRESS = "IP_ADDRESS"
    SECRET = "SECRET"  # noqa: S105 - an entity name, not a credential
    PERSON = "PERSON"
    LOCATION = "LOCATION"


NAME_ENTITIES = frozenset((Entity.PERSON, Entity.LOCATION))
"""Found by a language model (see ``pii_ner``), and only when a policy asks for them."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected entity at ``text[start:end]``; the matched text itself is never kept.

    ``kind`` refines the entity: ``visa``, ``ipv6``, ``github_token``, ``key_named_secret`` …
    """

    entity: Entity
    start: int
    end: int
    kind: str
