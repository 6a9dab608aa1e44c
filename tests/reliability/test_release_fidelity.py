"""Two details of the released training path: a sample without clip pairs
takes no part in the margin loss, and the Charades-STA and TACoS configs
average the moment-clip loss over the batch's positions, as released."""
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from sgdetr.models.losses import MomentClipLoss
from sgdetr.registry import MODELS
from sgdetr.structures import MomentDataSample

from reliability_utils import REPO, tiny_cfg


def sample(num_clips, pairs=None):
    data = MomentDataSample(metainfo=dict(num_clips=num_clips, timeline=2.0 * num_clips,
                                          vid=f'v{num_clips}'))
    data.gt_instances = InstanceData(spans=torch.tensor([[0.0, 4.0]]))
    data.gt_saliency = torch.zeros(num_clips, 3)
    if pairs is not None:
        data.pos_clip_indices, data.neg_clip_indices = map(torch.tensor, pairs)
    return data


def test_a_sample_without_clip_pairs_takes_no_part_in_the_margin_loss(shared_data, tmp_path):
    model = MODELS.build(tiny_cfg(shared_data, tmp_path).model)
    samples = [sample(8, ([1, 2], [5, 6])), sample(12)]
    targets = model._targets(samples, torch.ones(2, 12, dtype=torch.bool))
    assert targets.pos_clips.tolist() == [[1, 2], [-1, -1]]
    assert targets.neg_clips.tolist() == [[5, 6], [-1, -1]]
    # the margin loss of the batch is that of the sample with pairs alone
    saliency = torch.randn(2, 12)
    loss = model.saliency_loss(saliency, torch.ones(2, 12, dtype=torch.bool), targets.labels,
                               targets.pos_clips, targets.neg_clips)
    alone = model.saliency_loss(saliency[:1], torch.ones(1, 12, dtype=torch.bool),
                                targets.labels[:1], targets.pos_clips[:1],
                                targets.neg_clips[:1])
    torch.testing.assert_close(loss['hd.loss_margin'], alone['hd.loss_margin'])


@pytest.mark.parametrize('config, average', [('sgdetr_qvh.py', 'valid'),
                                             ('sgdetr_charades.py', 'batch'),
                                             ('sgdetr_tacos.py', 'batch')])
def test_moment_clip_loss_averages_as_released(config, average):
    cfg = Config.fromfile(str(REPO / 'configs' / config))
    loss = MODELS.build(cfg.model.moment_clip_loss)
    assert loss.average == average
    # a Charades-STA-like batch: 30, 60 and 200 clips of 1 s
    torch.manual_seed(0)
    lengths = torch.tensor([30, 60, 200])
    mask = torch.arange(200)[None] < lengths[:, None]
    moment, clips = torch.randn(3, 16), torch.randn(3, 200, 16)
    in_moment = (torch.rand(3, 200) < 0.3) & mask
    logits = (clips @ moment[..., None])[..., 0] / 4
    per_clip = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, in_moment.float(), reduction='none')
    expected = (per_clip * mask).sum() / (mask.sum() if average == 'valid' else mask.numel())
    torch.testing.assert_close(loss(moment, clips, in_moment, mask)['loss_moment_clip'],
                               expected * 3.0)


def test_moment_clip_loss_average_is_checked():
    with pytest.raises(ValueError, match="average must be 'valid' or 'batch', got 'padded'"):
        MomentClipLoss(average='padded')
