"""Keeping secret values out of everything the agent writes."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"


def encoded_forms(secret: str) -> set[str]:
    """The secret, and how it looks URL-encoded, HTML-escaped and JSON-escaped, once or twice
    (a selector quoted inside a trace's JSON line is escaped twice)."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        html.escape(secret),
        html.escape(secret, quote=False),
    }
    for _ in range(2):
        forms |= {json.dumps(f)[1:-1] for f in forms}
        forms |= {json.dumps(f, ensure_ascii=False)[1:-1] for f in forms}
    return forms


class SecretRedactor:
    """Replaces every known secret value with a mask, in text, bytes and JSON-like data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._originals = sorted({s for s in secrets if s})
        # Each secret also as it appears URL-, JSON- and HTML-encoded (form posts in a HAR or a
        # trace, JSON strings, markup); longest first, so a secret inside another is masked whole.
        variants = {v for s in self._originals for v in encoded_forms(s)}
        self._secrets = sorted(variants, key=len, reverse=True)

    @property
    def secrets(self) -> list[str]:
        return list(self._originals)

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
