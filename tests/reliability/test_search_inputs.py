"""Bad input to a library search: each a clear error naming the file (or, for a
query past the text limit, the documented truncation with a warning)."""
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from sgdetr.apis import MomentSearcher
from sgdetr.errors import DataError
from sgdetr.search import IndexStore, StaleIndexError


def _load(name):
    if name not in sys.modules:
        path = Path(__file__).parents[1] / 'apis' / f'{name}.py'
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


lib = _load('search_library')
TWO = lib.VIDEOS[:2]


def searcher(tmp_path, name='index'):
    return MomentSearcher(str(tmp_path / name), lib.zero_shot_cfg())


@pytest.fixture
def indexed(tmp_path):
    library = lib.write_library(tmp_path / 'lib', videos=TWO)
    search = searcher(tmp_path)
    search.index(library, progress=False)
    return search, library


def test_empty_library(tmp_path):
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('not a feature file')
    with pytest.raises(DataError, match=r'empty: no video to index \(files ending in \.pt'):
        searcher(tmp_path).index(str(tmp_path / 'empty'), progress=False)
    assert not IndexStore.exists(str(tmp_path / 'index'))  # no empty index left behind
    with pytest.raises(DataError, match='missing: library directory not found'):
        searcher(tmp_path).index(str(tmp_path / 'missing'), progress=False)


def test_query_on_an_index_without_videos(indexed):
    search, library = indexed
    for name in os.listdir(library):
        os.remove(os.path.join(library, name))
    assert sorted(search.index(progress=False)['removed']) == ['alpha', 'bravo']
    with pytest.raises(DataError, match='index: the index holds no videos'):
        search.query(lib.planted_query())


def test_query_without_an_index(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere: no index here'):
        MomentSearcher(str(tmp_path / 'nowhere'), lib.zero_shot_cfg()).query(lib.planted_query())


def test_feature_file_of_another_dim(tmp_path):
    library = lib.write_library(tmp_path / 'lib', videos=TWO)
    lib.write_video(library, 'wide', 20, seed=3, dim=24)
    with pytest.raises(DataError, match=r'wide\.npz: clip features of dim 24, the index reads 16'):
        searcher(tmp_path).index(library, progress=False)


def test_stale_index_names_the_changed_or_removed_file(indexed):
    search, library = indexed
    lib.touch(os.path.join(library, 'alpha.npz'), content_seed=9)
    os.remove(os.path.join(library, 'bravo.npz'))
    with pytest.raises(StaleIndexError) as error:
        search.query(lib.planted_query(), num_candidates=2)
    message = str(error.value)
    assert ('alpha.npz: changed since it was indexed' in message
            or 'bravo.npz: removed since it was indexed' in message)
    assert 'update the index' in message


def test_query_past_the_text_limit_is_truncated_with_a_warning(indexed):
    search, _ = indexed
    tokens = np.concatenate([lib.planted_query(40), np.random.default_rng(1).standard_normal(
        (10, lib.DIM)).astype(np.float32)])
    with pytest.warns(UserWarning, match='50 tokens, the model reads the first 40 '
                      r'\(max_tokens of the config\)'):
        long = search.query(tokens, top_k=3, num_candidates=2)
    assert long == search.query(tokens[:40], top_k=3, num_candidates=2)
    with pytest.raises(ValueError, match='token features of dim 8, the model reads 16'):
        search.query(np.ones((3, 8), np.float32))


def test_video_of_one_clip(tmp_path):
    library = lib.write_library(tmp_path / 'lib', videos=TWO)
    lib.write_video(library, 'blink', 1, seed=4)
    with pytest.raises(DataError, match=r'blink\.npz: 1 clip \(2 s\); a video needs at least 2'):
        searcher(tmp_path).index(library, progress=False)


def test_duration_that_disagrees_with_the_features(tmp_path):
    library = lib.write_library(tmp_path / 'lib', videos=TWO)  # 30 and 41 clips of 2 s
    durations = tmp_path / 'durations.jsonl'
    durations.write_text(json.dumps(dict(vid='alpha', duration=60.0)) + '\n'
                         + json.dumps(dict(vid='bravo', duration=150.0)) + '\n')
    with pytest.raises(DataError, match=r'bravo\.npz: 41 clips, but the duration 150 s '
                       r'\(.*durations\.jsonl\) implies 75\.0 clips of 2 s'):
        searcher(tmp_path).index(library, durations=str(durations), progress=False)
    conflicting = tmp_path / 'conflicting.jsonl'
    conflicting.write_text(json.dumps(dict(vid='alpha', duration=60.0)) + '\n'
                           + json.dumps(dict(vid='alpha', duration=62.0)) + '\n')
    with pytest.raises(DataError, match=r'conflicting\.jsonl:2: duration 62 s of video .alpha.'):
        searcher(tmp_path).index(library, durations=str(conflicting), progress=False)


def test_skip_bad_reports_each_file_and_indexes_the_rest(tmp_path):
    library = lib.write_library(tmp_path / 'lib', videos=TWO)
    lib.write_video(library, 'blink', 1, seed=4)
    (Path(library) / 'broken.npz').write_bytes(b'not an archive')
    report = searcher(tmp_path).index(library, progress=False, skip_bad=True)
    assert sorted(report['added']) == ['alpha', 'bravo']
    skipped = '\n'.join(report['skipped'])
    assert 'blink: ' in skipped and 'blink.npz: 1 clip' in skipped
    assert 'broken.npz: cannot read feature file' in skipped
    assert sorted(searcher(tmp_path).table().vids) == ['alpha', 'bravo']
    lib.touch(Path(library) / 'alpha.npz')
    (Path(library) / 'alpha.npz').write_bytes(b'damaged')  # was indexed, now unreadable
    report = searcher(tmp_path).index(progress=False, skip_bad=True)
    assert report['updated'] == [] and 'alpha.npz: cannot read' in report['skipped'][0]
    assert sorted(searcher(tmp_path).table().vids) == ['bravo']  # no stale entry kept


def test_a_bad_file_stops_the_update_and_keeps_what_was_committed(tmp_path):
    library = lib.write_library(tmp_path / 'lib', videos=TWO)
    search = searcher(tmp_path)
    search.index(library, progress=False)
    lib.write_video(library, 'aaa_first', 12, seed=5)  # embedded before the bad one
    lib.write_video(library, 'blink', 1, seed=4)
    with pytest.raises(DataError, match='blink.npz: 1 clip'):
        search.index(progress=False)
    assert sorted(search.table().vids) == ['aaa_first', 'alpha', 'bravo']
