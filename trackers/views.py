"""Web pages for repositories: list, detail (with scan upload), the add/edit form with its Tracker section,
and the tracker connection test. Writes go through services, reads through selectors."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import ListView

from findings import selectors as finding_selectors
from findings import services as finding_services
from findings.api import _on_disk
from findings.forms import ScanUploadForm
from findings.models import Repository
from findings.uploads import upload_rejection
from teams import selectors as team_selectors
from teams.mixins import TeamAccessMixin
from teams.models import Role

from . import selectors, services
from .forms import RepositoryForm, TrackerForm

RECENT_SCANS = 20
REPOSITORIES_PER_PAGE = 50


class RepositoryListView(TeamAccessMixin, ListView):
    template_name = "trackers/repository_list.html"
    context_object_name = "repositories"
    extra_context = {"nav": "repositories"}
    # Each row counts the repository's open findings: 200 repositories on one page read 350,000 index entries.
    paginate_by = REPOSITORIES_PER_PAGE

    def get_queryset(self):
        return selectors.repository_overview(self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_add"] = team_selectors.teams_for(self.request.user, Role.ADMIN).exists()
        return context


class RepositoryDetailView(TeamAccessMixin, View):
    """GET: tracker status, open findings by severity, scans. POST: upload a scan file (editor)."""

    template_name = "trackers/repository_detail.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        repository = selectors.repository_with_tracker(request.user, pk)
        return self._render(request, repository, ScanUploadForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        repository = selectors.repository_with_tracker(request.user, pk)
        self.require(repository, Role.EDITOR)
        form = ScanUploadForm(request.POST, request.FILES, upload_rejection=upload_rejection(request))
        if not form.is_valid():
            return self._render(request, repository, form)
        upload = form.cleaned_data["file"]
        with _on_disk(upload) as path:
            try:
                scan = finding_services.import_scan(
                    repository=repository, path=path, format=form.cleaned_data["format"], file_name=upload.name
                )
            except finding_services.ScanImportError as exc:
                error = f"{upload.name}: {exc}"
                return self._render(request, repository, ScanUploadForm(), upload_error=error,
                                    upload_scan=exc.scan)
        return redirect(f"{reverse('repository-detail', args=[repository.pk])}?scan={scan.pk}#upload-result")

    def _render(self, request, repository: Repository, form: ScanUploadForm, upload_error: str = "",
                upload_scan=None) -> HttpResponse:
        scans = finding_selectors.scan_list(request.user, repository.pk)
        if upload_scan is None and request.GET.get("scan", "").isdigit():
            upload_scan = scans.filter(pk=int(request.GET["scan"])).first()
        tracker = selectors.tracker_of(repository)
        may = team_selectors.permissions_of(request.user, repository)
        context = {
            "nav": "repositories",
            "repository": repository,
            "tracker": tracker,
            "may": may,
            # The webhook secret forges status updates: the team's admins only.
            "webhook": services.webhook_settings(tracker) if tracker and may["can_admin"] else None,
            "severity_counts": finding_selectors.open_severity_counts(request.user, repository.pk),
            "scans": scans[:RECENT_SCANS],
            "upload_form": form,
            "upload_error": upload_error,
            "upload_scan": upload_scan,
        }
        return render(request, self.template_name, context)


class RepositoryFormView(TeamAccessMixin, View):
    """Add (no pk) or edit a repository and its tracker settings: admins of the team only."""

    template_name = "trackers/repository_form.html"

    def _repository(self, request: HttpRequest, pk: int | None):
        if pk is None:
            if not team_selectors.teams_for(request.user, Role.ADMIN).exists():
                raise PermissionDenied("Adding a repository needs the admin role in a team.")
            return None
        repository = selectors.repository_with_tracker(request.user, pk)
        self.require(repository, Role.ADMIN)
        return repository

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        repository = self._repository(request, pk)
        config = selectors.tracker_of(repository) if repository else None
        return self._render(request, repository, RepositoryForm(instance=repository, user=request.user),
                            TrackerForm(config=config))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        repository = self._repository(request, pk)
        config = selectors.tracker_of(repository) if repository else None
        repository_form = RepositoryForm(request.POST, instance=repository, user=request.user)
        tracker_form = TrackerForm(request.POST, config=config)
        if not (repository_form.is_valid() and tracker_form.is_valid()):
            return self._render(request, repository, repository_form, tracker_form)
        with transaction.atomic():
            repository = repository_form.save()
            tracker = tracker_form.tracker_data()
            if tracker is None:
                services.delete_tracker(repository, actor=request.user)
            else:
                services.save_tracker(repository, tracker, actor=request.user)
        messages.success(request, f"Saved {repository.name}.")
        return redirect("repository-detail", pk=repository.pk)

    def _render(self, request, repository, repository_form, tracker_form) -> HttpResponse:
        context = {
            "nav": "repositories",
            "repository": repository,
            "tracker": selectors.tracker_of(repository) if repository else None,
            "form": repository_form,
            "tracker_form": tracker_form,
        }
        return render(request, self.template_name, context)


class TrackerTestView(TeamAccessMixin, View):
    """POST: try the saved tracker settings (admin). htmx gets the result fragment (role="status"); a plain form
    post is redirected back with the result as a message."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        repository = selectors.repository_with_tracker(request.user, pk)
        self.require(repository, Role.ADMIN)
        config = selectors.tracker_of(repository)
        if config is None:
            ok, message = False, "This repository has no tracker configured yet: choose one and save."
        else:
            result = services.test_connection(config)
            ok, message = result.ok, result.message
        if request.headers.get("HX-Request") == "true":
            return render(request, "trackers/_test_result.html", {"ok": ok, "message": message})
        (messages.success if ok else messages.error)(request, f"Connection test: {message}")
        return redirect(_safe_next(request) or reverse("repository-detail", args=[pk]))


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return ""
