"""The data sample that travels with every (video, query) pair."""
from mmdet.structures import DetDataSample
from torch import Tensor


class MomentDataSample(DetDataSample):
    """A :class:`mmdet.structures.DetDataSample` for 1D moments.

    Metainfo: ``qid, vid, query, duration`` (seconds), ``clip_len``
    (seconds), ``num_clips`` (L, clips of the feature timeline, before
    padding), ``timeline`` (= L * clip_len seconds; spans are normalised by it).

    Fields:
        gt_instances.spans: (K, 2) GT windows, start/end normalised to [0, 1]
            by ``timeline``.  gt_instances.labels: (K,) zeros (one class).
        gt_saliency: (L, A) float per-clip saliency, A annotators (QVHighlights
            A=3 with scores 0..4; binary sets A=1 with 0/1).
        pred_instances.spans: (M, 2) predicted windows in **seconds**,
            clipped to [0, duration], sorted by ``pred_instances.scores`` (M,).
        pred_saliency: (L,) predicted per-clip highlight scores.
    """

    @property
    def gt_saliency(self) -> Tensor:
        return self._gt_saliency

    @gt_saliency.setter
    def gt_saliency(self, value: Tensor):
        self.set_field(value, '_gt_saliency', dtype=Tensor)

    @gt_saliency.deleter
    def gt_saliency(self):
        del self._gt_saliency

    @property
    def pred_saliency(self) -> Tensor:
        return self._pred_saliency

    @pred_saliency.setter
    def pred_saliency(self, value: Tensor):
        self.set_field(value, '_pred_saliency', dtype=Tensor)

    @pred_saliency.deleter
    def pred_saliency(self):
        del self._pred_saliency
