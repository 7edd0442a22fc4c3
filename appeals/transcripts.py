"""Reading a chat export (JSON) into the plain transcript an appeal keeps: one "Role: text"
paragraph per message. Accepted shapes: a list of messages, `{"messages": [...]}`, or
`{"conversation": [...]}`; a message is `{"role"|"author"|"from": ..., "content"|"text": ...}`
where content is a string or a list of parts (`{"type": "text", "text": ...}` or strings)."""

from __future__ import annotations

import json
from typing import Any

from governance.errors import Invalid

ROLE_NAMES = {
    "user": "User",
    "human": "User",
    "you": "User",
    "assistant": "Assistant",
    "ai": "Assistant",
    "model": "Assistant",
    "bot": "Assistant",
    "system": "System",
    "developer": "System",
    "tool": "Tool",
}
MAX_MESSAGES = 2000


def _fail(message: str) -> Invalid:
    return Invalid(message, fields={"transcript_file": [message]})


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    if isinstance(value, dict) and isinstance(value.get("parts"), list):
        return _content(value["parts"])
    return ""


def transcript_from_export(data: bytes, *, max_bytes: int) -> str:
    """The transcript text of a JSON chat export, or Invalid saying plainly what is wrong."""
    if len(data) > max_bytes:
        raise _fail(f"The file is larger than {max_bytes // 1024:,} KB.")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise _fail("The file is not UTF-8 text.") from error
    except json.JSONDecodeError as error:
        raise _fail(
            f"The file is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from error
    if isinstance(document, dict):
        for key in ("messages", "conversation", "chat"):
            if isinstance(document.get(key), list):
                document = document[key]
                break
    if not isinstance(document, list):
        raise _fail('Expected a list of messages, or an object with a "messages" list.')
    if len(document) > MAX_MESSAGES:
        raise _fail(f"At most {MAX_MESSAGES:,} messages.")
    paragraphs = []
    for number, message in enumerate(document, start=1):
        if not isinstance(message, dict):
            raise _fail(f"Message {number} is not an object with a role and a content.")
        role = message.get("role") or message.get("author") or message.get("from") or ""
        if isinstance(role, dict):
            role = role.get("role", "")
        text = _content(message.get("content", message.get("text")))
        if not isinstance(role, str) or not text.strip():
            raise _fail(f"Message {number} has no role or no text.")
        label = ROLE_NAMES.get(role.strip().lower(), role.strip()[:40].title() or "Unknown")
        paragraphs.append(f"{label}: {text.strip()}")
    if not paragraphs:
        raise _fail("The export has no messages.")
    return "\n\n".join(paragraphs)
