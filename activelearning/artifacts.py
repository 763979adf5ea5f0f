"""Saving and loading fitted models without pickle.

An artifact is one ``.npz`` file (written with ``allow_pickle=False``) holding the model's
numeric arrays plus one ``uint8`` array that is the UTF-8 JSON metadata: head parameters,
classes, the encoder's name, version and (for TF-IDF) vocabulary. ``save_artifact`` returns the
file's SHA-256; ``load_artifact`` checks it against the expected digest *before* parsing a
single byte, so a tampered or truncated file is refused rather than interpreted.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from activelearning.encoders import Encoder, encoder_class
from activelearning.training import TextClassifierHead

ARTIFACT_FORMAT = "reviewtool.text-model/2"
# Format 1 heads chose their decision offsets on calibrated log-probabilities; format 2 heads on
# the class-balanced ones (activelearning.training). Format 1 still loads, so that a champion
# trained before the change keeps serving with the decisions it was evaluated with.
_LEGACY_FORMAT = "reviewtool.text-model/1"
_READABLE_FORMATS = (ARTIFACT_FORMAT, _LEGACY_FORMAT)
_METADATA_KEY = "__metadata__"
_HEAD_ARRAYS = (
    "coef_",
    "intercept_",
    "calibration_coef_",
    "calibration_intercept_",
    "class_offsets_",
    "stack_coef_",
    "stack_intercept_",
)
# Arrays added after format 2 was first written: an artifact without them is an unstacked head.
_OPTIONAL_HEAD_ARRAYS = {"stack_coef_": (0, 0), "stack_intercept_": (0,)}


class ArtifactIntegrityError(ValueError):
    """The artifact's bytes do not match the expected SHA-256, or its content is malformed."""


@dataclass
class ModelArtifact:
    """A fitted head, the encoder that produces its features (optional) and free metadata."""

    head: TextClassifierHead
    encoder: Encoder | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _classes_to_json(classes: npt.NDArray[Any]) -> dict[str, Any]:
    if classes.dtype.kind in "iub":
        return {"kind": "int", "values": [int(value) for value in classes]}
    return {"kind": "str", "values": [str(value) for value in classes]}


def _classes_from_json(payload: dict[str, Any]) -> npt.NDArray[Any]:
    if payload["kind"] == "int":
        return np.asarray(payload["values"], dtype=np.int64)
    return np.asarray(payload["values"], dtype=str)


def _serialize(artifact: ModelArtifact) -> bytes:
    head = artifact.head
    arrays: dict[str, npt.NDArray[Any]] = {
        # Dtypes are kept as fitted (float32 features give float32 coefficients) so that a
        # reloaded head reproduces predict_proba bit for bit.
        f"head.{name}": np.asarray(getattr(head, name))
        for name in _HEAD_ARRAYS
    }
    metadata: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "head": {
            "params": head.get_params(),
            "classes": _classes_to_json(head.classes_),
            "n_features_in": int(head.n_features_in_),
        },
        "encoder": None,
        "metadata": artifact.metadata,
    }
    if artifact.encoder is not None:
        encoder_metadata, encoder_arrays = artifact.encoder.to_state()
        metadata["encoder"] = {
            "name": artifact.encoder.name,
            "version": artifact.encoder.version,
            "state": encoder_metadata,
        }
        arrays.update({f"encoder.{key}": value for key, value in encoder_arrays.items()})
    arrays[_METADATA_KEY] = np.frombuffer(
        json.dumps(metadata, sort_keys=True).encode("utf-8"), dtype=np.uint8
    )
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def save_artifact(artifact: ModelArtifact | TextClassifierHead, path: Path | str) -> str:
    """Write ``artifact`` to ``path`` atomically; return the file's SHA-256 (hex)."""
    if isinstance(artifact, TextClassifierHead):
        artifact = ModelArtifact(head=artifact)
    content = _serialize(artifact)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return hashlib.sha256(content).hexdigest()


def _rebuild_head(
    payload: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
) -> TextClassifierHead:
    head = TextClassifierHead(**payload["params"])
    head.classes_ = _classes_from_json(payload["classes"])
    head.n_features_in_ = int(payload["n_features_in"])
    for name in _HEAD_ARRAYS:
        key = f"head.{name}"
        if key not in arrays and name in _OPTIONAL_HEAD_ARRAYS:
            setattr(head, name, np.zeros(_OPTIONAL_HEAD_ARRAYS[name]))
            continue
        values = np.asarray(arrays[key])
        if values.dtype.kind != "f":
            raise ArtifactIntegrityError(f"head array {name} has dtype {values.dtype}")
        setattr(head, name, values)
    return head


def load_artifact(path: Path | str, expected_sha256: str) -> ModelArtifact:
    """Read an artifact written by ``save_artifact``.

    Raises:
        ArtifactIntegrityError: the file's SHA-256 differs from ``expected_sha256`` (checked
            before parsing), or the verified content is not a valid artifact.
    """
    content = Path(path).read_bytes()
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected_sha256.lower():
        raise ArtifactIntegrityError(
            f"artifact {path} has SHA-256 {actual}, expected {expected_sha256}; refusing to load"
        )
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        metadata = json.loads(arrays.pop(_METADATA_KEY).tobytes().decode("utf-8"))
        if metadata.get("format") not in _READABLE_FORMATS:
            raise ArtifactIntegrityError(f"unknown artifact format {metadata.get('format')!r}")
        head = _rebuild_head(
            metadata["head"],
            {key: value for key, value in arrays.items() if key.startswith("head.")},
        )
        head.decision_space_ = "calibrated" if metadata["format"] == _LEGACY_FORMAT else "balanced"
        encoder: Encoder | None = None
        if metadata["encoder"] is not None:
            encoder_arrays = {
                key.removeprefix("encoder."): value
                for key, value in arrays.items()
                if key.startswith("encoder.")
            }
            encoder = encoder_class(metadata["encoder"]["name"]).from_state(
                metadata["encoder"]["state"], encoder_arrays
            )
    except (KeyError, ValueError, TypeError) as error:
        if isinstance(error, ArtifactIntegrityError):
            raise
        raise ArtifactIntegrityError(f"artifact {path} is malformed: {error}") from error
    return ModelArtifact(head=head, encoder=encoder, metadata=metadata["metadata"])
