"""Whole videos of any length through the config's own pipeline and the model:
planted moments are found anywhere in 20-minute and 2-hour feature sequences,
saliency has one score per clip, videos within the trained length are
unchanged bit for bit, and batching does not change results."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from sgdetr.apis import MomentInferencer, MomentPredictor

REPO = Path(__file__).resolve().parents[2]
DIM = 16
CLIP_LEN = 2.0


def planted_video(num_clips: int, moment: tuple, seed: int = 0):
    """Noise clips, with clips ``moment = (first, last + 1)`` along the query's direction.

    Returns:
        video (L, DIM), query tokens (6, DIM).
    """
    rng = np.random.default_rng(seed)
    direction = np.zeros(DIM, np.float32)
    direction[0] = 1.0
    video = rng.normal(size=(num_clips, DIM)).astype(np.float32)
    video[:, 0] = rng.normal(scale=0.3, size=num_clips)
    video[moment[0]:moment[1]] = direction * 4 + rng.normal(scale=0.3, size=(moment[1] - moment[0],
                                                                           DIM))
    text = direction * 3 + rng.normal(scale=0.3, size=(6, DIM)).astype(np.float32)
    return video, text.astype(np.float32)


def iou(a, b):
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


@pytest.fixture(scope='module')
def zero_shot_windows():
    """The zero-shot baseline read through windows of 75 clips: it finds the
    moment of a window it holds, and the merge has to pick the right window."""
    cfg = Config.fromfile(str(REPO / 'configs' / 'zero_shot' / 'zero_shot_synthetic.py'))
    cfg.test_dataloader.dataset.update(video_dim=DIM, text_dim=DIM, pipeline=[
        dict(type='TruncateFeatures', max_clips=None, max_tokens=40),
        dict(type='SlidingWindows', window=75, transforms=[
            dict(type='BuildMomentTargets'), dict(type='PackMomentInputs')])])
    return MomentPredictor(cfg)


def raw_space_config() -> Config:
    """A small SG-DETR whose local saliency compares raw aligned features (a
    cosine at initialisation): its saliency finds the planted clips untrained."""
    cfg = Config.fromfile(str(REPO / 'configs' / 'sgdetr_demo.py'))
    cfg.model.encoder.update(video_dim=DIM + 2, text_dim=DIM, embed_dims=16,
                             global_saliency=dict(enabled=False))
    cfg.test_dataloader.dataset.update(video_dim=DIM, text_dim=DIM)
    return cfg


@pytest.fixture(scope='module')
def sgdetr_raw():
    torch.manual_seed(0)
    return MomentPredictor(raw_space_config())


MOMENTS = {'start': (0, 10), 'middle': None, 'end': None, 'boundary': (68, 82)}


@pytest.mark.parametrize('num_clips', [600, 3600], ids=['20min', '2h'])
@pytest.mark.parametrize('where', list(MOMENTS))
def test_planted_moments_are_found_anywhere(zero_shot_windows, sgdetr_raw, num_clips, where):
    moment = MOMENTS[where] or ((num_clips // 2 - 7, num_clips // 2 + 5) if where == 'middle'
                                else (num_clips - 12, num_clips))
    video, text = planted_video(num_clips, moment, seed=num_clips + len(where))
    duration = num_clips * CLIP_LEN
    truth = (moment[0] * CLIP_LEN, moment[1] * CLIP_LEN)

    result = zero_shot_windows.predict(video, text, duration=duration)
    assert len(result['pred_saliency_scores']) == num_clips
    best = result['pred_relevant_windows'][0]
    assert iou(best[:2], truth) >= 0.5, (best, truth)
    assert all(0 <= w[0] < w[1] <= duration for w in result['pred_relevant_windows'])

    saliency = np.array(sgdetr_raw.predict(video, text, duration=duration)['pred_saliency_scores'])
    assert saliency.shape == (num_clips,)
    top = np.argsort(-saliency)[:moment[1] - moment[0]]
    assert np.isin(top, np.arange(*moment)).mean() >= 0.9


def test_a_video_within_the_trained_length_is_unchanged_bit_for_bit(sgdetr_raw):
    """The windowed path against the model's single-window prediction."""
    model = sgdetr_raw.model
    for num_clips in (9, 40, 75):
        video, text = planted_video(num_clips, (2, 6), seed=num_clips)
        sample = sgdetr_raw.prepare(video, text, duration=num_clips * CLIP_LEN)
        assert not isinstance(sample['data_samples'], list)
        data = model.data_preprocessor(pseudo_collate([sample]), False)
        expected = model.predict_windows(data['inputs'], data['data_samples'])[0]
        got = sgdetr_raw.run([sgdetr_raw.prepare(video, text, duration=num_clips * CLIP_LEN)])[0]
        assert torch.equal(got.pred_saliency, expected.pred_saliency)
        for field in [k for k in expected.keys() if k.startswith('pred_instances')]:
            assert torch.equal(got.get(field).spans, expected.get(field).spans)
            assert torch.equal(got.get(field).scores, expected.get(field).scores)


def test_whole_video_false_is_the_released_truncation(sgdetr_raw):
    video, text = planted_video(300, (100, 110))
    sgdetr_raw.model.test_cfg['whole_video'] = False
    try:
        truncated = sgdetr_raw.predict(video, text, duration=600.0)
    finally:
        sgdetr_raw.model.test_cfg['whole_video'] = True
    first = sgdetr_raw.predict(video[:75], text, duration=150.0)
    assert truncated == first
    assert len(truncated['pred_saliency_scores']) == 75


def test_batching_does_not_change_results(sgdetr_raw):
    """One query alone, many queries of several lengths together, and any
    number of windows per forward give the same predictions."""
    rng = np.random.default_rng(1)
    queries = [planted_video(n, (n // 3, n // 3 + 8), seed=n) for n in (30, 200, 75, 451)]
    alone = [sgdetr_raw.predict(v, t, duration=len(v) * CLIP_LEN) for v, t in queries]
    samples = [sgdetr_raw.prepare(v, t, duration=len(v) * CLIP_LEN) for v, t in queries]
    model = sgdetr_raw.model
    for window_batch in (1, 5, 1000):
        model.test_cfg['window_batch'] = window_batch
        try:
            together = sgdetr_raw.run(samples, batch_size=int(rng.integers(1, 20)))
        finally:
            model.test_cfg['window_batch'] = 64
        assert len(together) == len(queries)
        for single, out in zip(alone, together):
            np.testing.assert_allclose(out.pred_saliency.numpy(),
                                       single['pred_saliency_scores'], atol=1e-5)
            np.testing.assert_allclose(
                out.pred_instances.spans.numpy(),
                np.array(single['pred_relevant_windows'])[:, :2], atol=1e-4)


def test_inferencer_covers_the_whole_video():
    inferencer = MomentInferencer(raw_space_config(), batch_size=7)
    video, text = planted_video(600, (300, 310))
    out = inferencer(video, [text, text * 0.5], duration=1200.0)
    assert len(out['predictions']) == 2
    for entry in out['predictions']:
        assert len(entry['pred_saliency_scores']) == 600
        assert max(w[1] for w in entry['pred_relevant_windows']) <= 1200.0


def test_bad_durations_and_long_queries(sgdetr_raw):
    video, text = planted_video(20, (2, 6))
    for duration, message in ((-3.0, 'positive number of seconds'), (0.0, 'positive'),
                              (float('nan'), 'positive'), (500.0, 'disagrees with the video')):
        with pytest.raises(ValueError, match=message):
            sgdetr_raw.predict(video, text, duration=duration)
    long_query = np.repeat(text, 10, axis=0)  # 60 tokens, the config reads 40
    with pytest.warns(UserWarning, match='has 60 tokens: the model reads its first 40'):
        result = sgdetr_raw.predict(video, long_query, duration=40.0)
    assert result == sgdetr_raw.predict(video, long_query[:40], duration=40.0)
    one_clip = sgdetr_raw.predict(video[:1], text)
    assert len(one_clip['pred_saliency_scores']) == 1
    assert all(0 <= w[0] < w[1] <= 2.0 for w in one_clip['pred_relevant_windows'])
