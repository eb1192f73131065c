"""AesGcmSecretBox: a fresh nonce per value, key ids, rotation, tamper detection."""

from __future__ import annotations

import base64
import hashlib

import pytest

from turbocat_adapters.crypto import AesGcmSecretBox, decode_key
from turbocat_core.errors import ValidationFailed

OLD, NEW = bytes(range(32)), bytes(range(1, 33))


def _flip(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another base64url character."""
    swapped = "A" if text[index] != "A" else "B"
    return text[:index] + swapped + text[index + 1 :]


@pytest.mark.parametrize("plaintext", ["", "s3cr3t", "ünïcødé ✓", "x" * 40_000])
def test_round_trip(plaintext):
    box = AesGcmSecretBox(NEW)
    token = box.encrypt(plaintext)
    assert box.decrypt(token) == plaintext
    assert plaintext == "" or plaintext not in token


def test_the_token_names_its_version_key_and_nonce():
    token = AesGcmSecretBox(NEW).encrypt("value")
    version, kid, nonce, sealed = token.split(".")
    assert version == "v1"
    assert kid == hashlib.sha256(NEW).hexdigest()[:8] == AesGcmSecretBox(NEW).key_id
    assert len(base64.urlsafe_b64decode(nonce + "==")) == 12
    assert len(base64.urlsafe_b64decode(sealed + "==")) == len("value") + 16  # + GCM tag


def test_every_encryption_uses_a_fresh_nonce():
    box = AesGcmSecretBox(NEW)
    tokens = {box.encrypt("same") for _ in range(50)}
    assert len(tokens) == 50
    assert len({token.split(".")[2] for token in tokens}) == 50


@pytest.mark.parametrize("part", [0, 1, 2, 3])
def test_tampering_with_any_part_is_detected(part):
    box = AesGcmSecretBox(NEW)
    parts = box.encrypt("the value").split(".")
    for index in (0, len(parts[part]) // 2, len(parts[part]) - 1):
        edited = list(parts)
        edited[part] = _flip(parts[part], index)
        with pytest.raises(ValidationFailed):
            box.decrypt(".".join(edited))


@pytest.mark.parametrize(
    "token",
    ["", "v1", "v1.a.b", "v1...", "v2.abcd1234.AAAA.AAAA", "v1.x.y.z.w", "v1.kid.no pe.AAAA"],
)
def test_malformed_tokens_are_refused_cleanly(token):
    with pytest.raises(ValidationFailed):
        AesGcmSecretBox(NEW).decrypt(token)


def test_stray_or_padding_characters_are_refused():
    box = AesGcmSecretBox(NEW)
    version, kid, nonce, sealed = box.encrypt("value").split(".")
    for bad in (sealed + "=", sealed[:5] + "!" + sealed[5:], sealed + "\n"):
        with pytest.raises(ValidationFailed):
            box.decrypt(f"{version}.{kid}.{nonce}.{bad}")


def test_rotation_keeps_old_values_readable():
    old_token = AesGcmSecretBox(OLD).encrypt("sealed long ago")
    rotated = AesGcmSecretBox(NEW, previous=[OLD])
    assert rotated.decrypt(old_token) == "sealed long ago"
    fresh = rotated.encrypt("sealed now")
    assert fresh.split(".")[1] == AesGcmSecretBox(NEW).key_id
    assert AesGcmSecretBox(NEW).decrypt(fresh) == "sealed now"
    with pytest.raises(ValidationFailed):
        AesGcmSecretBox(OLD).decrypt(fresh)


def test_a_wrong_key_cannot_open_a_value():
    token = AesGcmSecretBox(OLD).encrypt("mine")
    with pytest.raises(ValidationFailed):
        AesGcmSecretBox(NEW).decrypt(token)
    # Even under the right key id, another key fails the tag check.
    _, _, nonce, sealed = token.split(".")
    with pytest.raises(ValidationFailed):
        AesGcmSecretBox(NEW).decrypt(f"v1.{AesGcmSecretBox(NEW).key_id}.{nonce}.{sealed}")


def test_keys_from_settings():
    encoded = base64.urlsafe_b64encode(NEW).decode().rstrip("=")
    box = AesGcmSecretBox.from_settings(encoded, previous=[base64.urlsafe_b64encode(OLD).decode()])
    assert box.decrypt(AesGcmSecretBox(OLD).encrypt("x")) == "x"
    assert decode_key(encoded) == NEW
    for bad in ("short", "A" * 40, "!" * 43):
        with pytest.raises(ValueError, match="32 bytes"):
            AesGcmSecretBox.from_settings(bad)
    with pytest.raises(RuntimeError):
        AesGcmSecretBox.from_settings(None)
    with pytest.raises(ValueError, match="32 bytes"):
        AesGcmSecretBox(b"short")
