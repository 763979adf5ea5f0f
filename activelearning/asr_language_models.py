"""Per-policy domain language models for speech to text, built from the policy's texts.

A bigram model of a policy's resolved labelled item texts (``domain_language_model``) makes
PocketSphinx expect that domain's words: on the multimodal benchmark it lowers the word error
rate of flite speech and lifts the macro-F1 of classifying the transcripts (benchmarks/multimodal).

Rules, kept simple on purpose:

- Texts: the policy's labelled item texts (golden items excluded, as for training). When there
  are fewer than ``REVIEWTOOL_ASR_LM_MIN_TEXTS`` of them, the texts of the other items in the
  policy's queues are added. Still fewer: no domain model, the engine's general one is used.
- Cache: each build is a folder ``REVIEWTOOL_MODEL_DIR/asr_lm/policy-<id>-<fingerprint>`` (the
  fingerprint is a hash of the texts), written to a temporary folder and renamed into place, so
  a reader never sees half a model and two workers building at once both end with one folder.
- Rebuild: only when the number of texts has changed by ``REBUILD_CHANGE`` (20 %) or more since
  the newest build, or when asked (``rebuild=True``); one more label does not rebuild.
- A build whose dictionary is too small to decode with (``MIN_VOCABULARY`` words, e.g. texts in
  a language the bundled dictionary lacks) is kept as a decision and means "general model".
- A failed build is logged; the previous build is used if there is one, else the general model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet

from activelearning.encoders.audio import DomainLanguageModel, domain_language_model
from labeling import selectors as labeling_selectors
from labeling.models import Item, Label, MediaAsset, Policy

logger = logging.getLogger(__name__)

# Bump when domain_language_model writes a different model from the same texts.
LM_FORMAT_VERSION = 1
REBUILD_CHANGE = 0.2
MAX_TEXTS = 20_000
MIN_VOCABULARY = 20
KEEP_BUILDS = 2
STAGING_MAX_AGE_SECONDS = 3600
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class _Build:
    model: DomainLanguageModel
    text_count: int
    vocabulary: int
    built_at: float


def asr_lm_root() -> Path:
    return Path(settings.REVIEWTOOL_MODEL_DIR) / "asr_lm"


def min_texts() -> int:
    return int(settings.REVIEWTOOL_ASR_LM_MIN_TEXTS)


def asset_language_model(*, asset: MediaAsset) -> DomainLanguageModel | None:
    """The domain model to transcribe ``asset`` with, or ``None`` for the general one.

    Among the policies of the queues whose items carry the asset, the one with the most texts
    (the best estimated model) wins; ties go to the older policy.
    """
    policies = Policy.objects.filter(queues__items__media__asset=asset).distinct()
    ranked = sorted(policies, key=lambda policy: (-_text_count(policy), policy.pk))
    for policy in ranked:
        model = policy_language_model(policy=policy)
        if model is not None:
            return model
    return None


def policy_language_model(*, policy: Policy, rebuild: bool = False) -> DomainLanguageModel | None:
    """The policy's domain model, built when missing, stale or ``rebuild``; ``None`` when the
    policy has too few texts (or too few known words) for one, or building failed."""
    count = _text_count(policy)
    if count < min_texts():
        logger.info(
            "policy %s: %d texts (< %d): general ASR language model", policy.pk, count, min_texts()
        )
        return None
    newest = _newest_build(policy)
    if newest is None or rebuild or _changed_materially(newest.text_count, count):
        try:
            newest = _build(policy, _policy_texts(policy))
        except Exception:
            # A model we cannot build must not stop transcription: the caller falls back.
            logger.exception("policy %s: building the ASR language model failed", policy.pk)
            if newest is None:
                return None
    if newest.vocabulary < MIN_VOCABULARY:
        logger.info(
            "policy %s: %d known words (< %d): general ASR language model",
            policy.pk,
            newest.vocabulary,
            MIN_VOCABULARY,
        )
        return None
    return newest.model


def _changed_materially(built_from: int, now: int) -> bool:
    return abs(now - built_from) >= REBUILD_CHANGE * built_from


# --- texts ---------------------------------------------------------------------------------------


def _labelled(policy: Policy) -> QuerySet[Label]:
    return Label.objects.filter(policy=policy).exclude(item__golden__isnull=False)


def _queue_items(policy: Policy) -> QuerySet[Item]:
    """Items of the policy's queues without a label of it, newest first."""
    return (
        Item.objects.filter(queue__policies=policy)
        .exclude(text="")
        .exclude(labels__policy=policy)
        .order_by("-id")
    )


def _text_count(policy: Policy) -> int:
    labelled = _labelled(policy).exclude(item__text="").count()
    if labelled >= min_texts():
        return min(labelled, MAX_TEXTS)
    return min(labelled + _queue_items(policy).count(), MAX_TEXTS)


def _policy_texts(policy: Policy) -> list[str]:
    labelled = [text for _, text, _ in labeling_selectors.labeled_examples(policy=policy) if text]
    texts = labelled[-MAX_TEXTS:]  # the newest labels when there are too many
    if len(texts) < min_texts():
        extra = MAX_TEXTS - len(texts)
        texts += list(_queue_items(policy).values_list("text", flat=True)[:extra])
    return texts


def _fingerprint(texts: list[str]) -> str:
    digest = hashlib.sha256(f"asr-lm-{LM_FORMAT_VERSION}".encode())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8"))
    return digest.hexdigest()[:16]


# --- builds on disk ------------------------------------------------------------------------------


def _build(policy: Policy, texts: list[str]) -> _Build:
    name = f"policy-{policy.pk}-{_fingerprint(texts)}"
    root = asr_lm_root()
    final = root / name
    if not (final / MANIFEST).is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            _, dict_path = domain_language_model(texts, staging)
            vocabulary = len({line.split("(")[0].split()[0] for line in _lines(dict_path)})
            manifest = {
                "format": LM_FORMAT_VERSION,
                "policy": policy.pk,
                "text_count": len(texts),
                "vocabulary": vocabulary,
                "built_at": time.time(),
            }
            (staging / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            try:
                staging.rename(final)
            except OSError:
                if not (final / MANIFEST).is_file():
                    raise  # not "another worker built the same model first"
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info(
            "policy %s: built ASR language model %s from %d texts", policy.pk, name, len(texts)
        )
    build = _read_build(final)
    if build is None:
        raise RuntimeError(f"{final} has no readable manifest")
    _prune(policy, keep=build)
    return build


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read_build(folder: Path) -> _Build | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest["format"] != LM_FORMAT_VERSION:
            return None
        return _Build(
            model=DomainLanguageModel(
                name=folder.name, lm_path=folder / "domain.lm", dict_path=folder / "domain.dict"
            ),
            text_count=int(manifest["text_count"]),
            vocabulary=int(manifest["vocabulary"]),
            built_at=float(manifest["built_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _policy_builds(policy: Policy) -> list[_Build]:
    """The policy's readable builds, newest first."""
    root = asr_lm_root()
    if not root.is_dir():
        return []
    builds = [_read_build(folder) for folder in root.glob(f"policy-{policy.pk}-*")]
    return sorted((b for b in builds if b is not None), key=lambda b: -b.built_at)


def _newest_build(policy: Policy) -> _Build | None:
    builds = _policy_builds(policy)
    return builds[0] if builds else None


def _prune(policy: Policy, *, keep: _Build) -> None:
    """Keep the newest builds (a worker may still be loading the one before); drop staging
    folders a killed worker left behind."""
    older = [b for b in _policy_builds(policy) if b.model.name != keep.model.name]
    for build in older[KEEP_BUILDS - 1 :]:
        shutil.rmtree(build.model.lm_path.parent, ignore_errors=True)
    cutoff = time.time() - STAGING_MAX_AGE_SECONDS
    for staging in asr_lm_root().glob(f".policy-{policy.pk}-*"):
        if staging.stat().st_mtime < cutoff:
            shutil.rmtree(staging, ignore_errors=True)
