"""A rule's software made ready before its jobs run: conda environments created (or found),
the variables that activate one, and the shell lines that load environment modules. Layer 3.

The variables go into the job's environment and the lines before its command, in what its
executor runs (locally and in a cluster job alike), so a job sees the same software
wherever it runs.
"""
from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from fileflow.errors import FileflowError
from fileflow.lang.model import CondaEnv, Rule

__all__ = ["Activation", "prepare_rules", "conda_prefix_of", "module_lines", "conda_lines",
           "conda_env", "MODULE_INITS", "SOFTWARE_DIR"]

SOFTWARE_DIR = os.path.join(".fileflow", "software")
# Where Lmod or Environment Modules define the `module` function for a non-login bash.
MODULE_INITS = ("/usr/share/lmod/lmod/init/bash", "/etc/profile.d/lmod.sh",
                "/usr/share/Modules/init/bash", "/etc/profile.d/modules.sh",
                "/usr/share/modules/init/bash")


@dataclass(frozen=True, slots=True)
class Activation:
    prelude: str = ""           # shell lines run before the job's command (modules)
    env: Mapping[str, str] = field(default_factory=dict)   # a conda environment activated
    python: str | None = None   # the environment's Python, for `.py` scripts

    def wrap(self, command: str) -> str:
        return f"{self.prelude}\n{command}" if self.prelude else command

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


def conda_env(prefix: str) -> dict[str, str]:
    """The environment activated: its bin first on PATH, CONDA_PREFIX set. As variables of
    the job (not shell lines): a plain command still starts without a shell in between."""
    path = os.path.join(prefix, "bin")
    rest = os.environ.get("PATH")
    return {"CONDA_PREFIX": prefix, "CONDA_DEFAULT_ENV": prefix,
            "PATH": path + (os.pathsep + rest if rest else "")}


def conda_lines(prefix: str) -> str:
    """The same as shell lines, for after `module load` (which may put its own first)."""
    return " ".join(["export", *(f"{k}={shlex.quote(v)}" for k, v in conda_env(prefix).items()
                                 if k != "PATH"),
                     f"PATH={shlex.quote(os.path.join(prefix, 'bin'))}:\"$PATH\""])


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
    out: dict[str, Activation] = {}
    prefixes: dict[CondaEnv, str] = {}
    for rule in rules:
        software = rule.software
        if software is None:
            continue
        lines: list[str] = []
        env: dict[str, str] = {}
        python = None
        if use_modules and software.modules:
            lines.append(module_lines(software.modules))
        if use_conda and software.conda is not None:
            if software.conda not in prefixes:
                prefixes[software.conda] = conda_prefix_of(software.conda, conda_root, True,
                                                            created)
            prefix = prefixes[software.conda]
            if lines:
                lines.append(conda_lines(prefix))
            else:
                env = conda_env(prefix)
            if os.path.exists(os.path.join(prefix, "bin", "python")):
                python = os.path.join(prefix, "bin", "python")
        if lines or env:
            out[rule.name] = Activation(_sourced("\n".join(lines)) if lines else "", env, python)
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
