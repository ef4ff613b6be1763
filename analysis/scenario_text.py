"""scenario_text.py - the few scenario fields the figures need, read from the resolved YAML.

A report stores the fully resolved scenario as YAML text (/scenario attribute `yaml`, written by
spillway in a fixed layout: top-level sections as block mappings, sites as a block sequence whose
items are block mappings or flow mappings). The figures need only the policy (its kind and
threshold) and each site's PUE, so this is a small reader of that layout rather than a YAML
dependency: it understands `key: value` lines, one level of nesting, `- ` list items and
single-line `{ a: 1, b: 2 }` flow mappings. Anything it cannot find comes back as None.
"""

import re


def _scalar(text):
    """A YAML scalar as int, float, None (for ~/null/empty) or str (quotes removed)."""
    text = text.strip()
    if text in ("", "~", "null"):
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _strip_comment(line):
    """The line without a trailing `# comment` (a # preceded by a space or at the start)."""
    m = re.search(r"(^|\s)#", line)
    return line[: m.start()] if m else line


def _flow_mapping(text):
    """Top-level `key: value` pairs of a one-line flow mapping `{ ... }`; nested maps skipped."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        return {}
    inner = inner[1:-1]
    out, depth, start = {}, 0, 0
    parts = []
    for i, ch in enumerate(inner):
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    for part in parts:
        key, sep, value = part.partition(":")
        if sep and not value.strip().startswith(("{", "[")):
            out[key.strip()] = _scalar(value)
    return out


def section(yaml_text, name):
    """The scalar fields of top-level mapping `name` (block or flow style) as a dict."""
    lines = [_strip_comment(l).rstrip() for l in yaml_text.splitlines()]
    for i, line in enumerate(lines):
        m = re.match(r"^%s:\s*(.*)$" % re.escape(name), line)
        if not m:
            continue
        if m.group(1):
            return _flow_mapping(m.group(1))
        out = {}
        indent = None
        for body in lines[i + 1 :]:
            if not body.strip():
                continue
            lead = len(body) - len(body.lstrip())
            if lead == 0:
                break
            if indent is None:
                indent = lead
            if lead != indent:
                continue  # nested deeper: not needed
            key, sep, value = body.strip().partition(":")
            if sep and value.strip():
                out[key.strip()] = (
                    _flow_mapping(value) if value.strip().startswith("{") else _scalar(value)
                )
        return out
    return {}


def site_items(yaml_text):
    """The scalar fields of each item of the top-level `sites:` sequence, in order."""
    lines = [_strip_comment(l).rstrip() for l in yaml_text.splitlines()]
    items = []
    inside = False
    for line in lines:
        if not line.strip():
            continue
        lead = len(line) - len(line.lstrip())
        if lead == 0 and not line.startswith("-"):
            inside = line.startswith("sites:")
            continue
        if not inside:
            continue
        body = line.strip()
        if body.startswith("- "):
            body = body[2:].strip()
            items.append({})
            if body.startswith("{"):
                items[-1].update(_flow_mapping(body))
                continue
        if not items:
            continue
        key, sep, value = body.partition(":")
        if sep and value.strip() and not value.strip().startswith("{"):
            items[-1].setdefault(key.strip(), _scalar(value))
    return items
