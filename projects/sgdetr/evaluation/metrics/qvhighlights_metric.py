"""QVHighlights metric: the official evaluation inside MMEngine's loops."""
from typing import Dict, List

from mmengine.logging import print_log

from ...registry import METRICS
from ..functional import eval_qvhighlights
from ..submission import SUBMISSION_FILES
from .base_submission_metric import BaseSubmissionMetric


@METRICS.register_module()
class QVHighlightsMetric(BaseSubmissionMetric):
    """MR + HD metrics of the QVHighlights server, and its submission file.

    Logged metrics are the "brief" ones of the official JSON: ``MR-full-mAP``,
    ``MR-full-mAP@0.5``, ``MR-full-mAP@0.75``, ``MR-full-R1@0.5``,
    ``MR-full-R1@0.7``, ``MR-{short,middle,long}-mAP`` and
    ``HL-min-{Fair,Good,VeryGood}-{mAP,Hit1}``.  With ``submission_dir`` the
    entries go to ``hl_{split_name}_submission.jsonl`` and the full official
    JSON to ``hl_{split_name}_submission_metrics.json``.  A split without
    ground truth (the test split) only writes the submission.

    Args:
        ann_file: ``highlight_{val,test}_release.jsonl``.
        max_windows: windows written per query; scores always use the first
            10, as the server does.
        submission_dir, split_name, match_number, collect_device, prefix,
            collect_dir: see :class:`BaseSubmissionMetric`.
    """

    @property
    def submission_file(self) -> str:
        return SUBMISSION_FILES.get(self.split_name,
                                    f'hl_{self.split_name}_submission.jsonl')

    def _annotated(self):
        """(every query has GT windows, every query has GT saliency)."""
        return (all(a.get('relevant_windows') for a in self.annotations),
                all(a.get('relevant_clip_ids') is not None
                    and a.get('saliency_scores') is not None
                    for a in self.annotations))

    def has_ground_truth(self) -> bool:
        return any(self._annotated())

    def score(self, entries: List[dict], annotations: List[dict]):
        with_windows, with_saliency = self._annotated()
        dropped = [key for key, annotated in (('pred_relevant_windows', with_windows),
                                              ('pred_saliency_scores', with_saliency))
                   if not annotated and key in entries[0]]
        if dropped:
            print_log(f'{self.ann_file} lacks the ground truth of {dropped}: '
                      'not scored', logger='current')
            entries = [{k: v for k, v in e.items() if k not in dropped}
                       for e in entries]
        # scored as the server scores: its first 10 windows, whatever
        # max_windows wrote
        full = eval_qvhighlights(entries, annotations,
                                 match_number=self.match_number)
        flat: Dict[str, float] = dict(full['brief'])
        return full, flat
