"""MMEngine metrics (registered in ``sgdetr.registry.METRICS``)."""
from .base_submission_metric import BaseSubmissionMetric
from .highlight_metric import HighlightMAPMetric
from .moment_recall_metric import MomentRecallMetric
from .qvhighlights_metric import QVHighlightsMetric

__all__ = ['BaseSubmissionMetric', 'QVHighlightsMetric', 'MomentRecallMetric',
           'HighlightMAPMetric']
