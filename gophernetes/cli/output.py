"""How the CLI shows things: tables and ages, in one place."""

from __future__ import annotations

from collections.abc import Sequence


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
