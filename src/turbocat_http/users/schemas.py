"""``PATCH /users/me``: every field optional; only those sent change."""

# No ``from __future__ import annotations``: msgspec reads the annotations at run time.

from typing import Annotated, Any

import msgspec

Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class UpdateMeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=True):
    full_name: Annotated[str, msgspec.Meta(max_length=255)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )
    avatar_url: Annotated[str, msgspec.Meta(max_length=2048)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )
    preferences: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    password: Password | msgspec.UnsetType = msgspec.UNSET
    """A new password; needs ``currentPassword``. Every other session then ends."""
    current_password: Password | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        """The fields that were sent, by their core names."""
        return {
            field: value
            for field in self.__struct_fields__
            if (value := getattr(self, field)) is not msgspec.UNSET
        }
