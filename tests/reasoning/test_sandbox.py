"""The sandbox that runs model-written ``<execute>`` code: results, the gate, the twin namespace, and
each isolation layer proven on its own (gate and builtins switched off, skipped with the reason when
a layer is missing here). The hostile corpus lives in test_hostile.py.

No test asserts wall-clock durations: limits are short in CPU time and generous in wall time, so a
loaded machine cannot turn one kind of failure into another.
"""

from __future__ import annotations

import ast
import copy
import ctypes.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from river_core.errors import RiverError
from river_core.reasoning import _worker, gate, sandbox, twin_api
from river_core.reasoning.gate import check_code, gate_problems
from river_core.reasoning.sandbox import (
    ExecutionResult,
    Sandbox,
    SandboxInputError,
    SandboxLimits,
    SandboxUnavailableError,
)
from river_core.reasoning.twin_data import twin_data
from river_core.twin.schema import TwinDocument
from tests.reasoning.processes import stray_children

ROOT = Path(__file__).resolve().parents[2]
FAST = SandboxLimits(cpu_seconds=1, wall_seconds=20, memory_bytes=256 << 20)
NO_LAYERS: frozenset[str] = frozenset()  # gate, builtins and seccomp off: the OS layers' own tests


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(FAST) as sandbox:
        yield sandbox


@pytest.fixture
def data(small_twin: TwinDocument) -> dict[str, Any]:
    return twin_data(small_twin)


def bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    done = subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True)
    return done.returncode == 0


def seccomp_sandbox() -> Sandbox:
    """Seccomp as the only layer (no namespaces, gate or builtins); skips when it is unavailable."""
    box = Sandbox(FAST, namespaces="off", _layers=frozenset({"seccomp"}))
    if not box.isolation.seccomp:
        pytest.skip(f"seccomp is unavailable here: {'; '.join(box.isolation.notes)}")
    return box


def namespace_sandbox(limits: SandboxLimits = FAST) -> Sandbox:
    """Bubblewrap as the only layer besides rlimits; skips when it is unavailable."""
    try:
        return Sandbox(limits, namespaces="require", _layers=NO_LAYERS)
    except SandboxUnavailableError as error:
        pytest.skip(f"bubblewrap is unavailable here: {error}")


# -- results ---------------------------------------------------------------------------------------


def test_prints_what_the_code_prints(box: Sandbox) -> None:
    result = box.run("print(sum(range(10)))")
    assert result.ok and result.stdout == "45\n"
    assert result.error is None and result.error_kind is None and not result.truncated
    assert result.elapsed_ms > 0


def test_result_to_json_is_plain_data(box: Sandbox) -> None:
    payload = box.run("print('hi')").to_json()
    assert set(payload) == {"ok", "stdout", "error", "error_kind", "elapsed_ms", "truncated", "isolation"}
    assert set(payload["isolation"]) == {"level", "namespaces", "seccomp", "rlimits", "uid", "notes"}
    assert json.loads(json.dumps(payload)) == payload


def test_runtime_error_is_one_line_with_the_models_line(box: Sandbox) -> None:
    result = box.run("x = 1\ny = x + undefined_name\n")
    assert not result.ok and result.error_kind == "runtime"
    assert result.error == "NameError: name 'undefined_name' is not defined (line 2)"


def test_error_inside_a_helper_points_at_the_calling_line(box: Sandbox, data: dict[str, Any]) -> None:
    result = box.run("ids = objects()\nobject_info(987654)\n", data)
    assert not result.ok and result.error_kind == "runtime"
    assert result.error is not None and result.error.endswith("(line 2)")
    assert "987654" in result.error and "twin_api" not in result.error and "/" not in result.error


def test_syntax_errors_are_their_own_kind(box: Sandbox) -> None:
    result = box.run("x = (\n")
    assert (result.ok, result.error_kind) == (False, "syntax")
    assert result.error is not None and "line 1" in result.error
    # Without the gate the worker's compile reports it the same way.
    worker_side = Sandbox(FAST, _layers=frozenset({"builtins", "seccomp"})).run("x = (\n")
    assert worker_side.error_kind == "syntax" and "line 1" in (worker_side.error or "")


def test_allowed_modules_work(box: Sandbox) -> None:
    code = (
        "import math, statistics, itertools, collections, functools, json, re\n"
        "from collections import Counter\n"
        "c = Counter('abca')\n"
        "print(math.floor(2.5), statistics.mean([1, 2, 3]), list(itertools.islice(itertools.count(), 2)),\n"
        "      c.most_common(1), functools.reduce(lambda a, b: a + b, [1, 2]), json.dumps({'a': 1}),\n"
        "      re.findall(r'\\d', 'a1b2'), f'{3.14159:.2f}')\n"
    )
    result = box.run(code)
    assert result.ok, result.error
    assert result.stdout == "2 2 [0, 1] [('a', 2)] 3 {\"a\": 1} ['1', '2'] 3.14\n"


def test_code_runs_without_a_twin_when_data_is_none(box: Sandbox) -> None:
    assert box.run("print(1)").stdout == "1\n"
    missing = box.run("print(twin)")
    assert missing.error == "NameError: name 'twin' is not defined (line 1)"


def test_output_limit_truncates_and_fails(box: Sandbox) -> None:
    small = Sandbox(SandboxLimits(cpu_seconds=2, wall_seconds=20, max_output_bytes=1000))
    result = small.run("for i in range(100000):\n    print(i)\n")
    assert (result.ok, result.error_kind, result.truncated) == (False, "output", True)
    assert len(result.stdout.encode()) <= 1000 and result.stdout.startswith("0\n1\n2\n")
    assert result.error is not None and "max_output_bytes=1000" in result.error and "(line 2)" in result.error


def test_data_must_be_plain_json(box: Sandbox) -> None:
    with pytest.raises(SandboxInputError, match="plain JSON"):
        box.run("pass", {"video": object()})


def test_limits_are_validated() -> None:
    with pytest.raises(SandboxInputError, match="cpu_seconds"):
        SandboxLimits(cpu_seconds=0)
    with pytest.raises(SandboxInputError, match="memory_bytes"):
        SandboxLimits(memory_bytes=1 << 20)
    assert issubclass(SandboxInputError, RiverError) and issubclass(SandboxUnavailableError, RiverError)


# -- the twin namespace ----------------------------------------------------------------------------


def test_code_sees_the_twin_api_namespace(box: Sandbox, data: dict[str, Any]) -> None:
    """Every name build_namespace returns is there, callable where it is on the host."""
    names = sorted(twin_api.build_namespace(copy.deepcopy(data)))
    assert "twin" in names
    pairs = ", ".join(f"({name!r}, {name})" for name in names)
    code = f"import json\nprint(json.dumps({{n: callable(v) for n, v in [{pairs}]}}))\nprint(sorted(twin))\n"
    result = box.run(code, data)
    assert result.ok, result.error
    seen, keys = result.stdout.splitlines()
    host_namespace = twin_api.build_namespace(copy.deepcopy(data))
    assert json.loads(seen) == {name: callable(value) for name, value in host_namespace.items()}
    assert keys == str(sorted(host_namespace["twin"]))


def test_each_run_gets_a_fresh_copy_of_the_data(box: Sandbox, data: dict[str, Any]) -> None:
    before = copy.deepcopy(data)
    poisoned = box.run("twin.clear()\ntwin['poisoned'] = True\nprint(sorted(twin))", data)
    assert poisoned.ok and poisoned.stdout == "['poisoned']\n"
    again = box.run("print(sorted(twin))", data)
    assert again.stdout == f"{sorted(before)}\n"
    assert data == before


# -- the gate --------------------------------------------------------------------------------------

ALLOWED_CODE = [
    "print(sum(range(10)))",
    "ids = [o for o in objects() if o['category'] == 'dog']\nprint(len(ids))",
    "def area(b):\n    return (b[2] - b[0]) * (b[3] - b[1])\nprint(area([0, 0, 1, 1]))",
    "best = max([1, 2], key=lambda i: -i)\nassert best == 1, 'lambda key'",
    "try:\n    x = {}['k']\nexcept KeyError as error:\n    print('missing', error)\nfinally:\n    pass",
    "from collections import Counter, defaultdict\nd = defaultdict(list)\nd['a'].append(1)",
    "n = 0\nwhile n < 3:\n    n += 1\n    if n == 2:\n        continue\nelse:\n    pass",
    "x: int = 3\ndel x\nprint(f'{1 + 1!r:>4}', [*range(2)], {**{'a': 1}})",
    "if (n := len([1, 2])) > 1:\n    raise ValueError(f'too many: {n}')",
]


@pytest.mark.parametrize("code", ALLOWED_CODE)
def test_gate_allows_ordinary_model_code(code: str) -> None:
    assert gate_problems(code) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("open('/etc/passwd').read()", "line 1: open() is not allowed (file access)"),
        ("x = 1\nimport os", "line 2: import of 'os' is not allowed"),
        ("().__class__", "line 1: attribute '__class__' is not allowed"),
        ("'{0.__class__}'.format(1)", "line 1: attribute 'format' is not allowed"),
        ("class A:\n    pass", "line 1: class definitions are not allowed"),
        ("def f():\n    yield 1", "line 2: generators with yield are not allowed"),
        ("async def f():\n    pass", "line 1: async code is not allowed"),
        ("def f():\n    global x", "line 2: global statements are not allowed"),
        ("with x:\n    pass", "line 1: with statements are not allowed"),
        ("match x:\n    case 1:\n        pass", "line 1: match statements are not allowed"),
        ("from json import *", "line 1: star imports are not allowed"),
        ("from . import x", "line 1: relative imports are not allowed"),
        ("import json as _j", "line 1: name '_j' is not allowed"),
        ("def f(__x):\n    pass", "line 1: name '__x' is not allowed"),
        ("@f\ndef g():\n    pass", "decorators are not allowed"),
        ("x = (", "line 1: syntax error"),
        ("x" * (gate.MAX_SOURCE_CHARS + 1), "characters (limit"),
        ("y = [" + ",".join(["x"] * (gate.MAX_NODES // 2 + 1)) + "]", "syntax nodes"),
    ],
)
def test_gate_refuses_with_a_line_and_a_reason(code: str, expected: str) -> None:
    problems = gate_problems(code)
    assert problems and any(expected in p for p in problems), problems
    assert all(p.startswith("line ") and ": " in p for p in problems)


def test_gate_tells_syntax_from_refusal_and_never_raises() -> None:
    assert check_code("x = (").kind == "syntax"
    assert check_code("import os").kind == "gate"
    assert check_code("pass").kind is None
    for weird in ["\0", "(" * 500 + ")" * 500, "x" + "+x" * 9000, 42, "\ud800"]:
        verdict = check_code(weird)  # type: ignore[arg-type]
        assert verdict.kind in ("syntax", "gate", None)


def test_gate_refusals_start_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    box = Sandbox(FAST)  # its pool starts with its first run: none here
    box.isolation  # noqa: B018 - probe first: the probe itself starts a process

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError("the gate let a refused program start a process")

    monkeypatch.setattr(sandbox.subprocess, "Popen", no_process)
    result = box.run("open('/etc/passwd').read()")
    assert (result.ok, result.error_kind) == (False, "gate")
    assert result.error == "blocked by the sandbox gate: line 1: open() is not allowed (file access)"


def test_worker_allows_the_same_modules_as_the_gate() -> None:
    assert set(_worker.ALLOWED_MODULES) == gate.ALLOWED_MODULES


def test_worker_imports_the_standard_library_only() -> None:
    """It runs as `python -I -S` without site-packages: river_core or a third-party import would fail."""
    tree = ast.parse((ROOT / "river_core/reasoning/_worker.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)


# -- the OS layers, each on its own ----------------------------------------------------------------


@pytest.mark.parametrize("layer", ["seccomp", "namespaces"])
def test_file_read_fails_in_the_os_layers_without_gate_and_builtins(layer: str) -> None:
    box = seccomp_sandbox() if layer == "seccomp" else namespace_sandbox()
    result = box.run("print(open('/etc/passwd').read())")
    assert not result.ok and result.error_kind == "runtime", result
    assert "root:" not in result.stdout
    expected = "PermissionError" if layer == "seccomp" else "FileNotFoundError"
    assert result.error is not None and result.error.startswith(expected), result.error


def test_seccomp_denies_sockets_files_and_processes() -> None:
    box = seccomp_sandbox()
    # ctypes and os are already loaded by the worker, so these reach the system calls themselves.
    code = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('socket', libc.socket(2, 1, 0), ctypes.get_errno())\n"
        "for attempt in (lambda: open('/etc/hostname'), os.fork, lambda: os.execv('/bin/true', ['true'])):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('allowed')\n"
        "    except PermissionError as error:\n"
        "        print('denied', error.errno)\n"
    )
    result = box.run(code)
    assert result.ok, result.error
    assert result.stdout == "socket -1 1\ndenied 1\ndenied 1\ndenied 1\n"


def test_bubblewrap_hides_the_project_home_and_host_network(tmp_path: Path) -> None:
    box = namespace_sandbox()
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    code = (
        "import os, json, socket\n"
        f"paths = {[str(ROOT), str(secret), '/work', '/home', '/etc/passwd']!r}\n"
        "s = socket.socket()\n"
        "s.settimeout(2)\n"
        f"reached = s.connect_ex(('127.0.0.1', {listener.getsockname()[1]})) == 0\n"
        "root = sorted(os.listdir('/root')) if os.path.isdir('/root') else []\n"
        "print(json.dumps({'visible': [p for p in paths if os.path.exists(p)], 'root': root,\n"
        "                  'uid': os.getuid(), 'reached': reached}))\n"
    )
    try:
        result = box.run(code)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert result.ok, result.error
    seen = json.loads(result.stdout)
    assert seen["visible"] == [] and seen["uid"] == 65534 and seen["reached"] is False
    # /root exists inside only when the interpreter lives under it (pyenv): then only that path shows.
    prefix = Path(os.path.realpath(sys.base_prefix))
    allowed = {prefix.relative_to("/root").parts[0]} if prefix.is_relative_to("/root") else set()
    assert set(seen["root"]) <= allowed, seen["root"]


@pytest.mark.parametrize("namespaces", ["auto", "off"])
def test_rlimit_as_turns_a_huge_allocation_into_a_memory_error(namespaces: str) -> None:
    box = Sandbox(FAST, namespaces=namespaces, _layers=NO_LAYERS)  # type: ignore[arg-type]
    result = box.run(f"x = bytearray({4 * FAST.memory_bytes})")
    assert (result.ok, result.error_kind) == (False, "memory"), result.error
    assert result.error is not None and "memory_bytes" in result.error


@pytest.mark.parametrize("namespaces", ["auto", "off"])
def test_rlimit_cpu_ends_a_busy_loop(namespaces: str) -> None:
    box = Sandbox(FAST, namespaces=namespaces, _layers=NO_LAYERS)  # type: ignore[arg-type]
    result = box.run("while True:\n    pass\n")
    assert (result.ok, result.error_kind) == (False, "cpu"), result.error
    assert result.error is not None and "CPU" in result.error


@pytest.mark.parametrize("prestart", [0, 1], ids=["per-run", "pooled"])
def test_the_wall_clock_ends_a_blocked_worker_and_leaves_nothing_behind(prestart: int) -> None:
    psutil = pytest.importorskip("psutil")
    box = Sandbox(SandboxLimits(cpu_seconds=5, wall_seconds=1.5), prestart=prestart, _layers=NO_LAYERS)
    started = time.time()
    box.warm_up()
    result = box.run("import time\ntime.sleep(3600)\n")
    assert (result.ok, result.error_kind) == (False, "timeout")
    assert result.error is not None and "wall_seconds" in result.error
    assert stray_children() == []
    box.close()  # and the workers waiting in its pool
    assert not set(box._pool.pids() if box._pool else [])

    def leftovers() -> list[Any]:
        found = []
        for proc in psutil.process_iter(["cmdline", "create_time"]):
            cmdline, created = proc.info["cmdline"] or [], proc.info["create_time"] or 0
            if created >= started - 1 and any("The sandbox worker" in arg for arg in cmdline):
                found.append(proc)
        return found

    # The worker inside bubblewrap dies with it (--die-with-parent); give the kernel a moment.
    for _ in range(100):
        if not leftovers():
            break
        time.sleep(0.1)
    assert leftovers() == []


# -- isolation reporting ---------------------------------------------------------------------------


def test_isolation_is_full_when_bubblewrap_and_libseccomp_work_here(box: Sandbox) -> None:
    isolation = box.isolation
    assert isolation.rlimits
    if isolation.level != "full":
        assert isolation.notes, "a level below full must say what is missing"
    if bwrap_works() and ctypes.util.find_library("seccomp") and sys.platform.startswith("linux"):
        assert isolation.level == "full", isolation.notes
        assert isolation.namespaces and isolation.seccomp and isolation.uid == 65534
    assert box.run("pass").isolation == isolation


def test_switching_namespaces_off_is_reported() -> None:
    isolation = Sandbox(FAST, namespaces="off").isolation
    assert isolation.level != "full" and not isolation.namespaces
    assert any("namespace" in note for note in isolation.notes)
    if os.getuid() == 0:
        assert isolation.uid == 65534  # the worker drops root itself


def test_test_only_layers_are_reported() -> None:
    isolation = Sandbox(FAST, _layers=frozenset({"seccomp"})).isolation
    assert any(note.startswith("TEST ONLY") and "gate" in note for note in isolation.notes)
    with pytest.raises(SandboxInputError, match="unknown sandbox layers"):
        Sandbox(_layers=frozenset({"firewall"}))


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> Any:
    sandbox._bwrap_probe.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    yield
    monkeypatch.undo()
    sandbox._bwrap_probe.cache_clear()


def test_without_bubblewrap_require_fails_and_auto_says_how_to_get_it(no_bwrap: None) -> None:
    with pytest.raises(SandboxUnavailableError, match="bubblewrap"):
        Sandbox(namespaces="require")
    isolation = Sandbox(FAST).isolation
    assert not isolation.namespaces and isolation.level != "full"
    assert any("install the 'bubblewrap' package" in note for note in isolation.notes)


def test_result_isolation_round_trips(box: Sandbox) -> None:
    result = box.run("print(1)")
    assert isinstance(result, ExecutionResult)
    assert result.to_json()["isolation"] == result.isolation.to_json()
