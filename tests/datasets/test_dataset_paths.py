"""One resolver of a dataset config's files (:func:`sgdetr.datasets.dataset_paths`),
shared by the dataset, the inferencer and the extractors' query lookup."""
import os.path as osp

import pytest

from sgdetr.datasets import dataset_paths
from sgdetr.datasets.features import text_feature_path, video_feature_path


def test_data_root_applies_to_relative_paths_only():
    paths = dataset_paths(dict(data_root='data/qv', ann_file='ann/val.jsonl',
                               video_feat_dirs=['/abs/clip', 'slowfast'],
                               text_feat_dir='text', feature_layout='released'))
    assert paths.ann_file == osp.join('data/qv', 'ann/val.jsonl')
    assert paths.video_dirs == ['/abs/clip', osp.join('data/qv', 'slowfast')]
    assert paths.text_dir == osp.join('data/qv', 'text') and paths.layout == 'released'


def test_missing_entries_are_none_and_the_layout_defaults_to_npz():
    paths = dataset_paths(dict(ann_file='a.jsonl', video_feat_dirs='v'))
    assert paths == ('a.jsonl', ['v'], None, 'npz')


def test_file_names_follow_the_layout():
    assert video_feature_path('v', 'x', 'released') == osp.join('v', 'x.pt')
    assert text_feature_path('t', 3, 'npz') == osp.join('t', 'qid3.npz')
    with pytest.raises(ValueError, match='layout must be one of'):
        video_feature_path('v', 'x', 'other')
