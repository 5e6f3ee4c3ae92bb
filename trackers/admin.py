from django.contrib import admin

from .models import TrackerConfig


@admin.register(TrackerConfig)
class TrackerConfigAdmin(admin.ModelAdmin):
    list_display = ["repository", "type", "min_severity", "auto_close", "sync_paused"]
    list_filter = ["type", "sync_paused"]
    # The encrypted token is not editable here (editable=False); it is set on the repository form/API.
    exclude = ["token_encrypted"]
