"""Roles are Django groups; these helpers answer "may this user do X" in one place."""

from __future__ import annotations

from typing import Any

from labeling.models import Roles

STAFF_ROLES = frozenset({Roles.ML_ENGINEER, Roles.LEAD, Roles.ADMIN})
ADJUDICATOR_ROLES = frozenset({Roles.SENIOR_REVIEWER, Roles.LEAD, Roles.ADMIN})
DATA_WRITER_ROLES = frozenset({Roles.ML_ENGINEER, Roles.LEAD, Roles.ADMIN})
POLICY_OWNER_ROLES = frozenset({Roles.LEAD, Roles.ADMIN})


def user_roles(user: Any) -> frozenset[str]:
    """The role names a user holds; a superuser holds every role. Cached on the user object."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_reviewtool_roles", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        roles = frozenset(Roles.values)
    else:
        roles = frozenset(user.groups.values_list("name", flat=True)) & frozenset(Roles.values)
    user._reviewtool_roles = roles
    return roles


def has_any_role(user: Any, roles: frozenset[str] | set[str]) -> bool:
    return bool(user_roles(user) & roles)


def sees_all_queues(user: Any) -> bool:
    """ML engineers, leads and admins see every queue; reviewers only the queues they belong to."""
    return has_any_role(user, STAFF_ROLES)


def can_adjudicate(user: Any) -> bool:
    return has_any_role(user, ADJUDICATOR_ROLES)


def can_see_quality(user: Any) -> bool:
    """Leads and admins see label quality: agreement, reviewer accuracy, alerts."""
    return has_any_role(user, POLICY_OWNER_ROLES)
