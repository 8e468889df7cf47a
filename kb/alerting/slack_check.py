"""Does a message keep to Slack's documented format for incoming webhooks, and is it inert?

``problems(message)`` lists what is wrong (empty when nothing is): the ``text`` fallback, at most 50 blocks
of the kinds a message uses (header, section, context, divider), each within its limits (header plain text
<= 150 characters; section text <= 3,000, fields <= 10 of <= 2,000; context 1-10 elements; block ids <= 255
and unique), and mrkdwn whose only angle-bracket tokens are web links ``<http(s)://...|label>``: no mention
(``<@U..>``, ``<!channel>``, ``<#C..>``), no other scheme, and no raw ``<`` or ``>`` left unescaped.
The server checks each message before posting it; the tests check what a receiver got.
"""

from __future__ import annotations

import re
from typing import Any

MAX_BLOCKS = 50
LIMITS = {"header": 150, "section": 3000, "field": 2000, "context": 3000, "fallback": 40000}
_TOKEN = re.compile(r"<([^<>]*)>")  # syntax: Slack's control sequences
_LINK = re.compile(r"https?://[^\s|<>]+(\|[^<>]*)?")  # syntax: <url> or <url|label>


def _text_object(obj: Any, where: str, limit: int, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"{where}: a text object of type {' or '.join(kinds)} is required"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{where}: empty text"]
    out = [f"{where}: {len(text)} characters, over {limit}"] if len(text) > limit else []
    if obj["type"] == "mrkdwn":
        out += mrkdwn_problems(text, where)
    return out


def mrkdwn_problems(text: str, where: str) -> list[str]:
    """What in mrkdwn ``text`` is not an inert text or a web link."""
    out = []
    for token in _TOKEN.findall(text):
        if not _LINK.fullmatch(token):
            out.append(f"{where}: control sequence <{token[:40]}> is not a web link")
    rest = _TOKEN.sub("", text)
    if "<" in rest or ">" in rest:
        out.append(f"{where}: unescaped < or > in text")
    return out


def _block(block: Any, where: str) -> list[str]:
    if not isinstance(block, dict):
        return [f"{where}: not an object"]
    kind = block.get("type")
    out: list[str] = []
    if kind == "header":
        out += _text_object(block.get("text"), f"{where} header", LIMITS["header"], ("plain_text",))
    elif kind == "section":
        fields = block.get("fields")
        if "text" not in block and not fields:
            out.append(f"{where} section: neither text nor fields")
        if "text" in block:
            out += _text_object(block["text"], f"{where} section", LIMITS["section"], ("mrkdwn", "plain_text"))
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                out.append(f"{where} section: fields must be a list of at most 10")
            else:
                for i, f in enumerate(fields):
                    out += _text_object(f, f"{where} field {i}", LIMITS["field"], ("mrkdwn", "plain_text"))
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
            out.append(f"{where} context: 1 to 10 elements are required")
        else:
            for i, e in enumerate(elements):
                out += _text_object(e, f"{where} context element {i}", LIMITS["context"], ("mrkdwn", "plain_text"))
    elif kind == "divider":
        if set(block) - {"type", "block_id"}:
            out.append(f"{where} divider: unexpected fields {sorted(set(block) - {'type', 'block_id'})}")
    else:
        out.append(f"{where}: block type {kind!r} is not one a message uses here")
    return out


def problems(message: Any) -> list[str]:
    """What is wrong with ``message`` as an incoming-webhook message (empty: nothing)."""
    if not isinstance(message, dict):
        return ["the message is not a JSON object"]
    out: list[str] = []
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        out.append("no 'text' fallback (Slack shows it in notifications)")
    else:
        if len(text) > LIMITS["fallback"]:
            out.append(f"text: {len(text)} characters, over {LIMITS['fallback']}")
        out += mrkdwn_problems(text, "text")
    blocks = message.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return [*out, f"blocks must be a list of at most {MAX_BLOCKS}"]
    ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and "block_id" in b]
    if len(ids) != len(set(ids)) or any(not isinstance(i, str) or len(i) > 255 for i in ids):
        out.append("block ids must be unique strings of at most 255 characters")
    for n, block in enumerate(blocks):
        out += _block(block, f"block {n}")
    return out
