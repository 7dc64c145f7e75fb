"""buildx's comma-separated specs, built field by field instead of concatenated.

`--output`, `--cache-from/--cache-to`, `--secret` and `--attest` values (and the same strings in
a bake file) are read by buildx with Go's encoding/csv: one record, fields split at `,`, each
field split at its first `=`. A value with a comma written raw becomes two fields, and buildx
takes the last of two `type=` fields: `local:d,type=image,push=true` would push while the plan
said it does not. So every value goes through `field()`, which quotes it the way that reader
reads quotes (the whole field in `"`, inner quotes doubled), and specs we did not build (the
manifest's raw `cache.from`/`cache.to`) are parsed with the same rules and refused when they
repeat a key. `--ssh` and `--build-context` are not CSV (buildx splits them at `=` and, for
ssh, at every `,`), so their values are checked, never quoted.
"""

from __future__ import annotations

from collections.abc import Sequence


class SpecError(ValueError):
    """A value cannot be placed into a buildx spec as one field."""


def field(key: str, value: str) -> str:
    """`key=value` as one encoding/csv field: quoted when a comma, quote or newline is in it."""
    if "\0" in value:
        raise SpecError(f"{key}: a NUL character cannot be passed to buildx")
    text = f"{key}={value}"
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def build(*pairs: tuple[str, str]) -> str:
    """A spec from (key, value) pairs, in order: `type=local,dest=...`."""
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise SpecError(f"a key is given twice in {', '.join(keys)}")
    return ",".join(field(k, v) for k, v in pairs)


def split(spec: str) -> list[str]:
    """The fields of one record, as Go's csv.Reader (no LazyQuotes) reads it; SpecError if not."""
    fields: list[str] = []
    i, n = 0, len(spec)
    while True:
        if i < n and spec[i] == '"':
            i += 1
            chunk: list[str] = []
            while True:
                end = spec.find('"', i)
                if end < 0:
                    raise SpecError("a quoted field is not closed")
                chunk.append(spec[i:end])
                i = end + 1
                if i < n and spec[i] == '"':  # "" inside quotes is one quote
                    chunk.append('"')
                    i += 1
                    continue
                break
            if i < n and spec[i] != ",":
                raise SpecError('extraneous or missing " in a quoted field')
            fields.append("".join(chunk))
        else:
            end = spec.find(",", i)
            end = n if end < 0 else end
            text = spec[i:end]
            if '"' in text:
                raise SpecError('a bare " in a field that is not quoted')
            fields.append(text)
            i = end
        if i >= n:
            return fields
        i += 1  # the comma


def pairs(spec: str) -> list[tuple[str, str]]:
    """The (key, value) pairs of a spec; a field without `=` is a key with an empty value."""
    out = []
    for text in split(spec):
        key, _, value = text.partition("=")
        out.append((key.strip().lower(), value))
    return out


def fields(spec: str) -> dict[str, str]:
    """A spec as a mapping (the last value of a key wins, as buildx does); {} if unreadable."""
    try:
        return dict(pairs(spec))
    except SpecError:
        return {}


def check_raw(spec: str) -> str:
    """A spec written by hand (cache.from/to): readable, `type=` first, no key twice."""
    found = pairs(spec)
    keys = [k for k, _ in found]
    if not found or keys[0] != "type" or not found[0][1]:
        raise SpecError("expected 'type=registry|local|inline|gha|s3|azblob,...'")
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise SpecError(f"{', '.join(twice)} given twice (buildx would take the last)")
    return spec


def ssh(ident: str, paths: Sequence[str]) -> str:
    """`id=path,path` for --ssh: buildx splits the paths at every comma, so none may hold one."""
    for path in paths:
        if "," in path or "\n" in path or "\0" in path:
            raise SpecError(f"ssh path {path!r} has a comma or newline, which buildx cannot read")
    return f"{ident}={','.join(paths)}" if paths else ident


def context(name: str, value: str) -> str:
    """`name=value` for --build-context: buildx splits at the first `=`, so the name has none."""
    if not name or "=" in name or any(c in name + value for c in "\n\0"):
        raise SpecError(f"build context {name!r}: name or value cannot be passed to buildx")
    return f"{name}={value}"
