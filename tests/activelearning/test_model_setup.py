from __future__ import annotations

import numpy as np

from activelearning import model_setup
from activelearning.encoders import FusionEncoder, TfidfEncoder

TEXTS = [f"{word} message {index}" for index in range(30) for word in ("buy now", "hello friend")]


def test_a_fusion_gets_one_stacked_block_per_encoder_of_the_feature_widths():
    parts = [TfidfEncoder(n_components=0), TfidfEncoder(n_components=8, max_word_features=5)]
    encoder = FusionEncoder(parts).fit(TEXTS)

    blocks = model_setup.head_params(encoder)["blocks"]

    features = encoder.transform_features(TEXTS)
    assert len(blocks) == 2
    assert sum(blocks) == features.shape[1]
    # Both blocks are sparse TF-IDF: their widths are the vocabularies, not the SVD dimension.
    assert blocks == (parts[0].sparse_dimension, parts[1].sparse_dimension)
    assert np.asarray(features[:, : blocks[0]].sum(axis=1)).ravel().all()


def test_a_single_encoder_gets_the_plain_head():
    assert model_setup.head_params(TfidfEncoder(n_components=0).fit(TEXTS)) == {}
    assert model_setup.head_params(FusionEncoder([TfidfEncoder(n_components=0)]).fit(TEXTS)) == {}
