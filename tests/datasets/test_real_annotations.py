"""Every released annotation file parses into consistent samples.

Reads ``../shared/data/annotations`` (skipped when absent).  Real features
are not available: targets are checked in annotation-only mode on every file
(a spread of samples), and full loading runs on the first lines of each
file with generated features of the right length.
"""
import json
import math

import numpy as np
import pytest
import torch

from dataset_test_utils import SHARED_ANNOTATIONS, write_features
from sgdetr.datasets import (CharadesSTADataset, QVHighlightsDataset,
                             TACoSDataset, TVSumDataset,
                             YouTubeHighlightsDataset)

FILES = [
    (QVHighlightsDataset, 'qvhighlights/highlight_train_release.jsonl'),
    (QVHighlightsDataset, 'qvhighlights/highlight_val_release.jsonl'),
    (QVHighlightsDataset, 'qvhighlights/highlight_test_release.jsonl'),
    (CharadesSTADataset, 'charades_sta/charades_train_release.jsonl'),
    (CharadesSTADataset, 'charades_sta/charades_test_release.jsonl'),
    (TACoSDataset, 'tacos/tacos_train_release.jsonl'),
    (TACoSDataset, 'tacos/tacos_val_release.jsonl'),
    (TACoSDataset, 'tacos/tacos_test_release.jsonl'),
    (TVSumDataset, 'tvsum/tvsum_train_release.jsonl'),
    (TVSumDataset, 'tvsum/tvsum_val_release.jsonl'),
    (YouTubeHighlightsDataset,
     'youtube_highlights/youtube_highlight_train_release.jsonl'),
    (YouTubeHighlightsDataset,
     'youtube_highlights/youtube_highlight_val_release.jsonl'),
]
#: seconds per clip; None: one clip per `label` row
CLIP_LEN = {QVHighlightsDataset: 2.0, CharadesSTADataset: 1.0,
            TACoSDataset: 2.0, TVSumDataset: None,
            YouTubeHighlightsDataset: None}
IDS = [name.split('/')[1].replace('_release.jsonl', '') for _, name in FILES]
SAMPLES_PER_FILE = 100


def annotation_file(name):
    path = SHARED_ANNOTATIONS / name
    if not path.is_file():
        pytest.skip(f'{path} is not available')
    return path


def raw_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()
            if line.strip()]


def check_sample(data_sample, raw, cls):
    meta = data_sample.metainfo
    assert meta['qid'] == raw['qid'] and meta['vid'] == raw['vid']
    assert meta['query'] == raw['query']
    num_clips, clip_len = meta['num_clips'], meta['clip_len']
    if CLIP_LEN[cls] is None:
        assert clip_len == pytest.approx(raw['duration'] / len(raw['label']))
    else:
        assert clip_len == CLIP_LEN[cls]
    assert meta['timeline'] == pytest.approx(num_clips * clip_len)
    # The timeline covers the video (its last clip may be partial).
    assert meta['timeline'] >= raw['duration'] - 1e-6
    assert meta['timeline'] < raw['duration'] + clip_len + 1e-6

    spans = data_sample.gt_instances.spans
    labels = data_sample.gt_instances.labels
    assert spans.dtype == torch.float32 and labels.dtype == torch.long
    assert len(labels) == len(spans) and not labels.any()
    windows = raw.get('relevant_windows') or []
    assert spans.shape == (len(windows), 2)
    if len(windows):
        assert (spans >= 0).all() and (spans <= 1).all()
        assert (spans[:, 1] > spans[:, 0]).all()
        np.testing.assert_allclose(spans.numpy() * meta['timeline'],
                                   np.clip(windows, 0, raw['duration']),
                                   atol=1e-4)

    if 'gt_saliency' not in data_sample:
        assert raw.get('saliency_scores') is None and not windows
        assert 'pos_clip_indices' not in data_sample
        return
    saliency = data_sample.gt_saliency.numpy()
    assert saliency.dtype == np.float32 and len(saliency) == num_clips
    if raw.get('saliency_scores') is not None:  # QVHighlights
        assert saliency.shape[1] == 3
        ids = raw['relevant_clip_ids']
        np.testing.assert_array_equal(saliency[ids], raw['saliency_scores'])
        outside = np.ones(num_clips, bool)
        outside[ids] = False
        assert not saliency[outside].any()
    elif raw.get('label') is not None:  # TVSum / YouTube-Highlights
        label = np.asarray(raw['label'], np.float32)
        assert num_clips == len(label)
        np.testing.assert_array_equal(saliency, label)
        assert meta['domain'] == raw['domain']
    else:  # binary saliency from the windows
        assert saliency.shape[1] == 1
        assert set(np.unique(saliency)) <= {0.0, 1.0}
        centres = (np.arange(num_clips) + 0.5) * clip_len
        positive = saliency[:, 0] > 0
        for start, end in windows:
            inside = (centres > start) & (centres < end)
            # Clips mostly inside a window are positive, clips well
            # outside every window are not.
            assert positive[inside & (centres - clip_len / 2 >= start) &
                            (centres + clip_len / 2 <= end)].all()
            assert positive[(centres + clip_len / 2 > start)
                            & (centres - clip_len / 2 < end)].any()
        far = np.ones(num_clips, bool)
        for start, end in windows:
            far &= (centres < start - clip_len) | (centres > end + clip_len)
        assert not positive[far].any()

    check_clip_pairs(data_sample, raw)


def check_clip_pairs(data_sample, raw):
    """(hard, easy) pairs: the best / worst relevant clip, then a random
    relevant clip and a random clip outside the relevant ones."""
    saliency = data_sample.gt_saliency.numpy()
    num_clips = len(saliency)
    pos = data_sample.pos_clip_indices
    neg = data_sample.neg_clip_indices
    assert pos.shape == neg.shape == (2, ) and pos.dtype == torch.long
    pos, neg = pos.numpy(), neg.numpy()
    if raw.get('relevant_clip_ids') is not None:  # the annotated clips
        relevant = np.minimum(np.asarray(raw['relevant_clip_ids']), num_clips - 1)
    else:  # the clips with a positive score
        relevant = np.flatnonzero(saliency.sum(1) > 0)
    if relevant.size == 0:
        assert (pos == -1).all() and (neg == -1).all()
        return
    summed = saliency.sum(1)
    assert pos[0] in relevant and neg[0] in relevant
    assert summed[pos[0]] == summed[relevant].max()
    assert summed[neg[0]] == summed[relevant].min()
    assert pos[1] in relevant
    if len(set(relevant.tolist())) < num_clips:
        assert neg[1] not in relevant and 0 <= neg[1] < num_clips
    else:  # every clip relevant: the hard pair again
        assert (pos[1], neg[1]) == (pos[0], neg[0])


@pytest.mark.parametrize('cls, name', FILES, ids=IDS)
def test_annotation_file_targets(cls, name):
    path = annotation_file(name)
    raw = raw_lines(path)
    is_test_split = 'test' in name and cls is QVHighlightsDataset
    dataset = cls(ann_file=str(path), test_mode=is_test_split)
    assert len(dataset) == len(raw)
    step = max(1, len(raw) // SAMPLES_PER_FILE)
    for index in range(0, len(raw), step):
        sample = dataset[index]
        assert sample['inputs'] == {}  # annotation-only mode
        check_sample(sample['data_samples'], raw[index], cls)


@pytest.mark.parametrize('cls, name', FILES, ids=IDS)
def test_annotation_file_with_generated_features(tmp_path, cls, name):
    path = annotation_file(name)
    # The first lines, verbatim (the whole file is parsed by the test above).
    head = '\n'.join(path.read_text().splitlines()[:6]) + '\n'
    path = tmp_path / path.name
    path.write_text(head)
    raw = raw_lines(path)
    is_test_split = 'test' in name and cls is QVHighlightsDataset
    rng = np.random.default_rng(0)
    videos, queries = {}, {}
    for index, line in enumerate(raw):
        num_clips = (len(line['label']) if CLIP_LEN[cls] is None else
                     math.ceil(line['duration'] / CLIP_LEN[cls] - 1e-6))
        # One clip short now and then, as feature extractors often are.
        length = max(1, num_clips - index % 2)
        videos[line['vid']] = rng.standard_normal((length, 12))
        queries[line['qid']] = rng.standard_normal((3 + index, 8))
    write_features(tmp_path, videos, queries)
    dataset = cls(ann_file=str(path), test_mode=is_test_split,
                  video_feat_dirs=str(tmp_path / 'video'),
                  text_feat_dir=str(tmp_path / 'text'), video_dim=12,
                  text_dim=8)
    for index, line in enumerate(raw):
        sample = dataset[index]
        video, text = sample['inputs']['video'], sample['inputs']['text']
        expected_length = len(videos[line['vid']])
        assert video.shape == (expected_length, 12)
        assert text.shape == (3 + index, 8)
        # L2-normalised by default.
        torch.testing.assert_close(video.norm(dim=1),
                                   torch.ones(expected_length))
        data_sample = sample['data_samples']
        assert data_sample.num_clips == expected_length
        if expected_length * data_sample.clip_len >= line['duration']:
            check_sample(data_sample, line, cls)
        else:  # the timeline ends before the video: spans are clipped to it
            spans = data_sample.gt_instances.spans
            assert ((spans >= 0) & (spans <= 1)).all()
            if 'gt_saliency' in data_sample:
                assert len(data_sample.gt_saliency) == expected_length
