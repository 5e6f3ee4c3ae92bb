"""Issue bodies in Markdown (GitHub, GitLab, Gitea). Jira renders its own formats from the same content."""

from __future__ import annotations

import re

from .base import CERTIFAI_LABEL, IssueContent, fingerprint_marker

MAX_SNIPPET = 4000
MAX_DESCRIPTION = 20000


def severity_label(severity: str) -> str:
    return f"severity:{severity}"


def issue_labels(content: IssueContent, configured: tuple[str, ...]) -> list[str]:
    """Labels for GitHub/GitLab/Gitea: ours, the severity, then the repository's configured ones."""
    labels = [CERTIFAI_LABEL, severity_label(content.severity)]
    labels += [label for label in configured if label and label not in labels]
    return labels


def _fence(text: str) -> str:
    # A fence longer than any backtick run inside the snippet, so the snippet can't break out.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text}\n{ticks}"


def markdown_body(content: IssueContent) -> str:
    lines = [
        f"**Severity:** {content.severity.capitalize()}",
        f"**Rule:** `{content.rule_id}`" + (f" ({content.rule_title})" if content.rule_title else ""),
        f"**Tool:** {content.tool}" if content.tool else "",
    ]
    if content.location:
        where = f"[`{content.location}`]({content.source_url})" if content.source_url else f"`{content.location}`"
        lines.append(f"**Location:** {where}")
    lines = [line for line in lines if line]
    parts = ["\n".join(f"- {line}" for line in lines)]
    if content.description:
        parts.append("### Details\n\n" + content.description[:MAX_DESCRIPTION])
    if content.snippet:
        parts.append("### Code\n\n" + _fence(content.snippet[:MAX_SNIPPET]))
    parts.append(f"[View this finding in Certifai]({content.finding_url})")
    parts.append(f"Fingerprint: `{content.fingerprint}`\n{fingerprint_marker(content.fingerprint)}")
    return "\n\n".join(parts)
