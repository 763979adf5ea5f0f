"""Small typed readers for settings taken from the environment.

Secrets may come from ``NAME_FILE`` (a path, as Docker and Kubernetes secrets are mounted) as well
as from ``NAME`` itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    """The value of ``name``, or the content of the file named by ``name_FILE``, or ``default``."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """A strict boolean: only ``true``/``false`` (any case), ``1``/``0`` are accepted."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from error


def env_choice(name: str, choices: tuple[str, ...], default: str = "") -> str:
    """``default`` when unset or empty, else one of ``choices``; anything else stops start-up."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def local_secret_key(var_dir: Path) -> str:
    """A secret key generated once and kept under ``var/`` for the embedded default only."""
    from django.core.management.utils import get_random_secret_key

    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = get_random_secret_key()
    key_file.write_text(key, encoding="utf-8")
    key_file.chmod(0o600)
    return key
