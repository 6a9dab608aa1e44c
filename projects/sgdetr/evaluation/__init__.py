"""Evaluation: pure metric functions, MMEngine metrics, submission files."""
from . import functional, metrics, submission  # noqa: F401
from .functional import (eval_moment_recall, eval_qvhighlights, eval_tvsum,
                         eval_youtube_highlights)
from .metrics import (HighlightMAPMetric, MomentRecallMetric,
                      QVHighlightsMetric)
from .submission import (load_jsonl, prediction_to_submission,
                         samples_to_submission, write_submission,
                         zip_submission, zip_submission_if_complete)

__all__ = [
    'eval_qvhighlights', 'eval_moment_recall', 'eval_youtube_highlights',
    'eval_tvsum', 'QVHighlightsMetric', 'MomentRecallMetric',
    'HighlightMAPMetric', 'load_jsonl', 'prediction_to_submission',
    'samples_to_submission', 'write_submission', 'zip_submission',
    'zip_submission_if_complete'
]
