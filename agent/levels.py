"""Recording levels: how much of a run is kept, ordered like logging levels."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class RecordingLevel(IntEnum):
    NONE = 0
    ERROR = 10
    INFO = 20
    DEBUG = 30
    TRACE = 40

    @classmethod
    def parse(cls, value: object, *, where: str | None = None) -> RecordingLevel:
        """Parse a level name case-insensitively; the error names the value, place and choices."""
        if isinstance(value, RecordingLevel):
            return value
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        place = f" in {where}" if where else ""
        raise ValueError(
            f"invalid recording level {value!r}{place}; valid levels are: {', '.join(cls.names())}"
        )

    @classmethod
    def names(cls) -> list[str]:
        return list(cls.__members__)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class LevelChoice:
    """A resolved level and the layer that set it (logged, in the manifest and the result)."""

    level: RecordingLevel
    source: str
