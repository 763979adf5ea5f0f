"""factory_boy factories for the domain. Services are used where a factory would skip a rule."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from labeling import services
from labeling.models import Policy, Queue


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def roles(self: Any, create, extracted, **kwargs):
        if not create:
            return
        for role in extracted or ():
            group, _ = Group.objects.get_or_create(name=role)
            self.groups.add(group)
        # Saves the password set above too (skip_postgeneration_save leaves that to us).
        self.save()


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"policy-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    labels = factory.LazyFunction(lambda: ["violating", "borderline", "not_violating"])
    positive_labels = factory.LazyFunction(lambda: ["violating"])
    guidelines = "# Rules\n\nBe kind."


def make_queue(*, slug="q", policies=None, reviewers=(), **kwargs) -> Queue:
    policies = policies or [PolicyFactory()]
    return services.queue_create(
        slug=slug, name=slug.title(), policies=policies, reviewers=reviewers, **kwargs
    )


def make_items(queue: Queue, count: int, *, source="test", prefix="x"):
    result = services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(external_id=f"{prefix}{i}", text=f"text {i}", priority=float(i))
            for i in range(count)
        ],
        source=source,
    )
    return result.created
