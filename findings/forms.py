"""Web forms of the findings app."""

from __future__ import annotations

from django import forms
from django.conf import settings

from .services import FORMATS

FORMAT_LABELS = {"auto": "Detect automatically", "sarif": "SARIF 2.1.0", "bandit": "Bandit JSON",
                 "semgrep": "Semgrep JSON"}


class BootstrapFormMixin:
    """Bootstrap 5 classes on every widget, and `is-invalid` on those with errors. Django itself sets
    aria-invalid and aria-describedby (ids `<id>_helptext` and `<id>_error`, see templates/partials/field.html)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class ScanUploadForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label="Scan file", help_text="SARIF 2.1.0, Bandit JSON or Semgrep JSON.")
    format = forms.ChoiceField(label="Format", choices=[(f, FORMAT_LABELS.get(f, f)) for f in FORMATS],
                               initial="auto")

    def clean_file(self):
        file = self.cleaned_data["file"]
        limit = settings.CERTIFAI_MAX_UPLOAD_SIZE
        if file.size > limit:
            raise forms.ValidationError(f"The file is {file.size} bytes; the limit is {limit} bytes.")
        return file
