from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from activelearning.artifacts import (
    ArtifactIntegrityError,
    ModelArtifact,
    load_artifact,
    save_artifact,
)
from activelearning.encoders import TfidfEncoder
from activelearning.training import TextClassifierHead

TEXTS = [f"{word} message {index}" for index in range(40) for word in ("buy now", "hello friend")]
LABELS = np.array(["spam", "ham"] * 40)


def fitted_artifact() -> ModelArtifact:
    encoder = TfidfEncoder(n_components=16).fit(TEXTS)
    head = TextClassifierHead().fit(encoder.transform(TEXTS), LABELS)
    return ModelArtifact(head=head, encoder=encoder, metadata={"policy": "spam", "round": 3})


def test_round_trip_gives_identical_probabilities(tmp_path):
    artifact = fitted_artifact()
    path = tmp_path / "model.npz"
    digest = save_artifact(artifact, path)
    loaded = load_artifact(path, digest)
    assert loaded.metadata == {"policy": "spam", "round": 3}
    assert loaded.head.get_params() == artifact.head.get_params()
    np.testing.assert_array_equal(loaded.head.classes_, artifact.head.classes_)
    assert artifact.encoder is not None
    assert loaded.encoder is not None
    original = artifact.head.predict_proba(artifact.encoder.transform(TEXTS))
    reloaded = loaded.head.predict_proba(loaded.encoder.transform(TEXTS))
    np.testing.assert_array_equal(reloaded, original)


def test_a_bare_head_with_integer_classes_round_trips(tmp_path):
    features = np.random.default_rng(0).normal(size=(60, 3))
    labels = (features[:, 0] > 0).astype(int)
    head = TextClassifierHead().fit(features, labels)
    digest = save_artifact(head, tmp_path / "head.npz")
    loaded = load_artifact(tmp_path / "head.npz", digest).head
    assert loaded.classes_.dtype.kind == "i"
    np.testing.assert_array_equal(loaded.predict(features), head.predict(features))


def test_a_stacked_fusion_head_round_trips(tmp_path):
    word = TfidfEncoder(n_components=0).fit(TEXTS)
    features = np.hstack([word.transform_features(TEXTS).toarray(), np.eye(80)[:, :7]])
    blocks = (word.sparse_dimension, 7)
    head = TextClassifierHead(blocks=blocks).fit(features, LABELS)
    assert head.stack_coef_.size
    digest = save_artifact(head, tmp_path / "stacked.npz")
    loaded = load_artifact(tmp_path / "stacked.npz", digest).head
    assert list(loaded.blocks) == list(blocks)
    np.testing.assert_array_equal(loaded.stack_coef_, head.stack_coef_)
    np.testing.assert_array_equal(loaded.predict_proba(features), head.predict_proba(features))
    np.testing.assert_array_equal(loaded.predict(features), head.predict(features))


def test_an_artifact_from_before_stacking_loads_as_one_regression(tmp_path, monkeypatch):
    # Heads saved before the stacked head existed have no stack arrays; they must keep serving.
    from activelearning import artifacts

    features = np.random.default_rng(2).normal(size=(60, 3))
    labels = (features[:, 1] > 0).astype(int)
    head = TextClassifierHead().fit(features, labels)
    names = tuple(name for name in artifacts._HEAD_ARRAYS if not name.startswith("stack_"))
    monkeypatch.setattr(artifacts, "_HEAD_ARRAYS", names)
    digest = save_artifact(head, tmp_path / "old.npz")
    monkeypatch.undo()
    with np.load(tmp_path / "old.npz", allow_pickle=False) as archive:
        assert "head.stack_coef_" not in archive.files

    loaded = load_artifact(tmp_path / "old.npz", digest).head

    assert loaded.stack_coef_.size == 0
    np.testing.assert_array_equal(loaded.predict_proba(features), head.predict_proba(features))


def test_a_format_1_head_keeps_deciding_on_calibrated_scores(tmp_path, monkeypatch):
    # Format 1 tuned its offsets on calibrated log-probabilities; a champion saved then must keep
    # the decisions it was evaluated with.
    from activelearning import artifacts

    features = np.random.default_rng(1).normal(size=(90, 3))
    labels = np.where(features[:, 0] > 0.8, "rare", "common")
    head = TextClassifierHead().fit(features, labels)
    head.class_offsets_ = np.array([0.0, 1.5])  # large enough to change decisions
    monkeypatch.setattr(artifacts, "ARTIFACT_FORMAT", "reviewtool.text-model/1")
    digest = save_artifact(head, tmp_path / "old.npz")
    monkeypatch.undo()

    loaded = load_artifact(tmp_path / "old.npz", digest).head

    assert loaded.decision_space_ == "calibrated"
    offsets = np.array([0.0, 1.5])
    on_calibrated = head.classes_[np.argmax(head.predict_log_proba(features) + offsets, axis=1)]
    np.testing.assert_array_equal(loaded.predict(features), on_calibrated)
    assert head.decision_space_ == "balanced"
    assert (head.predict(features) != on_calibrated).any()


def test_a_flipped_byte_is_refused_before_parsing(tmp_path):
    path = tmp_path / "model.npz"
    digest = save_artifact(fitted_artifact(), path)
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(ArtifactIntegrityError, match="SHA-256"):
        load_artifact(path, digest)


def test_a_valid_file_that_is_not_an_artifact_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, __metadata__=np.frombuffer(json.dumps({"format": "x"}).encode(), np.uint8))
    with pytest.raises(ArtifactIntegrityError, match="format"):
        load_artifact(path, hashlib.sha256(path.read_bytes()).hexdigest())


def test_the_file_holds_no_pickled_objects(tmp_path):
    path = tmp_path / "model.npz"
    save_artifact(fitted_artifact(), path)
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[key].dtype != object for key in archive.files)
