from django.urls import path

from . import views

urlpatterns = [
    path("issues/", views.IssueListView.as_view(), name="issue-list"),
    path("repositories/<int:pk>/activity/", views.RepositoryActivityView.as_view(), name="repository-activity"),
    path("issues/<int:pk>/retry/", views.IssueRetryView.as_view(), name="issue-retry"),
    # /findings/<id>/ is the address the pipeline links tracker issues to (issues.services.finding_url).
    path("findings/<int:pk>/", views.FindingDetailView.as_view(), name="finding-detail"),
    path("findings/<int:pk>/issue/", views.FindingIssueCreateView.as_view(), name="finding-issue-create"),
]
