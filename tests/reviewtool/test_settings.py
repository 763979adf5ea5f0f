"""Settings come from the environment through strict readers; production refuses unsafe gaps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from reviewtool.env import env_bool, env_choice, env_str

REPO_ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps({'debug': settings.DEBUG, 'secret_key': settings.SECRET_KEY}))"
)


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with exactly these variables set."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL"}
    }
    clean.update(
        {"DJANGO_SETTINGS_MODULE": "reviewtool.settings", "REVIEWTOOL_VAR_DIR": str(tmp_path)}
    )
    clean.update(env)
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("raw", ["yes", "on", "ture", "2", "False!"])
def test_env_bool_rejects_anything_but_true_or_false(monkeypatch, raw):
    monkeypatch.setenv("SOME_FLAG", raw)

    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", default=False)


def test_env_choice_accepts_only_its_choices(monkeypatch):
    monkeypatch.delenv("SOME_BACKEND", raising=False)
    assert env_choice("SOME_BACKEND", ("torch", "onnx-int8")) == ""
    monkeypatch.setenv("SOME_BACKEND", "onnx-int8")
    assert env_choice("SOME_BACKEND", ("torch", "onnx-int8")) == "onnx-int8"
    monkeypatch.setenv("SOME_BACKEND", "onnx")

    with pytest.raises(ImproperlyConfigured, match="SOME_BACKEND must be one of torch, onnx-int8"):
        env_choice("SOME_BACKEND", ("torch", "onnx-int8"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("0", False)],
)
def test_env_bool_reads_true_and_false(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)

    assert env_bool("SOME_FLAG", default=not expected) is expected


def test_env_bool_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)

    assert env_bool("SOME_FLAG", default=True) is True


def test_a_secret_is_read_from_the_file_named_by_its_file_variable(monkeypatch, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cret-from-a-file\n", encoding="utf-8")
    monkeypatch.setenv("SOME_TOKEN", "from-the-variable")
    monkeypatch.setenv("SOME_TOKEN_FILE", str(secret))

    assert env_str("SOME_TOKEN") == "s3cret-from-a-file"


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    completed = load_settings(tmp_path, DEBUG="false")

    assert completed.returncode != 0
    assert "SECRET_KEY" in completed.stderr


def test_production_settings_read_the_secret_key_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key.txt"
    key_file.write_text("a-long-production-secret-key-read-from-a-mounted-file\n")

    completed = load_settings(tmp_path, DEBUG="false", SECRET_KEY_FILE=str(key_file))

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.splitlines()[-1]) == {
        "debug": False,
        "secret_key": "a-long-production-secret-key-read-from-a-mounted-file",
    }


def test_a_junk_debug_value_stops_the_settings_from_loading(tmp_path):
    completed = load_settings(tmp_path, DEBUG="yes")

    assert completed.returncode != 0
    assert "DEBUG must be true or false" in completed.stderr
