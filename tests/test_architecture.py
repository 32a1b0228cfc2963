"""The project's shape: core stays headless and layered (engine < studies < tools), the app layered
(main window > views > controllers > engine > model, and inside the views Compare > Studio > shared
widgets) with its model Qt-free (import-linter contracts), no import cycles in either, the wheel
holds only our packages."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    # COLUMNS: wide enough that each contract's verdict is one line ("<name> KEPT" / "<name> BROKEN")
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "COLUMNS": "250"})


def _broken(report: str) -> list[str]:
    """The names of the contracts lint-imports reports broken."""
    return sorted(line.removesuffix(" BROKEN") for line in report.splitlines() if line.endswith(" BROKEN"))


def _contract_names() -> list[str]:
    import tomllib

    return [c["name"] for c in tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]]


def test_import_linter_contract_is_kept():
    res = _lint(REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6 kept, 0 broken" in res.stdout and len(_contract_names()) == 6


TYPE_HINT_ONLY = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from app.main_window import MainWindow\n"


@pytest.mark.parametrize("where, code, broken", [
    ("core/sneaky.py", "from PySide6 import QtCore\n", ["core is headless"]),
    ("core/pca.py", "from core.studies import compare\n", ["core's engine"]),  # an engine module imports no study …
    ("core/algorithms/sneaky.py", "from core.tools.cli import main\n", ["core's engine"]),  # … and no tool, at any depth
    ("core/studies/sneaky.py", "from core.tools import starter\n", ["core's studies"]),  # a study imports no tool
    ("app/model/sneaky.py", "from PySide6 import QtCore\n", ["the app's model"]),  # the app's model is Qt-free …
    ("app/model/sneaky.py", "from app.views.studio import support_panel\n", ["the app in layers", "the app's model"]),  # … and the lowest layer
    ("app/engine/sneaky.py", "from app.views.studio import query_panel\n", ["the app in layers"]),  # the engine imports no view …
    ("app/engine/jobs.py", "def f():\n    from app.controllers import undo\n", ["the app in layers"]),  # … nor a controller, even lazily
    ("app/controllers/sneaky.py", "from app.main_window import MainWindow\n", ["the app in layers"]),  # a controller imports no window …
    ("app/controllers/sneaky.py", TYPE_HINT_ONLY, ["the app in layers"]),  # … not even for a type hint
    ("app/controllers/sneaky.py", "from app.views.studio.query_panel import QueryPanel\n", ["the app in layers"]),  # … nor a view
    ("app/views/studio/sneaky.py", "from app import main_window\n", ["the app in layers", "the views"]),  # a view imports no window (through it, every view)
    ("app/views/studio/sneaky.py", "from app.views.compare import results\n", ["the views"]),  # the Studio imports no Compare view …
    ("app/views/widgets/sneaky.py", "from app.views.studio import canvas\n", ["the views"]),  # … the shared widgets no Studio view
    ("app/sneaky.py", "", ["the app in layers"]),  # a new top-level module must take a layer …
    ("app/views/sneaky.py", "", ["the views"]),  # … and so must a new module of views
])
def test_import_linter_contracts_catch_a_forbidden_import(tmp_path, where, code, broken):
    shutil.copytree(REPO / "core", tmp_path / "core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    (tmp_path / where).write_text(code)
    res = _lint(tmp_path)
    expected = sorted(n for n in _contract_names() if n.startswith(tuple(broken)))
    assert len(expected) == len(broken), expected  # each prefix names one contract
    assert res.returncode != 0 and _broken(res.stdout) == expected, res.stdout


def test_the_engine_contract_names_every_engine_module():
    """The engine contract lists core's engine modules by name (import-linter has no "all but"): a
    module added at core's top level, or a package beside algorithms/ and sources/, must join it."""
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    engine = next(c for c in contracts if c["name"].startswith("core's engine"))
    on_disk = {f"core.{p.stem}" for p in (REPO / "core").glob("*.py") if not p.stem.startswith("__")}
    on_disk |= {f"core.{p.name}" for p in (REPO / "core").iterdir() if (p / "__init__.py").is_file()} - {"core.studies", "core.tools"}
    assert set(engine["source_modules"]) == on_disk, sorted(on_disk ^ set(engine["source_modules"]))


def import_cycles(*packages: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's strongly
    connected components of the import graph). Imports under `if TYPE_CHECKING:` are left out:
    a type hint is not a dependency when the code runs."""
    import grimp

    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


@pytest.mark.parametrize("package", ["core", "app"])
def test_no_import_cycles(package):
    assert import_cycles(package) == []


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "__init__.py").write_text("")
    (tmp_path / "loop" / "a.py").write_text("from . import b\n")
    (tmp_path / "loop" / "b.py").write_text("def f():\n    from .a import x\n")  # a lazy import closes the loop too
    (tmp_path / "loop" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("loop") == [["loop.a", "loop.b"]]


def test_importing_the_app_model_loads_no_qt():
    code = "import app.model, sys; bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6', 'torch')]; print(bad); sys.exit(bool(bad))"
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_importing_core_loads_no_qt():
    code = "import core, core.tools.cli, sys; [getattr(core, n) for n in core.__all__]; bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'app')]; print(bad); sys.exit(bool(bad))"
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_window_and_the_torch_free_corner_of_core_load_no_torch():
    """The window opens before the engine has loaded (torch loads on the job thread): importing the
    app's modules, and using what they take from core on the GUI thread (atomic writes, durations,
    image suffixes, explanations), imports no torch. `core` is lazy: each name loads its module
    on first use."""
    code = ("import sys, app.main_window, app.views.compare.view, core; core.atomic_write, core.fmt_duration, core.IMAGE_SUFFIXES, core.Explanation; "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'torch']; print(bad[:5]); sys.exit(bool(bad))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run([sys.executable, "-c", "import core, sys; core.create; sys.exit('torch' not in sys.modules)"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, "a name from the engine proper loads torch"


def test_public_names_resolve_to_their_owners():
    import core

    for name in core.__all__:
        assert getattr(core, name) is not None, name
    assert callable(core.explain) and core.explain.__module__ == "core.explaining"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        core.nothing_here


def test_wheel_holds_only_app_core_resources(tmp_path):
    # Built from a copy of the sources: a build in the checkout reuses its build/lib/, where a module
    # since moved or deleted (app/screenshot.py, say) lingers and would ship.
    src = tmp_path / "src"
    for package in ("app", "core", "resources"):
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(src)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(res.stdout + res.stderr)
    wheel = next(tmp_path.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"app", "core", "resources"}
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)
    assert "core/algorithms/protonet.py" in names
    # the app's modules, exactly: the developer scripts (docs/tools/) stay out
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "app").rglob("*.py") if "__pycache__" not in p.parts}
    assert {n for n in names if n.startswith("app/") and n.endswith(".py")} == modules
    # every file in resources/ travels with the wheel (icons and styles load from an installed copy)
    shipped = {p.relative_to(REPO).as_posix() for p in (REPO / "resources").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped <= set(names)


def test_every_function_the_architecture_walk_names_exists():
    """docs/architecture.md names each function on N's way; a rename must update the walk."""
    import re

    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    walk = doc[doc.index("## One owner per fact"):]
    # `Class.method` and `function(…)`; Qt's own names (QSpinBox.…) are not ours to check
    named = {name for prefix, name, end in re.findall(r"`((?:\w+\.)*)([a-z_]\w*)([`(])", walk)
             if not prefix.startswith("Q") and (end == "(" or prefix[:1].isupper())}
    source = "\n".join(p.read_text(encoding="utf-8") for d in ("app", "core") for p in (REPO / d).rglob("*.py"))
    missing = sorted(n for n in named if not re.search(rf"def {n}\b|\b{n} = Signal\(", source))
    assert len(named) >= 15 and not missing, (sorted(named), missing)
