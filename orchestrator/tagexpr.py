"""`{{name}}` expressions in tag rules, the small part of Handlebars that metadata-action uses.

`{{branch}}`, `{{major}}.{{minor}}`, `{{date 'YYYYMMDD' tz='Asia/Tokyo'}}`: a name, then
quoted arguments, then `key='value'` options. A bare word as an argument is a Handlebars path
that resolves to nothing (metadata-action's `{{commit_date YYYY-MM-DD}}` prints the default
ISO format), so it counts as no argument here too. Date formats are moment.js tokens.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A helper gets the positional arguments (None for a bare word) and the key='value' options.
Helper = Callable[[list[str | None], dict[str, str]], str]

_EXPR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)((?:\s+[^\s}]+)*)\s*\}\}")
_ARG = re.compile(r"""([A-Za-z_]+)=(?:'([^']*)'|"([^"]*)")|'([^']*)'|"([^"]*)"|(\S+)""")
_RAW = re.compile(r"^\{\{\s*raw\s*\}\}$")
_MOMENT = re.compile(r"\[[^\]]*\]|YYYY|YY|MM|M|DD|D|HH|H|hh|h|mm|m|ss|s|SSS|A|a|ZZ|Z|X")


def is_raw_statement(pattern: str) -> bool:
    """Exactly `{{raw}}`: the one pattern a prerelease keeps (metadata-action's rule)."""
    return bool(_RAW.match(pattern))


def render(text: str, helpers: Mapping[str, Helper | str]) -> str:
    """Replace each `{{...}}`; a name without a helper is an error (a typo, not an empty tag)."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        helper = helpers.get(name)
        if helper is None:
            known = ", ".join(sorted(helpers))
            raise ValueError(f"unknown expression {{{{{name}}}}} (known: {known})")
        if isinstance(helper, str):
            return helper
        args: list[str | None] = []
        options: dict[str, str] = {}
        for arg in _ARG.finditer(match.group(2)):
            key, kq1, kq2, q1, q2, bare = arg.groups()
            if key:
                options[key] = kq1 if kq1 is not None else kq2 or ""
            elif bare is not None:
                args.append(None)
            else:
                args.append(q1 if q1 is not None else q2)
        return helper(args, options)

    return _EXPR.sub(repl, text)


def date_helper(when: dt.datetime) -> Helper:
    """`{{date 'FORMAT' tz='Zone'}}` for one instant (UTC unless `tz` says otherwise)."""

    def helper(args: list[str | None], options: dict[str, str]) -> str:
        unknown = set(options) - {"tz"}
        if unknown:
            raise ValueError(f"unknown date option {sorted(unknown)[0]!r} (known: tz)")
        zone_name = options.get("tz", "UTC")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone_name!r}") from None
        fmt = args[0] if args else None
        return moment_format(when.astimezone(zone), fmt)

    return helper


def moment_format(when: dt.datetime, fmt: str | None) -> str:
    """Format as moment.js does; no format gives its default, ISO 8601 with `Z` in UTC."""
    if fmt is None:
        offset = when.utcoffset() or dt.timedelta(0)
        zone = "Z" if not offset else when.strftime("%z")[:3] + ":" + when.strftime("%z")[3:]
        return when.strftime("%Y-%m-%dT%H:%M:%S") + zone
    hour12 = when.hour % 12 or 12
    tokens = {
        "YYYY": f"{when.year:04d}",
        "YY": f"{when.year % 100:02d}",
        "MM": f"{when.month:02d}",
        "M": str(when.month),
        "DD": f"{when.day:02d}",
        "D": str(when.day),
        "HH": f"{when.hour:02d}",
        "H": str(when.hour),
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{when.minute:02d}",
        "m": str(when.minute),
        "ss": f"{when.second:02d}",
        "s": str(when.second),
        "SSS": f"{when.microsecond // 1000:03d}",
        "A": "AM" if when.hour < 12 else "PM",
        "a": "am" if when.hour < 12 else "pm",
        "ZZ": when.strftime("%z"),
        "Z": when.strftime("%z")[:3] + ":" + when.strftime("%z")[3:],
        "X": str(int(when.timestamp())),
    }

    def repl(match: re.Match[str]) -> str:
        token = match.group(0)
        return token[1:-1] if token.startswith("[") else tokens[token]

    return _MOMENT.sub(repl, fmt)
