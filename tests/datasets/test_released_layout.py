"""Feature layouts: the SG-DETR release ({vid}.pt tensors, {qid}.npz
'features') next to the npz layout, and safe reading of .pt files."""
import pickle

import numpy as np
import pytest
import torch

from dataset_test_utils import RELEASED_PIPELINE, record, write_features, write_jsonl
from sgdetr.datasets import (LAYOUTS, DataError, FeatureStore, MomentRetrievalDataset,
                             combine_video_sources, read_pt_array)


def write_released(root, videos: dict, queries: dict, video_dir='video', text_dir='text'):
    """``videos``: vid -> (L, Dv) saved as torch tensors; ``queries``: qid -> (N, Dt)."""
    (root / video_dir).mkdir(parents=True, exist_ok=True)
    (root / text_dir).mkdir(parents=True, exist_ok=True)
    for vid, array in videos.items():
        torch.save(torch.as_tensor(array), root / video_dir / f'{vid}.pt')
    for qid, array in queries.items():
        np.savez(root / text_dir / f'{qid}.npz', features=array)


def features(seed=0, num_clips=10, dim_v=6, num_tokens=4, dim_t=5):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((num_clips, dim_v)).astype(np.float32),
            rng.standard_normal((num_tokens, dim_t)).astype(np.float32))


def unit_rows(array):
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_layout_names():
    assert LAYOUTS['npz'] == ('{vid}.npz', 'features', 'qid{qid}.npz', 'last_hidden_state')
    assert LAYOUTS['released'] == ('{vid}.pt', None, '{qid}.npz', 'features')
    with pytest.raises(ValueError, match="layout must be one of.*'other'"):
        FeatureStore('v', 't', layout='other')


def test_released_store_reads_pt_video_and_npz_text(tmp_path):
    video, text = features()
    write_released(tmp_path, {'a': video}, {7: text})
    store = FeatureStore(str(tmp_path / 'video'), str(tmp_path / 'text'),
                         layout='released', video_dim=6, text_dim=5)
    assert store.video_paths('a') == [str(tmp_path / 'video' / 'a.pt')]
    assert store.text_path(7) == str(tmp_path / 'text' / '7.npz')
    np.testing.assert_allclose(store.load_video('a'), unit_rows(video), rtol=1e-6)
    np.testing.assert_allclose(store.load_text(7), unit_rows(text), rtol=1e-6)
    assert store.load_video('a').dtype == np.float32
    # the npz layout's names are not looked for
    assert store.find_missing(['a', 'b'], [7, 8]) == [
        str(tmp_path / 'video' / 'b.pt'), str(tmp_path / 'text' / '8.npz')]


def test_both_layouts_give_the_same_sample(tmp_path):
    video, text = features(num_clips=10)
    write_released(tmp_path / 'released', {'v0': video}, {0: text})
    write_features(tmp_path / 'npz', {'v0': video}, {0: text})
    samples = []
    for layout in ('released', 'npz'):
        write_jsonl(tmp_path / layout / 'ann.jsonl', [record(0, 'v0', duration=20.0)])
        dataset = MomentRetrievalDataset(
            data_root=str(tmp_path / layout), ann_file='ann.jsonl',
            video_feat_dirs='video', text_feat_dir='text', feature_layout=layout,
            video_dim=6, text_dim=5, pipeline=RELEASED_PIPELINE)
        samples.append(dataset[0])
    released, npz = samples
    for key in ('video', 'text'):
        torch.testing.assert_close(released['inputs'][key], npz['inputs'][key],
                                   rtol=0, atol=0)
    assert released['inputs']['video'].shape == (12, 8)  # 10 clips + 2 padded, 6 + 2 dims
    assert released['data_samples'].metainfo == npz['data_samples'].metainfo


def test_pt_reading_accepts_other_dtypes_and_a_batch_axis(tmp_path):
    video, _ = features()
    torch.save(torch.from_numpy(video).half()[None], tmp_path / 'half.pt')
    array = read_pt_array(str(tmp_path / 'half.pt'))
    assert array.shape == (10, 6) and array.dtype == np.float32
    np.testing.assert_allclose(array, video, atol=1e-2)


@pytest.mark.parametrize('content, message', [
    ({'features': torch.ones(3, 2)}, 'expected a saved tensor .L, D., got dict'),
    ([1.0, 2.0], 'expected a saved tensor .L, D., got list'),
    (torch.ones(5), 'must be a non-empty 2D array'),
    (torch.zeros(0, 4), 'must be a non-empty 2D array'),
    (torch.tensor([[1.0, float('nan')], [0.0, 1.0]]), r'NaN/Inf in 1 of 2 rows'),
])
def test_bad_pt_contents_name_the_file(tmp_path, content, message):
    path = tmp_path / 'clip.pt'
    torch.save(content, path)
    with pytest.raises(DataError, match=rf'clip\.pt.*{message}'):
        read_pt_array(str(path))


class _RunsCode:
    """Unpickling it would run code: create ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


def test_executable_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'v0.pt'
    torch.save(_RunsCode(marker), path)
    with pytest.raises(DataError, match=r'v0\.pt: cannot read feature file'):
        read_pt_array(str(path))
    assert not marker.exists()
    # the same file through the dataset
    write_released(tmp_path, {}, {0: features()[1]})
    (tmp_path / 'video').mkdir(exist_ok=True)
    path.replace(tmp_path / 'video' / 'v0.pt')
    write_jsonl(tmp_path / 'ann.jsonl', [record(0, 'v0')])
    with pytest.raises(DataError, match=r'v0\.pt: cannot read feature file'):
        MomentRetrievalDataset(ann_file=str(tmp_path / 'ann.jsonl'),
                               video_feat_dirs=str(tmp_path / 'video'),
                               text_feat_dir=str(tmp_path / 'text'), feature_layout='released')
    assert not marker.exists()


def test_unreadable_and_missing_pt_files(tmp_path):
    (tmp_path / 'broken.pt').write_bytes(b'not a torch file')
    with pytest.raises(DataError, match=r'broken\.pt: cannot read feature file'):
        read_pt_array(str(tmp_path / 'broken.pt'))
    (tmp_path / 'plain.pt').write_bytes(pickle.dumps(np.ones((2, 2)), protocol=2))
    with pytest.raises(DataError, match=r'plain\.pt: cannot read feature file'):
        read_pt_array(str(tmp_path / 'plain.pt'))
    with pytest.raises(DataError, match=r'absent\.pt: feature file not found'):
        read_pt_array(str(tmp_path / 'absent.pt'))


def test_released_dataset_reports_missing_files_and_wrong_keys(tmp_path):
    video, text = features()
    records = [record(0, 'a'), record(1, 'b')]
    write_released(tmp_path, {'a': video}, {0: text})
    write_jsonl(tmp_path / 'ann.jsonl', records)
    args = dict(ann_file=str(tmp_path / 'ann.jsonl'), video_feat_dirs=str(tmp_path / 'video'),
                text_feat_dir=str(tmp_path / 'text'), feature_layout='released')
    with pytest.raises(DataError) as error:
        MomentRetrievalDataset(**args)
    assert str(error.value).startswith('2 feature file(s)')
    assert 'b.pt' in str(error.value) and '1.npz' in str(error.value)
    # text in the npz layout's key: named with the file (when the dataset is
    # built or when the sample is read)
    torch.save(torch.from_numpy(video), tmp_path / 'video' / 'b.pt')
    np.savez(tmp_path / 'text' / '1.npz', last_hidden_state=text)
    with pytest.raises(DataError, match=r"1\.npz.*no array named 'features'"):
        MomentRetrievalDataset(**args)[1]
    np.savez(tmp_path / 'text' / '1.npz', features=text)
    dataset = MomentRetrievalDataset(**args)
    assert dataset[1]['inputs']['video'].shape == (10, 6)
    assert dataset[1]['inputs']['text'].shape == (4, 5)


def test_combine_video_sources():
    rng = np.random.default_rng(0)
    first, second = rng.standard_normal((5, 3)), rng.standard_normal((4, 2))
    combined = combine_video_sources([first, second], [True, False])
    assert combined.shape == (4, 5)  # the shorter length
    np.testing.assert_allclose(combined[:, :3], unit_rows(first)[:4])
    np.testing.assert_array_equal(combined[:, 3:], second)
    np.testing.assert_allclose(combine_video_sources([first], [True]), unit_rows(first))
    np.testing.assert_array_equal(combine_video_sources([first], [False]), first)
