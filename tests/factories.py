import factory

from findings.models import Repository


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    name = factory.Sequence(lambda n: f"acme/app-{n}")
    url = factory.LazyAttribute(lambda o: f"https://github.com/{o.name}")
