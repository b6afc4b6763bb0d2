"""The architecture's promises that can be checked statically: no import cycles, and no probing of
agents with getattr/hasattr outside ``algos/`` (the agent contract is declared in ``algos/base.py``)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "visuomotor"


def test_no_import_cycles():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_cycles.py"), str(SRC)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 cycles" in proc.stdout


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg import b\n")  # a deferred import counts
    (pkg / "b.py").write_text("from pkg.a import f\n")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_cycles.py"), str(pkg)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "pkg.a <-> pkg.b" in proc.stdout


def test_no_agent_is_probed_outside_algos():
    """Outside algos/, getattr/hasattr never take an agent (or a name bound to one) as their object."""
    suspects = []
    for path in SRC.rglob("*.py"):
        if "algos" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
                target = ast.unparse(node.args[0])
                if re.search(r"agent|learner|\bguide\b", target):
                    suspects.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert not suspects, suspects
