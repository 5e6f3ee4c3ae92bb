from django.urls import path

from . import views

urlpatterns = [
    path("findings/", views.FindingListView.as_view(), name="finding-list"),
    path("scans/", views.ScanListView.as_view(), name="scan-list"),
]
