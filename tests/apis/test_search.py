"""MomentSearcher: index build, incremental updates, resume, refusal of another
model, atomic updates, the two search stages, VCMR metrics and tools/search.py."""
import importlib.util
import os

import numpy as np
import pytest
import torch

import search_library as lib
from sgdetr.apis import MomentPredictor, MomentSearcher
from sgdetr.evaluation.functional import eval_vcmr, video_recall
from sgdetr.search import IndexMismatchError, IndexStore
from sgdetr.search.embedding import ModelEmbedding

PLANTED = ('long', 150, 158)  # clips: 300-316 s of a 380 s video, in its last window


@pytest.fixture(scope='module')
def planted_library(tmp_path_factory):
    return lib.write_library(tmp_path_factory.mktemp('planted'), planted=PLANTED)


@pytest.fixture(scope='module')
def zero_shot_index(planted_library, tmp_path_factory):
    searcher = MomentSearcher(str(tmp_path_factory.mktemp('zs') / 'index'), lib.zero_shot_cfg())
    searcher.index(planted_library, progress=False)
    return searcher


@pytest.fixture(scope='module')
def tiny_model(tmp_path_factory):
    cfg = lib.tiny_sgdetr_cfg()
    return cfg, lib.tiny_checkpoint(cfg, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


def table_rows(searcher):
    """vid -> its rows (int8 and scales), as committed."""
    table = searcher.table()
    return {vid: (np.array(table.rows[start:start + count]),
                  np.array(table.scales[start:start + count]))
            for vid, start, count in zip(table.vids, table.row_start, table.num_rows)}


def assert_same_rows(actual, expected):
    assert sorted(actual) == sorted(expected)
    for vid in expected:
        np.testing.assert_array_equal(actual[vid][0], expected[vid][0])
        np.testing.assert_array_equal(actual[vid][1], expected[vid][1])


def test_clip_embeddings_are_the_projection_of_the_window_they_are_read_in(tiny_model):
    cfg, checkpoint = tiny_model
    predictor = MomentPredictor(cfg, checkpoint)
    embedding = ModelEmbedding(predictor, lib.DIM, lib.DIM)
    assert embedding.window_clips == 75 and embedding.dim == 16
    features = np.random.default_rng(0).standard_normal((190, lib.DIM)).astype(np.float32)
    clips = embedding.clips(features)
    encoder = predictor.model.encoder
    blank = np.zeros((1, lib.DIM), np.float32)
    for start, first, last in ((0, 0, 75), (75, 75, 150), (115, 150, 190)):
        prepared = predictor.prepare(features[start:start + 75], blank)['inputs']['video']
        with torch.no_grad():
            expected = torch.nn.functional.normalize(encoder.video_proj(prepared[None])[0], dim=-1)
        torch.testing.assert_close(clips[first:last], expected[first - start:last - start])
    segments = embedding.segments(features, 8)
    assert segments.shape == (24, 16) and segments.dtype == np.float32
    np.testing.assert_allclose(segments[-1], clips[184:].mean(0).numpy(), atol=1e-6)


def test_int8_rows_keep_the_dot_products():
    from sgdetr.search.quantize import int8_scores, quantize_rows
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((500, 256)).astype(np.float32)
    rows *= rng.uniform(0.2, 1.0, (500, 1)) / np.linalg.norm(rows, axis=1, keepdims=True)
    query = torch.nn.functional.normalize(torch.randn(256), dim=0)
    quantized, scales = quantize_rows(rows)
    assert quantized.dtype == np.int8 and np.abs(quantized).max() == 127
    scores = int8_scores(torch.from_numpy(quantized), torch.from_numpy(scales).bfloat16(), query)
    exact = torch.from_numpy(rows) @ query
    assert float((scores - exact).abs().max()) < 5e-3


def test_planted_moment_is_the_top_moment_of_the_library(zero_shot_index):
    result = zero_shot_index.search(lib.planted_query(), top_k=5, num_candidates=4)
    top = result.moments[0]
    assert result.candidates[0].video == 'long' and top.video == 'long'
    assert 300 - 8 <= top.start and top.end <= 316 + 8 and top.end > top.start
    scores = [m.score for m in result.moments]
    assert scores == sorted(scores, reverse=True)
    assert set(result.timings) == {'query', 'first_stage', 'second_stage'}


def test_scores_do_not_depend_on_the_rest_of_the_library(planted_library, tmp_path):
    """A video's moments and their scores are the same whatever else is indexed."""
    query = lib.planted_query()
    full = MomentSearcher(str(tmp_path / 'full'), lib.zero_shot_cfg())
    full.index(planted_library, progress=False)
    everything = full.query(query, top_k=1000, num_candidates=100)
    for vid in ('long', 'alpha'):
        alone_dir = tmp_path / f'{vid}_alone'
        alone_dir.mkdir()
        os.link(os.path.join(planted_library, f'{vid}.npz'), alone_dir / f'{vid}.npz')
        alone = MomentSearcher(str(tmp_path / f'{vid}_index'), lib.zero_shot_cfg())
        alone.index(str(alone_dir), progress=False)
        assert [m for m in everything if m.video == vid] == alone.query(
            query, top_k=1000, num_candidates=100)


def test_index_records_files_and_skips_unchanged_ones(zero_shot_index, planted_library):
    table = zero_shot_index.table()
    assert sorted(table.vids) == sorted(v for v, _ in lib.VIDEOS)
    assert dict(zip(table.vids, table.num_rows.tolist()))['long'] == 24  # ceil(190 / 8)
    assert (table.owner >= 0).all()
    report = zero_shot_index.index(progress=False)  # the recorded library
    assert report['added'] == report['updated'] == report['removed'] == []
    assert sorted(report['unchanged']) == sorted(table.vids)


def test_incremental_update_adds_changes_and_removes(tmp_path):
    library = lib.write_library(tmp_path / 'lib')
    searcher = MomentSearcher(str(tmp_path / 'index'), lib.zero_shot_cfg())
    searcher.index(library, progress=False)
    before = table_rows(searcher)
    lib.write_video(library, 'echo', 20, seed=50)
    lib.touch(os.path.join(library, 'bravo.npz'), content_seed=51)
    os.remove(os.path.join(library, 'delta.npz'))
    assert (searcher.status().new, searcher.status().changed, searcher.status().removed) == (
        ['echo'], ['bravo'], ['delta'])
    report = searcher.index(progress=False)
    assert (report['added'], report['updated'], report['removed']) == (['echo'], ['bravo'],
                                                                       ['delta'])
    after = table_rows(searcher)
    fresh = MomentSearcher(str(tmp_path / 'fresh'), lib.zero_shot_cfg())
    fresh.index(library, progress=False)
    assert_same_rows(after, table_rows(fresh))
    np.testing.assert_array_equal(after['alpha'][0], before['alpha'][0])
    assert not np.array_equal(after['bravo'][0], before['bravo'][0])


def test_touched_file_with_same_content_is_not_reembedded_with_hash(tmp_path):
    library = lib.write_library(tmp_path / 'lib', videos=lib.VIDEOS[:2])
    searcher = MomentSearcher(str(tmp_path / 'index'), lib.zero_shot_cfg())
    searcher.index(library, detect='hash', progress=False)
    rows = len(searcher.table().owner)
    lib.touch(os.path.join(library, 'alpha.npz'))
    assert searcher.status(detect='stat').changed == ['alpha']
    report = searcher.index(detect='hash', progress=False)
    assert report['updated'] == [] and sorted(report['unchanged']) == ['alpha', 'bravo']
    assert len(searcher.table().owner) == rows
    searcher.query(lib.planted_query(), top_k=1, num_candidates=2)  # not stale any more


def test_compaction_drops_dead_rows(tmp_path):
    library = lib.write_library(tmp_path / 'lib', videos=lib.VIDEOS[:3])
    searcher = MomentSearcher(str(tmp_path / 'index'), lib.zero_shot_cfg())
    searcher.index(library, progress=False)
    lib.touch(os.path.join(library, 'alpha.npz'), content_seed=60)
    searcher.index(library, progress=False)  # 4 of 13 rows dead: kept
    assert (searcher.table().owner < 0).sum() == 4
    for seed, vid in enumerate(('bravo', 'charlie')):
        lib.touch(os.path.join(library, f'{vid}.npz'), content_seed=61 + seed)
    searcher.index(library, progress=False)  # 13 of 26 rows dead: compacted
    table = searcher.table()
    assert (table.owner >= 0).all() and len(table.owner) == table.num_rows.sum()
    files = sorted(f for f in os.listdir(tmp_path / 'index') if f.endswith(('.i8', '.f4')))
    assert files == ['embeddings-000002.i8', 'scales-000002.f4']


def test_resume_after_a_kill_equals_an_uninterrupted_build(tmp_path, monkeypatch):
    library = lib.write_library(tmp_path / 'lib')
    killed = MomentSearcher(str(tmp_path / 'index'), lib.zero_shot_cfg())
    segments, calls = killed.embedding.segments, []

    def dies_on_the_fourth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return segments(*args, **kwargs)
    monkeypatch.setattr(killed.embedding, 'segments', dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        killed.index(library, commit_every=2, progress=False)
    assert len(killed.table().vids) == 3  # 2 committed + the one embedded before the kill
    # a hard kill between writing rows and committing them: bytes past the committed end
    for name in ('embeddings-000001.i8', 'scales-000001.f4'):
        with open(os.path.join(tmp_path / 'index', name), 'ab') as handle:
            handle.write(b'\x01' * 1000)
    (tmp_path / 'index' / 'embeddings-000002.i8').write_bytes(b'\x02' * 64)  # a compaction's
    monkeypatch.undo()
    report = killed.index(progress=False)
    assert len(report['added']) == 2 and len(report['unchanged']) == 3
    fresh = MomentSearcher(str(tmp_path / 'fresh'), lib.zero_shot_cfg())
    fresh.index(library, progress=False)
    assert_same_rows(table_rows(killed), table_rows(fresh))
    assert not (tmp_path / 'index' / 'embeddings-000002.i8').exists()


def test_failed_update_leaves_the_index_as_it_was(tmp_path, monkeypatch):
    library = lib.write_library(tmp_path / 'lib', planted=PLANTED)
    searcher = MomentSearcher(str(tmp_path / 'index'), lib.zero_shot_cfg())
    searcher.index(library, progress=False)
    before = table_rows(searcher)
    candidates = searcher.first_stage(lib.planted_query(), 8)
    lib.write_video(library, 'echo', 20, seed=50)
    lib.touch(os.path.join(library, 'bravo.npz'), content_seed=51)

    def disk_full(self, *args):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(IndexStore, '_record', disk_full)  # rows written, commit fails
    with pytest.raises(OSError, match='No space left'):
        searcher.index(progress=False)
    monkeypatch.undo()
    assert_same_rows(table_rows(searcher), before)
    assert searcher.first_stage(lib.planted_query(), 8) == candidates
    report = searcher.index(progress=False)
    assert report['added'] == ['echo'] and report['updated'] == ['bravo']
    assert not np.array_equal(table_rows(searcher)['bravo'][0], before['bravo'][0])


def test_index_refuses_another_config_or_checkpoint(tmp_path, tiny_model):
    cfg, checkpoint = tiny_model
    library = lib.write_library(tmp_path / 'lib', videos=lib.VIDEOS[:2])
    index_dir = str(tmp_path / 'index')
    MomentSearcher(index_dir, cfg, checkpoint).index(library, progress=False)
    other_weights = lib.tiny_checkpoint(cfg, tmp_path / 'other.pth', seed=1)
    with pytest.raises(IndexMismatchError, match=r'checkpoint .*other\.pth.* here, .*tiny\.pth'):
        MomentSearcher(index_dir, cfg, other_weights)
    other_cfg = lib.tiny_sgdetr_cfg(**{'model.postprocess': dict(max_windows=5)})
    with pytest.raises(IndexMismatchError, match='built with another model: config'):
        MomentSearcher(index_dir, other_cfg, checkpoint)
    with pytest.raises(IndexMismatchError, match='segment_clips 8 in the index, 4 asked'):
        MomentSearcher(index_dir, cfg, checkpoint, segment_clips=4)
    searcher = MomentSearcher(index_dir, cfg, checkpoint)
    moments = searcher.query(lib.planted_query(), top_k=3, num_candidates=2)
    assert moments and {m.video for m in moments} <= {'alpha', 'bravo'}


def test_vcmr_recall_counts_the_right_video_and_overlap():
    gt = [dict(vid='a', relevant_windows=[[10, 20]]),
          dict(vid='b', relevant_windows=[[0, 10], [30, 40]])]
    predictions = [[('b', 10, 20), ('a', 11, 20), ('a', 10, 20)],
                   [('b', 31, 40)]]
    metrics = eval_vcmr(predictions, gt, top_k=(1, 2, 3), iou_thresholds=(0.5, 0.95))
    assert metrics['R1@0.5'] == 50.0  # 'b' right for query 2 only
    assert metrics['R2@0.5'] == 100.0 and metrics['R2@0.95'] == 0.0
    assert metrics['R3@0.95'] == 50.0
    assert video_recall([['b', 'a'], ['a']], ['a', 'b'], (1, 2)) == {'video_R@1': 0.0,
                                                                      'video_R@2': 50.0}


def test_search_tool_index_status_query(tmp_path, planted_library, capsys):
    spec = importlib.util.spec_from_file_location('search_tool', lib.REPO / 'tools' / 'search.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    config = tmp_path / 'zs.py'
    lib.zero_shot_cfg().dump(str(config))
    query = tmp_path / 'query.npy'
    np.save(query, lib.planted_query())
    index = str(tmp_path / 'index')
    assert tool.main(['index', '--index', index, '--library', planted_library,
                      '--config', str(config)]) == 0
    assert '5 added' in capsys.readouterr().out
    assert tool.main(['status', '--index', index]) == 0
    assert 'to add 0, to update 0, to remove 0' in capsys.readouterr().out
    out = tmp_path / 'moments.jsonl'
    assert tool.main(['query', '--index', index, '--query-features', str(query),
                      '--top-k', '2', '--out', str(out)]) == 0
    assert '  1  long' in capsys.readouterr().out
    assert '"video": "long"' in out.read_text()


def test_index_of_video_files_through_a_video_encoder(tmp_path, videos, torchscript_encoders):
    import shutil
    library = tmp_path / 'videos'
    library.mkdir()
    for name in ('rgb', 'wide'):
        shutil.copy(videos[name], library / f'{name}.mp4')
    encoder = dict(type='InternVideo2VideoEncoder', path=torchscript_encoders['video'],
                   device='cpu')
    searcher = MomentSearcher(str(tmp_path / 'index'), lib.zero_shot_cfg(), video_encoder=encoder)
    assert sorted(searcher.index(str(library), progress=False)['added']) == ['rgb', 'wide']
    table = searcher.table()
    assert dict(zip(table.vids, table.duration.tolist())) == {'rgb': 5.0, 'wide': 7.0}
    assert all(r.features == str(tmp_path / 'index' / 'features' / f'{r.vid}.pt')
               for r in table.records)
    moments = searcher.query(lib.planted_query(), top_k=3, num_candidates=2)
    assert moments and all(m.end <= dict(rgb=5.0, wide=7.0)[m.video] for m in moments)
