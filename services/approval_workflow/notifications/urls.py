"""Target URLs: what may be one (http or https, a host, no credentials in it), which addresses
it may reach (public ones only, unless the service allows private ones: SSRF), and how it is
shown (its origin only: an incoming-webhook URL is itself a credential)."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

MAX_URL_CHARS = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BadUrl(ValueError):
    """The URL cannot be a target (the message says why, never the URL's path)."""


class ForbiddenAddress(ValueError):
    """The URL's host is, or resolves to, an address the service may not call."""


@dataclass(frozen=True, slots=True)
class TargetUrl:
    url: str
    parts: SplitResult

    @property
    def host(self) -> str:
        return self.parts.hostname or ""

    @property
    def port(self) -> int:
        return self.parts.port or (443 if self.parts.scheme == "https" else 80)


def parse(url: str) -> TargetUrl:
    """The URL checked for form (BadUrl says what is wrong)."""
    if len(url) > MAX_URL_CHARS:
        raise BadUrl(f"longer than {MAX_URL_CHARS} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise BadUrl("has spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        raise BadUrl(f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise BadUrl("must start with https:// or http://")
    if not parts.hostname:
        raise BadUrl("has no host")
    if parts.username is not None or parts.password is not None:
        raise BadUrl("must not carry credentials (user:password@)")
    if parts.fragment:
        raise BadUrl("must not have a #fragment")
    return TargetUrl(url, parts)


def target_id(url: str) -> str:
    """A target's id: the same URL keeps its id across configurations (so its queued
    notifications stay queued), and the id tells nothing of the URL."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def redacted(url: str) -> str:
    """What answers show of a target: its origin; the path and query stay write-only."""
    parts = urlsplit(url)
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")) + rest


def forbidden(address: Address) -> bool:
    """Loopback, private, link-local (cloud metadata), shared, reserved, multicast: not public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(target: TargetUrl, *, allow_private: bool) -> list[Address]:
    """The addresses the target's host resolves to, all of them allowed (else
    ForbiddenAddress); BadUrl when it does not resolve."""
    found = literal(target.host)
    if found is not None:
        addresses = [found]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise BadUrl(f"host {target.host!r} does not resolve ({exc})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not allow_private:
        refused = [a for a in addresses if forbidden(a)]
        if refused:
            raise ForbiddenAddress(
                f"host {target.host!r} is or resolves to a non-public address ({refused[0]})"
            )
    return addresses


def pinned(target: TargetUrl, address: Address) -> str:
    """The URL with its host replaced by the address checked, so the connection goes where
    the check looked (no DNS rebinding between check and connect); the Host header and TLS
    name stay the original host."""
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    netloc = f"{host}:{target.port}"
    p = target.parts
    return urlunsplit((p.scheme, netloc, p.path or "/", p.query, ""))
