"""What a build asks of its run loop: cores or queued cluster jobs, resource limits, -k, the
latency wait, the executor. One frozen record that the run loop and its parts read. Layer 4."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from fileflow.envs.activation import Activation

__all__ = ["Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    jobs: int = 1                                   # cores (local) or queued jobs (cluster)
    resources: Mapping[str, float] = field(default_factory=dict)   # --resources limits
    keep_going: bool = False
    latency_wait: float = 5.0
    default_timeout: float = 0.0  # seconds a job whose rule sets no timeout: may run; 0: no limit
    retry_delay: float = 0.0      # seconds before a retry of a job whose rule sets no retry_delay:
    executor_name: str = "local"
    workdir: str = "."
    python: str = sys.executable
    config: Mapping[str, object] = field(default_factory=dict)  # the workflow's, for scripts
    # rule name -> the shell lines that activate its conda environment and load its
    # environment modules, for the rules that have them (--use-conda, --use-envmodules)
    software: Mapping[str, Activation] = field(default_factory=dict)
    cluster: bool = False     # -j counts queued cluster jobs, not cores; logs named by job id
