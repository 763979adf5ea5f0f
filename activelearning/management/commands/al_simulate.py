"""``manage.py al_simulate``: simulated active learning on a labelled dataset.

Thin wrapper around ``activelearning.simulation``, which drives ``activelearning.loop`` and
``activelearning.strategies.select`` with the production classifier head: the same functions
the live Celery tasks call, with simulated reviewers answering from the dataset's labels.
"""

from __future__ import annotations

import sys
from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from activelearning.encoders import available_encoder_names
from activelearning.loop import ModelFactory, logistic_regression_factory
from activelearning.simulation import (
    DATASET_FORMATS,
    SimulationConfig,
    SimulationError,
    embed_texts,
    plot_curves,
    read_dataset,
    simulate,
    write_json,
)
from activelearning.strategies import STRATEGIES, Classifier
from activelearning.training import TextClassifierHead

HELP = """Simulate active learning on a labelled dataset and write learning curves as JSON.

A fixed stratified test set (--test-fraction, never queried) is split off once; for each of
--repeats seeds an initial random seed set of --seed-size items is drawn and every strategy adds
--batch-size items per round, answered from the dataset's labels, until --budget labels. Binary
with --positive-label (that label vs the rest), multiclass otherwise.

Strategies: """ + ", ".join(STRATEGIES)


def production_head() -> Classifier:
    """The head the live training task fits (calibrated, per-class decision offsets)."""
    head: Classifier = TextClassifierHead()
    return head


def production_head_fast() -> Classifier:
    """The production head's fast path: no internal folds, no calibration or offset tuning."""
    head: Classifier = TextClassifierHead(calibration="none", tune_thresholds=False)
    return head


MODELS: dict[str, ModelFactory] = {
    "head": production_head,
    "head-fast": production_head_fast,
    "logreg": logistic_regression_factory,
}


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, type=Path)
        parser.add_argument("--format", default="csv", choices=DATASET_FORMATS)
        parser.add_argument("--text-field", default=None, help="default for davidson: tweet")
        parser.add_argument("--label-field", default=None, help="default for davidson: class")
        parser.add_argument("--positive-label", default=None, help="binary: this label vs rest")
        parser.add_argument("--strategy", default="random,margin", help="comma-separated")
        parser.add_argument("--seed-size", type=int, default=100)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=25,
            help="labels per round (default 25, the live loop's REVIEWTOOL_RETRAIN_EVERY default)",
        )
        parser.add_argument("--budget", type=int, default=3000)
        parser.add_argument("--repeats", type=int, default=10)
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--encoder", default="minilm", help="minilm, tfidf or fusion")
        parser.add_argument(
            "--model",
            default="head",
            choices=sorted(MODELS),
            help="head: production TextClassifierHead (default); head-fast: its fast path; "
            "logreg: plain class-balanced logistic regression",
        )
        parser.add_argument(
            "--blas-threads",
            type=int,
            default=1,
            help="BLAS threads (default 1: many small fits gain nothing from more)",
        )
        parser.add_argument(
            "--cache-dir",
            type=Path,
            default=None,
            help="embedding cache (default: VAR_DIR/cache/embeddings)",
        )
        parser.add_argument("--out", required=True, type=Path, help="result JSON")
        parser.add_argument("--plot", type=Path, default=None, help="learning-curve PNG")

    def handle(self, *args: Any, **options: Any) -> None:
        strategies = tuple(name.strip() for name in options["strategy"].split(",") if name.strip())
        config = SimulationConfig(
            strategies=strategies,
            seed_size=options["seed_size"],
            batch_size=options["batch_size"],
            budget=options["budget"],
            repeats=options["repeats"],
            test_fraction=options["test_fraction"],
            positive_label=options["positive_label"],
            # The AUC window is [100, 3000] labels, narrowed to what a small run covers.
            auc_range=(min(100, options["seed_size"]), min(3000, options["budget"])),
        )
        encoder = options["encoder"]
        if encoder not in available_encoder_names():
            raise CommandError(
                f"encoder {encoder!r} is not available here; use one of "
                + ", ".join(available_encoder_names())
            )
        cache_dir = options["cache_dir"] or Path(settings.VAR_DIR) / "cache" / "embeddings"
        try:
            config.validate()
            data = read_dataset(
                options["dataset"],
                dataset_format=options["format"],
                text_field=options["text_field"],
                label_field=options["label_field"],
            )
            self._say(f"{len(data.texts)} labelled texts; encoding with {encoder}")
            embeddings = embed_texts(data.texts, encoder_name=encoder, cache_dir=cache_dir)
            with threadpool_limits(limits=max(1, options["blas_threads"])):
                result = simulate(
                    texts=data.texts,
                    labels=data.labels,
                    X=embeddings,
                    config=config,
                    model_factory=MODELS[options["model"]],
                    model_name=options["model"],
                    encoder_name=encoder,
                    progress=self._say,
                )
        except SimulationError as error:
            raise CommandError(str(error)) from error
        result["config"]["dataset"] = str(options["dataset"])
        # The model's hyper-parameters, so a result file says which head produced it.
        get_params = getattr(MODELS[options["model"]](), "get_params", None)
        if get_params is not None:
            result["config"]["model_params"] = get_params()
        write_json(result, options["out"])
        if options["plot"] is not None:
            plot_curves(result, options["plot"])
        self._report(result)

    def _say(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def _report(self, result: dict[str, Any]) -> None:
        full = result["full_data"]["macro_f1"]
        self.stdout.write(f"full data: macro-F1 {full:.4f} ({result['task']['n_pool']} labels)")
        for name, entry in result["summary"].items():
            relative = entry["auc_relative_to_random"]
            self.stdout.write(
                f"{name:>24}: AUC x{relative if relative is None else round(relative, 4)} "
                f"vs random, 95% at {entry['labels_to_95pct_full_data']}, "
                f"100% at {entry['labels_to_100pct_full_data']}, "
                f"min seeds beating random {entry.get('min_seeds_beating_random')}"
            )
