"""``AesGcmSecretBox``: AES-256-GCM for small secrets at rest, with key ids for rotation.

A token is ``v1.<kid>.<nonce>.<ciphertext>``: ``kid`` is the first 8 hex characters of the
SHA-256 of the key that sealed it, ``nonce`` a fresh random 96-bit nonce, both binary parts
in URL-safe base64 without padding. The version, key id and nonce are bound to the
ciphertext as associated data, so no part can be swapped or edited unnoticed.

Rotation: build the box with the new key as ``current_key`` and the old ones in
``previous``; new tokens use the current key and old ones still open (re-encrypt them at
leisure). Every failure to open a token is ``ValidationFailed``: a raw ``cryptography``
exception never leaves this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from turbocat_core import ports
from turbocat_core.errors import ValidationFailed

VERSION: Final = "v1"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_TAMPERED: Final = "the encrypted value is invalid or was tampered with"
_B64: Final = re.compile(r"[A-Za-z0-9_-]+")


def key_id(key: bytes) -> str:
    """The first 8 hex characters of the key's SHA-256: names the key, reveals nothing."""
    return hashlib.sha256(key).hexdigest()[:8]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    # Strict: the standard decoder would skip stray characters, letting a token be edited.
    if not _B64.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # unused trailing bits set: not the encoding this module writes
        raise ValueError("not canonical base64")
    return raw


def decode_key(encoded: str) -> bytes:
    """A 32-byte key from URL-safe base64 (padding optional); ``ValueError`` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("the encryption key must be 32 bytes in URL-safe base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError("the encryption key must be 32 bytes in URL-safe base64")
    return raw


class AesGcmSecretBox:
    """Seals with ``current_key``; opens tokens of ``current_key`` or any ``previous`` key."""

    __slots__ = ("_current", "_keys", "_kid")

    def __init__(self, current_key: bytes, previous: Sequence[bytes] = ()) -> None:
        for key in (current_key, *previous):
            if len(key) != KEY_BYTES:
                raise ValueError(f"AES-256 keys are {KEY_BYTES} bytes")
        self._kid = key_id(current_key)
        self._current = AESGCM(current_key)
        self._keys: dict[str, AESGCM] = {}
        for key in (*previous, current_key):  # the current key wins a (vanishing) id clash
            self._keys[key_id(key)] = AESGCM(key)

    @classmethod
    def from_settings(
        cls, encryption_key: str | None, previous: Sequence[str] = ()
    ) -> AesGcmSecretBox:
        """From ``settings.encryption_key`` (URL-safe base64 of 32 bytes) and older keys."""
        if not encryption_key:
            raise RuntimeError(
                "no encryption key: build the settings with secrets_file.with_secrets() "
                "(or set TURBOCAT_ENCRYPTION_KEY)"
            )
        return cls(decode_key(encryption_key), [decode_key(key) for key in previous])

    @property
    def key_id(self) -> str:
        """The id of the key new tokens are sealed with."""
        return self._kid

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        header = f"{VERSION}.{self._kid}.{_b64(nonce)}"
        sealed = self._current.encrypt(nonce, plaintext.encode("utf-8"), header.encode("ascii"))
        return f"{header}.{_b64(sealed)}"

    def decrypt(self, token: str) -> str:
        """The plaintext; ``ValidationFailed`` for a malformed, tampered or unknown-key token."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 4 or parts[0] != VERSION:
            raise ValidationFailed(_TAMPERED)
        _, kid, nonce_text, sealed_text = parts
        aead = self._keys.get(kid)
        if aead is None:
            raise ValidationFailed("the value was encrypted with a key this server does not have")
        try:
            nonce = _unb64(nonce_text)
            sealed = _unb64(sealed_text)
            if len(nonce) != NONCE_BYTES:
                raise ValueError("bad nonce")
            header = f"{VERSION}.{kid}.{nonce_text}".encode("ascii")
            return aead.decrypt(nonce, sealed, header).decode("utf-8")
        except (InvalidTag, ValueError, UnicodeError):  # binascii.Error is a ValueError
            raise ValidationFailed(_TAMPERED) from None


def _conforms(box: AesGcmSecretBox) -> ports.SecretBox:
    """Never called: mypy checks here that the class matches its port."""
    return box
