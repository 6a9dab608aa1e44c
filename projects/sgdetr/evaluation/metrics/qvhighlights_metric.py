"""QVHighlights metric: the official evaluation inside MMEngine's loops."""
from typing import Dict, List

from mmengine.logging import print_log

from sgdetr.errors import DataError

from ...registry import METRICS
from ..functional import HL_LEVELS, MR_LENGTH_RANGES, eval_qvhighlights
from ..functional.qvhighlights import HL_CLIP_LEN
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
    ground truth (the test split) only writes the submission; one where some
    queries lack windows (or saliency) while others have them is an error.

    Args:
        ann_file: ``highlight_{val,test}_release.jsonl``.
        max_windows: windows written per query; scores always use the first
            10, as the server does.
        submission_dir, split_name, match_number, collect_device, prefix,
            collect_dir: see :class:`BaseSubmissionMetric`.
    """

    clip_count_rule = 'qvhighlights'

    @property
    def submission_file(self) -> str:
        return SUBMISSION_FILES.get(self.split_name,
                                    f'hl_{self.split_name}_submission.jsonl')

    GROUND_TRUTH = {
        'moment retrieval': ('relevant_windows',
                             lambda a: bool(a.get('relevant_windows'))),
        'highlight detection': ('relevant_clip_ids/saliency_scores',
                                lambda a: a.get('relevant_clip_ids') is not None
                                and a.get('saliency_scores') is not None),
    }

    def _check_record(self, raw: dict, where: str) -> None:
        num_clips = int(raw['duration'] / HL_CLIP_LEN)
        for clip_id in raw.get('relevant_clip_ids') or []:
            if not -num_clips <= clip_id < num_clips:
                raise DataError(f'{where}: relevant clip id {clip_id} lies past the '
                                f'{num_clips} clips of {HL_CLIP_LEN} s of the video '
                                f'(duration {raw["duration"]:g} s)')

    def metric_names(self) -> List[str]:
        coverage = self.check_ground_truth()
        names = []
        if coverage['moment retrieval']:
            names += [f'MR-{name}-mAP' for name, _ in MR_LENGTH_RANGES]
            names += ['MR-full-mAP@0.5', 'MR-full-mAP@0.75', 'MR-full-R1@0.5',
                      'MR-full-R1@0.7']
        if coverage['highlight detection']:
            names += [f'HL-min-{level}-{kind}' for level, _ in HL_LEVELS
                      for kind in ('mAP', 'Hit1')]
        return names

    def _annotated(self):
        """(every query has GT windows, every query has GT saliency)."""
        coverage = self.check_ground_truth()
        return coverage['moment retrieval'], coverage['highlight detection']

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
