"""Command-line entry point: parse arguments and dispatch; every command returns an exit code."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
import types
from collections.abc import Sequence
from pathlib import Path

from orchestrator import errors  # stdlib only: cheap


def main(argv: Sequence[str] | None = None, *, early: bool = False) -> int:
    """Run one command. `early`: the queries such a command always makes are started before
    its modules are imported (_dispatch_with_git); the `orchestrator` command's own run."""
    from orchestrator import masking  # stdlib only: cheap
    from orchestrator.errors import error_handler

    words = list(sys.argv[1:] if argv is None else argv)
    # Outside the error handler: its error lines and crash details are masked as well.
    with masking.installed(), error_handler(Path(".orchestrator")) as code:
        # Before anything else is imported: a replayed plan or check costs little more than
        # start-up.
        if words[:1] == ["plan"]:
            from orchestrator import planmemo

            if planmemo.replay(words):
                return code[0]
        elif words[:1] == ["check"]:
            from orchestrator import checkmemo

            replayed = checkmemo.replay(words)
            if replayed is not None:
                code[0] = replayed
                return code[0]
        from orchestrator.options import build_parser

        args = build_parser().parse_args(words)
        args.words = words  # the exact command line, for the plan and check memos' keys
        code[0] = _dispatch_with_git(args, early)
        if getattr(sys.stderr, "lost", False):
            code[0] = code[0] or 1  # messages were lost (a full disk): the run is not clean
    return code[0]


def entry() -> None:
    """The `orchestrator` command and `python -m orchestrator`: main(), then a fast exit.

    A normal interpreter exit tears down every loaded module (pydantic, rich, python-on-whales):
    ~0.05-0.08 s on each run, measured, for nothing: by now every file we wrote is closed (atomic
    writes) and every thread pool joined; a background import still running is simply dropped.
    Only stdout and stderr may hold buffered bytes: flush those, then leave at once. Under a
    tracer or profiler (coverage, cProfile), which write their data at exit, exit normally.
    """
    # pydantic looks for plugins (observability hooks) in the entry points of every installed
    # distribution when the first model is defined: 60-75 ms of CPU on each start-up, measured,
    # a tenth of a fresh `plan`, for hooks this command does not use. Not when the user chose
    # (`PYDANTIC_DISABLE_PLUGINS=` with no value loads them all again).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ["PYDANTIC_DISABLE_PLUGINS"] in ("__all__", "1", "true"):
        _without_plugin_loader()
    # Start-up (imports, pydantic's model build, the manifest's nodes) allocates hundreds of
    # thousands of objects that all live to the end, and the cyclic collector's default
    # (a young collection per 700 allocations) walks them again and again: 5-6% of a fresh
    # 200-target `plan`, measured. mypy sets its collector the same way. Cyclic garbage is
    # still collected, every 100,000 allocations instead of 700; plain garbage (progress
    # lines, JSON objects) never waits for the collector: reference counting frees it.
    gc.set_threshold(100_000, 20, 20)
    # Ctrl-C is noted as well as raised (errors.on_interrupt): what a library interrupted in
    # native code raises instead of KeyboardInterrupt still ends as "interrupted", exit 130.
    # Left alone when SIGINT was ignored by whoever started us (`nohup`, a script's `cmd &`).
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, errors.on_interrupt)
    try:
        code = main(early=True)
    except SystemExit as exc:  # argparse's --help and usage errors
        if not isinstance(exc.code, int | None):
            raise  # a message to print: the normal exit path does that
        code = exc.code or 0
    except BaseException:
        # Interrupted before main() had its error handler in place (its first imports).
        if not errors.interrupted():
            raise
        code = errors.report_interrupt()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # fd closed at start-up (`>&-`): nothing buffered, nothing to flush
            continue
        try:
            stream.flush()
        except BrokenPipeError:
            pass  # the reader went away (`| head`): it had what it wanted
        except (OSError, ValueError):
            code = code or 1  # e.g. a full disk: the output is incomplete
    if sys.gettrace() is not None or sys.getprofile() is not None:
        raise SystemExit(code)
    os._exit(code)


_PLUGIN_LOADER = "pydantic.plugin._loader"


def _without_plugin_loader() -> None:
    """With plugins disabled, pydantic still imports its plugin loader when the first model is
    defined, and the loader imports importlib.metadata (email, zipfile, socket...): 25-40 ms
    of a fresh `plan`, measured, to learn that there are no plugins. A stand-in module
    answers "none" the way the real loader does when disabled. Any other name asked of it
    (a pydantic that changed its loader) brings in the real module, so nothing can break;
    only this command's process gets the stand-in, never a program that imports the package."""
    stand_in = types.ModuleType(_PLUGIN_LOADER)

    def get_plugins() -> tuple[()]:
        return ()

    def real(name: str) -> object:
        if name.startswith("__"):  # the import system's own questions (`__path__`...)
            raise AttributeError(name)
        sys.modules.pop(_PLUGIN_LOADER, None)
        return getattr(importlib.import_module(_PLUGIN_LOADER), name)

    stand_in.get_plugins = get_plugins  # type: ignore[attr-defined]
    stand_in.__getattr__ = real  # type: ignore[method-assign]
    sys.modules.setdefault(_PLUGIN_LOADER, stand_in)


# Commands whose module cannot have the command's name (`import` is a Python keyword).
_MODULES = {"import": "import_"}


# Commands that read git first thing (commands.common.load), unless told only to list names.
_READ_GIT = ("plan", "build", "check")


def _dispatch_with_git(args: argparse.Namespace, early: bool = False) -> int:
    """_dispatch, with git's questions already running while the command imports and loads
    the manifest (gitinfo.prefetch); in the directory load() gives gitinfo.read(). With
    `early`, a build's engine query is running too (executor.engine_info_early), for the
    builder it most likely asks about: --builder's, or the current one. Only for the command
    itself: main()'s other callers, the tests, patch the process seam and count its calls."""
    from orchestrator import gitinfo

    if args.command in _READ_GIT and not getattr(args, "list", False):
        gitinfo.prefetch(Path(args.file).parent)
        if early and args.command == "build":
            from orchestrator import executor

            executor.engine_info_early(args.builder)
    try:
        return _dispatch(args)
    finally:
        gitinfo.discard_prefetched()


def _dispatch(args: argparse.Namespace) -> int:
    # Each command module is imported on demand, so `plan` never pays for docker libraries.
    name = _MODULES.get(args.command, args.command)
    module = importlib.import_module(f"orchestrator.commands.{name}")
    code: int = module.run(args)
    return code
