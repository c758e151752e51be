"""The package's stages, checked: no import circle, and an engine that needs nothing but the
standard library and its own modules."""

import ast
import json
import subprocess
import sys
from pathlib import Path

from tfcanary.envs import launch

from conftest import ROOT

SRC = ROOT / "src"
PACKAGE = SRC / "tfcanary"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def imports() -> dict:
    """{module: {tfcanary modules it imports}}, at module level and inside functions alike."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.split(".")[0] == "tfcanary"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "tfcanary":
                    continue
                subs = [f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")]
                found |= set(subs) if subs and len(subs) == len(node.names) else {target, *subs}
        graph[name] = {m for m in found if m != name}
    return graph


def test_the_import_graph_is_read_right():
    g = imports()
    assert "tfcanary.reports.toolkit" in g["tfcanary.reports.version_matrix"]
    assert "tfcanary.envs.launch" in g["tfcanary.bisect.workspace"]
    assert "tfcanary.reports.check" in g["tfcanary.nightly.jobs"]          # inside a function


def test_no_import_circle_anywhere_in_the_package():
    graph = imports()
    state, stack, circles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                circles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert circles == []


def test_reports_never_import_the_package_front_or_the_cli():
    graph = imports()
    for m, targets in graph.items():
        if m.startswith("tfcanary.reports."):
            assert not targets & {"tfcanary.reports", "tfcanary.cli"}, m


def test_the_engine_imports_only_its_own_modules_and_the_standard_library(tmp_path):
    """Imported from the launcher's private copy, with no site-packages at all (-S -I): an
    engine module that reached for a host module, or for a package outside the standard
    library at import time, fails here."""
    root = launch.engine_root(cache=tmp_path)
    copied = sorted(p.relative_to(root / "tfcanary").as_posix() for p in (root / "tfcanary").rglob("*.py"))
    assert copied == sorted(p.as_posix() for p in launch.engine_files())
    engine = sorted(f"tfcanary._engine.{p.stem}" for p in (PACKAGE / "_engine").glob("*.py")
                    if p.stem != "__init__")
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "before = set(sys.modules)\n"
        f"for m in {engine!r}:\n"
        "    __import__(m)\n"
        "new = sorted(set(sys.modules) - before)\n"
        "print(json.dumps({'ours': [m for m in new if m.startswith('tfcanary')],\n"
        "                  'other': [m for m in new if not m.startswith('tfcanary')\n"
        "                            and m.split('.')[0] not in sys.stdlib_module_names]}))\n")
    proc = subprocess.run([sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    allowed = {"tfcanary", "tfcanary._engine"} | set(engine) | {
        f"tfcanary.{Path(m).stem}" for m in launch.ENGINE_MODULES if m != "__init__.py"}
    assert set(got["ours"]) <= allowed and set(engine) <= set(got["ours"])
    assert got["other"] == []


def test_the_engine_copy_is_made_once_per_content_and_holds_tfcanary_alone(tmp_path):
    a = launch.engine_root(cache=tmp_path)
    assert launch.engine_root(cache=tmp_path) == a
    assert sorted(p.name for p in a.iterdir()) == ["tfcanary"]
    cmd = launch.command("/env/bin/python", "probe", ["--label", "x"], root=a)
    assert cmd[:3] == ["/env/bin/python", str(a / "tfcanary" / "_engine" / "main.py"), "probe"]


def test_the_engine_does_not_see_the_hosts_python_path():
    env = launch.environ({"TF_USE_LEGACY_KERAS": "1"}, base={"PYTHONPATH": "/host/site-packages",
                                                            "PYTHONHOME": "/host", "PATH": "/bin"})
    assert env == {"PATH": "/bin", "TF_USE_LEGACY_KERAS": "1"}


def test_a_script_run_by_path_cannot_import_the_engines_modules_by_bare_name(tmp_path):
    """main.py replaces its own folder on sys.path by the folder above tfcanary: a user's
    ``import timing`` or ``import probe`` must not find the engine's modules."""
    root = launch.engine_root(cache=tmp_path)
    probe = launch.command(sys.executable, "probe", [], root=root)
    code = ("import sys, runpy\n"
            f"sys.argv = [{probe[1]!r}, 'nothing']\n"
            f"sys.path.insert(0, {str(Path(probe[1]).parent)!r})\n"
            "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "import importlib.util\n"
            "print(importlib.util.find_spec('timing') is None, importlib.util.find_spec('probe') is None)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["True", "True"], out.stderr
