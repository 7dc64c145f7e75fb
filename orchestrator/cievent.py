"""What triggered this run (push, tag, pull request, schedule) and the default branch, on any CI.

Tag rules (tagrules.py) ask the questions docker/metadata-action answers from GitHub's event
payload: which ref is built, is it the default branch, which pull request. Each CI says it in its
own variables (the table is in docs/tags.md); this reads them into one shape, GitHub's: a full
ref (`refs/heads/x`, `refs/tags/v1`, `refs/pull/15/merge`) and an event name. Without a CI the
checkout itself answers: the branch or the tag at HEAD, the default branch from
`origin/HEAD`, then `init.defaultBranch`, then `main`.

Every fact becomes a built-in variable, so `--var GIT_REF=refs/tags/v1.2.3` or
`--var DEFAULT_BRANCH=trunk` overrides it; the rules read the variables, never this module.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import inputs, refs
from orchestrator.gitinfo import GitInfo

# An event payload is a few KB; this bounds what a hostile path (a FIFO, /dev/zero) can cost.
_PAYLOAD_LIMIT = 8 * 1024 * 1024


@dataclass(frozen=True)
class Event:
    system: str  # github | gitlab | buildkite | jenkins | git
    name: str  # GitHub's event names: push, pull_request, schedule, workflow_dispatch, ...
    ref: str  # refs/heads/<branch> | refs/tags/<tag> | refs/pull/<n>/merge | "" (unknown)
    default_branch: str
    pr_number: str = ""
    pr_base: str = ""  # the branch a pull request merges into
    pr_head_sha: str = ""  # the pull request's own last commit (not the merge commit)
    base_ref: str = ""  # GitHub's `base_ref` of a tag push: the branch the tag was pushed from
    tag_sha: str = ""  # the commit `sha` tags name when DOCKER_METADATA_PR_HEAD_SHA asks for it

    def variables(self) -> dict[str, str]:
        return {
            "CI_SYSTEM": self.system,
            "EVENT": self.name,
            "GIT_REF": self.ref,
            "DEFAULT_BRANCH": self.default_branch,
            "PR_NUMBER": self.pr_number,
            "PR_BASE_BRANCH": self.pr_base,
            "PR_HEAD_SHA": self.pr_head_sha,
            "GIT_BASE_REF": self.base_ref,
            "TAG_SHA": self.tag_sha,
        }


def detect(environ: Mapping[str, str], git: GitInfo) -> Event:
    """The event of this run: the first CI whose marker variable is set, else the checkout."""
    if environ.get("GITHUB_ACTIONS") == "true":
        return _github(environ, git)
    if environ.get("GITLAB_CI") == "true":
        return _gitlab(environ, git)
    if environ.get("BUILDKITE") == "true":
        return _buildkite(environ, git)
    if environ.get("JENKINS_URL"):
        return _jenkins(environ, git)
    return Event(
        "git", "push", git_ref(git), git.default_branch or "main", tag_sha=git.commit_or_empty
    )


def own_variables(environ: Mapping[str, str], event: Event) -> Mapping[str, str]:
    """The environment as it overrides built-ins: a CI's own variable of a built-in's name is
    read in its CI's format. Jenkins's git plugin sets GIT_BRANCH to the remote branch
    (`origin/main`) on every job: the branch is `main`. (Its GIT_COMMIT, a full commit, is
    read as one by gitinfo.settle.)"""
    branch = environ.get("GIT_BRANCH", "")
    if event.system == "jenkins" and branch.startswith("origin/"):
        return {**environ, "GIT_BRANCH": branch.removeprefix("origin/")}
    return environ


def git_ref(git: GitInfo) -> str:
    """The ref a plain checkout builds: its branch, else the tag at a detached HEAD."""
    if git.branch:
        return f"refs/heads/{git.branch}"
    if git.any_tag:
        return f"refs/tags/{git.any_tag}"
    return ""


def _default(value: str, git: GitInfo) -> str:
    return value or git.default_branch or "main"


def _github(env: Mapping[str, str], git: GitInfo) -> Event:
    payload = _payload(env.get("GITHUB_EVENT_PATH", ""))
    name = env.get("GITHUB_EVENT_NAME", "")
    ref = env.get("GITHUB_REF", "")
    pull = _dig(payload, "pull_request")
    number = str(payload.get("number") or _dig(pull, "number") or "")
    if name.startswith("pull_request") and number:
        # pull_request_target runs with the base branch's ref; the rules want the PR's.
        ref = f"refs/pull/{number}/merge"
    head_sha = str(_dig(_dig(pull, "head"), "sha") or "")
    tag_sha = git.commit_or_empty or env.get("GITHUB_SHA", "")
    if re.fullmatch(r"(?i)true", env.get("DOCKER_METADATA_PR_HEAD_SHA", "")) and head_sha:
        tag_sha = head_sha
    base_ref = str(payload.get("base_ref") or "")
    return Event(
        "github",
        name,
        ref,
        _default(str(_dig(_dig(payload, "repository"), "default_branch") or ""), git),
        pr_number=number if ref.startswith("refs/pull/") else "",
        pr_base=env.get("GITHUB_BASE_REF", "") or str(_dig(_dig(pull, "base"), "ref") or ""),
        pr_head_sha=head_sha,
        base_ref=base_ref.removeprefix("refs/heads/"),
        tag_sha=tag_sha,
    )


def _gitlab(env: Mapping[str, str], git: GitInfo) -> Event:
    source = env.get("CI_PIPELINE_SOURCE", "")
    iid = env.get("CI_MERGE_REQUEST_IID", "")
    if iid:
        name, ref = "pull_request", f"refs/pull/{iid}/merge"
    elif env.get("CI_COMMIT_TAG"):
        name, ref = "push", f"refs/tags/{env['CI_COMMIT_TAG']}"
    else:
        branch = env.get("CI_COMMIT_BRANCH", "") or env.get("CI_COMMIT_REF_NAME", "")
        name, ref = "push", f"refs/heads/{branch}" if branch else git_ref(git)
    if source == "schedule":
        name = "schedule"
    elif source in ("web", "api", "trigger", "pipeline", "chat"):
        name = "workflow_dispatch"
    return Event(
        "gitlab",
        name,
        ref,
        _default(env.get("CI_DEFAULT_BRANCH", ""), git),
        pr_number=iid,
        pr_base=env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", ""),
        pr_head_sha=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", ""),
        tag_sha=git.commit_or_empty or env.get("CI_COMMIT_SHA", ""),
    )


def _buildkite(env: Mapping[str, str], git: GitInfo) -> Event:
    number = env.get("BUILDKITE_PULL_REQUEST", "")
    number = "" if number in ("", "false") else number
    if number:
        name, ref = "pull_request", f"refs/pull/{number}/merge"
    elif env.get("BUILDKITE_TAG"):
        name, ref = "push", f"refs/tags/{env['BUILDKITE_TAG']}"
    elif env.get("BUILDKITE_BRANCH"):
        name, ref = "push", f"refs/heads/{env['BUILDKITE_BRANCH']}"
    else:
        name, ref = "push", git_ref(git)
    source = env.get("BUILDKITE_SOURCE", "")
    if source == "schedule":
        name = "schedule"
    elif source in ("ui", "api", "trigger_job"):
        name = "workflow_dispatch"
    return Event(
        "buildkite",
        name,
        ref,
        _default(env.get("BUILDKITE_PIPELINE_DEFAULT_BRANCH", ""), git),
        pr_number=number,
        pr_base=env.get("BUILDKITE_PULL_REQUEST_BASE_BRANCH", "") if number else "",
        tag_sha=git.commit_or_empty or env.get("BUILDKITE_COMMIT", ""),
    )


def _jenkins(env: Mapping[str, str], git: GitInfo) -> Event:
    # Multibranch pipelines set these; a plain job sets none and the checkout answers.
    number = env.get("CHANGE_ID", "")
    if number:
        name, ref = "pull_request", f"refs/pull/{number}/merge"
    elif env.get("TAG_NAME"):
        name, ref = "push", f"refs/tags/{env['TAG_NAME']}"
    elif env.get("BRANCH_NAME"):
        name, ref = "push", f"refs/heads/{env['BRANCH_NAME']}"
    else:
        name, ref = "push", git_ref(git)
    if env.get("BRANCH_IS_PRIMARY") == "true" and ref.startswith("refs/heads/"):
        default = ref.removeprefix("refs/heads/")
    else:
        default = _default("", git)
    return Event(
        "jenkins",
        name,
        ref,
        default,
        pr_number=number,
        pr_base=env.get("CHANGE_TARGET", "") if number else "",
        tag_sha=git.commit_or_empty or env.get("GIT_COMMIT", ""),
    )


def _payload(path: str) -> dict[str, Any]:
    """GitHub's event JSON; an unreadable or odd file counts as an empty payload, as in
    metadata-action (the variables still say the event and ref)."""
    if not path:
        return {}
    inputs.note(path)
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
        with Path(path).open("rb") as handle:
            data = json.loads(handle.read(_PAYLOAD_LIMIT))
        if isinstance(data, dict):
            return data
    return {}


def _dig(value: object, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def branch_slug(branch: str) -> str:
    """GIT_BRANCH made tag-safe for templates: `feature/login` -> `feature-login`."""
    return refs.sanitize_tag(branch) if branch else ""
