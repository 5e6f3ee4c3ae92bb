from django.apps import AppConfig


class IssuesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "issues"
    verbose_name = "Tracker issues"

    def ready(self) -> None:
        from findings.signals import scan_completed

        from . import receivers

        scan_completed.connect(receivers.enqueue_scan_pipeline, dispatch_uid="issues.enqueue_scan_pipeline")
