"""The canonical form of an email (issue 11): NFKC, no format characters, trimmed, lower-cased;
idempotent and stable under NFKC, whatever the text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from turbocat_core.domain.user import canonical_email, normalize_email
from turbocat_core.errors import ValidationFailed

FORMAT_CHARACTERS = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e"]
ASCII_ADDRESS = st.from_regex(
    r"[a-zA-Z0-9._%+-]{1,20}@[a-zA-Z0-9-]{1,20}\.[a-zA-Z]{2,6}", fullmatch=True
)


def fullwidth(text: str) -> str:
    """ASCII letters, digits and signs as their fullwidth forms (U+FF01-U+FF5E)."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@given(st.text())
@example("\uff21\uff22@example.com")
@example("e\u200b\u0301@x.io")  # the accent composes only once the zero-width space is gone
@example("\u0130@x.io")  # İ lower-cases to i + a combining dot
@example("\u1d2c@x.io")  # a modifier letter whose NFKC form is upper case
def test_the_canonical_form_is_idempotent_and_nfkc_stable(text):
    canonical = canonical_email(text)
    assert canonical_email(canonical) == canonical
    assert unicodedata.normalize("NFKC", canonical) == canonical
    assert canonical == canonical.strip() == canonical.lower()
    assert not any(unicodedata.category(ch) == "Cf" for ch in canonical)


@given(ASCII_ADDRESS, st.data())
def test_fullwidth_and_invisible_variants_have_the_same_canonical_form(address, data):
    expected = address.lower()
    assert canonical_email(address) == expected
    assert canonical_email(fullwidth(address)) == expected
    position = data.draw(st.integers(0, len(address)))
    invisible = data.draw(st.sampled_from(FORMAT_CHARACTERS))
    assert canonical_email(address[:position] + invisible + address[position:]) == expected


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("\uff21\uff22@example.com", "ab@example.com"),
        ("a\u200bb@example.com", "ab@example.com"),
        ("  Ada@Example.COM\u3000", "ada@example.com"),  # an ideographic space is trimmed
        (
            "jos\u0065\u0301@example.com",
            "jos\u00e9@example.com",
        ),  # composed, as typed on most keyboards
    ],
)
def test_known_variants(raw, canonical):
    assert normalize_email(raw) == canonical


@pytest.mark.parametrize("raw", ["\u200b@\u200b.\u200b", "\uff20example.com", "a@b"])
def test_what_is_left_must_still_be_an_address(raw):
    with pytest.raises(ValidationFailed):
        normalize_email(raw)
