from django.contrib import admin

from .models import Finding, Repository, Scan


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "url", "created_at"]
    list_filter = ["team"]
    list_select_related = ["team"]
    search_fields = ["name", "team__name"]


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ["id", "repository", "tool", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["repository"]


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ["rule_id", "repository", "severity", "status", "file_path", "start_line"]
    list_filter = ["severity", "status"]
    list_select_related = ["repository"]
    search_fields = ["rule_id", "title", "file_path", "fingerprint"]
    raw_id_fields = ["first_scan", "last_scan", "reappeared_scan", "resolved_scan"]
