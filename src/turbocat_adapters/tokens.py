"""Signed tokens with PyJWT: HS256 only, every claim required, expiry on the injected clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import jwt

from turbocat_core.errors import Unauthenticated
from turbocat_core.ports.clock import Clock

ALGORITHM: Final = "HS256"
REQUIRED: Final = ("exp", "iat", "sub", "type", "sid")
ISSUER: Final = "turbocat"


class JwtTokens:
    """``TokenIssuer``: HS256 JWTs. ``verify`` pins the algorithm (``none`` and every other
    one are refused), needs ``exp``, ``iat``, ``sub``, ``type``, ``sid`` and the issuer, and
    checks the type; an expired token is TOKEN_EXPIRED, anything else wrong INVALID_TOKEN."""

    def __init__(self, secret: str, clock: Clock) -> None:
        if len(secret) < 16:
            raise ValueError("a JWT secret must be at least 16 characters")
        self._secret = secret
        self._clock = clock

    def issue(self, claims: Mapping[str, Any], ttl_seconds: int) -> str:
        now = int(self._clock.now().timestamp())
        payload = {**claims, "iat": now, "exp": now + ttl_seconds, "iss": ISSUER}
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, expected_type: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                # Expiry is checked below, on the injected clock (tests move it).
                options={"require": [*REQUIRED, "iss"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise Unauthenticated("the token is invalid", code="INVALID_TOKEN") from None
        if claims.get("type") != expected_type:
            raise Unauthenticated(f"this is not an {expected_type} token", code="INVALID_TOKEN")
        expires = claims.get("exp")
        if not isinstance(expires, int | float):
            raise Unauthenticated("the token is invalid", code="INVALID_TOKEN")
        if self._clock.now().timestamp() >= expires:
            raise Unauthenticated("the token has expired", code="TOKEN_EXPIRED")
        return claims
