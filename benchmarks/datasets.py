"""Loaders for the public text datasets the benchmarks use (outside the repo, never copied in).

``REVIEWTOOL_DATASETS`` points at the folder (default ``../shared/datasets`` from the repo root).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def datasets_root() -> Path:
    """Folder holding the shared datasets."""
    configured = os.environ.get("REVIEWTOOL_DATASETS")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "datasets"


@dataclass(frozen=True)
class TextDataset:
    """``texts[i]`` has label index ``labels[i]`` into ``class_names``."""

    name: str
    texts: list[str]
    labels: list[int]
    class_names: list[str]


def load_davidson() -> TextDataset:
    """Davidson et al. 2017: 24,783 tweets, class 0 hate, 1 offensive, 2 neither."""
    path = datasets_root() / "davidson2017" / "labeled_data.csv"
    texts: list[str] = []
    labels: list[int] = []
    with path.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            # Raw text: the encoders' normalize_text unescapes HTML entities (&amp; -> &).
            texts.append(row["tweet"])
            labels.append(int(row["class"]))
    return TextDataset("davidson", texts, labels, ["hate", "offensive", "neither"])


def load_sms_spam() -> TextDataset:
    """SMS Spam Collection: 5,574 messages, ham or spam (tab-separated ``label\\ttext``)."""
    path = datasets_root() / "sms_spam_collection" / "SMSSpamCollection.tsv"
    names = ["ham", "spam"]
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            label, _, text = line.rstrip("\n").partition("\t")
            if label in names:
                texts.append(text)
                labels.append(names.index(label))
    return TextDataset("sms_spam", texts, labels, names)


LOADERS = {"davidson": load_davidson, "sms_spam": load_sms_spam}
