"""Who may call which endpoint, by role (Django groups; see labeling.roles).

Every endpoint needs one of the reviewtool roles: an account without a role (an outsider) gets
403, an anonymous request 401. Rules about a particular object (only your own lease, only queues
you review) live in the services and selectors, not here.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from labeling.models import Roles
from labeling.roles import ADJUDICATOR_ROLES, DATA_WRITER_ROLES, POLICY_OWNER_ROLES, has_any_role

ANY_ROLE = frozenset(Roles.values)


class RolePermission(BasePermission):
    """Reads need one of ``read_roles``, writes one of ``write_roles``."""

    read_roles: frozenset[str] = ANY_ROLE
    write_roles: frozenset[str] = ANY_ROLE
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        roles = self.read_roles if request.method in SAFE_METHODS else self.write_roles
        return has_any_role(request.user, roles)


class HasRole(RolePermission):
    """Any reviewtool role, for reading and writing."""


class PolicyOwnerWrites(RolePermission):
    """Anyone with a role reads; leads and admins create and change."""

    write_roles = frozenset(POLICY_OWNER_ROLES)


class DataWriterWrites(RolePermission):
    """Anyone with a role reads; ML engineers, leads and admins (and services) write."""

    write_roles = frozenset(DATA_WRITER_ROLES)


class IsAdjudicator(RolePermission):
    """Senior reviewers, leads and admins only."""

    read_roles = frozenset(ADJUDICATOR_ROLES)
    write_roles = frozenset(ADJUDICATOR_ROLES)
