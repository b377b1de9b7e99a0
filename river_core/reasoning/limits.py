"""What one sandboxed run may use, and the error for a bad setting (shared by the sandbox and its
pool of pre-started workers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from river_core.errors import RiverError


class SandboxInputError(RiverError, ValueError):
    """The data or limits handed to the sandbox are unusable (not JSON, a negative limit...)."""


@dataclass(frozen=True)
class SandboxLimits:
    """What one run may use. CPU and memory are enforced by the kernel, the rest by the worker or host."""

    cpu_seconds: int = field(default=5, metadata={"help": "CPU time; past it the kernel ends the worker"})
    wall_seconds: float = field(default=10.0, metadata={"help": "wall-clock time, enforced by the host"})
    memory_bytes: int = field(default=1 << 30, metadata={"help": "address space (RLIMIT_AS) of the worker"})
    max_output_bytes: int = field(default=64 * 1024, metadata={"help": "what print() may write, in bytes"})
    max_open_files: int = field(default=32, metadata={"help": "RLIMIT_NOFILE of the worker"})
    max_processes: int = field(default=1, metadata={"help": "RLIMIT_NPROC (not enforced for root)"})

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise SandboxInputError(f"SandboxLimits.{name} must be a positive number, got {value!r}")
        if self.memory_bytes < 64 << 20:
            raise SandboxInputError(
                f"SandboxLimits.memory_bytes={self.memory_bytes} is below 64 MiB: the interpreter needs that"
            )
