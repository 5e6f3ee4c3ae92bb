"""Jira's own text formats, rendered from the same `IssueContent` the Markdown trackers use.

- Jira Cloud (REST v3) takes rich text as Atlassian Document Format (ADF), a JSON document:
  https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/ (text nodes are never empty;
  a codeBlock holds unmarked text only; the `code` mark combines with `link` only).
- Jira Data Center (REST v2) takes wiki markup strings: `h3.`, `*bold*`, `{{monospace}}`, `[text|url]`,
  `{code}`/`{noformat}` blocks, `\\` escapes a special character.

Both must stay within Jira's 32,767-character limit for text fields (for ADF, counted on the document's JSON).

ADF has no hidden comments, so the fingerprint marker is written as visible plain text,
`certifai:fingerprint=<fp>`, which `base.has_marker` matches in the text rendering (`adf_to_text`).
Free text (a finding's description, a comment) is read as "Markdown-lite": paragraphs, ``` fences, `code`,
**bold**, [text](url) and bare URLs; anything else is shown literally (escaped in wiki markup).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .base import CERTIFAI_LABEL, MARKER_PREFIX, IssueContent

MAX_TEXT = 32_767  # Jira's limit for a text field (description, comment)
MAX_SNIPPET = 4_000
MAX_DESCRIPTION = 20_000
MAX_LABEL = 255
MAX_SUMMARY = 255
MAX_FIELD = 1_000  # rule ids, paths, URLs: cut anything longer, they are not meant to be read at that length

TRUNCATED = "… (truncated)"

# --- labels and summary ------------------------------------------------------------------------------------------


def severity_label(severity: str) -> str:
    return f"severity-{severity}"


def jira_label(label: str) -> str:
    """Jira labels can't contain spaces (400 "The label ... contains spaces which is invalid")."""
    return re.sub(r"\s+", "-", label.strip())[:MAX_LABEL]


def jira_labels(content: IssueContent, configured: tuple[str, ...] | list[str]) -> list[str]:
    labels = [CERTIFAI_LABEL, severity_label(content.severity)]
    for label in configured:
        cleaned = jira_label(label or "")
        if cleaned and cleaned not in labels:
            labels.append(cleaned)
    return labels


def jira_summary(content: IssueContent) -> str:
    """One line (Jira refuses line breaks in a summary), at most 255 characters."""
    text = " ".join(content.title.split())
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def marker_text(fingerprint: str) -> str:
    return f"{MARKER_PREFIX}{fingerprint}"


# --- Markdown-lite -------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n`]*\n(.*?)\n?\1[ \t]*$", re.S | re.M)
_HTML_MARKER = re.compile(r"<!--\s*(" + re.escape(MARKER_PREFIX) + r"[^\s>]*)\s*-->")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_INLINE = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|(?P<bold>\*\*[^*\n]+\*\*)"
    r"|(?P<link>\[(?P<link_text>[^\]\n]+)\]\((?P<link_url>https?://[^)\s]+)\))"
    r"|(?P<url>https?://[^\s<>()\[\]{}\"'`|]+)"
)
_TRAILING_PUNCT = ".,;:!?"


def _prepare(text: str) -> str:
    """Markers written for Markdown trackers (HTML comments) become plain text; other HTML comments go."""
    text = _HTML_MARKER.sub(r"\1", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _HTML_COMMENT.sub("", text)


def _blocks(text: str) -> list[tuple[str, str]]:
    """("code", body) and ("para", text) blocks of Markdown-lite text."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    for match in _FENCE.finditer(text):
        blocks += _paragraphs(text[pos : match.start()])
        blocks.append(("code", match.group(2)))
        pos = match.end()
    blocks += _paragraphs(text[pos:])
    return blocks


def _paragraphs(text: str) -> list[tuple[str, str]]:
    return [("para", part.strip("\n")) for part in re.split(r"\n[ \t]*\n", text) if part.strip()]


def _inline(text: str) -> list[tuple[str, str, str]]:
    """(kind, text, url) pieces: kind in plain, code, bold, link."""
    pieces: list[tuple[str, str, str]] = []
    pos = 0
    for match in _INLINE.finditer(text):
        if match.start() > pos:
            pieces.append(("plain", text[pos : match.start()], ""))
        if match.group("code"):
            pieces.append(("code", match.group("code")[1:-1], ""))
        elif match.group("bold"):
            pieces.append(("bold", match.group("bold")[2:-2], ""))
        elif match.group("link"):
            pieces.append(("link", match.group("link_text"), match.group("link_url")))
        else:
            url = match.group("url")
            stripped = url.rstrip(_TRAILING_PUNCT)
            pieces.append(("link", stripped, stripped))
            if stripped != url:
                pieces.append(("plain", url[len(stripped) :], ""))
        pos = match.end()
    if pos < len(text):
        pieces.append(("plain", text[pos:], ""))
    return pieces


# --- Atlassian Document Format -----------------------------------------------------------------------------------


def _t(text: str, *marks: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = list(marks)
    return node


def _link(url: str) -> dict[str, Any]:
    return {"type": "link", "attrs": {"href": url}}


STRONG = {"type": "strong"}
CODE = {"type": "code"}


def _adf_inline(text: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for line_no, line in enumerate(text.split("\n")):
        if line_no:
            nodes.append({"type": "hardBreak"})
        for kind, piece, url in _inline(line):
            if not piece:
                continue  # ADF refuses empty text nodes
            if kind == "code":
                nodes.append(_t(piece, CODE))
            elif kind == "bold":
                nodes.append(_t(piece, STRONG))
            elif kind == "link":
                nodes.append(_t(piece, _link(url)))
            else:
                nodes.append(_t(piece))
    while nodes and nodes[-1]["type"] == "hardBreak":
        nodes.pop()
    return nodes


def _paragraph(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": [node for node in nodes if node.get("type") != "text" or node["text"]]}


def _code_block(text: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "codeBlock", "attrs": {}}
    if text:
        block["content"] = [_t(text)]
    return block


def _heading(text: str, level: int = 3) -> dict[str, Any]:
    return {"type": "heading", "attrs": {"level": level}, "content": [_t(text)]}


def adf_blocks(text: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for kind, body in _blocks(_prepare(text)):
        if kind == "code":
            blocks.append(_code_block(body))
        else:
            inline = _adf_inline(body)
            if inline:
                blocks.append({"type": "paragraph", "content": inline})
    return blocks


def adf_doc(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": blocks or [{"type": "paragraph", "content": []}]}


def adf_text(text: str) -> dict[str, Any]:
    """A comment (or any free text) as an ADF document."""
    return adf_doc(adf_blocks(text))


def adf_to_text(node: Any) -> str:
    """Plain text of an ADF document: inline nodes joined as they are, blocks on their own lines."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date", "inlineCard"):
        attrs = node.get("attrs") or {}
        return str(attrs.get("text") or attrs.get("url") or attrs.get("shortName") or "")
    children = node.get("content") or []
    parts = [adf_to_text(child) for child in children]
    if any(isinstance(child, dict) and child.get("type") in _INLINE_TYPES for child in children):
        return "".join(parts)
    return "\n".join(part for part in parts if part)


_INLINE_TYPES = {"text", "hardBreak", "mention", "emoji", "status", "date", "inlineCard"}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit)] + TRUNCATED


def _clip_field(text: str) -> str:
    return _clip(text or "", MAX_FIELD)


def _adf_description(content: IssueContent, description_limit: int, snippet_limit: int) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        _paragraph(_t("Severity: ", STRONG), _t(content.severity.capitalize())),
        _paragraph(
            _t("Rule: ", STRONG),
            _t(_clip_field(content.rule_id), CODE),
            _t(f" ({_clip_field(content.rule_title)})" if content.rule_title else ""),
        ),
    ]
    if content.tool:
        blocks.append(_paragraph(_t("Tool: ", STRONG), _t(_clip_field(content.tool))))
    if content.location:
        where = _clip_field(content.location)
        marks = [CODE, _link(content.source_url)] if content.source_url else [CODE]
        blocks.append(_paragraph(_t("Location: ", STRONG), _t(where, *marks)))
    if content.description and description_limit > 0:
        blocks.append(_heading("Details"))
        blocks += adf_blocks(_clip(content.description, description_limit))
    if content.snippet and snippet_limit > 0:
        blocks.append(_heading("Code"))
        blocks.append(_code_block(_clip(content.snippet, snippet_limit)))
    if content.finding_url:
        blocks.append(_paragraph(_t("View this finding in Certifai", _link(content.finding_url))))
    blocks.append(_paragraph(_t("Fingerprint: "), _t(content.fingerprint, CODE)))
    blocks.append(_paragraph(_t(marker_text(content.fingerprint))))
    return adf_doc([block for block in blocks if block.get("content") or block["type"] == "codeBlock"])


# --- wiki markup (Data Center) -----------------------------------------------------------------------------------

_WIKI_SPECIAL = re.compile(r"([*_+^~\-{}\[\]|!#?])")
_WIKI_EMOTICON = re.compile(r"\((x|y|n|i|on|off|flag|flagoff|/)\)", re.I)
_WIKI_LINE_START = re.compile(r"^(\s*)(h[1-6]\.|bq\.)", re.M)


def wiki_escape(text: str) -> str:
    """Plain text shown literally in wiki markup."""
    text = _WIKI_SPECIAL.sub(r"\\\1", text)
    text = _WIKI_EMOTICON.sub(r"\\(\1)", text)
    return _WIKI_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\.", text)


def _wiki_inline(text: str) -> str:
    out: list[str] = []
    for kind, piece, url in _inline(text):
        if kind == "code":
            out.append("{{" + wiki_escape(piece) + "}}")
        elif kind == "bold":
            out.append("*" + wiki_escape(piece) + "*")
        elif kind == "link":
            out.append(url if piece == url else f"[{wiki_escape(piece)}|{_wiki_url(url)}]")
        else:
            out.append(wiki_escape(piece))
    return "".join(out)


def _wiki_url(url: str) -> str:
    return url.replace("|", "%7C").replace("[", "%5B").replace("]", "%5D")


def _wiki_code(text: str) -> str:
    # Inside {code} nothing is markup but the closing tag; pick a block the snippet can't close.
    if "{code" not in text:
        return "{code}\n" + text + "\n{code}"
    if "{noformat" not in text:
        return "{noformat}\n" + text + "\n{noformat}"
    return "{noformat}\n" + text.replace("{noformat", "{\u200bnoformat") + "\n{noformat}"


def wiki_text(text: str) -> str:
    """A comment (or any free text) as wiki markup."""
    parts = []
    for kind, body in _blocks(_prepare(text)):
        parts.append(_wiki_code(body) if kind == "code" else _wiki_inline(body))
    return "\n\n".join(parts)


def _wiki_description(content: IssueContent, description_limit: int, snippet_limit: int) -> str:
    rule = "{{" + wiki_escape(_clip_field(content.rule_id)) + "}}"
    if content.rule_title:
        rule += " " + wiki_escape(f"({_clip_field(content.rule_title)})")
    lines = [f"*Severity:* {content.severity.capitalize()}", f"*Rule:* {rule}"]
    if content.tool:
        lines.append(f"*Tool:* {wiki_escape(_clip_field(content.tool))}")
    if content.location:
        where = wiki_escape(_clip_field(content.location))
        if content.source_url:
            where = f"[{where}|{_wiki_url(content.source_url)}]"
        lines.append(f"*Location:* {where}")
    parts = ["\n".join(lines)]
    if content.description and description_limit > 0:
        parts.append("h3. Details\n" + wiki_text(_clip(content.description, description_limit)))
    if content.snippet and snippet_limit > 0:
        parts.append("h3. Code\n" + _wiki_code(_clip(content.snippet, snippet_limit)))
    if content.finding_url:
        parts.append(f"[View this finding in Certifai|{_wiki_url(content.finding_url)}]")
    parts.append(f"Fingerprint: {{{{{content.fingerprint}}}}}\n{marker_text(content.fingerprint)}")
    return "\n\n".join(parts)


# --- sizes -------------------------------------------------------------------------------------------------------


def java_length(text: str) -> int:
    """Length as Jira (Java, UTF-16) counts it."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def text_size(value: str | dict[str, Any]) -> int:
    if isinstance(value, str):
        return java_length(value)
    return java_length(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def description(content: IssueContent, adf: bool, limit: int = MAX_TEXT) -> str | dict[str, Any]:
    """The issue description (ADF document or wiki markup) within `limit`, shortening details and snippet."""
    render = _adf_description if adf else _wiki_description
    description_limit = min(len(content.description), MAX_DESCRIPTION)
    snippet_limit = min(len(content.snippet), MAX_SNIPPET)
    while True:
        value = render(content, description_limit, snippet_limit)
        excess = text_size(value) - limit
        if excess <= 0 or (description_limit <= 0 and snippet_limit <= 0):
            return value
        cut = excess + 200  # markup around the cut text shrinks with it, roughly
        if snippet_limit > 0 and (snippet_limit >= description_limit):
            snippet_limit = max(0, snippet_limit - cut)
        else:
            description_limit = max(0, description_limit - cut)


def comment_body(text: str, adf: bool, limit: int = MAX_TEXT) -> str | dict[str, Any]:
    """A comment within `limit`; fingerprint markers it carries survive any shortening."""
    markers = list(dict.fromkeys(_MARKER.findall(_prepare(text))))
    keep = len(text)
    while True:
        body = _clip(text, keep)
        lost = [marker for marker in markers if marker not in body]
        if lost:
            body += "\n\n" + "\n".join(lost)
        value = adf_text(body) if adf else wiki_text(body)
        excess = text_size(value) - limit
        if excess <= 0 or keep <= 0:
            return value
        keep = max(0, keep - excess - 200)


_MARKER = re.compile(re.escape(MARKER_PREFIX) + r"[0-9A-Za-z]+")


__all__ = [
    "MAX_TEXT",
    "adf_doc",
    "adf_text",
    "adf_to_text",
    "comment_body",
    "description",
    "jira_label",
    "jira_labels",
    "jira_summary",
    "marker_text",
    "text_size",
    "wiki_escape",
    "wiki_text",
]
