"""Conda environments made with py-rattler (no conda installation needed). Layer 3.

An environment file is solved and installed into `<root>/<hash>/`, the hash covering the
file's content and the platform: an edited file makes a new environment, an unchanged one
is reused by every build and workflow that shares the root. Creation runs under a file lock
(`<root>/<hash>.lock`): the packages are installed into a temporary folder, which is renamed
into place when complete, then a `pip:` list is installed (uv), and only then the marker
`conda-meta/fileflow-complete` written. A folder without the marker (a creation killed
half-way) is never used: the next creation removes it and starts again.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fileflow.errors import FileflowError

__all__ = ["EnvFile", "read_env_file", "env_prefix", "create_env", "is_complete", "named_env",
           "platform_name", "COMPLETE", "ENV_HOOK"]

COMPLETE = os.path.join("conda-meta", "fileflow-complete")
# A command run (by `sh -c`) after the packages are installed and before the environment is
# put in place: lets a test hold a creation half-way.
ENV_HOOK = "FILEFLOW_CONDA_CREATE_HOOK"


@dataclass(frozen=True, slots=True)
class EnvFile:
    path: str                     # as the Flowfile names it (relative to the working directory)
    content: bytes
    channels: tuple[str, ...]
    specs: tuple[str, ...]
    pip: tuple[str, ...]


def read_env_file(path: str) -> EnvFile:
    """A conda environment file: `channels:`, `dependencies:` (strings, and one `pip:` list)."""
    import yaml

    try:
        with open(path, "rb") as fh:
            content = fh.read()
        data = yaml.safe_load(content) or {}
    except OSError as exc:
        raise FileflowError(f"cannot read conda environment file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise FileflowError(f"conda environment file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise FileflowError(f"conda environment file {path}: expected a mapping with "
                            "'channels:' and 'dependencies:'")
    channels = data.get("channels") or []
    deps = data.get("dependencies") or []
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise FileflowError(f"conda environment file {path}: 'channels:' must be a list of names "
                            "or URLs")
    if not isinstance(deps, list):
        raise FileflowError(f"conda environment file {path}: 'dependencies:' must be a list")
    specs: list[str] = []
    pip: list[str] = []
    for dep in deps:
        if isinstance(dep, dict) and set(dep) == {"pip"} and isinstance(dep["pip"], list):
            pip.extend(str(p) for p in dep["pip"])
        elif isinstance(dep, (str, int, float)):
            specs.append(str(dep))
        else:
            raise FileflowError(f"conda environment file {path}: dependency {dep!r} is neither a "
                                "package spec nor a 'pip:' list")
    return EnvFile(path, content, tuple(channels or ["conda-forge"]), tuple(specs), tuple(pip))


_MACHINES = {"x86_64": "64", "amd64": "64", "i686": "32", "aarch64": "aarch64", "arm64": "arm64",
             "ppc64le": "ppc64le", "s390x": "s390x"}
_SYSTEMS = {"linux": "linux", "darwin": "osx", "win32": "win", "freebsd": "freebsd"}


def platform_name() -> str:
    """The conda platform of this machine (linux-64, osx-arm64, ...), as rattler names it;
    worked out here, so that using an existing environment never imports rattler."""
    system = _SYSTEMS.get(sys.platform.rstrip("0123456789"), sys.platform)
    machine = platform.machine().lower()
    if system == "osx" and machine == "aarch64":
        machine = "arm64"
    if system == "linux" and machine == "arm64":
        machine = "aarch64"
    return f"{system}-{_MACHINES.get(machine, machine)}"


def env_prefix(env: EnvFile, root: str) -> str:
    """Where the environment of this file lives: its hash covers the content and platform."""
    digest = hashlib.sha256(env.content + b"\x00" + platform_name().encode()).hexdigest()[:16]
    return os.path.join(os.path.abspath(root), digest)


def is_complete(prefix: str) -> bool:
    return os.path.isfile(os.path.join(prefix, COMPLETE))


def create_env(env: EnvFile, root: str) -> tuple[str, bool]:
    """The environment's prefix, created if missing (under the lock); and whether this call
    created it."""
    from filelock import FileLock

    prefix = env_prefix(env, root)
    if is_complete(prefix):
        return prefix, False
    try:
        import rattler  # noqa: F401
    except ImportError:
        raise FileflowError("creating conda environments needs the package py-rattler, which "
                            "is not installed: pip install 'fileflow[conda]'") from None
    os.makedirs(root, exist_ok=True)
    with FileLock(prefix + ".lock"):
        if is_complete(prefix):  # another job or build made it meanwhile
            return prefix, False
        for stale in _partial(prefix):
            shutil.rmtree(stale, ignore_errors=True)
        uv = _uv(env) if env.pip else ""
        temporary = f"{prefix}.tmp-{os.getpid()}"
        _install(env, temporary, prefix, os.path.join(os.path.abspath(root), ".pkgs"))
        if env.pip and not os.path.exists(os.path.join(temporary, "bin", "python")):
            shutil.rmtree(temporary, ignore_errors=True)
            raise FileflowError(f"conda environment {env.path} has a 'pip:' list but no Python; "
                                "add python to its dependencies")
        hook = os.environ.get(ENV_HOOK)
        if hook:
            subprocess.run(["sh", "-c", hook], check=False)
        os.rename(temporary, prefix)
        if env.pip:
            try:  # in place: the scripts pip writes name the environment's own Python
                _pip_install(env, prefix, uv)
            except BaseException:
                shutil.rmtree(prefix, ignore_errors=True)
                raise
        with open(os.path.join(prefix, COMPLETE), "w", encoding="utf-8") as fh:
            fh.write(env.path + "\n")
    return prefix, True


def _partial(prefix: str) -> Iterator[str]:
    """What a killed creation may have left: temporary folders, a prefix without the marker."""
    folder, name = os.path.split(prefix)
    for entry in os.listdir(folder):
        if entry.startswith(name + ".tmp-"):
            yield os.path.join(folder, entry)
    if os.path.isdir(prefix):
        yield prefix


def _install(env: EnvFile, temporary: str, prefix: str, cache: str) -> None:
    import rattler
    from rattler import exceptions as rx

    specs = ", ".join(env.specs) or "(none)"
    try:  # leniently, as conda reads environment files ("bwa 0.7.17", "bwa=0.7.17")
        matchspecs = [rattler.MatchSpec(spec, strict=False) for spec in env.specs]
    except Exception as exc:
        raise FileflowError(f"conda environment {env.path}: bad package spec: {exc}") from None

    async def solve_and_install() -> None:
        records = await rattler.solve(list(env.channels), matchspecs,
                                      platforms=[rattler.Subdir.current(), "noarch"],
                                      virtual_packages=rattler.VirtualPackage.detect())
        await rattler.install(records, temporary, cache_dir=Path(cache), show_progress=False,
                              alternative_target_prefix=prefix)

    try:
        asyncio.run(solve_and_install())
    except rx.SolverError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise FileflowError(f"cannot solve conda environment {env.path}: the specs {specs} cannot "
                            f"be satisfied from {', '.join(env.channels)}:\n{exc}") from None
    except (rx.FetchRepoDataError, rx.GatewayError, rx.InvalidChannelError) as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise FileflowError(
            f"conda environment {env.path}: cannot reach channel(s) {', '.join(env.channels)}: "
            f"{exc}\nhint: run 'fileflow conda create' where there is a network, with the same "
            "--conda-prefix on a shared file system") from None
    except Exception as exc:  # rattler's other errors: installing, linking, I/O
        shutil.rmtree(temporary, ignore_errors=True)
        raise FileflowError(f"cannot create conda environment {env.path}: "
                            f"{type(exc).__name__}: {exc}") from None


def _uv(env: EnvFile) -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise FileflowError(f"conda environment {env.path}: installing its 'pip:' list needs "
                            "'uv' on PATH (pip install uv)")
    return uv


def _pip_install(env: EnvFile, prefix: str, uv: str) -> None:
    python = os.path.join(prefix, "bin", "python")
    done = subprocess.run([uv, "pip", "install", "--python", python, *env.pip],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise FileflowError(f"conda environment {env.path}: uv pip install "
                            f"{' '.join(env.pip)} failed:\n{done.stderr.strip()}")


def named_env(name: str) -> str | None:
    """The prefix of a named conda environment, from the usual environment folders."""
    roots = [p for p in os.environ.get("CONDA_ENVS_PATH", "").split(os.pathsep) if p]
    for var in ("MAMBA_ROOT_PREFIX", "CONDA_ROOT"):
        if os.environ.get(var):
            roots.append(os.path.join(os.environ[var], "envs"))
    if os.environ.get("CONDA_EXE"):
        roots.append(os.path.join(os.path.dirname(os.path.dirname(os.environ["CONDA_EXE"])), "envs"))
    home = os.path.expanduser("~")
    roots += [os.path.join(home, d, "envs") for d in (".conda", "miniconda3", "miniforge3",
                                                        "mambaforge", "anaconda3", "micromamba")]
    for root in roots:
        if os.path.isdir(os.path.join(root, name, "conda-meta")):
            return os.path.join(root, name)
    return None
