import torch

from sgdetr.models.detectors import ZeroShotSaliency
from sgdetr.models.postprocess import runs_above_thresholds
from sgdetr.structures import MomentDataSample


def test_runs_above_thresholds_hand_computed():
    curve = torch.tensor([[0.0, 0.6, 0.9, 0.6, 0.0, 0.7, 0.0],
                          [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True] * 7, [True, True, True, False, False, False, False]])
    runs = runs_above_thresholds(curve, mask, torch.tensor([0.5, 0.8]))
    spans, scores = runs[0]
    # thr 0.5: [1,4) mean 0.7 and [5,6) 0.7; thr 0.8: [2,3) 0.9
    got = {tuple(s.tolist()): round(float(v), 4) for s, v in zip(spans, scores)}
    assert got == {(1, 4): 0.7, (5, 6): 0.7, (2, 3): 0.9}
    spans, scores = runs[1]
    assert spans.tolist() == [[0, 2]] and scores.tolist() == [1.0]  # deduped


def test_padding_does_not_change_predictions():
    torch.manual_seed(0)
    model = ZeroShotSaliency(smooth_kernel=3)
    video = torch.randn(1, 6, 8)
    text = torch.randn(1, 3, 8)

    def run(pad_v, pad_t):
        v = torch.cat([video, torch.randn(1, pad_v, 8) * 50], 1)
        t = torch.cat([text, torch.randn(1, pad_t, 8) * 50], 1)
        vm = torch.arange(6 + pad_v) < 6
        tm = torch.arange(3 + pad_t) < 3
        sample = MomentDataSample(metainfo=dict(duration=11.0, clip_len=2.0,
                                                num_clips=6, timeline=12.0))
        out = model(dict(video=v, video_mask=vm[None], text=t, text_mask=tm[None]),
                    [sample], mode='predict')[0]
        return out.pred_instances, out.pred_saliency

    (a, sa), (b, sb) = run(0, 0), run(4, 2)
    assert torch.allclose(sa, sb) and sa.shape == (6,)
    assert torch.allclose(a.spans, b.spans) and torch.allclose(a.scores, b.scores)
    # seconds, clipped to the duration, sorted by score
    assert float(a.spans.max()) <= 11.0 and float(a.spans.min()) >= 0
    assert torch.all(a.scores[:-1] >= a.scores[1:])


def test_peak_clip_is_the_top_window():
    d = 4
    text = torch.zeros(1, 2, d)
    text[..., 0] = 1
    video = torch.zeros(1, 10, d)
    video[..., 1] = 1
    video[0, 6:8, 0] = 3          # clips 6-7 match the query
    model = ZeroShotSaliency(smooth_kernel=1)
    sample = MomentDataSample(metainfo=dict(duration=20.0, clip_len=2.0,
                                            num_clips=10, timeline=20.0))
    out = model(dict(video=video, video_mask=torch.ones(1, 10, dtype=torch.bool),
                     text=text, text_mask=torch.ones(1, 2, dtype=torch.bool)),
                [sample])[0]
    assert out.pred_instances.spans[0].tolist() == [12.0, 16.0]
    assert int(out.pred_saliency.argmax()) in (6, 7)


def test_predictor_api_on_the_baseline_config():
    import numpy as np
    from sgdetr.apis import MomentPredictor
    from pathlib import Path
    config = Path(__file__).parents[2] / 'configs/zero_shot/zero_shot_synthetic.py'
    predictor = MomentPredictor(str(config))
    rng = np.random.default_rng(0)
    video = rng.normal(size=(20, 256)).astype(np.float32)
    text = video[8:11] + 0.1 * rng.normal(size=(3, 256)).astype(np.float32)
    result = predictor.predict(video, text, duration=39.0, query='q')
    assert len(result['pred_saliency_scores']) == 20
    assert int(np.argmax(result['pred_saliency_scores'])) in (8, 9, 10)
    start, end, score = result['pred_relevant_windows'][0]
    assert 0 <= start < end <= 39.0
