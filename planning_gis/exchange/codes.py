"""Tracking codes and private links: how a citizen follows a question or a request without an
account.

The code (``HD-7K3M9Q2P``) is short enough to read over the phone and is what a unit's staff
quote; it reveals nothing by itself. The private link adds a random key of 192 bits, of which
only the sha256 is stored (as for session tokens): a leaked database does not open the links.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

#: Crockford's base 32 without I, L, O, U: nothing to misread between 1/I/L or 0/O.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RE = re.compile(r"(HD|YK|TT)-[0-9A-HJKMNP-TV-Z]{8}")
PREFIXES = {"question": "HD", "request": "TT"}


def new_code(kind: str) -> str:
    return PREFIXES[kind] + "-" + "".join(secrets.choice(ALPHABET) for _ in range(8))


def new_key() -> tuple[str, str]:
    """A private key for the citizen's link and the sha256 to store."""
    key = secrets.token_urlsafe(24)
    return key, digest(key)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def normalise_code(raw: str | None) -> str | None:
    """A code as typed (lower case, spaces, O for 0) in its canonical form, or None."""
    if not raw:
        return None
    text = re.sub(r"[\s_]", "", raw.upper()).replace("O", "0")
    if len(text) == 10 and text[2] != "-":
        text = text[:2] + "-" + text[2:]
    return text if CODE_RE.fullmatch(text) else None


def key_matches(key: str | None, stored_sha256: str) -> bool:
    return bool(key) and hmac.compare_digest(digest(key), stored_sha256)
