"""OpenID Connect bearer tokens for people, beside API keys (docs/api.md "People (OIDC)").

A JWT signed by the configured issuer (keys from a JWKS file, or a JWKS URL fetched and cached
by PyJWT) is verified — signature, ``iss``, ``aud``, ``exp`` (and ``nbf``) with a small leeway —
and its claims become the caller's principal (``gateway.domain.people``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from cortex_kit.errors import UpstreamUnavailable
from gateway.auth.service import agency_slug
from gateway.domain.keys import ALL_AGENCIES, Principal
from gateway.domain.people import ClaimNames, ClaimsInsufficient, principal_of
from gateway.errors import InvalidAgency, InvalidBearerToken, OidcClaimsInsufficient

LEEWAY_S = 30
_REMEDY = "Sign in again to get a fresh token from the identity provider, or use an API key."


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    jwks_url: str | None
    jwks_file: Path | None
    algorithms: tuple[str, ...]
    claims: ClaimNames


class OidcVerifier:
    """Verifies people's tokens; the keys are read once (file) or cached (URL, 5 minutes)."""

    def __init__(self, settings: OidcSettings) -> None:
        self._settings = settings
        self._keys: jwt.PyJWKSet | None = None
        self._client: jwt.PyJWKClient | None = None
        if settings.jwks_file is not None:
            self._keys = jwt.PyJWKSet.from_dict(json.loads(settings.jwks_file.read_text()))
        elif settings.jwks_url is not None:
            self._client = jwt.PyJWKClient(settings.jwks_url, lifespan=300, timeout=5)
        else:
            raise ValueError("OIDC needs a JWKS file or a JWKS URL")

    async def _key(self, token: str) -> Any:
        if self._client is not None:
            try:  # PyJWT fetches with urllib: off the event loop (cached after the first)
                found = await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientConnectionError as exc:
                raise UpstreamUnavailable(
                    "The identity provider's keys (JWKS) could not be fetched.",
                    remediation="Retry shortly; check CORTEX_GATEWAY_OIDC_JWKS_URL.",
                    extra={"dependency": "oidc_jwks"},
                ) from exc
            return found.key
        assert self._keys is not None
        kid = jwt.get_unverified_header(token).get("kid")
        matching = [k for k in self._keys.keys if kid is None or k.key_id == kid]
        if len(matching) != 1:
            raise jwt.InvalidKeyError(f"no single key of the JWKS has kid {kid!r}")
        return matching[0].key

    async def principal(self, token: str) -> Principal:
        cfg = self._settings
        try:
            claims = jwt.decode(
                token,
                await self._key(token),
                algorithms=list(cfg.algorithms),
                audience=cfg.audience,
                issuer=cfg.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidBearerToken(
                f"The bearer token is not valid: {exc}.", remediation=_REMEDY
            ) from exc
        try:
            principal = principal_of(claims, cfg.claims)
            if principal.agency != ALL_AGENCIES:
                agency_slug(principal.agency)
        except (ClaimsInsufficient, InvalidAgency) as exc:
            raise OidcClaimsInsufficient(
                f"The token is valid but does not say what you may do: {exc}.",
                remediation="Ask the identity provider's admin to add the role and agency "
                f"claims (`{cfg.claims.role}` or a mapped `{cfg.claims.groups}` group, and "
                f"`{cfg.claims.agency}`), as docs/api.md 'People (OIDC)' describes.",
            ) from exc
        return principal
