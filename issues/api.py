"""REST API of tracker issues, and findings with their linked issue (where findings meet trackers)."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from findings.api import FindingFilter, FindingSerializer
from findings.api import FindingViewSet as BaseFindingViewSet
from findings.filters import user_repositories
from teams.models import Role
from teams.permissions import TeamRole

from . import selectors, services
from .models import TrackerIssue


class TrackerIssueSerializer(serializers.ModelSerializer):
    sync = serializers.CharField(source="sync_state", read_only=True)
    error = serializers.CharField(source="last_error", read_only=True)

    class Meta:
        model = TrackerIssue
        fields = ["id", "repository", "tracker", "external_id", "title", "status", "state", "accepted_risk",
                  "created", "url", "fingerprint", "sync", "error", "last_synced"]
        read_only_fields = fields


class LinkedIssueSerializer(serializers.Serializer):
    tracker = serializers.CharField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField()
    sync = serializers.CharField(source="sync_state")


class FindingWithIssueSerializer(FindingSerializer):
    linked_issue = serializers.SerializerMethodField()

    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "linked_issue"]
        read_only_fields = fields

    @extend_schema_field(LinkedIssueSerializer(allow_null=True))
    def get_linked_issue(self, finding):
        issue = getattr(finding, "tracker_issue", None)
        return LinkedIssueSerializer(issue).data if issue is not None else None


class FindingViewSet(BaseFindingViewSet):
    serializer_class = FindingWithIssueSerializer
    filterset_class = FindingFilter

    def get_queryset(self):
        return super().get_queryset().select_related("tracker_issue")


class TrackerIssueFilter(filters.FilterSet):
    status = filters.ChoiceFilter(field_name="state", choices=TrackerIssue.State.choices)
    sync = filters.ChoiceFilter(field_name="sync_state", choices=TrackerIssue.Sync.choices)
    repository = filters.ModelChoiceFilter(queryset=user_repositories)

    class Meta:
        model = TrackerIssue
        fields = ["repository", "tracker", "status", "sync"]


class TrackerIssueViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TrackerIssueSerializer
    filterset_class = TrackerIssueFilter
    permission_classes = [TeamRole]
    action_roles = {"retry": Role.EDITOR}
    queryset = TrackerIssue.objects.none()  # for the schema; requests get the user's (get_queryset)

    def get_queryset(self):
        return selectors.issue_list(self.request.user)

    @extend_schema(request=None, responses={200: TrackerIssueSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue a pending or failed issue again, now."""
        from .tasks import sync_repository

        issue = self.get_object()
        services.retry_issue(issue)
        sync_repository.delay(issue.repository_id)
        issue.refresh_from_db()
        return Response(TrackerIssueSerializer(issue).data)
