"""SG-DETR: saliency-guided encoder + hybrid (DETR and ATSS) span detector, as released."""
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from sgdetr.registry import MODELS
from sgdetr.structures import span_cxw_to_xx, span_xx_to_cxw
from ..encoders import EncoderOutput
from ..heads import ATSSOutput, DETRPredictions
from ..layers import use_cpu_fast_path
from ..postprocess import (detr_windows, finalize_windows, merge_window_samples, round_scores,
                          weighted_span_fusion)
from .data_preprocessor_builder import build_data_preprocessor

HEAD_OUTPUTS = ('detr', 'fusion', 'atss')
DEFAULT_POSTPROCESS = dict(
    round_to=2.0, min_length=2.0, max_windows=10,
    atss=dict(score_thr=0.05, nms_thr=0.5, max_per_video=10),
    fusion=dict(atss=dict(score_thr=0.01, nms_thr=0.75, max_per_video=10),
                model_weights=(1.0, 2.5), iou_thr=0.8, skip_score_thr=0.1))
DEFAULT_TEST_CFG = dict(whole_video=True, window_batch=64,
                        merge=dict(nms_thr=0.7, rescore='saliency', edge_factor=0.5))


@dataclass
class MomentTargets:
    """The training targets of a batch.

    Attributes:
        gt_spans: B tensors (K_b, 2) normalised (centre, width).
        labels: (B, L) graded saliency (the annotators' scores summed, 0 outside).
        pos_clips, neg_clips: (B, P) sampled clip pairs of the margin loss (-1: none).
        timelines: (B,) seconds of each (padded) video.
        videos: the source video of each sample.
    """
    gt_spans: List[Tensor]
    labels: Tensor
    pos_clips: Tensor
    neg_clips: Tensor
    timelines: Tensor
    videos: List[str]


def source_video(vid: str) -> str:
    """The video a clip-level id was cut from (``abc_60.0_210.0`` -> ``abc``)."""
    return re.sub(r'_\d+(\.\d+)?_\d+(\.\d+)?$', '', vid)


@MODELS.register_module()
class SGDETR(BaseModel):
    """Moment retrieval and highlight detection (Dokholyan et al., 2024).

    Forward pass: ``encoder`` (projections, local saliency, text-to-video
    encoder, context encoder, global saliency) -> memory F_g (B, L, H) and
    saliency logits (B, L); ``pyramid`` -> four levels; ``detr_head``
    (one-to-one, the reported output) and ``atss_head`` (one-to-many) detect
    spans on them. In training the ATSS positives are extra DETR queries
    (collaborative training), and learned sentence / moment tokens feed the
    alignment and moment-clip losses. Every computation of a sample is the
    one it would get in a batch of its own.

    Args:
        encoder: :class:`SaliencyGuidedEncoder` config.
        pyramid: :class:`TemporalFeaturePyramid` config.
        detr_head: :class:`SpanDETRHead` config, or None (highlight-only).
        atss_head: :class:`SpanATSSHead` config, or None.
        sentence_encoder, moment_encoder: token encoders of the auxiliary
            losses (None with their loss).
        saliency_loss, alignment_loss, moment_clip_loss: loss configs.
        predict_with: the spans ``predict`` returns as ``pred_instances``:
            ``'detr'`` (the released output), ``'fusion'`` (DETR and ATSS
            spans merged by weighted span fusion) or ``'atss'``; None for
            highlight detection only (no windows, ``pred_saliency`` alone),
            the setting of a model without span heads.
        extra_outputs: further heads' spans, as ``pred_instances_<name>``
            (evaluated alongside, e.g. ``('fusion',)``).
        postprocess: window rules (``round_to`` / ``min_length`` seconds,
            ``max_windows``) and the ATSS / fusion settings, merged over
            :data:`DEFAULT_POSTPROCESS`.
        test_cfg: inference over whole videos, merged over
            :data:`DEFAULT_TEST_CFG`: ``window_batch`` samples (windows) per
            forward; the windows of a long video
            (:class:`sgdetr.datasets.SlidingWindows`) merged onto its timeline
            with ``merge`` (:func:`sgdetr.models.postprocess.merge_moments`:
            ``nms_thr``, ``rescore``), or, with ``whole_video=False``, only its
            first window read (the released truncation).
        cpu_fast_path: train CPU tensors with the fused feed-forward layers and
            the cheaper dropout draws of :mod:`sgdetr.models.layers.cpu_fast_path`
            (same computation; other devices always use the standard modules).
    """

    def __init__(self, encoder: dict, pyramid: dict = dict(type='TemporalFeaturePyramid'),
                 detr_head: Optional[dict] = dict(type='SpanDETRHead'),
                 atss_head: Optional[dict] = dict(type='SpanATSSHead'),
                 sentence_encoder: Optional[dict] = dict(type='SentenceTokenEncoder'),
                 moment_encoder: Optional[dict] = dict(type='MomentTokenEncoder'),
                 saliency_loss: Optional[dict] = dict(type='SaliencyLoss'),
                 alignment_loss: Optional[dict] = dict(type='MomentSentenceAlignmentLoss'),
                 moment_clip_loss: Optional[dict] = dict(type='MomentClipLoss'),
                 predict_with: Optional[str] = 'detr', extra_outputs: Sequence[str] = (),
                 postprocess: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 cpu_fast_path: bool = True, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        build = lambda cfg, **kw: MODELS.build(cfg, default_args=kw) if cfg else None  # noqa
        self.encoder = MODELS.build(encoder)
        dims = self.encoder.embed_dims
        self.pyramid = build(pyramid, embed_dims=dims)
        self.detr_head = build(detr_head, embed_dims=dims)
        self.atss_head = build(atss_head, embed_dims=dims)
        self.sentence_encoder = build(sentence_encoder, embed_dims=dims)
        self.moment_encoder = build(moment_encoder, embed_dims=dims)
        self.saliency_loss = build(saliency_loss)
        self.alignment_loss = build(alignment_loss)
        self.moment_clip_loss = build(moment_clip_loss)
        self.postprocess = {**DEFAULT_POSTPROCESS, **(postprocess or {})}
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}
        self.test_cfg['merge'] = {**DEFAULT_TEST_CFG['merge'], **self.test_cfg['merge']}
        if predict_with is None and extra_outputs:
            raise ValueError(f'extra_outputs={tuple(extra_outputs)} need spans, but '
                             'predict_with=None predicts saliency only')
        for name in () if predict_with is None else (predict_with, *extra_outputs):
            if name not in HEAD_OUTPUTS:
                raise ValueError(f'unknown output {name!r}: choose from {HEAD_OUTPUTS}')
            if name != 'detr' and self.atss_head is None or self.detr_head is None and name != 'atss':
                raise ValueError(f"output {name!r} needs the heads it reads "
                                 f"(detr_head={detr_head is not None}, atss_head="
                                 f"{atss_head is not None})")
        self.predict_with = predict_with
        self.extra_outputs = tuple(n for n in extra_outputs if n != predict_with)
        use_cpu_fast_path(self, cpu_fast_path)

    def forward(self, inputs: dict, data_samples: Optional[List] = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.encode(inputs)
        raise ValueError(f'unknown mode {mode!r}')

    def encode(self, inputs: dict) -> EncoderOutput:
        """The encoder's output with the feature pyramid over its memory."""
        for key, expected in (('video', self.encoder.video_dim), ('text', self.encoder.text_dim)):
            if inputs[key].shape[-1] != expected:
                raise ValueError(
                    f'{key} features have dim {inputs[key].shape[-1]} but the model was '
                    f'built for {expected} (model.encoder.{key}_dim): set the dims once at '
                    'the top of the config so that the dataset and the model agree')
        enc = self.encoder(inputs['video'], inputs['video_mask'], inputs['text'],
                           inputs['text_mask'])
        if self.pyramid is not None:
            enc.levels, enc.level_masks = self.pyramid(enc.memory, inputs['video_mask'])
        return enc

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, Tensor]:
        video_mask, text_mask = inputs['video_mask'], inputs['text_mask']
        enc = self.encode(inputs)
        targets = self._targets(data_samples, video_mask)
        losses, groups = {}, []
        if self.atss_head is not None:
            atss = self.atss_head(enc.levels, enc.level_masks)
            units, units_valid = self.atss_head.to_units(targets.gt_spans, targets.timelines)
            assigned = self.atss_head.assign(atss, units, units_valid)
            losses.update(self.atss_head.loss(atss, assigned, units))
            if self.detr_head is not None and self.detr_head.collaborative:
                samples = self.atss_head.collaborative_samples(atss, assigned, units,
                                                               enc.levels, targets.timelines)
                groups.append(self.detr_head.collaborative_group(samples))
        if self.detr_head is not None:
            detr = self.detr_head(enc.memory, video_mask, enc.pos, enc.levels, enc.level_masks,
                                  [g for g in groups if g is not None])
            losses.update(self.detr_head.loss(detr, targets.gt_spans))
        if self.saliency_loss is not None:
            losses.update(self._saliency_losses(enc, video_mask, text_mask, targets))
        in_moment = (targets.labels > 0) & video_mask
        if self.moment_encoder is not None:
            moment, _, clips = self.moment_encoder(enc.video, enc.pos, video_mask, in_moment)
            if self.alignment_loss is not None:
                sentence = self.sentence_encoder(enc.text, text_mask)
                losses.update(self.alignment_loss(moment, sentence))
            if self.moment_clip_loss is not None:
                losses.update(self.moment_clip_loss(moment, clips, in_moment, video_mask))
        return losses

    def _targets(self, data_samples: List, video_mask: Tensor) -> MomentTargets:
        device, length = video_mask.device, video_mask.shape[1]
        # made on the inputs' device: a sample without labels or pairs next to one
        # with them must not mix a host tensor into a GPU batch
        saliency = [s.gt_saliency.sum(-1).to(device) if 'gt_saliency' in s else
                    torch.zeros(int(s.metainfo['num_clips']), device=device)
                    for s in data_samples]
        labels = pad_sequence(saliency, batch_first=True)
        labels = torch.nn.functional.pad(labels, (0, length - labels.shape[1]))
        pairs = [torch.stack([s.pos_clip_indices, s.neg_clip_indices]).to(device)
                 if 'pos_clip_indices' in s else torch.zeros(2, 0, dtype=torch.long, device=device)
                 for s in data_samples]
        width = max(p.shape[1] for p in pairs)
        # -1: no pair, so a sample without one takes no part in the margin loss
        pairs = torch.stack([p if p.shape[1] == width else torch.full((2, width), -1,
                                                                      device=device)
                             for p in pairs])
        return MomentTargets(
            gt_spans=[span_xx_to_cxw(s.gt_instances.spans.to(device).float())
                      for s in data_samples],
            labels=labels, pos_clips=pairs[:, 0], neg_clips=pairs[:, 1],
            timelines=torch.tensor([float(s.metainfo['timeline']) for s in data_samples],
                                   device=device),
            videos=[source_video(str(s.metainfo.get('vid', i)))
                    for i, s in enumerate(data_samples)])

    def _saliency_losses(self, enc: EncoderOutput, video_mask: Tensor, text_mask: Tensor,
                         targets: MomentTargets) -> Dict[str, Tensor]:
        """HD losses of the local and global saliency; video b is paired with the
        query of sample b + 1 (cyclically) when that query is about another video."""
        batch, videos = video_mask.shape[0], targets.videos
        rows = torch.tensor([b for b in range(batch) if videos[b] != videos[(b + 1) % batch]],
                            dtype=torch.long, device=video_mask.device)
        negatives = (None, None)
        if len(rows):
            negatives = self.encoder.negative_saliency(enc, video_mask, text_mask, rows,
                                                       (rows + 1) % batch)
        losses = {}
        for name, saliency, negative in zip(('local', 'global'), (
                enc.saliency_local, enc.saliency_global), negatives):
            if saliency is not None:
                losses.update(self.saliency_loss(
                    saliency, video_mask, targets.labels, targets.pos_clips,
                    targets.neg_clips, negative, rows, prefix=f'hd_{name}'))
        return losses

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List) -> List:
        """Windows (``pred_instances``: ``spans`` (M, 2) seconds, ``scores`` (M,), in
        the order the benchmark reads them) and ``pred_saliency`` (one per real clip),
        one sample per query: the windows of a long video are predicted
        ``window_batch`` at a time and merged onto the video's timeline."""
        if not self.test_cfg['whole_video']:  # the released truncation: first windows only
            first = [i for i, s in enumerate(data_samples) if not s.metainfo.get('window_index')]
            inputs = {k: v[first] for k, v in inputs.items()}
            data_samples = [data_samples[i] for i in first]
        step = int(self.test_cfg['window_batch'])
        for start in range(0, len(data_samples), step):
            chunk = {k: v[start:start + step] for k, v in inputs.items()}
            # each forward is padded to its own longest sample, not the batch's
            # (unless the preprocessor fixes the shapes)
            pre = self.data_preprocessor
            for key in ('video', 'text'):
                multiple = getattr(pre, f'{key}_pad_multiple', 1)
                if key == 'video' and getattr(pre, 'pad_video_to', None):
                    continue
                length = -(-int(chunk[f'{key}_mask'].sum(1).max()) // multiple) * multiple
                chunk[key], chunk[f'{key}_mask'] = (chunk[key][:, :length],
                                                    chunk[f'{key}_mask'][:, :length])
            self.predict_windows(chunk, data_samples[start:start + step])
        merge = dict(self.test_cfg['merge'], max_windows=self.postprocess['max_windows'])
        return merge_window_samples(data_samples, merge, self.test_cfg['whole_video'])

    def predict_windows(self, inputs: dict, data_samples: List) -> List:
        """:meth:`predict` of samples each read as a video of its own."""
        video_mask = inputs['video_mask']
        enc = self.encode(inputs)
        wanted = () if self.predict_with is None else (self.predict_with, *self.extra_outputs)
        timelines = torch.tensor([float(s.metainfo['timeline']) for s in data_samples])
        detr = atss = None
        if self.detr_head is not None and ('detr' in wanted or 'fusion' in wanted):
            detr = self.detr_head.predict(self.detr_head(
                enc.memory, video_mask, enc.pos, enc.levels, enc.level_masks)).cpu()
        if self.atss_head is not None and ('atss' in wanted or 'fusion' in wanted):
            atss = self.atss_head(enc.levels, enc.level_masks)
        per_head = {name: self._windows(name, detr, atss, timelines, data_samples)
                    for name in wanted}
        saliency = enc.saliency
        for b, sample in enumerate(data_samples):
            for name, windows in per_head.items():
                field = 'pred_instances' if name == self.predict_with else f'pred_instances_{name}'
                sample.set_field(InstanceData(spans=windows[b][0], scores=windows[b][1]), field)
            num = int(sample.metainfo.get('num_real_clips', sample.metainfo['num_clips']))
            sample.pred_saliency = saliency[b, :num].float().cpu()
        return data_samples

    def _windows(self, name: str, detr: Optional[DETRPredictions], atss: Optional[ATSSOutput],
                 timelines: Tensor, data_samples: List) -> List:
        cfg = self.postprocess
        rules = dict(round_to=cfg['round_to'], min_length=cfg['min_length'])
        if name in ('atss', 'fusion'):
            atss_cfg = cfg['fusion']['atss'] if name == 'fusion' else cfg['atss']
            candidates = self.atss_head.predict(atss, timelines.to(atss.valid.device),
                                                **atss_cfg)
        results = []
        for b, sample in enumerate(data_samples):
            timeline, meta = float(timelines[b]), sample.metainfo
            # windows end where the video's real clips end (not in the padding)
            real = meta.get('num_real_clips', meta['num_clips']) * meta.get('clip_len', 1.0)
            duration = min(float(meta.get('duration', timeline)), real, timeline)
            if name == 'detr':
                valid = detr.valid[b]
                results.append(detr_windows(detr.spans[b][valid], detr.probs[b][valid],
                                            detr.ious[b][valid], timeline, duration,
                                            max_windows=cfg['max_windows'], **rules))
                continue
            spans, scores = candidates[b]['spans'].float().cpu(), candidates[b]['scores'].cpu()
            if name == 'fusion':
                spans, scores = self._fuse(detr, b, spans, scores, timeline)
            spans, scores = spans[:cfg['max_windows']], scores[:cfg['max_windows']]
            results.append((finalize_windows(spans, duration, **rules), round_scores(scores)))
        return results

    def _fuse(self, detr: DETRPredictions, b: int, atss_spans: Tensor, atss_scores: Tensor,
              timeline: float):
        """Weighted span fusion of all DETR queries (by p) and the ATSS candidates."""
        cfg = self.postprocess['fusion']
        valid = detr.valid[b]
        probs, ious = detr.probs[b][valid], detr.ious[b][valid]
        order = torch.argsort(probs, descending=True, stable=True)
        detr_spans = span_cxw_to_xx(detr.spans[b][valid][order]).clamp(0, 1)
        fused, scores = weighted_span_fusion(
            [detr_spans, atss_spans / timeline], [(probs * ious)[order].sqrt(), atss_scores],
            cfg['model_weights'], cfg['iou_thr'], cfg['skip_score_thr'])
        return fused * timeline, scores
