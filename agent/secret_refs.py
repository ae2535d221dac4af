"""Secret references in task input: `env:NAME`, or `secretsmanager:secret-id#json-key`
(`secretsmanager:secret-id` alone for a plain-string secret)."""

from __future__ import annotations

import json
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from agent.aws import AwsClients, error_code
from agent.errors import InvalidInput
from agent.script.variables import resolve_env_secret

SECRETS_MANAGER = "secretsmanager:"


def secret_resolver(aws: AwsClients) -> Callable[[str], str]:
    """Resolves a reference to its value. Errors name the reference, never a value."""

    def resolve(ref: str) -> str:
        if not ref.startswith(SECRETS_MANAGER):
            return resolve_env_secret(ref)
        secret_id, _, key = ref.removeprefix(SECRETS_MANAGER).partition("#")
        if not secret_id:
            raise InvalidInput(f"secret reference {ref!r}: expected secretsmanager:ID#KEY")
        text = _secret_string(aws, secret_id, ref)
        if not key:
            return text
        try:
            value = json.loads(text)[key]
        except (ValueError, TypeError, KeyError):
            raise InvalidInput(
                f"secret reference {ref!r}: the secret is not a JSON object with key {key!r}"
            ) from None
        if not isinstance(value, str):
            raise InvalidInput(f"secret reference {ref!r}: the value of {key!r} is not a string")
        return value

    return resolve


def _secret_string(aws: AwsClients, secret_id: str, ref: str) -> str:
    try:
        answer = aws.secretsmanager().get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = error_code(exc)
        raise InvalidInput(f"secret reference {ref!r}: Secrets Manager said {code}") from None
    except BotoCoreError as exc:
        raise InvalidInput(
            f"secret reference {ref!r}: cannot reach Secrets Manager ({exc})"
        ) from None
    text = answer.get("SecretString")
    if not isinstance(text, str):
        raise InvalidInput(f"secret reference {ref!r}: the secret has no string value")
    return text
