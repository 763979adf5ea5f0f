from django.contrib import admin

from labeling import models


@admin.register(models.Policy)
class PolicyAdmin(admin.ModelAdmin[models.Policy]):
    list_display = ("slug", "name", "version", "severity")
    search_fields = ("slug", "name")


@admin.register(models.Queue)
class QueueAdmin(admin.ModelAdmin[models.Queue]):
    list_display = ("slug", "name", "overlap", "lease_seconds", "order", "blind")
    filter_horizontal = ("policies", "reviewers")


@admin.register(models.Item)
class ItemAdmin(admin.ModelAdmin[models.Item]):
    list_display = ("id", "source", "external_id", "queue", "status", "priority", "received_at")
    list_filter = ("status", "queue", "source")
    search_fields = ("external_id", "text")


@admin.register(models.Lease)
class LeaseAdmin(admin.ModelAdmin[models.Lease]):
    list_display = ("item", "slot", "state", "reviewer", "expires_at")
    list_filter = ("state", "queue")
    raw_id_fields = ("item",)


class AppendOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Decisions and audit events are evidence: admins may read them, not change them."""

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(models.Decision)
class DecisionAdmin(AppendOnlyAdmin):
    list_display = ("id", "item", "reviewer", "kind", "verdicts", "created_at")
    list_filter = ("kind",)
    raw_id_fields = ("item", "lease")


@admin.register(models.AuditEvent)
class AuditEventAdmin(AppendOnlyAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object_id")
    list_filter = ("action",)


@admin.register(models.Retraction)
class RetractionAdmin(AppendOnlyAdmin):
    list_display = ("decision", "created_at")


@admin.register(models.Label)
class LabelAdmin(admin.ModelAdmin[models.Label]):
    list_display = ("item", "policy", "value", "source", "agreement", "policy_version")
    list_filter = ("source", "policy")
    raw_id_fields = ("item",)


@admin.register(models.Skip)
class SkipAdmin(admin.ModelAdmin[models.Skip]):
    list_display = ("item", "reviewer", "created_at")
    raw_id_fields = ("item",)


@admin.register(models.Escalation)
class EscalationAdmin(admin.ModelAdmin[models.Escalation]):
    list_display = ("item", "reviewer", "created_at")
    raw_id_fields = ("item",)


@admin.register(models.QueueStats)
class QueueStatsAdmin(admin.ModelAdmin[models.QueueStats]):
    list_display = ("queue", "pending", "in_review", "adjudication", "resolved", "refreshed_at")
