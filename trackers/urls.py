from django.urls import path

from . import views

urlpatterns = [
    path("repositories/", views.RepositoryListView.as_view(), name="repository-list"),
    path("repositories/new/", views.RepositoryFormView.as_view(), name="repository-add"),
    path("repositories/<int:pk>/", views.RepositoryDetailView.as_view(), name="repository-detail"),
    path("repositories/<int:pk>/edit/", views.RepositoryFormView.as_view(), name="repository-edit"),
    path("repositories/<int:pk>/tracker/test/", views.TrackerTestView.as_view(), name="repository-tracker-test"),
]
