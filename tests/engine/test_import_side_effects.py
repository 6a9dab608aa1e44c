"""``import sgdetr`` registers components and changes nothing else: MMEngine's
file backends and checkpoint loaders, ``HistoryBuffer``'s pickling and torch's
weights-only allow-list are the same before and after (checked in a fresh
interpreter, where nothing has imported the package yet)."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = r'''
import json, sys
import torch
from mmengine.fileio.backends import registry_utils
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


def state():
    return dict(
        backends={k: repr(v) for k, v in registry_utils.backends.items()},
        prefixes={k: repr(v) for k, v in registry_utils.prefix_to_backends.items()},
        loaders={k: repr(v) for k, v in CheckpointLoader._schemes.items()},
        history_buffer={k: repr(HistoryBuffer.__dict__.get(k)) for k in
                        ('__getstate__', '__setstate__', '__reduce__', '__reduce_ex__')},
        safe_globals=sorted(map(repr, torch.serialization.get_safe_globals())))


before = state()
import sgdetr  # noqa: E402
after = state()
json.dump(dict(before=before, after=after, file=sgdetr.__file__), sys.stdout)
'''


def test_import_changes_neither_mmengine_nor_torch():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO / 'projects'), str(REPO),
                                         env.get('PYTHONPATH', '')])
    out = subprocess.run([sys.executable, '-c', PROBE], env=env, check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out)
    before, after = result['before'], result['after']
    assert Path(result['file']).resolve().is_relative_to(REPO)
    # the only addition: the atomic backend, under its own name and no prefix
    added = set(after['backends']) - set(before['backends'])
    assert added == {'sgdetr_atomic_local'}
    assert {k: after['backends'][k] for k in before['backends']} == before['backends']
    for key in ('prefixes', 'loaders', 'history_buffer', 'safe_globals'):
        assert after[key] == before[key], key
