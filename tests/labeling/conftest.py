"""Fixtures shared by the labeling tests."""

import pytest

from tests.factories import make_queue


@pytest.fixture
def overlap_queue(policy, reviewer, other_reviewer, senior):
    return make_queue(
        slug="double", policies=[policy], reviewers=[reviewer, other_reviewer, senior], overlap=2
    )
