"""Start-up check of a config: every key means something.

MMEngine accepts any top-level name and builds hooks lazily, so a typo is
silently ignored (``max_epochs = 3`` next to ``train_cfg.max_epochs=16``) or
crashes hours later (``default_hooks.checkpoint.intervl=5`` fails at the
first checkpoint save). :func:`check_config` rejects, before anything is
built:

- a top-level name of the config file given to the tool, when that file has
  bases, that the runner does not read and that the file itself never uses.
  Config files are evaluated one by one, each only seeing its own names (and
  ``_base_.x``), so such a name changes nothing; the message lists the
  settings of the base files that read it. Names starting with ``_`` are the
  file's own helpers, the top-level names of *base* files are exports that a
  config may or may not use, and a config without bases (such as the one a
  run dumps into its work dir) has its variables substituted already, so
  none of those is reported;
- ``--cfg-options`` on a name the runner does not read (a variable already
  substituted: overriding it changes nothing, e.g. ``max_epochs=3`` instead
  of ``train_cfg.max_epochs=3``);
- an option of a hook or a loop that its class does not take (checked
  against ``inspect.signature`` of the class, following ``**kwargs`` where
  they go: ``CheckpointHook`` passes them to ``Runner.save_checkpoint``,
  ``EMAHook`` to its averaging model);
- the same inside the components the runner builds from a registry (the
  model and every component in it, the optimizer wrapper and optimizer, the
  schedulers, the datasets, their samplers and pipelines, the metrics): an
  unknown ``type`` or option is named by its path
  (``model.detr_head.num_querys``), where MMEngine would end in a bare
  ``KeyError`` or ``TypeError`` when it builds it.

Every problem is reported at once, with a suggestion for near-miss names.
"""
import ast
import difflib
import inspect
import os.path as osp
import re
from typing import Iterable, List, Optional, Sequence, Set, Tuple

from mmengine.config import Config
from mmengine.registry import (DATA_SAMPLERS, DATASETS, HOOKS, LOOPS, METRICS, MODELS, RUNNERS,
                               OPTIM_WRAPPERS, OPTIMIZERS, PARAM_SCHEDULERS, TASK_UTILS,
                               TRANSFORMS)
from mmengine.runner import Runner

from ..errors import ConfigError

#: names outside the runner's arguments that MMEngine itself reads
_MMENGINE_KEYS = {'_base_', 'custom_imports', 'runner_type', 'gpu_ids', 'filename',
                  '_deprecation_'}
_CFG_READ = re.compile(r"(?:(?<![\w.])cfg|self\.cfg)(?:\.get\(|\[)\s*['\"](\w+)['\"]")


def runner_class(cfg: Config) -> type:
    """The runner class ``runner_type`` names (``SGDETRRunner``, that of the
    tools, when it names none), looked up by name in the registry so that
    this module needs no import of the runner (which imports it)."""
    name = cfg.get('runner_type') or 'SGDETRRunner'
    with RUNNERS.switch_scope_and_registry(cfg.get('default_scope') or 'sgdetr') as scoped:
        found = scoped.get(name)
    return found if isinstance(found, type) else Runner


def runner_keys(runner_cls=Runner) -> Set[str]:
    """The top-level config names a runner reads: those its ``from_cfg`` and
    methods look up (``cfg.get('x')``, ``cfg['x']``), read from the source of
    the class and its bases."""
    keys = set(_MMENGINE_KEYS)
    for cls in inspect.getmro(runner_cls):
        if cls is object:
            continue
        try:
            keys.update(_CFG_READ.findall(inspect.getsource(cls)))
        except (OSError, TypeError):
            continue
    return keys


# --------------------------------------------------------------------------
# the config files


def _parse(path: str) -> Optional[ast.Module]:
    try:
        with open(path, encoding='utf-8') as handle:
            return ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _assigned(module: ast.Module) -> List[Tuple[str, ast.AST]]:
    """(name, value) of the module's top-level assignments, in order."""
    found = []
    for node in module.body:
        targets, value = [], getattr(node, 'value', None)
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    found.append((name.id, value))
    return found


def _loaded_names(module: ast.Module) -> Set[str]:
    loaded = {n.id for n in ast.walk(module)
              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    loaded |= {n.target.id for n in ast.walk(module)
               if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)}
    return loaded


def _base_files(path: str, module: ast.Module) -> List[str]:
    for name, value in _assigned(module):
        if name == '_base_' and value is not None:
            try:
                bases = ast.literal_eval(value)
            except ValueError:
                return []
            bases = [bases] if isinstance(bases, str) else list(bases)
            # package-scoped bases ('mmdet::...') are not followed
            return [osp.normpath(osp.join(osp.dirname(path), b)) for b in bases
                    if isinstance(b, str) and '::' not in b]
    return []


def config_files(path: str) -> List[str]:
    """The config file and all its local bases, the file first."""
    order, stack = [], [osp.abspath(path)]
    while stack:
        current = stack.pop(0)
        if current in order:
            continue
        order.append(current)
        module = _parse(current)
        if module is not None:
            stack += _base_files(current, module)
    return order


def _uses(node: ast.AST, name: str, path: str) -> List[str]:
    """Where ``name`` is read inside the expression ``node``, as setting paths
    (``train_cfg.max_epochs``, ``param_scheduler[1].end``)."""
    if isinstance(node, ast.Name):
        return [path] if node.id == name and isinstance(node.ctx, ast.Load) else []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict':
        found = []
        for arg in node.args:
            found += _uses(arg, name, path)
        for keyword in node.keywords:
            inner = path if keyword.arg is None else f'{path}.{keyword.arg}'
            found += _uses(keyword.value, name, inner)
        return found
    if isinstance(node, ast.Dict):
        found = []
        for key, value in zip(node.keys, node.values):
            if key is None:
                found += _uses(value, name, path)
            elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                found += _uses(value, name, f'{path}.{key.value}')
            else:
                found += _uses(value, name, path)
        return found
    if isinstance(node, (ast.List, ast.Tuple)):
        found = []
        for index, element in enumerate(node.elts):
            found += _uses(element, name, f'{path}[{index}]')
        return found
    found = []
    for child in ast.iter_child_nodes(node):
        found += _uses(child, name, path)
    return found


def settings_using(name: str, files: Iterable[str], keys: Set[str]) -> List[str]:
    """``file: setting`` for every top-level setting of ``files`` that reads
    ``name``; a variable that reads it is followed to the settings that read
    that variable in the same file."""
    found = []
    for path in files:
        module = _parse(path)
        if module is None:
            continue
        assignments = _assigned(module)

        def expand(variable, seen):
            paths = []
            for target, value in assignments:
                if value is None:
                    continue
                for used in _uses(value, variable, target):
                    if target in keys or target in seen:
                        paths.append(used)
                    else:  # a variable: where this file reads it in turn
                        inner = expand(target, seen | {target})
                        suffix = used[len(target):]
                        paths += [p + suffix for p in inner] or [used]
            return paths

        for setting in dict.fromkeys(expand(name, {name})):
            found.append(f'{_display(path)}: {setting}')
    return found


def _display(path: str) -> str:
    relative = osp.relpath(path)
    return path if relative.startswith('..') else relative


# --------------------------------------------------------------------------
# checks


def _top_level_problems(cfg: Config, keys: Set[str]) -> List[str]:
    filename = cfg.filename
    if not filename or not filename.endswith('.py'):
        return []
    module = _parse(filename)
    if module is None or Config._is_lazy_import(filename):
        return []
    files = config_files(filename)
    if len(files) == 1:
        # no base: a complete config (e.g. the one a run dumps into its work
        # dir), whose variables are already substituted where they are used
        return []
    loaded = _loaded_names(module)
    problems = []
    for name in dict.fromkeys(n for n, _ in _assigned(module)):
        if name in keys or name.startswith('_') or name in loaded:
            continue
        where = settings_using(name, files[1:], keys)
        if where:
            hint = ('; it is read by ' + ', '.join(where) +
                    ': set those settings here instead')
            if name == 'max_epochs':
                hint += ' (train_cfg = dict(max_epochs=...))'
        else:
            close = difflib.get_close_matches(name, sorted(keys), n=1)
            hint = (' and is not a setting the runner reads'
                    + (f' (did you mean {close[0]!r}?)' if close else ''))
        problems.append(
            f'{_display(filename)}: `{name} = ...` has no effect: config files are '
            f'evaluated one by one and each sees only its own names, and this file never '
            f'uses `{name}`{hint}')
    return problems


def _cfg_option_problems(cfg: Config, cfg_options: Optional[dict], keys: Set[str]) -> List[str]:
    problems = []
    files = config_files(cfg.filename) if cfg.filename else []
    for option in cfg_options or {}:
        top = str(option).split('.')[0]
        if top in keys:
            continue
        where = settings_using(top, files, keys) if files else []
        if where:
            problems.append(
                f'--cfg-options {option}: `{top}` is a config variable, substituted when '
                f'the config files were read; overriding it changes nothing. Override '
                f'the settings that read it instead: {", ".join(where)}')
        else:
            close = difflib.get_close_matches(top, sorted(keys), n=1)
            problems.append(f'--cfg-options {option}: `{top}` is not a setting the runner '
                            'reads' + (f' (did you mean {close[0]!r}?)' if close else ''))
    return problems


def _signature_names(function, skip: Sequence[str] = ()) -> Tuple[Set[str], bool]:
    """(named parameters, whether it takes **kwargs)."""
    parameters = inspect.signature(function).parameters.values()
    names = {p.name for p in parameters
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {'self', *skip}
    return names, any(p.kind == p.VAR_KEYWORD for p in parameters)


def _accepted_options(cls, cfg: dict, scope: str) -> Optional[Set[str]]:
    """The option names ``cls(**options)`` accepts; None when its **kwargs
    go somewhere this check cannot follow."""
    if cls.__init__ is object.__init__:
        return set()
    names, var_keyword = _signature_names(cls.__init__)
    if not var_keyword:
        return names
    if issubclass(cls, HOOKS.get('CheckpointHook')):
        # forwarded to Runner.save_checkpoint, whose arguments the hook sets itself
        return names
    if issubclass(cls, HOOKS.get('EMAHook')):
        with MODELS.switch_scope_and_registry(scope) as registry:
            averaging = registry.get(cfg.get('ema_type', 'ExponentialMovingAverage'))
        if averaging is None:
            return None
        extra, more = _signature_names(averaging.__init__, skip=('model', ))
        return None if more else names | extra
    for base in inspect.getmro(cls)[1:]:  # cooperative **kwargs: the bases' names
        if base.__init__ is object.__init__:
            return None
        extra, var_keyword = _signature_names(base.__init__)
        names |= extra
        if not var_keyword:
            return names
    return None


def _option_problems(where: str, cfg, registry, scope: str, skip: Iterable[str],
                     default_type=None) -> List[str]:
    if cfg is None or not isinstance(cfg, dict):
        return []
    hook_type = cfg.get('type', default_type)
    if hook_type is None:
        return [f'{where}: no `type`']
    if isinstance(hook_type, str):
        with registry.switch_scope_and_registry(scope) as scoped:
            cls = scoped.get(hook_type)
        if cls is None:
            return [f'{where}: unknown type {hook_type!r} (not in the {registry.name} '
                    'registry)']
    else:
        cls = hook_type
    if not inspect.isclass(cls):
        return []
    accepted = _accepted_options(cls, cfg, scope)
    if accepted is None:
        return []
    unknown = [k for k in cfg if k not in accepted and k not in ('type', *skip)]
    problems = []
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(accepted), n=1)
        problems.append(f'{where}.{key}: {cls.__name__} has no option {key!r}'
                        + (f' (did you mean {close[0]!r}?)' if close else '')
                        + f'; its options are {sorted(accepted)}')
    return problems


def _hook_and_loop_problems(cfg: Config) -> List[str]:
    scope = cfg.get('default_scope') or 'mmengine'
    problems = []
    default_hooks = cfg.get('default_hooks') or {}
    for name, hook in default_hooks.items():
        problems += _option_problems(f'default_hooks.{name}', hook, HOOKS, scope,
                                     skip=('priority', ))
    for index, hook in enumerate(cfg.get('custom_hooks') or []):
        problems += _option_problems(f'custom_hooks[{index}]', hook, HOOKS, scope,
                                     skip=('priority', ))
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict) and train_cfg:
        default = ('EpochBasedTrainLoop' if train_cfg.get('by_epoch', True)
                   else 'IterBasedTrainLoop')
        problems += _loop_problems('train_cfg', train_cfg, scope, default,
                                   ('runner', 'dataloader'), skip=('by_epoch', ))
    for split, default in (('val', 'ValLoop'), ('test', 'TestLoop')):
        loop = cfg.get(f'{split}_cfg')
        if isinstance(loop, dict) and loop:
            problems += _loop_problems(f'{split}_cfg', loop, scope, default,
                                       ('runner', 'dataloader', 'evaluator'))
    return problems


def _loop_problems(where, loop, scope, default, given, skip=()) -> List[str]:
    loop_type = loop.get('type', default)
    if isinstance(loop_type, str):
        with LOOPS.switch_scope_and_registry(scope) as scoped:
            cls = scoped.get(loop_type)
        if cls is None:
            return [f'{where}: unknown loop type {loop_type!r}']
    else:
        cls = loop_type
    names, var_keyword = _signature_names(cls.__init__, skip=given)
    if var_keyword:
        return []
    problems = []
    for key in loop:
        if key in names or key in ('type', *skip):
            continue
        close = difflib.get_close_matches(key, sorted(names), n=1)
        problems.append(f'{where}.{key}: {cls.__name__} has no option {key!r}'
                        + (f' (did you mean {close[0]!r}?)' if close else '')
                        + f'; its options are {sorted(names)}')
    return problems


#: the registry of a component by the argument that holds it (else its parent's)
_CHILD_REGISTRY = {'optimizer': OPTIMIZERS, 'pipeline': TRANSFORMS, 'sampler': DATA_SAMPLERS,
                   'dataset': DATASETS, 'datasets': DATASETS}
#: where else a component inside the model may be registered
_FALLBACK_REGISTRIES = (MODELS, TASK_UTILS)
#: arguments consumed by MMEngine's builders, not passed to the class
_BUILDER_KEYS = ('_scope_', 'paramwise_cfg', 'constructor', 'convert_to_iter_based')


def _registered(registry, scope: str, name: str):
    with registry.switch_scope_and_registry(scope) as scoped:
        return scoped.get(name)


def _registered_names(registry, scope: str) -> Set[str]:
    names = set()
    with registry.switch_scope_and_registry(scope) as scoped:
        while scoped is not None:
            names |= set(scoped.module_dict)
            scoped = scoped.parent
    return names


def _component_problems(cfg: Config) -> List[str]:
    scope = cfg.get('default_scope') or 'mmengine'
    problems = []

    def walk(where, node, registry):
        if isinstance(node, (list, tuple)):
            for index, item in enumerate(node):
                walk(f'{where}[{index}]', item, registry)
            return
        if not isinstance(node, dict):
            return
        kind = node.get('type')
        if isinstance(kind, str):
            found = next((r for r in (registry, *_FALLBACK_REGISTRIES)
                          if _registered(r, scope, kind) is not None), None)
            if found is None:
                close = difflib.get_close_matches(kind, sorted(_registered_names(registry, scope)),
                                                  n=1)
                problems.append(f'{where}.type: unknown type {kind!r} (not in the '
                                f'{registry.name} registry'
                                + (f'; did you mean {close[0]!r}?)' if close else ')'))
                return
            problems.extend(_option_problems(where, node, found, scope, skip=_BUILDER_KEYS))
        for key, value in node.items():
            if key not in ('type', 'init_cfg'):
                walk(f'{where}.{key}', value, _CHILD_REGISTRY.get(key, registry))

    walk('model', cfg.get('model'), MODELS)
    walk('optim_wrapper', cfg.get('optim_wrapper'), OPTIM_WRAPPERS)
    walk('param_scheduler', cfg.get('param_scheduler'), PARAM_SCHEDULERS)
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            for key in ('dataset', 'sampler'):
                walk(f'{split}_dataloader.{key}', loader.get(key), _CHILD_REGISTRY[key])
        if split != 'train':
            walk(f'{split}_evaluator', cfg.get(f'{split}_evaluator'), METRICS)
    return problems


def check_config(cfg: Config, cfg_options: Optional[dict] = None, runner_cls=None) -> None:
    """Reject config keys that would be ignored or fail later (see the module
    documentation).

    Args:
        cfg: the config, ``--cfg-options`` merged in.
        cfg_options: the ``--cfg-options`` given (their names are checked).
        runner_cls: the runner that will read the config (default: the one
            ``runner_type`` names, else :class:`sgdetr.engine.SGDETRRunner`).

    Raises:
        ConfigError: listing every problem.
    """
    if runner_cls is None:
        runner_cls = runner_class(cfg)
    keys = runner_keys(runner_cls)
    problems = (_top_level_problems(cfg, keys) + _cfg_option_problems(cfg, cfg_options, keys)
                + _hook_and_loop_problems(cfg) + _component_problems(cfg))
    if problems:
        name = _display(cfg.filename) if cfg.filename else 'the config'
        raise ConfigError(f'{name}: {len(problems)} setting(s) would be ignored or fail '
                          'later:\n  ' + '\n  '.join(problems))
