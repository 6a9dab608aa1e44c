"""MomentDataPreprocessor: exact padding and masks (True = valid)."""
import pytest
import torch
from mmengine.dataset import pseudo_collate

from dataset_test_utils import RELEASED_PIPELINE, synthetic_args
from sgdetr.datasets import MomentDataPreprocessor, QVHighlightsDataset
from sgdetr.registry import MODELS
from sgdetr.structures import MomentDataSample


def fake_batch(video_lengths, text_lengths, dim_v=4, dim_t=3):
    samples = []
    for b, (lv, lt) in enumerate(zip(video_lengths, text_lengths)):
        inputs = dict(video=torch.randn(lv, dim_v) + 5,
                      text=torch.randn(lt, dim_t) + 5)
        samples.append(dict(inputs=inputs,
                            data_samples=MomentDataSample(metainfo=dict(
                                qid=b))))
    return samples


def test_padding_and_masks_are_exact():
    samples = fake_batch([5, 2, 7], [3, 6, 1])
    preprocessor = MODELS.build(dict(type='MomentDataPreprocessor'))
    batch = preprocessor(pseudo_collate(samples), training=True)
    inputs = batch['inputs']
    assert set(inputs) == {'video', 'video_mask', 'text', 'text_mask'}
    for key, lengths, longest in (('video', [5, 2, 7], 7),
                                  ('text', [3, 6, 1], 6)):
        padded, mask = inputs[key], inputs[f'{key}_mask']
        assert padded.shape[:2] == mask.shape == (3, longest)
        assert mask.dtype == torch.bool
        assert mask.sum(1).tolist() == lengths
        for b, length in enumerate(lengths):
            assert mask[b, :length].all() and not mask[b, length:].any()
            torch.testing.assert_close(padded[b, :length],
                                       samples[b]['inputs'][key])
            assert (padded[b, length:] == 0).all()
    assert [s.qid for s in batch['data_samples']] == [0, 1, 2]


def test_fixed_length_and_multiples():
    samples = fake_batch([5, 2], [3, 6])
    fixed = MomentDataPreprocessor(pad_video_to=8, text_pad_multiple=4)
    inputs = fixed(pseudo_collate(samples))['inputs']
    assert inputs['video'].shape == (2, 8, 4)
    assert inputs['video_mask'].sum(1).tolist() == [5, 2]
    assert inputs['text'].shape == (2, 8, 3)  # 6 rounded up to 8
    assert inputs['text_mask'].sum(1).tolist() == [3, 6]
    multiple = MomentDataPreprocessor(video_pad_multiple=4)
    assert multiple(pseudo_collate(samples))['inputs']['video'].shape[1] == 8
    with pytest.raises(ValueError, match='does not fit the fixed padded '
                       r'length 4; truncate it in the pipeline \(TruncateFeatures\)'):
        MomentDataPreprocessor(pad_video_to=4)(pseudo_collate(samples))


def test_samples_are_padded_on_the_model_device():
    """On an accelerator each sample is copied first and padded there (a padded host
    batch would be a new, unpinned tensor); ``meta`` stands in for the GPU."""
    samples = fake_batch([5, 2, 7], [3, 6, 1])
    preprocessor = MomentDataPreprocessor().to('meta')
    assert preprocessor._non_blocking
    inputs = preprocessor(pseudo_collate(samples))['inputs']
    for key, shape in (('video', (3, 7, 4)), ('text', (3, 6, 3))):
        assert inputs[key].device.type == 'meta' and inputs[key].shape == shape
        assert inputs[f'{key}_mask'].device.type == 'meta'
    on_cpu = MomentDataPreprocessor()(pseudo_collate(samples))['inputs']
    assert on_cpu['video'].device.type == 'cpu'


def test_uncollated_and_prebatched_inputs():
    samples = fake_batch([3, 4], [2, 2])
    preprocessor = MomentDataPreprocessor()
    listed = preprocessor(dict(inputs=[s['inputs'] for s in samples],
                               data_samples=None))['inputs']
    assert listed['video_mask'].sum(1).tolist() == [3, 4]
    batched = preprocessor(dict(inputs=dict(video=torch.ones(2, 5, 4),
                                            text=torch.ones(2, 3, 3),
                                            text_mask=torch.tensor(
                                                [[1, 1, 0], [1, 0, 0]]))))
    assert batched['inputs']['video_mask'].all()
    assert batched['inputs']['text_mask'].dtype == torch.bool
    assert batched['inputs']['text_mask'].sum().item() == 3


def test_bad_inputs_are_reported():
    preprocessor = MomentDataPreprocessor()
    with pytest.raises(ValueError, match='share their feature dim'):
        preprocessor(dict(inputs=dict(video=[torch.ones(2, 3),
                                             torch.ones(2, 4)])))
    with pytest.raises(ValueError, match=r'sample 1: `text` must be a '
                       r'\(T, D\) tensor'):
        preprocessor(dict(inputs=dict(text=[torch.ones(2, 3),
                                            torch.ones(3)])))


def test_real_batch_from_the_dataset(synthetic_root):
    dataset = QVHighlightsDataset(**synthetic_args(synthetic_root,
                                                   pipeline=RELEASED_PIPELINE))
    samples = [dataset[i] for i in range(6)]
    batch = MomentDataPreprocessor()(pseudo_collate(samples), training=True)
    inputs = batch['inputs']
    lengths = [s['data_samples'].num_clips for s in samples]
    assert len(set(lengths)) > 1 and all(n % 4 == 0 for n in lengths)
    assert inputs['video_mask'].sum(1).tolist() == lengths
    assert inputs['video'].shape == (6, max(lengths), 32 + 2)
    assert set(inputs) == {'video', 'video_mask', 'text', 'text_mask'}
    assert all(s.gt_saliency.shape[0] == n
               for s, n in zip(batch['data_samples'], lengths))
