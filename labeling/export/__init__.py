"""Versioned, reproducible dataset exports of resolved labels.

One row per :class:`~labeling.models.Label` (joined to its item), streamed from the database with
``.iterator(chunk_size=CHUNK_SIZE)`` and written in batches, so memory stays flat however many
labels there are. Formats: CSV (formula cells neutralised), JSONL, one Parquet file with a
``split`` column, or Hugging Face style Parquet splits (``train.parquet`` ...). Every export writes
``datasheet.json`` and ``DATASHEET.md`` next to the data and is recorded as a
:class:`~labeling.models.DatasetExport`.

**Fingerprint.** SHA-256 over the canonical JSON of the filters, seed, split fractions and the
format-independent content of every row in export order (``policy`` slug, then item id). The same
filters over the same data give the same fingerprint in every format; a changed label changes it.
The creation time is not part of it.

**Splits.** An item's split comes from ``sha256(f"{seed}:{item_id}")`` mapped to [0, 1) and
compared with the cumulative split fractions. We chose this over exact per-stratum allocation
because it is deterministic and streaming (no per-stratum sort in memory), it keeps one item in
one split under every policy (no text leaks from train into test through a second policy), and an
item keeps its split when later labels are added. Label values do not enter the hash, so every
(policy, label) stratum is split in the given proportions *in expectation*; on a small stratum the
counts can be off by a few rows (a binomial deviation of about sqrt(n * p * (1 - p))), and the
datasheet reports the actual counts per split and label.

**Reviewers.** ``with_decisions`` adds each row's decisions with pseudonymous reviewer ids:
HMAC-SHA256 of ``user:<id>`` (or ``anonymous:<name>`` for imported coders) under a key derived
from ``SECRET_KEY`` and the export's fingerprint: stable within an export, different across
exports of different data, and not linkable to a username without the secret key. The
fingerprint itself covers the decisions through a second key derived from ``SECRET_KEY`` alone,
so it does not depend on the pseudonyms (which depend on it) and cannot be brute-forced back to
user ids. That needs the fingerprint before writing, so exports with decisions read the rows
twice (and refuse to record a snapshot if the data changed in between).

Exports run synchronously; large ones belong in ``manage.py export_dataset``.
"""

from labeling.export.datasheet import datasheet_markdown
from labeling.export.rows import labels_matching, reviewer_pseudonym_key
from labeling.export.service import (
    dataset_export,
    dataset_export_to_store,
    export_file,
    export_store_dir,
)
from labeling.export.spec import (
    DEFAULT_SPLITS,
    SPLIT_NAMES,
    ExportFilters,
    ExportSpec,
    SplitAssigner,
    can_export,
    neutralise_formula,
    parse_day,
    parse_list,
    parse_splits,
)

__all__ = [
    "DEFAULT_SPLITS",
    "SPLIT_NAMES",
    "ExportFilters",
    "ExportSpec",
    "SplitAssigner",
    "can_export",
    "dataset_export",
    "dataset_export_to_store",
    "datasheet_markdown",
    "export_file",
    "export_store_dir",
    "labels_matching",
    "neutralise_formula",
    "parse_day",
    "parse_list",
    "parse_splits",
    "reviewer_pseudonym_key",
]
