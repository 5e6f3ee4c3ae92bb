"""REST API for repositories, scans and findings (mounted under /api/v1/ by certifai/urls.py)."""

from __future__ import annotations

import os
import tempfile

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from teams.models import Role
from teams.permissions import TeamRole
from teams.selectors import teams_for

from . import selectors, services, uploads
from .filters import user_repositories
from .models import Finding, Repository, Scan


class TeamField(serializers.PrimaryKeyRelatedField):
    """A team id, among the teams where the user is admin: another team is "does not exist", like a missing one."""

    def get_queryset(self):
        request = self.context.get("request")
        return teams_for(getattr(request, "user", None), Role.ADMIN)


class RepositorySerializer(serializers.ModelSerializer):
    team = TeamField(required=False, help_text="The owning team's id, one where you are admin. Optional when you "
                                               "are admin of exactly one team.")

    class Meta:
        model = Repository
        fields = ["id", "name", "team", "url", "default_branch"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is None and "team" not in attrs:
            teams = list(self.fields["team"].get_queryset()[:2])
            if len(teams) != 1:
                raise serializers.ValidationError({"team": ["required: the id of a team where you are admin"]})
            attrs["team"] = teams[0]
        return attrs


class ScanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scan
        fields = ["id", "repository", "tool", "format", "file_name", "status", "counts", "error", "warnings",
                  "complete", "created_at", "completed_at"]
        read_only_fields = fields


class ScanUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=services.FORMATS, default="auto")

    def validate_file(self, value):
        error = uploads.check_size(value.size)
        if error:
            raise serializers.ValidationError(error)
        return value


class FindingSerializer(serializers.ModelSerializer):
    line = serializers.IntegerField(source="start_line", allow_null=True, read_only=True)
    first_seen = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "repository", "fingerprint", "rule_id", "title", "severity", "description", "file_path",
                  "line", "end_line", "tool", "status", "first_seen", "resolved_at", "first_scan", "last_scan"]
        read_only_fields = fields


class FindingFilter(filters.FilterSet):
    repository = filters.ModelChoiceFilter(queryset=user_repositories)

    class Meta:
        model = Finding
        fields = ["repository", "status", "severity", "tool"]


class ScanFilter(filters.FilterSet):
    repository = filters.ModelChoiceFilter(queryset=user_repositories)

    class Meta:
        model = Scan
        fields = ["repository", "status"]


class RepositoryViewSet(viewsets.ModelViewSet):
    """Reads: the user's teams' repositories. Create, update, delete: admin of the team (teams.permissions)."""

    serializer_class = RepositorySerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_classes = [TeamRole]
    action_roles = {"upload_scan": Role.EDITOR}

    def get_queryset(self):
        return selectors.repository_list(self.request.user)

    @extend_schema(
        request={"multipart/form-data": ScanUploadSerializer},
        responses={201: ScanSerializer, 400: OpenApiResponse(description="the file can't be read; nothing written")},
    )
    @action(detail=True, methods=["post"], url_path="scans", parser_classes=[parsers.MultiPartParser])
    def upload_scan(self, request, pk=None):
        repository = self.get_object()
        data = request.data  # parses the upload (findings.uploads.SizeLimitUploadHandler may drop the file)
        rejection = uploads.upload_rejection(request)
        if rejection:
            raise serializers.ValidationError({"file": [rejection]})
        upload = ScanUploadSerializer(data=data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        with _on_disk(file) as path:
            try:
                scan = services.import_scan(
                    repository=repository, path=path, format=upload.validated_data["format"], file_name=file.name
                )
            except services.ScanImportError as exc:
                body = {"detail": f"{file.name}: {exc}"}
                if exc.scan is not None:
                    body["scan"] = ScanSerializer(exc.scan).data
                return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(ScanSerializer(scan).data, status=status.HTTP_201_CREATED)


class _on_disk:
    """The uploaded file as a path: Django keeps big uploads on disk already; small ones are written out."""

    def __init__(self, upload):
        self.upload = upload
        self.temp_path: str | None = None

    def __enter__(self) -> str:
        if hasattr(self.upload, "temporary_file_path"):
            return self.upload.temporary_file_path()
        fd, self.temp_path = tempfile.mkstemp(prefix="certifai-scan-")
        with os.fdopen(fd, "wb") as handle:
            for chunk in self.upload.chunks():
                handle.write(chunk)
        return self.temp_path

    def __exit__(self, *exc) -> None:
        if self.temp_path:
            os.unlink(self.temp_path)


class ScanViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ScanSerializer
    filterset_class = ScanFilter
    permission_classes = [TeamRole]

    def get_queryset(self):
        return selectors.scan_list(self.request.user)


class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = FindingSerializer
    filterset_class = FindingFilter
    permission_classes = [TeamRole]

    def get_queryset(self):
        return selectors.finding_list(self.request.user)
