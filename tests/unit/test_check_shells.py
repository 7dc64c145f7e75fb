"""ShellCheck's findings only where the RUN's shell is a POSIX one (checks/shells.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator import dockerfile
from orchestrator.checks import hadolint, run_checks, shells
from tests.unit.test_checks_rules import make_target

NOWHERE = Path("/nonexistent/app/Dockerfile")
# A PowerShell script: to ShellCheck, shell syntax errors (SC1072 on the `.`, an error).
POWERSHELL = "RUN powershell -Command Remove-Item -Recurse C:\\inetpub\\wwwroot\\*; `\n  $a.b = 1\n"


def _non_posix(text: str, platform: str | None = None) -> set[int]:
    parsed = dockerfile.parse(textwrap.dedent(text), NOWHERE)
    return shells.non_posix_lines(parsed, parsed.stages, {}, platform)


def test_windows_bases_and_non_posix_shells_are_found() -> None:
    text = """\
        FROM mcr.microsoft.com/dotnet/aspnet:10.0-windowsservercore-ltsc2022 AS final
        RUN powershell -Command x
        FROM alpine:3.21 AS tools
        RUN echo posix
        SHELL ["pwsh.exe", "-Command"]
        RUN Write-Host a
        SHELL ["/bin/sh", "-c"]
        RUN echo posix again
        FROM final
        RUN dir
        FROM tools
        RUN echo posix, as tools ended
        """
    assert _non_posix(text) == {2, 6, 10}
    # The platform checked says Windows whatever the image is called ...
    assert _non_posix("FROM example.com/app:1\nRUN dir\n", "windows/amd64") == {2}
    # ... or Linux: then a Windows-looking name is not read as one.
    assert _non_posix("FROM example.com/servercore-tools:1\nRUN ls\n", "linux/amd64") == set()
    assert _non_posix('FROM alpine:3.21\nSHELL ["cmd", "/S", "/C"]\nRUN dir\n') == {3}


@pytest.mark.skipif(hadolint.find_binary() is None, reason="hadolint not installed")
def test_shellcheck_findings_on_a_windows_image_are_dropped() -> None:
    windows = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022 AS production\n"
    linux = "# escape=`\nFROM alpine:3.21 AS production\n"

    def codes(text: str) -> set[str]:
        parsed = dockerfile.parse(text, NOWHERE)
        found = run_checks(make_target(parsed), parsed, text=text)
        return {f.code for f in found if f.source == "hadolint"}

    # The same script on Linux is ShellCheck's to read: the test can tell the difference.
    assert any(code.startswith("SC") for code in codes(linux + POWERSHELL))
    assert not any(code.startswith("SC") for code in codes(windows + POWERSHELL))
