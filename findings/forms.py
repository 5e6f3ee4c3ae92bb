"""Web forms of the findings app."""

from __future__ import annotations

from django import forms

from . import uploads
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

    def __init__(self, *args, upload_rejection: str = "", **kwargs):
        # Why findings.uploads.SizeLimitUploadHandler dropped the file of this request, if it did.
        self.upload_rejection = upload_rejection
        super().__init__(*args, **kwargs)

    def clean_file(self):
        file = self.cleaned_data["file"]
        error = uploads.check_size(file.size)
        if error:
            raise forms.ValidationError(error)
        return file

    def full_clean(self):
        super().full_clean()
        if self.upload_rejection and self.is_bound:
            # The file was dropped on the way in: say why instead of "This field is required".
            self._errors["file"] = self.error_class([self.upload_rejection])
            self.cleaned_data.pop("file", None)
            widget = self.fields["file"].widget
            if "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
