"""Keeping secret values out of everything the agent writes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "***"


class SecretRedactor:
    """Replaces every known secret value with a mask, in text, bytes and JSON-like data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    @property
    def secrets(self) -> list[str]:
        return list(self._secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        for secret in self._secrets:
            encoded = secret.encode()
            if encoded in data:
                data = data.replace(encoded, MASK.encode())
        return data

    def redact_data(self, value: Any) -> Any:
        """Redact every string (keys included) inside nested dicts and lists."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact_data(k): self.redact_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_data(v) for v in value]
        return value

    def contains_secret(self, data: bytes | str) -> bool:
        raw = data.encode() if isinstance(data, str) else data
        return any(s.encode() in raw for s in self._secrets)


class SecretRegistry:
    """Every secret value seen by this process, so that log output can be scrubbed."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._redactor = SecretRedactor()

    def add(self, values: Iterable[str]) -> None:
        new = {v for v in values if v} - self._values
        if new:
            self._values |= new
            self._redactor = SecretRedactor(self._values)

    @property
    def redactor(self) -> SecretRedactor:
        return self._redactor


process_secrets = SecretRegistry()
