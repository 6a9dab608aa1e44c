"""Highlight mAP metric of YouTube-Highlights and TVSum."""
from typing import List, Optional, Sequence

from sgdetr.errors import DataError

from ...registry import METRICS
from ..functional import TVSUM_TOP_K, eval_tvsum, eval_youtube_highlights
from .base_submission_metric import BaseSubmissionMetric


@METRICS.register_module()
class HighlightMAPMetric(BaseSubmissionMetric):
    """Per-domain highlight mAP (see
    :mod:`sgdetr.evaluation.functional.highlight`).

    Logged as ``HL-mAP`` (mean over domains) and ``HL-mAP-{domain}``.

    Args:
        ann_file: annotation file with ``label`` and ``domain``.
        protocol: ``'youtube'`` (YouTube-Highlights, AP over all clips) or
            ``'tvsum'`` (top-``top_k`` AP against each annotator).
        top_k: TVSum only.
        domains: score only these domains' videos (models of these benchmarks
            are usually trained and evaluated one domain at a time); None: all.
        submission_dir, split_name, match_number, collect_device, prefix,
            collect_dir: see :class:`BaseSubmissionMetric`.
    """
    PROTOCOLS = ('youtube', 'tvsum')

    def __init__(self,
                 ann_file: str,
                 protocol: str = 'youtube',
                 top_k: int = TVSUM_TOP_K,
                 domains: Optional[Sequence[str]] = None,
                 submission_dir: Optional[str] = None,
                 split_name: str = 'val',
                 match_number: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if protocol not in self.PROTOCOLS:
            raise ValueError(f'protocol must be one of {self.PROTOCOLS}, got {protocol!r}')
        super().__init__(ann_file, submission_dir, split_name, None,
                         match_number, collect_device, prefix, collect_dir)
        self.protocol = protocol
        self.clip_count_rule = protocol
        self.top_k = top_k
        self.domains = None if domains is None else set(domains)

    @property
    def annotations(self) -> List[dict]:
        annotations = super().annotations
        if self.domains is None:
            return annotations
        return [a for a in annotations if a.get('domain') in self.domains]

    GROUND_TRUTH = {'highlight detection': ('label', lambda a: a.get('label') is not None)}

    def _is_scored(self, raw: dict) -> bool:
        return self.domains is None or raw.get('domain') in self.domains

    def check_ground_truth(self):
        """:meth:`BaseSubmissionMetric.check_ground_truth`, and every domain
        asked for present in ``ann_file`` (else nothing would be scored)."""
        coverage = super().check_ground_truth()
        if self.domains is not None:
            present = {a.get('domain') for a in super().annotations}
            missing = sorted(self.domains - present)
            if missing:
                raise DataError(f'{self.ann_file}: no query of domain(s) {missing}; the '
                                f'file has {sorted(map(str, present - {None}))}')
        return coverage

    def has_ground_truth(self) -> bool:
        return self.check_ground_truth()['highlight detection']

    def metric_names(self) -> List[str]:
        if not self.has_ground_truth():
            return []
        domains = sorted({str(a.get('domain')) for a in self.annotations})
        return ['HL-mAP'] + [f'HL-mAP-{name}' for name in domains]

    def score(self, entries: List[dict], annotations: List[dict]):
        if self.protocol == 'tvsum':
            per_domain = eval_tvsum(entries, annotations, self.top_k,
                                    match_number=self.match_number)
        else:
            per_domain = eval_youtube_highlights(entries, annotations,
                                                 match_number=self.match_number)
        flat = {'HL-mAP': per_domain['mAP']}
        flat.update((f'HL-mAP-{name}', value)
                    for name, value in per_domain.items() if name != 'mAP')
        return per_domain, flat
