"""The hostile corpus: every program in tests/reasoning/hostile/ fails the way its header says, and
leaves the host untouched.

Each file starts with three comment lines::

    # expect: <error_kind>
    # <what the program tries, in one line>
    # message: <text the error must contain, naming the cause>

and may use ``{{CANARY}}`` (a file outside the sandbox), ``{{WATCH_DIR}}`` (a directory that must stay
empty) and ``{{PORT}}`` (a socket listening on the host's localhost), filled in by the test.

After each run the host is checked: the canary is unchanged, no file appeared in the watched
directory, the listening socket accepted no connection, and the test process has no child left.
A second sweep runs every program the gate refuses again, with the gate and the restricted builtins
switched off, to show that the OS layers alone still keep the host untouched.
"""

from __future__ import annotations

import copy
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from river_core.reasoning.sandbox import ExecutionResult, Sandbox, SandboxLimits
from river_core.reasoning.twin_data import twin_data
from river_core.twin.schema import TwinDocument
from tests.reasoning.processes import stray_children

psutil = pytest.importorskip("psutil", reason="psutil checks for leftover processes")

CORPUS = Path(__file__).parent / "hostile"
PROGRAMS = sorted(CORPUS.glob("*.py"))
KINDS = {"gate", "syntax", "runtime", "timeout", "cpu", "memory", "output", "crash"}
HEADER = re.compile(r"# expect: (?P<kind>\w+)\n# (?P<why>.+)\n# message: (?P<message>.+)\n")
# Short CPU and memory limits keep the corpus fast; the wall clock is generous so a loaded machine
# never turns a "cpu" result into a "timeout".
LIMITS = SandboxLimits(cpu_seconds=1, wall_seconds=20, memory_bytes=256 << 20, max_output_bytes=16 << 10)


@dataclass(frozen=True)
class Hostile:
    kind: str
    why: str
    message: str
    code: str


def load(path: Path) -> Hostile:
    text = path.read_text(encoding="utf-8")
    match = HEADER.match(text)
    assert match, f"{path.name}: the header must be '# expect: kind', '# why', '# message: text'"
    return Hostile(match["kind"], match["why"], match["message"], text)


@dataclass
class Host:
    """What a hostile program must not touch, and the checks that it did not."""

    canary: Path
    watch_dir: Path
    listener: socket.socket
    data: dict[str, Any]
    data_before: dict[str, Any]

    def fill(self, code: str) -> str:
        port = str(self.listener.getsockname()[1])
        return (
            code.replace("{{CANARY}}", str(self.canary))
            .replace("{{WATCH_DIR}}", str(self.watch_dir))
            .replace("{{PORT}}", port)
        )

    def assert_untouched(self) -> None:
        assert self.canary.read_text() == "canary: do not touch", "the canary file changed"
        assert sorted(p.name for p in self.watch_dir.iterdir()) == [], "a file appeared in the watched dir"
        with pytest.raises(BlockingIOError):
            self.listener.accept()  # nothing connected to the host's localhost
        # Workers waiting in a sandbox's pool are the only children allowed.
        assert stray_children() == [], "a child process is left behind"
        assert self.data == self.data_before, "the host's twin data changed"


PATHS = [pytest.param(0, id="per-run", marks=pytest.mark.slow), pytest.param(1, id="pooled")]


@pytest.fixture
def host(tmp_path: Path, small_twin: TwinDocument) -> Iterator[Host]:
    canary = tmp_path / "canary.txt"
    canary.write_text("canary: do not touch")
    watch_dir = tmp_path / "watched"
    watch_dir.mkdir()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    data = twin_data(small_twin)
    try:
        yield Host(canary, watch_dir, listener, data, copy.deepcopy(data))
    finally:
        listener.close()


# The pooled path is what every caller uses; the start-per-call fallback runs the corpus in the slow tier.
@pytest.fixture(scope="module", params=PATHS)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """Each program runs in a worker started for it, and in one started ahead (already locked down)."""
    with Sandbox(LIMITS, prestart=request.param) as sandbox:
        yield sandbox


def test_the_corpus_is_large_and_well_formed() -> None:
    assert len(PROGRAMS) >= 45
    for path in PROGRAMS:
        hostile = load(path)
        assert hostile.kind in KINDS, f"{path.name}: unknown error kind {hostile.kind!r}"


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_hostile_program_fails_as_expected_and_leaves_the_host_alone(
    path: Path, sandbox: Sandbox, host: Host
) -> None:
    hostile = load(path)
    result = sandbox.run(host.fill(hostile.code), host.data)
    assert not result.ok, f"{path.name} ran: {result.stdout[:200]!r}"
    assert result.error_kind == hostile.kind, f"{path.name}: {result.error}"
    assert result.error is not None and hostile.message in result.error, result.error
    assert "Traceback" not in result.error and "_worker" not in result.error
    host.assert_untouched()
    if hostile.kind == "gate":
        return  # never ran: nothing to leave behind
    # The next run starts fresh: nothing the program changed (modules, twin) is visible to it.
    healthy = sandbox.run("import json\nprint(json.dumps(sorted(twin)), sum(range(10)))", host.data)
    assert healthy.ok, healthy.error
    assert healthy.stdout == f"{json.dumps(sorted(host.data))} 45\n"


# The pooled path is what every caller uses; the start-per-call fallback runs the corpus in the slow tier.
@pytest.fixture(scope="module", params=PATHS)
def os_layers_only(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    limits = SandboxLimits(cpu_seconds=1, wall_seconds=3, memory_bytes=256 << 20)
    with Sandbox(limits, prestart=request.param, _layers=frozenset({"seccomp"})) as sandbox:
        if not (sandbox.isolation.seccomp or sandbox.isolation.namespaces):
            pytest.skip(f"no OS isolation layer here: {'; '.join(sandbox.isolation.notes)}")
        yield sandbox


# Programs the gate refuses: the others already reached the worker in the test above.
GATED = [p for p in PROGRAMS if load(p).kind == "gate"]


@pytest.mark.parametrize("path", GATED, ids=[p.stem for p in GATED])
def test_os_layers_alone_keep_the_host_untouched(path: Path, os_layers_only: Sandbox, host: Host) -> None:
    """Gate and restricted builtins off: whatever the program manages, the host does not notice."""
    result: ExecutionResult = os_layers_only.run(host.fill(load(path).code), host.data)
    assert "root:x:0:0" not in result.stdout, "the worker read the host's /etc/passwd"
    host.assert_untouched()
