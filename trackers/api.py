"""The tracker part of the repositories API: `tracker` on a repository, and the connection test."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from findings.api import RepositorySerializer as BaseRepositorySerializer
from findings.api import RepositoryViewSet as BaseRepositoryViewSet
from findings.models import Severity
from teams.models import Role

from . import services
from .models import FIELDS_BY_TYPE, ReopenPolicy, TrackerType
from .validation import tracker_errors


def _existing_tracker(serializer):
    instance = getattr(serializer.parent, "instance", None)
    return getattr(instance, "tracker", None) if instance is not None else None


class TrackerSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=TrackerType.choices, required=False)
    repository = serializers.CharField(required=False, allow_blank=True, max_length=300)
    project_id = serializers.CharField(required=False, allow_blank=True, max_length=300)
    project_key = serializers.CharField(required=False, allow_blank=True, max_length=50)
    instance_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    api_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    issue_type = serializers.CharField(required=False, allow_blank=True, max_length=100)
    token = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=4096,
                                  style={"input_type": "password"})
    has_token = serializers.BooleanField(read_only=True)
    min_severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    labels = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=20)
    auto_close = serializers.BooleanField(required=False)
    reopen_policy = serializers.ChoiceField(choices=ReopenPolicy.choices, required=False)
    sync_paused = serializers.BooleanField(read_only=True)
    sync_error = serializers.CharField(read_only=True)

    def to_representation(self, instance):
        own = FIELDS_BY_TYPE[instance.type]
        data = {"type": instance.type}
        for name in own:
            if name != "token":
                data[name] = getattr(instance, services.MODEL_FIELD.get(name, name))
        data["has_token"] = instance.has_token
        for name in (*services.COMMON_FIELDS, "sync_paused", "sync_error"):
            data[name] = getattr(instance, name)
        return data

    def validate(self, attrs):
        existing = _existing_tracker(self)
        tracker_type = attrs.get("type") or (existing.type if existing else None)
        if not tracker_type:
            raise serializers.ValidationError({"type": f"required: one of {', '.join(TrackerType.values)}"})
        values = {"type": tracker_type}
        if existing is not None and existing.type == tracker_type:
            # A partial update keeps what it doesn't name.
            values.update({k: v for k, v in self.to_representation(existing).items() if k in self.fields})
        values.update(attrs)
        keeps_token = existing is not None and existing.type == tracker_type and existing.has_token
        errors = tracker_errors(tracker_type, values, keeps_token=keeps_token)
        if errors:
            raise serializers.ValidationError(errors)
        return values


class RepositorySerializer(BaseRepositorySerializer):
    tracker = TrackerSerializer(required=False, allow_null=True)

    class Meta(BaseRepositorySerializer.Meta):
        fields = [*BaseRepositorySerializer.Meta.fields, "tracker"]

    def create(self, validated_data):
        tracker = validated_data.pop("tracker", None)
        repository = super().create(validated_data)
        if tracker:
            services.save_tracker(repository, tracker, actor=self._actor())
        return repository

    def _actor(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def update(self, instance, validated_data):
        has_tracker = "tracker" in validated_data
        tracker = validated_data.pop("tracker", None)
        repository = super().update(instance, validated_data)
        if has_tracker and tracker is None:
            services.delete_tracker(repository, actor=self._actor())
        elif tracker:
            services.save_tracker(repository, tracker, actor=self._actor())
        repository.refresh_from_db()
        return repository


ConnectionResultSerializer = inline_serializer(
    "TrackerConnectionResult", fields={"ok": serializers.BooleanField(), "message": serializers.CharField()}
)


class RepositoryViewSet(BaseRepositoryViewSet):
    serializer_class = RepositorySerializer
    # Tracker settings and tokens, and trying them, are the team admins' (like every other repository write).
    action_roles = {**BaseRepositoryViewSet.action_roles, "test_tracker": Role.ADMIN}

    def get_queryset(self):
        return super().get_queryset().select_related("tracker")

    @extend_schema(request=None, responses={200: ConnectionResultSerializer})
    @action(detail=True, methods=["post"], url_path="tracker/test")
    def test_tracker(self, request, pk=None):
        repository = self.get_object()
        config = getattr(repository, "tracker", None)
        if config is None:
            return Response({"ok": False, "message": "This repository has no tracker configured yet."})
        result = services.test_connection(config)
        return Response({"ok": result.ok, "message": result.message})
