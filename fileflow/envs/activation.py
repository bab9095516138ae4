"""A rule's software made ready before its jobs run: conda environments created (or found)
and the shell lines that activate them and load its environment modules. Layer 3.

The lines go before the job's command in the script its executor runs (locally and in a
cluster job alike), so a job sees the same software wherever it runs.
"""
from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fileflow.errors import FileflowError
from fileflow.lang.model import Rule
from fileflow.lang.software import CondaEnv

__all__ = ["Activation", "prepare_rules", "conda_prefix_of", "module_lines", "conda_lines",
           "MODULE_INITS"]

SOFTWARE_DIR = os.path.join(".fileflow", "software")
# Where Lmod or Environment Modules define the `module` function for a non-login bash.
MODULE_INITS = ("/usr/share/lmod/lmod/init/bash", "/etc/profile.d/lmod.sh",
                "/usr/share/Modules/init/bash", "/etc/profile.d/modules.sh",
                "/usr/share/modules/init/bash")


@dataclass(frozen=True, slots=True)
class Activation:
    prelude: str                # shell lines run before the job's command
    python: str | None = None   # the environment's Python, for `.py` scripts

    def wrap(self, command: str) -> str:
        return f"{self.prelude}\n{command}"

    def script_env(self) -> dict[str, str]:
        """For a `.py` script run by the environment's Python: fileflow.script importable."""
        if self.python is None:
            return {}
        import fileflow

        here = os.path.dirname(os.path.dirname(os.path.abspath(fileflow.__file__)))
        rest = os.environ.get("PYTHONPATH")
        return {"PYTHONPATH": here + (os.pathsep + rest if rest else "")}


def module_lines(modules: Iterable[str]) -> str:
    """`module purge && module load ...`, with the `module` function defined first when the
    job's shell has none (a non-login shell, a cluster job)."""
    inits = " ".join(shlex.quote(p) for p in MODULE_INITS)
    return ("if ! type module >/dev/null 2>&1; then for _ff_init in " + inits + "; do "
            "if [ -f \"$_ff_init\" ]; then set +u; . \"$_ff_init\"; set -u; break; fi; done; fi\n"
            "type module >/dev/null 2>&1 || { echo 'fileflow: envmodules: no module command "
            "(Lmod or Environment Modules) on this machine' >&2; exit 127; }\n"
            "set +u; module purge && module load " + " ".join(map(shlex.quote, modules))
            + "; set -u")


def conda_lines(prefix: str) -> str:
    """The environment activated: its bin first on PATH, CONDA_PREFIX set."""
    q = shlex.quote(prefix)
    return (f"export CONDA_PREFIX={q} CONDA_DEFAULT_ENV={q} "
            f"PATH={shlex.quote(os.path.join(prefix, 'bin'))}:\"$PATH\"")


def conda_prefix_of(env: CondaEnv, root: str, create: bool,
                    created: Callable[[str, str], None] | None = None) -> str:
    """The prefix of a rule's `conda:`: an environment file's (created when `create`), an
    existing prefix, or a named environment's."""
    from fileflow.envs import conda

    where = f"{env.pos.path}:{env.pos.line}"
    if env.kind == "file":
        spec = conda.read_env_file(env.value)
        if not create:
            return conda.env_prefix(spec, root)
        prefix, made = conda.create_env(spec, root)
        if made and created is not None:
            created(env.value, prefix)
        return prefix
    if env.kind == "prefix":
        if not os.path.isdir(os.path.join(env.value, "conda-meta")):
            raise FileflowError(f"{where}: conda prefix {env.value} is not a conda environment "
                                "(it has no conda-meta folder)")
        return env.value
    named = conda.named_env(env.value)
    if named is None:
        raise FileflowError(f"{where}: no conda environment named {env.value!r} was found "
                            "(looked in CONDA_ENVS_PATH, ~/.conda/envs and the usual installs)")
    return named


def prepare_rules(rules: Iterable[Rule], use_conda: bool, conda_root: str, use_modules: bool,
                  created: Callable[[str, str], None] | None = None) -> dict[str, Activation]:
    """Each rule's activation (rules without software, or whose software is not asked for,
    have none); conda environments are created here, before any job starts."""
    rules = list(rules)
    if use_conda and any(r.software and r.software.conda and r.software.conda.kind == "file"
                         for r in rules):
        try:
            import rattler  # noqa: F401
        except ImportError:
            raise FileflowError("--use-conda creates environments with the package py-rattler, "
                                "which is not installed: pip install 'fileflow[conda]'") from None
    out: dict[str, Activation] = {}
    prefixes: dict[CondaEnv, str] = {}
    for rule in rules:
        software = rule.software
        if software is None:
            continue
        lines, python = [], None
        if use_modules and software.modules:
            lines.append(module_lines(software.modules))
        if use_conda and software.conda is not None:
            if software.conda not in prefixes:
                prefixes[software.conda] = conda_prefix_of(software.conda, conda_root, True,
                                                            created)
            prefix = prefixes[software.conda]
            lines.append(conda_lines(prefix))
            if os.path.exists(os.path.join(prefix, "bin", "python")):
                python = os.path.join(prefix, "bin", "python")
        if lines:
            out[rule.name] = Activation(_sourced("\n".join(lines)), python)
    return out


def _sourced(lines: str) -> str:
    """The activation lines written to `.fileflow/software/<digest>.sh` (in the working
    directory, which cluster jobs share): the job's command then starts with one short line."""
    digest = hashlib.sha256(lines.encode()).hexdigest()[:16]
    path = os.path.join(SOFTWARE_DIR, f"{digest}.sh")
    if not os.path.exists(path):
        os.makedirs(SOFTWARE_DIR, exist_ok=True)
        temporary = f"{path}.{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as fh:
            fh.write(lines + "\n")
        os.replace(temporary, path)
    return f". {shlex.quote(path)}"
