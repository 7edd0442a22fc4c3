"""factory_boy factories for the core domain."""

from __future__ import annotations

from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from governance.models import Membership, Organization, User

PASSWORD = "correct horse battery staple 42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    display_name = factory.Sequence(lambda n: f"Person {n}")
    # Older than the hold for new accounts, so their comments publish at once unless a test
    # says otherwise.
    date_joined = factory.LazyFunction(lambda: timezone.now() - timedelta(days=90))
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        """Users have a verified primary address unless `verified=False` is passed."""
        if not create:
            return
        self.save()
        EmailAddress.objects.create(
            user=self, email=self.email, primary=True, verified=extracted is not False
        )


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"organization-{n}")
    kind = Organization.Kind.DEVELOPER


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.MEMBER
