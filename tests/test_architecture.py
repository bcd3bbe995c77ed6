"""The folder tree is the architecture: every module sits in a layer, imports only from its own layer
or the layers below, and no two modules import each other, directly or round a circle — counting
the imports inside functions too, so none can hide a circle (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "posesynth"

# lowest first: a module may import from its own layer or any layer listed before it
LAYERS: tuple[tuple[str, ...], ...] = (
    ("posesynth", "posesynth.errors", "posesynth.config", "posesynth.skeleton", "posesynth.geometry",
     "posesynth.kinematics", "posesynth.parallel"),
    ("posesynth.video",),
    ("posesynth.render",),
    ("posesynth.synth",),
    ("posesynth.detect",),
    ("posesynth.datasets",),
    ("posesynth.data",),
    ("posesynth.models",),
    ("posesynth.losses",),
    ("posesynth.export",),
    ("posesynth.viz",),
    ("posesynth.evaluation",),
    ("posesynth.training",),
    ("posesynth.apps",),
    ("posesynth.cli", "posesynth.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest name (a package or a module) that holds ``module``; -1 if none."""
    holders = [(len(name), i) for i, names in enumerate(LAYERS) for name in names
               if module == name or (name != "posesynth" and module.startswith(name + "."))]
    return max(holders)[1] if holders else -1


def imports_of(module: str) -> dict[str, int]:
    """posesynth modules ``module`` imports (at any depth of its code) → the line of the first import."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in MODULES else base)
        for target in targets:
            if target.split(".")[0] == "posesynth" and target != module:
                while target not in MODULES:  # e.g. posesynth.a.b.c naming an attribute
                    target = target.rpartition(".")[0]
                found.setdefault(target, node.lineno)
    return found


GRAPH: dict[str, dict[str, int]] = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) < 0] == []


def test_top_level_holds_only_the_base_and_the_entry():
    top = sorted(m for m in MODULES if m.count(".") == 1 and not (PACKAGE / m.split(".")[1]).is_dir())
    assert top == ["posesynth.__main__", "posesynth.cli", "posesynth.config", "posesynth.errors",
                   "posesynth.geometry", "posesynth.kinematics", "posesynth.parallel", "posesynth.skeleton"]


def test_no_import_from_a_higher_layer():
    upward = [f"{m}:{line} imports {t} ({LAYERS[layer_of(t)][0]} is above {LAYERS[layer_of(m)][0]})"
              for m, targets in GRAPH.items() for t, line in targets.items() if layer_of(t) > layer_of(m)]
    assert upward == []


def test_no_import_circle():
    """Tarjan's strongly connected components of the import graph: each must be one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert circles == []


@pytest.mark.parametrize("source, expected", [
    ("from posesynth.video.index import index_videos\n", {"posesynth.video.index"}),
    ("def f():\n    from posesynth.training import train\n", {"posesynth.training.train"}),
    ("import posesynth.models.model as m\n", {"posesynth.models.model"}),
])
def test_imports_are_found_inside_functions_too(tmp_path, monkeypatch, source, expected):
    fake = PACKAGE / "video" / "index.py"
    monkeypatch.setitem(MODULES, "posesynth.fake", tmp_path / "fake.py")
    (tmp_path / "fake.py").write_text(source)
    assert set(imports_of("posesynth.fake")) == expected and fake.is_file()


def test_layer_of():
    assert layer_of("posesynth.skeleton") == 0
    assert layer_of("posesynth.video.index") == 1
    assert layer_of("posesynth.cli") == len(LAYERS) - 1
    assert layer_of("posesynth.videos") == -1  # a prefix of a name is not its package


def test_tests_mirror_the_package():
    """tests/<layer>/test_*.py for each layer folder; names unique across folders (no __init__.py)."""
    tests = Path(__file__).resolve().parent
    folders = {p.parent.name for p in tests.glob("*/test_*.py")}
    assert folders - {p.name for p in PACKAGE.iterdir() if p.is_dir()} <= {"scripts"}
    names = [p.name for p in tests.rglob("test_*.py")]
    assert len(names) == len(set(names))


def test_losses_never_call_a_network():
    """Losses are pure functions of tensors: no parameter takes a model, no loss imports the model wiring."""
    takes_model = []
    for module, path in MODULES.items():
        if module.startswith("posesynth.losses"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names = [a.arg for a in node.args.args + node.args.kwonlyargs]
                    takes_model += [f"{module}.{node.name}({n})" for n in names if n in ("model", "network", "discriminator")]
            assert "posesynth.models.model" not in GRAPH[module], module
    assert takes_model == []


def test_module_names_are_unique():
    """No two modules share a file name (one ``keypoints.py``, one ``motion.py``, …): a path names one concept."""
    stems: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        if path.name != "__init__.py":
            stems.setdefault(path.stem, []).append(module)
    assert {stem: modules for stem, modules in stems.items() if len(modules) > 1} == {}
