"""How the CLI shows things: tables and ages, in one place."""

from __future__ import annotations


def table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns, three spaces apart, as docker prints them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def format_duration(seconds: float) -> str:
    """3 -> 'Less than a second'/'3 seconds', 7200 -> '2 hours', as docker writes them."""
    seconds = int(seconds)
    if seconds < 1:
        return "Less than a second"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds} second{'s' if seconds > 1 else ''}"


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
