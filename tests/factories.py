import factory

from findings.models import Repository
from teams.models import DEFAULT_TEAM, Membership, Role, Team


def default_team() -> Team:
    """The team the factories and the fixtures' users share unless a test says otherwise."""
    return Team.objects.get_or_create(name=DEFAULT_TEAM)[0]


def member(user, role: str = Role.ADMIN, team: Team | None = None):
    """Make `user` a member of `team` (the default team) with `role`; returns the user."""
    Membership.objects.update_or_create(team=team or default_team(), user=user, defaults={"role": role})
    return user


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"team-{n}")


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    name = factory.Sequence(lambda n: f"acme/app-{n}")
    team = factory.LazyFunction(default_team)
    url = factory.LazyAttribute(lambda o: f"https://github.com/{o.name}")
