"""SG-DETR: saliency-guided encoder + hybrid (DINO-style DETR and ATSS) span detector."""
import logging
from typing import Dict, List, Optional

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from sgdetr.registry import MODELS, TASK_UTILS
from ..losses import clips_in_spans
from ..postprocess import select_windows
from .data_preprocessor_builder import build_data_preprocessor


@MODELS.register_module()
class SGDETR(BaseModel):
    """Moment retrieval and highlight detection (Dokholyan et al., 2024).

    Data path (paper §3): ``encoder`` (projections, local saliency, SGCA
    encoder, context encoder, global saliency module) -> memory F_g (B, L, H)
    and saliency logits (B, L); ``detr_head`` (primary, one-to-one) and the
    optional ``atss_head`` (auxiliary, one-to-many) detect spans on F_g. In
    training the ATSS positive anchors become an extra query group of the DETR
    decoder (collaborative training); at inference the two heads' spans are
    merged by ``fusion`` (weighted span fusion).

    Args:
        encoder: :class:`SaliencyGuidedEncoder` config.
        detr_head: :class:`SpanDINOHead` config.
        atss_head: :class:`SpanATSSHead` config, or None (ablations (a)-(d)).
        fusion: :class:`WeightedSpanFusion` config; None keeps the DETR spans
            only, even with an ATSS head (which then only helps training).
        saliency_loss: :class:`SaliencyLoss`, applied to S_local and S_global.
        alignment_loss: moment-sentence alignment, or None.
        moment_clip_loss: moment / non-moment clip loss, or None.
        neg_pair_global: compute the negative-pair saliency with the full
            encoder (both S_local and S_global get the negative-pair terms);
            False runs only the cheap local path.
        max_windows: windows kept per query at inference.
        predict_with: ``'fusion'`` (both heads, fused; the DETR head alone
            without ``fusion``), ``'detr'`` or ``'atss'``: which spans
            ``predict`` returns, e.g. to evaluate each head of a trained model
            (``tools/test.py ... --cfg-options model.predict_with=atss``).
    """

    def __init__(self,
                 encoder: dict,
                 detr_head: dict,
                 atss_head: Optional[dict] = None,
                 fusion: Optional[dict] = None,
                 saliency_loss: Optional[dict] = dict(type='SaliencyLoss'),
                 alignment_loss: Optional[dict] = dict(type='MomentSentenceAlignmentLoss'),
                 moment_clip_loss: Optional[dict] = dict(type='MomentClipLoss'),
                 neg_pair_global: bool = True,
                 max_windows: int = 10,
                 predict_with: str = 'fusion',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        self.encoder = MODELS.build(encoder)
        self.detr_head = MODELS.build(detr_head)
        self.atss_head = MODELS.build(atss_head) if atss_head else None
        if fusion and not atss_head:
            print_log('`fusion` is ignored without an `atss_head`: the DETR spans '
                      'are the predictions', logger='current', level=logging.WARNING)
        self.fusion = TASK_UTILS.build(fusion) if fusion and atss_head else None
        self.saliency_loss = MODELS.build(saliency_loss) if saliency_loss else None
        self.alignment_loss = MODELS.build(alignment_loss) if alignment_loss else None
        self.moment_clip_loss = MODELS.build(moment_clip_loss) if moment_clip_loss else None
        self.neg_pair_global = neg_pair_global
        self.max_windows = max_windows
        if predict_with not in ('fusion', 'detr', 'atss'):
            raise ValueError(f"predict_with must be 'fusion', 'detr' or 'atss', got "
                             f'{predict_with!r}')
        if predict_with == 'atss' and self.atss_head is None:
            raise ValueError("predict_with='atss' needs an atss_head")
        self.predict_with = predict_with

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.encode(inputs)
        raise ValueError(f'unknown mode {mode!r}')

    def encode(self, inputs: dict) -> Dict[str, Tensor]:
        for key, expected in (('video', self.encoder.video_dim),
                              ('text', self.encoder.text_dim)):
            if inputs[key].shape[-1] != expected:
                raise ValueError(
                    f'{key} features have dim {inputs[key].shape[-1]} but the model '
                    f'was built for model.encoder.{key}_dim={expected}: set `{key}_dim` '
                    'once at the top of the config so the dataset and the model agree')
        return self.encoder(inputs['video'], inputs['video_mask'], inputs['text'],
                            inputs['text_mask'])

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, Tensor]:
        enc = self.encode(inputs)
        mask = enc['memory_mask']
        gt_spans = [s.gt_instances.spans.to(mask.device).float() for s in data_samples]
        in_moment = clips_in_spans(gt_spans, mask)
        losses = {}
        if self.saliency_loss is not None:
            losses.update(self._saliency_losses(inputs, enc, data_samples, in_moment))
        if self.alignment_loss is not None:
            losses.update(self.alignment_loss(enc['sentence'], enc['clip_embed'], in_moment,
                                              mask))
        if self.moment_clip_loss is not None:
            losses.update(self.moment_clip_loss(enc['context'], in_moment, mask))
        groups = []
        if self.atss_head is not None:
            atss_losses, positive_group = self.atss_head.loss(enc['memory'], mask, gt_spans)
            losses.update(atss_losses)
            groups.append(positive_group)
        losses.update(self.detr_head.loss(enc['memory'], mask, enc['memory_pos'], gt_spans,
                                          extra_groups=groups))
        return losses

    def _saliency_losses(self, inputs, enc, data_samples, in_moment) -> Dict[str, Tensor]:
        mask = enc['memory_mask']
        L = mask.shape[1]
        gt_saliency = pad_sequence([s.gt_saliency for s in data_samples],
                                   batch_first=True).to(mask.device)
        gt_saliency = torch.nn.functional.pad(gt_saliency,
                                              (0, 0, 0, L - gt_saliency.shape[1]))
        neg = {}
        if 'neg_text' in inputs:
            neg = self.encoder.forward_saliency(inputs['video'], mask, inputs['neg_text'],
                                                inputs['neg_text_mask'],
                                                with_global=self.neg_pair_global)
        losses = {}
        # Without the global saliency module S_global is S_local: scoring it
        # twice would double the weight of the highlight losses.
        names = ('local', 'global') if self.encoder.global_saliency.enabled else ('local',)
        # Highlight-only sets (TVSum, YouTube-HL) have no windows: their moment
        # clips are the clips with a positive label.
        has_windows = torch.tensor([len(s.gt_instances) > 0 for s in data_samples],
                                   device=mask.device)
        positive = torch.where(has_windows[:, None], in_moment,
                               (gt_saliency.sum(-1) > 0) & mask)
        for name in names:
            losses.update(self.saliency_loss(
                enc[f'saliency_{name}'], mask, gt_saliency,
                neg_saliency=neg.get(f'saliency_{name}'), positive_mask=positive,
                name=name))
        return losses

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List) -> List:
        enc = self.encode(inputs)
        mask, memory, pos = enc['memory_mask'], enc['memory'], enc['memory_pos']
        if self.predict_with == 'atss':
            per_sample = list(zip(*self.atss_head.predict(memory, mask)))
        else:
            spans, scores = self.detr_head.predict(memory, mask, pos)
            if self.fusion is not None and self.predict_with == 'fusion':
                atss_spans, atss_scores = self.atss_head.predict(memory, mask)
                per_sample = self.fusion([spans, atss_spans], [scores, atss_scores])
            else:
                per_sample = list(zip(spans, scores))
        num_clips = mask.sum(1).tolist()
        for b, sample in enumerate(data_samples):
            meta = sample.metainfo
            timeline = meta.get('timeline', num_clips[b] * meta.get('clip_len', 2.0))
            windows, window_scores = select_windows(
                *per_sample[b], max_windows=self.max_windows, timeline=timeline,
                duration=meta.get('duration', timeline))
            sample.pred_instances = InstanceData(spans=windows, scores=window_scores)
            sample.pred_saliency = enc['saliency_global'][b, :num_clips[b]]
        return data_samples
