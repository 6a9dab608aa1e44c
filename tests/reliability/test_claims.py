"""What README.md says about the files the project writes is what they hold."""
import os

from sgdetr.evaluation.submission import write_submission

from reliability_utils import REPO, read_jsonl


def readme() -> str:
    return ' '.join((REPO / 'README.md').read_text(encoding='utf-8').split())


def test_last_checkpoint_is_described_as_it_is(trained_run):
    assert os.path.isabs((trained_run / 'last_checkpoint').read_text().strip())
    assert '`last_checkpoint` holds the absolute path MMEngine writes' in readme()
    assert '`last_checkpoint` is relative' not in readme()


def test_submission_windows_keep_the_models_order(tmp_path):
    windows = [[0.0, 4.0, 0.2], [4.0, 8.0, 0.9], [2.0, 6.0, 0.5]]
    written = write_submission([dict(qid=1, pred_relevant_windows=windows)],
                               str(tmp_path / 'subm.jsonl'))
    assert written[0]['pred_relevant_windows'] == windows
    assert read_jsonl(tmp_path / 'subm.jsonl')[0]['pred_relevant_windows'] == windows
    assert "in the model's order, at most 10 windows: not re-sorted by score" in readme()
    assert 'sorted by score' not in readme().replace('not re-sorted by score', '')
