"""Loading samples with features: options, the pipeline, caching and clear
errors for bad feature files."""
import math
import shutil

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from dataset_test_utils import (RELEASED_PIPELINE, record, synthetic_args,
                                write_features, write_jsonl)
from sgdetr.datasets import (DataError, MomentRetrievalDataset,
                             QVHighlightsDataset)
from sgdetr.registry import DATASETS
from sgdetr.structures import MomentDataSample


def small_dataset(tmp_path, records=None, videos=None, queries=None,
                  dim_v=6, dim_t=5, **kwargs):
    """Records + matching random features under ``tmp_path``."""
    rng = np.random.default_rng(0)
    if records is None:
        records = [record(i, f'v{i % 3}', duration=20.0) for i in range(6)]
    if videos is None:
        videos = {r['vid']: rng.standard_normal((10, dim_v))
                  for r in records}
    if queries is None:
        queries = {r['qid']: rng.standard_normal((4, dim_t)) for r in records}
    write_jsonl(tmp_path / 'ann.jsonl', records)
    write_features(tmp_path, videos, queries)
    args = dict(ann_file=str(tmp_path / 'ann.jsonl'),
                video_feat_dirs=str(tmp_path / 'video'),
                text_feat_dir=str(tmp_path / 'text'))
    args.update(kwargs)
    return MomentRetrievalDataset(**args)


def test_sample_layout_on_synthetic_data(synthetic_root):
    dataset = DATASETS.build(
        dict(type='QVHighlightsDataset', video_dim=32, text_dim=32,
             pipeline=RELEASED_PIPELINE, **synthetic_args(synthetic_root)))
    for index in range(len(dataset)):
        sample = dataset[index]
        assert set(sample) == {'inputs', 'data_samples'}
        inputs, data_sample = sample['inputs'], sample['data_samples']
        assert set(inputs) == {'video', 'text'}
        assert isinstance(data_sample, MomentDataSample)
        num_clips, num_real = data_sample.num_clips, data_sample.num_real_clips
        assert num_clips % 4 == 0 and num_clips - 4 < num_real <= num_clips
        assert num_real == len(dataset.features.load_video(data_sample.vid))
        # + start/end; the padded clips are zeros
        assert inputs['video'].shape == (num_clips, 32 + 2)
        assert inputs['video'].dtype == torch.float32
        assert not inputs['video'][num_real:].any()
        assert inputs['text'].ndim == 2 and inputs['text'].shape[1] == 32
        assert data_sample.timeline == num_clips * 2.0
        assert data_sample.gt_saliency.shape == (num_clips, 3)
        assert not data_sample.gt_saliency[num_real:].any()
        assert data_sample.pos_clip_indices.shape == (2, )
        for key in ('qid', 'vid', 'query', 'duration', 'clip_len', 'num_clips',
                    'num_real_clips', 'timeline', 'sample_idx'):
            assert key in data_sample.metainfo, key
        assert 'neg_qid' not in data_sample.metainfo


@pytest.mark.parametrize('removed', ['max_v_len', 'max_q_len', 'with_neg_query',
                                     'neg_query_seed'])
def test_removed_arguments_are_refused(synthetic_root, removed):
    # truncation is TruncateFeatures' now; negative queries come from the batch
    with pytest.raises(TypeError, match=removed):
        QVHighlightsDataset(**synthetic_args(synthetic_root, **{removed: 1}))


def test_truncation_and_spans(tmp_path):
    records = [record(0, 'v0', duration=20.0,
                      windows=[(2.0, 6.0), (8.0, 14.0), (16.0, 20.0)])]
    videos = {'v0': np.ones((10, 4))}
    pipeline = [dict(type='TruncateFeatures', max_clips=6, max_tokens=4),
                dict(type='BuildMomentTargets'), dict(type='PackMomentInputs')]
    dataset = small_dataset(tmp_path, records, videos=videos,
                            queries={0: np.ones((9, 3))}, pipeline=pipeline,
                            clip_len=2.0)
    sample = dataset[0]
    assert sample['inputs']['video'].shape == (6, 4)
    assert sample['inputs']['text'].shape == (4, 3)
    data_sample = sample['data_samples']
    assert data_sample.num_clips == 6 and data_sample.timeline == 12.0
    # [16, 20] starts after the 12 s timeline: dropped; [8, 14] clipped.
    torch.testing.assert_close(data_sample.gt_instances.spans,
                               torch.tensor([[2 / 12, 6 / 12], [8 / 12, 1.0]]))
    assert data_sample.gt_saliency.shape == (6, 1)
    assert data_sample.gt_saliency[:, 0].tolist() == [0, 1, 1, 0, 1, 1]


def test_binary_saliency_short_window_keeps_one_clip(tmp_path):
    # A 0.6 s window never covers half of a 2 s clip.
    records = [record(0, 'v0', duration=20.0, windows=[(4.9, 5.5)])]
    dataset = small_dataset(tmp_path, records, clip_len=2.0)
    saliency = dataset[0]['data_samples'].gt_saliency[:, 0]
    assert saliency.nonzero().flatten().tolist() == [2]


def test_several_video_dirs_are_concatenated(tmp_path):
    records = [record(0, 'v0', duration=20.0)]
    rng = np.random.default_rng(1)
    first, second = rng.standard_normal((10, 3)), rng.standard_normal((9, 2))
    write_features(tmp_path, {'v0': first}, {0: np.ones((2, 4))},
                   video_dir='a')
    write_features(tmp_path, {'v0': second}, {}, video_dir='b')
    write_jsonl(tmp_path / 'ann.jsonl', records)
    dataset = MomentRetrievalDataset(
        ann_file='ann.jsonl', data_root=str(tmp_path),
        video_feat_dirs=['a', 'b'], text_feat_dir='text',
        video_l2_norm=[True, False], text_l2_norm=False, video_dim=5)
    video = dataset[0]['inputs']['video'].numpy()
    assert video.shape == (9, 5)  # truncated to the shorter source
    normalised = first[:9] / np.linalg.norm(first[:9], axis=1, keepdims=True)
    np.testing.assert_allclose(video[:, :3], normalised, rtol=1e-5)
    np.testing.assert_allclose(video[:, 3:], second, rtol=1e-6)
    np.testing.assert_array_equal(dataset[0]['inputs']['text'],
                                  np.ones((2, 4)))


@pytest.mark.parametrize('cache', [True, 'preload'])
def test_feature_cache_reads_each_file_once(synthetic_root, cache):
    dataset = QVHighlightsDataset(**synthetic_args(
        synthetic_root, cache_features=cache))
    files = len({dataset.get_data_info(i)['vid'] for i in range(len(dataset))}
                ) + len(dataset)
    first_epoch = [dataset[i] for i in range(len(dataset))]
    assert dataset.features.num_reads == files
    second_epoch = [dataset[i] for i in range(len(dataset))]
    assert dataset.features.num_reads == files  # nothing read again
    for a, b in zip(first_epoch, second_epoch):
        torch.testing.assert_close(a['inputs']['video'], b['inputs']['video'])
    # What the model gets is a copy: editing it leaves the cache intact.
    second_epoch[0]['inputs']['video'].zero_()
    assert dataset[0]['inputs']['video'].abs().sum() > 0


def test_without_cache_every_read_hits_disk(synthetic_root):
    dataset = QVHighlightsDataset(**synthetic_args(synthetic_root))
    reads = dataset.features.num_reads
    dataset[0], dataset[0]
    assert dataset.features.num_reads == reads + 4  # (video + text) x 2


def test_all_missing_feature_files_reported_at_init(tmp_path):
    records = [record(i, f'v{i}') for i in range(5)]
    rng = np.random.default_rng(0)
    videos = {'v0': rng.standard_normal((10, 4)),
              'v3': rng.standard_normal((10, 4))}
    queries = {i: rng.standard_normal((3, 4)) for i in (0, 1, 3)}
    with pytest.raises(DataError) as error:
        small_dataset(tmp_path, records, videos=videos, queries=queries)
    message = str(error.value)
    assert message.startswith('5 feature file(s)')
    for name in ('v1.npz', 'v2.npz', 'v4.npz', 'qid2.npz', 'qid4.npz'):
        assert name in message
    assert 'v0.npz' not in message


def test_feature_dims_checked_at_init(tmp_path):
    with pytest.raises(DataError, match='config `video_dim`=7'):
        small_dataset(tmp_path, video_dim=7)
    with pytest.raises(DataError, match=r'qid0\.npz: text feature dim 5 '
                       r'differs from the expected 9'):
        small_dataset(tmp_path, text_dim=9)
    assert len(small_dataset(tmp_path, video_dim=6, text_dim=5)) == 6


def test_inconsistent_dim_names_the_file(tmp_path):
    rng = np.random.default_rng(0)
    records = [record(0, 'a'), record(1, 'b')]
    videos = {'a': rng.standard_normal((10, 6)),
              'b': rng.standard_normal((10, 7))}
    # the per-sample check (the start-up scan is tested in tests/reliability)
    dataset = small_dataset(tmp_path, records, videos=videos, check_features=False)
    with pytest.raises(DataError, match=r'b\.npz: video feature dim 7 '
                       'differs from 6'):
        dataset[1]


def test_nan_features_name_the_file(tmp_path):
    rng = np.random.default_rng(0)
    bad = rng.standard_normal((10, 6))
    bad[4, 2] = np.nan
    records = [record(0, 'good'), record(1, 'bad')]
    dataset = small_dataset(tmp_path, records, videos={
        'good': rng.standard_normal((10, 6)), 'bad': bad}, check_features=False)
    with pytest.raises(DataError, match=r'bad\.npz.*NaN/Inf in 1 of 10 rows '
                       r'\(first: row 4\)'):
        dataset[1]


def test_length_disagreeing_with_duration(tmp_path):
    records = [record(0, 'v0', duration=20.0), record(1, 'v1', duration=20.0)]
    rng = np.random.default_rng(0)
    videos = {'v0': rng.standard_normal((10, 6)),
              'v1': rng.standard_normal((20, 6))}
    dataset = small_dataset(tmp_path, records, videos=videos, clip_len=2.0,
                            check_features=False)
    assert dataset[0]['data_samples'].num_clips == 10
    with pytest.raises(DataError, match=r'v1\.npz.*20 clips.*ann\.jsonl:2 '
                       r"\(qid=1\) implies 10\.0"):
        dataset[1]
    relaxed = small_dataset(tmp_path / 'relaxed', records, videos=videos,
                            clip_len=2.0, length_tolerance=None)
    assert relaxed[1]['data_samples'].num_clips == 20


@pytest.mark.parametrize('content, message', [
    (dict(other=np.ones((10, 6))), "no array named 'features'"),
    (dict(features=np.ones(10)), 'must be a non-empty 2D array'),
    (dict(features=np.zeros((0, 6))), 'must be a non-empty 2D array'),
])
def test_malformed_feature_files(tmp_path, content, message):
    dataset = small_dataset(tmp_path, [record(0, 'a'), record(1, 'b')])
    np.savez(tmp_path / 'video' / 'b.npz', **content)
    with pytest.raises(DataError, match=rf'b\.npz.*{message}'):
        dataset[1]
    (tmp_path / 'video' / 'b.npz').write_bytes(b'not a zip file')
    with pytest.raises(DataError, match=r'b\.npz: cannot read'):
        dataset[1]


def test_highlight_clip_len_from_label(tmp_path):
    label = [[0], [1], [1], [0]]
    records = [dict(qid='x', query='dog', duration=10.0, vid='x',
                    relevant_windows=None, label=label, domain='dog')]
    dataset = small_dataset(tmp_path, records, clip_len=None,
                            videos={'x': np.ones((4, 6))},
                            queries={'x': np.ones((2, 5))})
    data_sample = dataset[0]['data_samples']
    assert data_sample.clip_len == 2.5 and data_sample.timeline == 10.0
    assert data_sample.gt_saliency[:, 0].tolist() == [0, 1, 1, 0]
    assert len(data_sample.gt_instances) == 0


def test_subset_keeps_working(synthetic_root):
    dataset = QVHighlightsDataset(**synthetic_args(synthetic_root))
    subset = dataset.get_subset([5, 6, 7, 8])
    assert len(subset) == 4
    assert subset[0]['data_samples'].qid == dataset[5]['data_samples'].qid
    lazy = QVHighlightsDataset(**synthetic_args(synthetic_root,
                                                lazy_init=True))
    assert not lazy._fully_initialized
    lazy.full_init()
    assert len(lazy) == len(dataset)


def test_expected_num_clips_in_annotation_only_mode(tmp_path):
    write_jsonl(tmp_path / 'ann.jsonl', [record(0, 'v', duration=21.5)])
    dataset = MomentRetrievalDataset(ann_file=str(tmp_path / 'ann.jsonl'),
                                     clip_len=2.0)
    assert dataset[0]['data_samples'].num_clips == math.ceil(21.5 / 2)
    # the released pipeline: at most 8 clips, then up to a multiple of 4
    truncated = MomentRetrievalDataset(ann_file=str(tmp_path / 'ann.jsonl'),
                                       clip_len=2.0, pipeline=[
                                           dict(type='TruncateFeatures', max_clips=10),
                                           dict(type='AppendTemporalEndpoints'),
                                           dict(type='PadClips', multiple=4),
                                           dict(type='BuildMomentTargets'),
                                           dict(type='PackMomentInputs')])
    sample = truncated[0]
    assert sample['inputs'] == {}
    data_sample = sample['data_samples']
    assert (data_sample.num_real_clips, data_sample.num_clips) == (10, 12)
    assert data_sample.timeline == 24.0
    assert data_sample.gt_saliency.shape == (12, 1)


@pytest.mark.parametrize('cache', [True, False])
def test_persistent_worker_serves_later_epochs_from_its_cache(
        synthetic_root, tmp_path, cache):
    root = tmp_path / 'data'
    shutil.copytree(synthetic_root, root)
    dataset = QVHighlightsDataset(**synthetic_args(
        root, split='val', cache_features=cache))
    loader = DataLoader(dataset, batch_size=4, num_workers=1,
                        persistent_workers=True, collate_fn=pseudo_collate)
    first = [qid for batch in loader
             for qid in (s.qid for s in batch['data_samples'])]
    shutil.rmtree(root / 'features')  # later epochs cannot read files
    if cache:
        second = [qid for batch in loader
                  for qid in (s.qid for s in batch['data_samples'])]
        assert second == first
    else:
        with pytest.raises(DataError, match='feature file not found'):
            list(loader)
    # Stop the worker now rather than when the interpreter exits.
    loader._iterator._shutdown_workers()


def test_missing_directory_and_bare_npy(tmp_path):
    write_jsonl(tmp_path / 'ann.jsonl', [record(0, 'v0')])
    with pytest.raises(DataError, match=r'nowhere: feature directory not '
                       'found'):
        MomentRetrievalDataset(ann_file=str(tmp_path / 'ann.jsonl'),
                               video_feat_dirs=str(tmp_path / 'nowhere'),
                               text_feat_dir=str(tmp_path))
    dataset = small_dataset(tmp_path / 'npy', [record(0, 'a'),
                                               record(1, 'b')])
    bare = tmp_path / 'npy' / 'video' / 'b.npz'
    with open(bare, 'wb') as handle:
        np.save(handle, np.ones((10, 6)))
    with pytest.raises(DataError, match=r'b\.npz: expected an \.npz '
                       'archive'):
        dataset[1]


def test_label_rows_follow_time_when_clips_are_longer(tmp_path):
    # 1 s label rows, 2 s feature clips: clip j takes row 2j + 1 (its centre).
    label = [[float(i)] for i in range(10)]
    records = [dict(qid='x', query='q', duration=10.0, vid='x', label=label)]
    dataset = small_dataset(tmp_path, records, clip_len=2.0,
                            videos={'x': np.ones((5, 6))},
                            queries={'x': np.ones((2, 5))})
    saliency = dataset[0]['data_samples'].gt_saliency[:, 0]
    assert saliency.tolist() == [1, 3, 5, 7, 9]
