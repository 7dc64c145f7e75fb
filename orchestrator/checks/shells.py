"""Which shell runs a stage's RUN lines: ShellCheck's findings (SC*) mean something only where
it is a POSIX one.

hadolint hands every RUN to ShellCheck unless the stage has a `SHELL` it knows is not POSIX; a
Windows image's default shell is `cmd /S /C`, which it cannot know from the FROM line, so a
PowerShell or cmd script there came back as shell syntax errors (SC1072 on a `# escape=`` file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import PureWindowsPath

from orchestrator.dockerfile import Dockerfile, Stage

# Windows base images (mcr.microsoft.com): Windows, Server Core, Nano Server, and the images
# built on them (mcr.microsoft.com/dotnet/aspnet:10.0-windowsservercore-ltsc2022).
WINDOWS_BASES = ("mcr.microsoft.com/windows", "nanoserver", "servercore")
# SHELL programs whose scripts are not shell syntax ShellCheck reads.
_NOT_POSIX = frozenset({"cmd", "powershell", "pwsh"})


def windows_image(image: str) -> bool:
    """Whether `image` (a FROM's image, expanded) is one of Microsoft's Windows images."""
    name = image.lower()
    return any(word in name for word in WINDOWS_BASES)


def _posix_shell(args: str) -> bool | None:
    """Whether a SHELL instruction's program is a POSIX shell; None if it cannot be read."""
    try:
        argv = json.loads(args)
    except (ValueError, RecursionError):  # RecursionError: `[[[[…` deeper than the stack
        return None
    if not isinstance(argv, list) or not argv or not isinstance(argv[0], str):
        return None
    program = PureWindowsPath(argv[0]).name.lower().removesuffix(".exe")
    return program not in _NOT_POSIX


def non_posix_lines(
    dockerfile: Dockerfile,
    stages: Sequence[Stage],
    args: Mapping[str, str],
    platform: str | None,
) -> set[int]:
    """The lines of `stages`' RUN instructions whose shell is not POSIX: a Windows image (the
    platform says so, or with none declared its base is one), or a `SHELL ["powershell", ...]`
    or `["cmd", ...]` in effect (a stage built FROM another inherits its shell)."""
    ends: dict[int, bool] = {}  # stage index -> whether its shell is POSIX at its end

    def walk(stage: Stage, seen: frozenset[int]) -> bool:
        if stage.index in ends:
            return ends[stage.index]
        base = dockerfile.expand(stage.base, args, platform)
        parent = dockerfile.find_stage(base)
        if parent is not None and parent.index < stage.index and parent.index not in seen:
            posix = walk(parent, seen | {stage.index})
        elif platform:
            posix = not platform.startswith("windows/")
        else:
            posix = not windows_image(base)
        for ins in stage.instructions:
            if ins.keyword == "SHELL" and (said := _posix_shell(ins.args)) is not None:
                posix = said
            elif ins.keyword == "RUN" and not posix:
                lines.update(range(ins.line, ins.end_line + 1))
        ends[stage.index] = posix
        return posix

    lines: set[int] = set()
    for stage in stages:
        walk(stage, frozenset())
    return lines
