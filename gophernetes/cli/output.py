"""How the CLI shows things: tables and ages, in one place."""

from __future__ import annotations

import re
from collections.abc import Sequence

import click

from gophernetes.errors import UsageError


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, three spaces apart, as docker prints them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def format_duration(seconds: float) -> str:
    """A duration as docker writes it (go-units' HumanDuration): 'Less than a second',
    '3 seconds', 'About a minute', '40 hours' (up to two days), '9 days', '3 weeks', ..."""
    seconds = int(seconds)
    minutes, hours = seconds // 60, seconds // 3600
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    if hours == 1:
        return "About an hour"
    for limit, unit, size in ((48, "hours", 1), (24 * 7 * 2, "days", 24), (24 * 30 * 2, "weeks", 24 * 7),
                              (24 * 365 * 2, "months", 24 * 30)):
        if hours < limit:
            return f"{hours // size} {unit}"
    return f"{hours // (24 * 365)} years"


def format_age(moment: float, now: float) -> str:
    return f"{format_duration(now - moment)} ago"


def format_status(container, now: float) -> str:
    """'Up 3 minutes', 'Up 5 seconds (Paused)', 'Exited (0) 2 hours ago', 'Created'."""
    started = container.details.get("state", {}).get("started_at") or container.created
    if container.status == "running":
        return f"Up {format_duration(now - started)}"
    if container.status == "paused":
        return f"Up {format_duration(now - started)} (Paused)"
    if container.status == "exited":
        finished = container.finished or now
        return f"Exited ({container.exit_code}) {format_age(finished, now)}"
    return container.status.capitalize()


def format_since(rfc3339: str, now: float) -> str:
    """An RFC 3339 time (an image's "created") as docker shows it: '3 weeks ago', or 'N/A'."""
    from datetime import UTC, datetime

    try:
        then = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    except ValueError:
        return "N/A"
    moment = (then if then.tzinfo else then.replace(tzinfo=UTC)).timestamp()
    return "N/A" if moment > now else format_age(moment, now)


# ------------------------------------------------------------------ --format
# Every command with --format takes the same three kinds of value: "table" (the default
# view), "json", or a Go-style template of fields, as docker's: '{{.Name}} {{.Status}}'.

FORMAT_HELP = "table (default), json, or a template such as '{{.Name}}\\t{{.Status}}' (fields as in json)."


class Format(click.ParamType):
    """--format: 'table', 'json' or a template with at least one {{.Field}}; anything else is refused."""

    name = "table|json|TEMPLATE"

    def convert(self, value, param, ctx) -> str:
        if value in ("table", "json") or "{{" in str(value):
            return value
        self.fail(f"{value!r} is not table, json or a template such as '{{{{.Name}}}}'", param, ctx)


# docker's field names where ours differ (ps has one name per container, docker a list)
ALIASES = {"names": "name"}


def _field(data: object, path: str) -> object:
    """data.Path.To.Field, each step matched exactly, then without case ('.ID' finds 'id')."""
    for step in path.split("."):
        if not step:
            continue
        if not isinstance(data, dict):
            raise KeyError(path)
        if step in data:
            data = data[step]
            continue
        wanted = ALIASES.get(step.lower(), step.lower())
        match = next((key for key in data if key.lower() == wanted), None)
        if match is None:
            raise KeyError(path)
        data = data[match]
    return data


def _show(value: object) -> str:
    import json

    if isinstance(value, list):
        return ",".join(_show(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


TEMPLATE_FIELD = re.compile(r"\{\{\s*(json\s+)?(\.[\w.]*)\s*\}\}")


def render_template(template: str, data: dict) -> str:
    """docker's simple templates: {{.Field}} (dotted for nested fields), {{json .Field}},
    {{.}} for the whole object, and the escapes \\t and \\n. An unknown field is an error
    naming it (docker's: "can't evaluate field")."""
    import json

    def replace(match) -> str:
        function, path = (match.group(1) or "").strip(), match.group(2)
        try:
            value = data if path == "." else _field(data, path[1:])
        except KeyError:
            raise UsageError(f"template: no field {path!r} (the fields are those of --format json: "
                             f"{', '.join(sorted(data))})") from None
        return json.dumps(value, default=str) if function == "json" else _show(value)

    text = template.replace("\\t", "\t").replace("\\n", "\n")
    return TEMPLATE_FIELD.sub(replace, text)


def format_items(items: list[dict], fmt: str, json_lines: bool = False) -> str:
    """`items` as JSON (one array, or one object per line as docker's stats), or one
    template line per item. ("table" is each command's own, not handled here.)"""
    import json

    if fmt == "json":
        if json_lines:
            return "\n".join(json.dumps(item, default=str) for item in items)
        return json.dumps(items, indent=2, default=str)
    lines = [render_template(fmt.removeprefix("table "), item) for item in items]
    if fmt.startswith("table "):  # docker's "table {{.ID}}": a header of the field names first
        header = TEMPLATE_FIELD.sub(lambda m: m.group(2).rsplit(".", 1)[-1].upper(), fmt.removeprefix("table "))
        lines.insert(0, header.replace("\\t", "\t"))
    return "\n".join(lines)


# ------------------------------------------------------------------ sizes, as docker prints them


def _size(value: float, base: float, units: tuple[str, ...], precision: int) -> str:
    index = 0
    while value >= base and index < len(units) - 1:
        value /= base
        index += 1
    return f"{value:.{precision}g}{units[index]}"


def format_binary_size(size: float) -> str:
    """Memory as docker stats writes it (go-units' BytesSize): 1.5MiB, 7.623GiB."""
    return _size(size, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"), 4)


def format_decimal_size(size: float) -> str:
    """Bytes moved as docker stats writes them (HumanSizeWithPrecision, 3): 648B, 1.23kB, 45.1MB."""
    return _size(size, 1000.0, ("B", "kB", "MB", "GB", "TB", "PB"), 3)
