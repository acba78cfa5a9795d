"""Who acts on the engine: a user name and roles. The engine knows no more of users."""
from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user name and the roles that user holds."""
    username: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def system(cls) -> "Actor":
        return cls(SYSTEM, frozenset())
