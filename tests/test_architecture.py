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


def nodes(src: Path, outside: str | None = None):
    """(where, node) for every AST node of every module under ``src``, except those in the package
    ``outside``; ``where`` is "path:line"."""
    for path in src.rglob("*.py"):
        if outside is not None and outside in path.relative_to(src).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            yield f"{path.relative_to(src)}:{getattr(node, 'lineno', 0)}", node


def test_no_agent_is_probed_outside_algos():
    """Outside algos/, getattr/hasattr never take an agent (or a name bound to one) as their object."""
    suspects = [f"{where}: {ast.unparse(node)}" for where, node in nodes(SRC, outside="algos")
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                and re.search(r"agent|learner|\bguide\b", ast.unparse(node.args[0]))]
    assert not suspects, suspects


LAYERS = [  # lowest first (docs/architecture.md, "Layers"); a package imports only from layers below its own
    {"errors", "_gl", "_malloc", "_lazy"},
    {"fileio"},
    {"envs", "nets"},
    {"buffers", "evaluate"},  # storage; policy rollouts and plots (the runner's and distillation's)
    {"algos"},
    {"train"},
    {"deploy", "sweep", "runs"},  # what reads run directories
    {"api"},  # visuomotor.train(...)
    {"cli", "visuomotor"},  # the command line; the root package's names
    {"__main__"},
]


def package_edges(src: Path) -> set[tuple[str, str]]:
    """(package, package) for every import statement between two of visuomotor's top-level packages or
    modules (function-level imports included), from scripts/import_cycles.py's graph."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import import_cycles
    finally:
        sys.path.pop(0)
    mods = import_cycles.modules(src)
    top = lambda m: m.split(".")[1] if "." in m else m  # noqa: E731
    return {(top(m), top(t)) for m, p in mods.items() for t in import_cycles.imports(m, p, set(mods))
            if top(m) != top(t)}


def upward(edges) -> list[str]:
    layer = {p: i for i, ps in enumerate(LAYERS) for p in ps}
    missing = {p for e in edges for p in e} - set(layer)
    assert not missing, f"packages with no layer in LAYERS: {missing}"
    return sorted(f"{a} -> {b}" for a, b in edges if layer[a] <= layer[b])


def test_packages_import_only_downward():
    assert upward(package_edges(SRC)) == []


def test_the_layer_check_finds_an_upward_import(tmp_path):
    pkg = tmp_path / "visuomotor"
    for sub in ("buffers", "train"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "train" / "config.py").write_text("X = 1\n")
    (pkg / "buffers" / "datasets.py").write_text("def f():\n    from visuomotor.train.config import X\n")
    assert upward(package_edges(pkg)) == ["buffers -> train"]


def private_env_reads(src: Path) -> list[str]:
    """Outside envs/, reads of an env's (or its wrappers' / unwrapped adapter's) private attributes:
    ``env._x``, ``env.unwrapped._x``, ``getattr(base, "_x")`` on a name bound to an env."""
    envish = re.compile(r"\benv\b|\benvs\b|unwrapped|\bbase\b|\bpixels\b|\bwrapper\b|\bdm_env\b")
    private = lambda name: name.startswith("_") and not name.startswith("__")  # noqa: E731
    found = []
    for where, node in nodes(src, outside="envs"):
        if isinstance(node, ast.Attribute) and private(node.attr):
            target = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and private(str(node.args[1].value))):
            target = node.args[0]
        else:
            continue
        if envish.search(ast.unparse(target)):
            found.append(f"{where}: {ast.unparse(node)}")
    return found


def test_nothing_outside_envs_reads_an_envs_private_attributes():
    """What other packages need from a simulator is envs/simulator.py's declared contract."""
    assert private_env_reads(SRC) == []


def test_the_private_read_check_finds_one(tmp_path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "contract.py").write_text(
        "def f(env):\n    base = env.unwrapped\n    return base._act_low, getattr(base, '_env', None)\n")
    assert len(private_env_reads(tmp_path)) == 2


def test_no_module_imports_anothers_private_names():
    """``from visuomotor.x import _name`` nowhere: what modules share is public (e.g. DrQ-v2's trunk is
    nets.conv.trunk; FastTD3 and FastSAC share algos/fast_common.py)."""
    found = [f"{where}: {a.name}" for where, node in nodes(SRC)
             if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("visuomotor")
             for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


def family_branches(src: Path) -> list[str]:
    """Outside nets/, comparisons with a network family's name (``net == "simbav2"``, ``kind != "mlp"``)."""
    from visuomotor.nets.families import FAMILIES

    return [f"{where}: {ast.unparse(node)}" for where, node in nodes(src, outside="nets")
            if isinstance(node, ast.Compare) and any(isinstance(c, ast.Constant) and c.value in FAMILIES
                                                     for c in [node.left, *node.comparators])]


def test_no_branch_on_a_network_family_outside_nets():
    """An algorithm asks its config's family for networks and reads what the family declares."""
    assert family_branches(SRC) == []


def test_the_family_branch_check_finds_one(tmp_path):
    (tmp_path / "algos").mkdir()
    (tmp_path / "algos" / "x.py").write_text("def f(cfg):\n    return cfg.net != 'mlp'\n")
    assert len(family_branches(tmp_path)) == 1


def precision_contexts(src: Path) -> list[str]:
    """Under algos/, ``torch.autocast(...)`` calls: an algorithm's losses hold no precision code, its bf16
    switch wraps them from outside (``nets.switches``)."""
    return [f"{where}: {ast.unparse(node)}" for where, node in nodes(src)
            if "algos" in where.split(":")[0].split("/") and isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("autocast")]


def test_no_algorithm_opens_a_precision_context():
    assert precision_contexts(SRC) == []


def test_the_precision_context_check_finds_one(tmp_path):
    (tmp_path / "algos").mkdir()
    (tmp_path / "algos" / "x.py").write_text("import torch\ndef loss(x):\n    with torch.autocast('cpu'):\n"
                                             "        return x\n")
    assert len(precision_contexts(tmp_path)) == 1
