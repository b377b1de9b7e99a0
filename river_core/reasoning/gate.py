"""The AST allow-list gate: the first layer in front of model-written ``<execute>`` code.

Code runs only if every node of its syntax tree is of an allowed type and it names nothing that
reaches interpreter internals (dunders, frames, ``str.format``), dynamic code (``eval``), files,
or modules outside a short allow-list. The gate is deliberately strict and purely syntactic: it
cannot know types, so it refuses the *names* that every known escape needs, and the worker's
restricted builtins and the OS isolation behind it hold when it misses something.

    >>> gate_problems("print(sum(range(10)))")
    []
    >>> gate_problems("open('/etc/passwd').read()")
    ['line 1: open() is not allowed (file access)']
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Final, Literal

MAX_SOURCE_CHARS: Final = 20_000
MAX_NODES: Final = 10_000

# Modules model code may import. Each is stdlib, pure computation, and is handed to the code as a
# stripped copy (no submodules) by the worker.
ALLOWED_MODULES: Final = frozenset(
    {"collections", "functools", "itertools", "json", "math", "re", "statistics"}
)

# Statement and expression types that cannot do anything but compute. Everything else (class, with,
# async, yield, global, match, ...) is refused, including node types added by future Pythons.
_ALLOWED_NODES: Final[tuple[type[ast.AST], ...]] = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.While, ast.If,
    ast.Break, ast.Continue, ast.Pass, ast.Return, ast.FunctionDef, ast.Lambda, ast.ListComp,
    ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.BoolOp, ast.BinOp,
    ast.UnaryOp, ast.Compare, ast.Call, ast.IfExp, ast.Dict, ast.Set, ast.List, ast.Tuple,
    ast.Subscript, ast.Slice, ast.Name, ast.Constant, ast.Attribute, ast.JoinedStr,
    ast.FormattedValue, ast.Starred, ast.keyword, ast.arguments, ast.arg, ast.Try, ast.ExceptHandler,
    ast.Assert, ast.Delete, ast.Import, ast.ImportFrom, ast.alias, ast.Raise, ast.NamedExpr,
    ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop,
)  # fmt: skip

# Names refused wherever they appear, with the reason shown to the model.
_DENIED_NAMES: Final = {
    "open": "file access",
    "input": "no interactive input",
    "help": "no interactive input",
    "breakpoint": "no debugger",
    "exit": "the sandbox ends the program itself",
    "quit": "the sandbox ends the program itself",
    "exec": "dynamic code",
    "eval": "dynamic code",
    "compile": "dynamic code",
    "__import__": "imports go through `import` of allowed modules",
    "getattr": "attribute access by name can reach interpreter internals",
    "setattr": "attribute access by name can reach interpreter internals",
    "delattr": "attribute access by name can reach interpreter internals",
    "hasattr": "attribute access by name can reach interpreter internals",
    "globals": "namespace access",
    "locals": "namespace access",
    "vars": "namespace access",
    "dir": "namespace access",
    "memoryview": "raw memory access",
    "type": "class creation and introspection",
    "object": "class creation and introspection",
    "super": "class creation and introspection",
    "classmethod": "class creation and introspection",
    "staticmethod": "class creation and introspection",
    "property": "class creation and introspection",
    "id": "memory addresses",
}

# Attribute names refused besides everything starting with "_": frame, code and generator
# internals, and str.format/format_map, whose "{0.__class__}" fields walk attributes at run time.
_DENIED_ATTRIBUTES: Final = frozenset({
    "format", "format_map", "mro", "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code",
    "cr_await", "ag_frame", "ag_code", "ag_await", "f_globals", "f_locals", "f_builtins", "f_back",
    "f_code", "f_trace", "tb_frame", "tb_next", "co_code", "co_consts", "co_names", "func_globals",
    "func_code", "im_func", "im_self", "im_class",
})  # fmt: skip

_NODE_WHY: Final[dict[type[ast.AST], str]] = {
    ast.ClassDef: "class definitions are not allowed (use dicts and functions)",
    ast.AsyncFunctionDef: "async code is not allowed",
    ast.Await: "async code is not allowed",
    ast.AsyncFor: "async code is not allowed",
    ast.AsyncWith: "async code is not allowed",
    ast.Yield: "generators with yield are not allowed (use lists or comprehensions)",
    ast.YieldFrom: "generators with yield are not allowed (use lists or comprehensions)",
    ast.Global: "global statements are not allowed",
    ast.Nonlocal: "nonlocal statements are not allowed",
    ast.With: "with statements are not allowed (no files or resources)",
    ast.Match: "match statements are not allowed (use if/elif)",
}
if hasattr(ast, "TryStar"):  # Python 3.11+
    _NODE_WHY[ast.TryStar] = "except* is not allowed"
# These appear only under a With or Match node, which is refused on its own: no second message.
_COVERED_BY_PARENT: Final = (ast.withitem, ast.match_case, ast.pattern)


@dataclass(frozen=True)
class GateVerdict:
    """What the gate found: ``kind`` is None when the code may run, else "syntax" or "gate"."""

    kind: Literal["syntax", "gate"] | None
    problems: tuple[str, ...]


def gate_problems(code: str) -> list[str]:
    """Why ``code`` may not run, one "line N: what (why)" per problem; empty when it may run.

    Never raises: a syntax error, a too-large program or a parser failure is a problem too.
    """
    return list(check_code(code).problems)


def check_code(code: str) -> GateVerdict:
    """Like :func:`gate_problems`, but says whether the code failed to parse ("syntax") or was refused."""
    if not isinstance(code, str):
        return GateVerdict("gate", (f"line 1: code must be a string, got {type(code).__name__}",))
    if len(code) > MAX_SOURCE_CHARS:
        return GateVerdict(
            "gate",
            (f"line 1: the program has {len(code)} characters (limit {MAX_SOURCE_CHARS}: split it up)",),
        )
    try:
        tree = ast.parse(code, filename="<execute>", mode="exec")
    except SyntaxError as error:
        return GateVerdict("syntax", (f"line {error.lineno or 1}: syntax error: {error.msg}",))
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, absurd nesting
        return GateVerdict("syntax", (f"line 1: syntax error: {type(error).__name__}: {error}",))
    try:
        problems = _walk(tree)
    except RecursionError:
        problems = ["line 1: the program is nested too deeply"]
    return GateVerdict("gate" if problems else None, tuple(problems))


def _walk(tree: ast.AST) -> list[str]:
    problems: list[str] = []
    for count, node in enumerate(ast.walk(tree), start=1):
        if count > MAX_NODES:
            return [f"line 1: the program has more than {MAX_NODES} syntax nodes (split it up)"]
        problem = _node_problem(node)
        if problem is not None:
            line = getattr(node, "lineno", 1)
            entry = f"line {line}: {problem}"
            if entry not in problems:
                problems.append(entry)
    return sorted(problems, key=lambda p: int(p.split(":", 1)[0].split()[1]))


def _node_problem(node: ast.AST) -> str | None:
    if not isinstance(node, _ALLOWED_NODES):
        if isinstance(node, _COVERED_BY_PARENT):
            return None
        return _NODE_WHY.get(type(node), f"the syntax `{type(node).__name__}` is not allowed")
    if isinstance(node, ast.Name):
        problem = _name_problem(node.id)
        if problem is not None and not isinstance(node.ctx, ast.Load) and node.id in _DENIED_NAMES:
            return f"the name '{node.id}' is reserved: {problem}"
        return problem
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            return f"attribute '{node.attr}' is not allowed (names starting with '_' reach internals)"
        if node.attr in ("format", "format_map"):
            return f"attribute '{node.attr}' is not allowed (its fields walk attributes: use an f-string)"
        if node.attr in _DENIED_ATTRIBUTES:
            return f"attribute '{node.attr}' is not allowed (it can reach interpreter internals)"
    if isinstance(node, ast.FunctionDef):
        if node.decorator_list:
            return "decorators are not allowed"
        return _name_problem(node.name)
    if isinstance(node, ast.arg):
        problem = _name_problem(node.arg)
        return f"the name '{node.arg}' is reserved: {problem}" if node.arg in _DENIED_NAMES else problem
    if isinstance(node, ast.keyword) and node.arg is not None and node.arg.startswith("_"):
        # Only the underscore rule: a keyword name reaches nothing, and helpers take `id=`.
        return _name_problem(node.arg)
    if isinstance(node, ast.ExceptHandler) and node.name is not None:
        return _name_problem(node.name)
    if isinstance(node, ast.Import):
        return _import_problem([alias.name for alias in node.names], [alias.asname for alias in node.names])
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return "relative imports are not allowed"
        if any(alias.name == "*" for alias in node.names):
            return "star imports are not allowed (import the names you need)"
        problem = _import_problem([node.module or ""], [])
        if problem is None:
            for alias in node.names:
                problem = _name_problem(alias.name) or _name_problem(alias.asname or "")
                if problem is not None:
                    return problem
        return problem
    return None


def _name_problem(name: str) -> str | None:
    if name in _DENIED_NAMES:
        return f"{name}() is not allowed ({_DENIED_NAMES[name]})"
    if name.startswith("_"):
        return f"name '{name}' is not allowed (names starting with '_' reach interpreter internals)"
    return None


def _import_problem(modules: list[str], aliases: list[str | None]) -> str | None:
    allowed = ", ".join(sorted(ALLOWED_MODULES))
    for module in modules:
        if module not in ALLOWED_MODULES:
            return f"import of '{module}' is not allowed (allowed modules: {allowed})"
    for alias in aliases:
        if alias is not None and (problem := _name_problem(alias)) is not None:
            return problem
    return None
