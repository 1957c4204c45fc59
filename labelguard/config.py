"""Settings resolved once at the CLI edge: flags override environment, environment overrides defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SIGNING_KEY_ENV = "LABELGUARD_SIGNING_KEY"
VERIFY_KEY_ENV = "LABELGUARD_VERIFY_KEY"


def s3_endpoint_from_env() -> str | None:
    """The S3 endpoint boto3 would use from the environment, if any."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


@dataclass(frozen=True)
class Settings:
    """Where keys live and which S3 endpoint to talk to."""

    signing_key: Path | None = None
    verify_key: Path | None = None
    s3_endpoint: str | None = None

    @classmethod
    def resolve(
        cls,
        *,
        signing_key: Path | None = None,
        verify_key: Path | None = None,
        s3_endpoint: str | None = None,
    ) -> "Settings":
        env_sign = os.environ.get(SIGNING_KEY_ENV)
        env_verify = os.environ.get(VERIFY_KEY_ENV)
        return cls(
            signing_key=signing_key or (Path(env_sign) if env_sign else None),
            verify_key=verify_key or (Path(env_verify) if env_verify else None),
            s3_endpoint=s3_endpoint or s3_endpoint_from_env(),
        )
