"""Whose streams are paced, and at what rate: the profiles' bandwidth limits, by request.

The server reads the limits from the state store every few seconds (``adapters/server/site/
limits.py``) into a :class:`LimitTable`, and asks it for each stream: by the
``--auth-users`` user the request proved to be, else by the profile its cookie names. The
cookie's signature is not checked here, on purpose: a limit only ever slows down the request
that carries it, so a forged cookie can buy nothing but a slower stream, and checking an
HMAC per seek would cost every viewer for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mediaserve.core.profiles.cookie import claimed_profile


@dataclass(frozen=True, slots=True)
class LimitTable:
    """Bandwidth limits in bytes per second (0: none), by profile id and by user name."""

    by_profile: dict[str, int] = field(default_factory=dict)
    by_user: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_profile or self.by_user)

    def rate_for(self, user: str | None, cookie: str | None) -> int:
        """The limit of the request's profile: its user's (``--auth-users``), else the one
        its profile cookie names; 0 when none applies."""
        if user is not None:
            return self.by_user.get(user, 0)
        profile = claimed_profile(cookie)
        return self.by_profile.get(profile, 0) if profile is not None else 0
