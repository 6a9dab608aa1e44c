"""The package's import graph: no circle between modules, no edge up the layers.

Every module under ``projects/sgdetr`` is parsed (not imported), so imports
inside functions count too: a circle hidden in a function still ties the two
modules together. The layers are those of ``docs/design.md``.
"""
import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'projects' / 'sgdetr'

#: bottom to top; a unit may import itself and the units of lower layers only
#: (units of one layer are peers and import neither each other)
LAYERS = (
    ('errors', 'version'),
    ('registry', ),
    ('structures', ),
    ('engine', ),
    ('datasets', 'models'),
    ('evaluation', ),
    ('extractors', 'search'),
    ('apis', ),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}
#: ``sgdetr/__init__.py`` imports the layers to register them: the top
TOP = len(LAYERS)

Edge = Tuple[str, str, int]  # (module, imported module, line)


def package_modules() -> Dict[str, Tuple[Path, bool]]:
    """``{dotted name: (file, is a package __init__)}`` of every module."""
    modules = {}
    for path in PACKAGE.rglob('*.py'):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
        is_package = parts[-1] == '__init__'
        modules['.'.join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _longest_module(name: str, modules) -> str:
    while name and name not in modules:
        name = name.rpartition('.')[0]
    return name


def import_edges(modules) -> List[Edge]:
    """Every import of a package module by a package module, wherever it is."""
    edges = []
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition('.')[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    parent = package.split('.')[:len(package.split('.')) - node.level + 1]
                    base = '.'.join(parent + ([node.module] if node.module else []))
                # `from pkg import module` imports that module; else pkg itself
                targets = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules
                           else base for alias in node.names]
            else:
                continue
            for target in targets:
                if target == 'sgdetr' or target.startswith('sgdetr.'):
                    edges.append((name, _longest_module(target, modules), node.lineno))
    return edges


def unit_of(module: str) -> str:
    """The layer unit of a module: its sub-package or top-level module."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def rank_of(module: str) -> int:
    return RANK[unit_of(module)] if unit_of(module) else TOP


def find_circles(edges: List[Edge]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph: Dict[str, Set[str]] = {}
    for source, target, _ in edges:
        if source != target:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


@pytest.fixture(scope='module')
def edges():
    return import_edges(package_modules())


def test_every_unit_has_a_layer():
    units = {unit_of(name) for name in package_modules()} - {''}
    assert units == set(RANK), 'give every sub-package a layer here and in docs/design.md'


def test_the_walk_sees_relative_imports(edges):
    assert ('sgdetr.apis', 'sgdetr.apis.inferencer', 1) in edges
    assert any(s == 'sgdetr.apis.inferencer' and t.startswith('sgdetr.extractors')
               for s, t, _ in edges)


#: what a function may import: the optional extras (and a POSIX-only module)
OPTIONAL_IMPORTS = {'av', 'decord', 'open_clip', 'transformers', 'matplotlib', 'tqdm',
                    'gradio', 'fcntl'}


def function_level_imports(path: Path) -> List[Tuple[str, int]]:
    """``(top-level module, line)`` of every import inside a function of ``path``."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                names = ([a.name for a in child.names] if isinstance(child, ast.Import)
                         else ['sgdetr' if child.level else (child.module or '')])
                found.extend([(n.split('.')[0], child.lineno) for n in names])
            visit(child, in_function or isinstance(child, (ast.FunctionDef,
                                                              ast.AsyncFunctionDef)))
    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def test_functions_import_optional_extras_only():
    bad = [f'{path.relative_to(PACKAGE.parent)}:{line} imports {name}'
           for path, _ in package_modules().values()
           for name, line in function_level_imports(path) if name not in OPTIONAL_IMPORTS]
    assert not bad, 'import at the top of the module (only optional extras wait):\n' + \
        '\n'.join(bad)


def test_function_level_walk_finds_an_import(tmp_path):
    module = tmp_path / 'm.py'
    module.write_text('import os\n\ndef f():\n    import json\n    from . import x\n')
    assert function_level_imports(module) == [('json', 4), ('sgdetr', 5)]


def test_no_import_circle(edges):
    assert find_circles(edges) == []


def test_circle_finder_finds_a_circle():
    circle = [('sgdetr.a', 'sgdetr.b', 1), ('sgdetr.b', 'sgdetr.c', 1),
              ('sgdetr.c', 'sgdetr.a', 1), ('sgdetr.c', 'sgdetr.d', 1)]
    assert find_circles(circle) == [['sgdetr.a', 'sgdetr.b', 'sgdetr.c']]


def test_no_import_goes_up_or_sideways_between_layers(edges):
    bad = [f'{s} -> {t} (line {line})'
           for s, t, line in edges
           if unit_of(s) != unit_of(t) and rank_of(t) >= rank_of(s)]
    assert bad == []


def test_design_notes_list_the_layers():
    design = (PACKAGE.parents[1] / 'docs' / 'design.md').read_text()
    for unit in RANK:
        assert f'`{unit}`' in design
