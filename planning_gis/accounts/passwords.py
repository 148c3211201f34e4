"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendations)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from planning_gis.errors import InvalidInput

MIN_LENGTH = 10
_hasher = PasswordHasher()


def check_strength(password: str) -> None:
    """Refuse passwords a guessing attack would find quickly (length is what matters most)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"the password must have at least {MIN_LENGTH} characters",
            message_vi=f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự.",
        )


def hash_password(password: str) -> str:
    """An argon2id hash string (salt and parameters included)."""
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; a damaged hash counts as a mismatch, never a crash."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
