from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from findings import api as findings_api
from issues import api as issues_api
from issues import webhooks
from trackers import api as trackers_api

from . import health, metrics, views

router = DefaultRouter()
router.register("repositories", trackers_api.RepositoryViewSet, basename="repository")
router.register("scans", findings_api.ScanViewSet, basename="scan")
router.register("findings", issues_api.FindingViewSet, basename="finding")
router.register("issues", issues_api.TrackerIssueViewSet, basename="trackerissue")

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),  # answered by certifai.middleware.ProbeMiddleware
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: the CSP allows no inline script.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/webhooks/<str:tracker>/<int:repository_id>/", webhooks.receive, name="webhook"),
    path("api/v1/", include(router.urls)),
    # Web UI (every page requires login)
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("", include("trackers.urls")),
    path("", include("findings.urls")),
    path("", include("issues.urls")),
]
