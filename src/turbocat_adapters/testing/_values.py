"""What the workflow strategies draw from: literal JSON, names, step keys, and cheap choices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeVar

from hypothesis import strategies as st

from turbocat_core.engine.validation import RESERVED_ROOTS

Document = dict[str, Any]
T = TypeVar("T")

# Literal text never holds braces: a "{{...}}" drawn by chance would be a reference.
TEXT: Final = st.text(st.characters(codec="utf-8", exclude_characters="{}"), max_size=12)
NAMES: Final = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
SCALARS: Final = (
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
    | TEXT
)
LITERALS: Final = (
    SCALARS
    | st.lists(SCALARS, max_size=3)
    | st.dictionaries(NAMES, SCALARS | st.lists(SCALARS, max_size=2), max_size=3)
)
KEY_HEADS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
STEP_KEYS: Final = (
    st.tuples(st.sampled_from(KEY_HEADS), st.text(KEY_HEADS + "0123456789-", max_size=11))
    .map("".join)
    .filter(lambda key: key not in RESERVED_ROOTS)
)

# Drawing costs per choice, so the generators below draw few: an index rather than a
# sampled_from built on the spot, one bit mask for a step's optional fields.


def pick(draw: st.DrawFn, options: Sequence[T]) -> T:
    """One of ``options`` (shrinking towards the first)."""
    return options[draw(st.integers(0, len(options) - 1))]


def flags(draw: st.DrawFn, count: int) -> list[bool]:
    """``count`` independent yes/no choices (shrinking towards all no)."""
    mask = draw(st.integers(0, (1 << count) - 1))
    return [bool(mask >> bit & 1) for bit in range(count)]


def ref(path: str) -> str:
    return "{{" + path + "}}"
