"""The prediction figures: what each panel shows."""
import pytest

from sgdetr.apis.visualization import (plot_prediction, plot_predictions, plot_summary,
                                       save_figure, split_summary, window_iou)

ENTRY = dict(qid=3, query='a dog runs on the beach', vid='v1',
             pred_relevant_windows=[[10.0, 20.0, 0.9], [30.0, 34.0, 0.5], [0.0, 4.0, 0.1]],
             pred_saliency_scores=[0.1 * i for i in range(25)])
GT = dict(qid=3, duration=50.0, relevant_windows=[[10.0, 18.0], [40.0, 44.0]],
          relevant_clip_ids=[5, 6, 7, 8, 20, 21], saliency_scores=[[4, 3, 4]] * 6)


def test_window_iou():
    assert window_iou((10, 20), [[10, 18], [40, 44]]) == pytest.approx(0.8)
    assert window_iou((0, 4), [[10, 18]]) == 0.0 and window_iou((0, 4), []) == 0.0


def test_per_query_figure_draws_curve_gt_and_top_windows(tmp_path):
    figure = plot_prediction(ENTRY, GT, clip_len=2.0, top_k=2)
    curve, windows = figure.axes[:2]
    assert curve.get_xlim() == (0.0, 50.0)  # the annotated duration
    labels = [t.get_text() for t in windows.get_yticklabels()]
    assert labels == ['ground truth', '#1', '#2']
    texts = [t.get_text() for t in windows.texts]
    assert texts == ['0.90  IoU 0.80', '0.50  IoU 0.00']
    assert 'a dog runs on the beach' in figure._suptitle.get_text()
    path = save_figure(figure, str(tmp_path / 'one.png'))
    assert open(path, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    bare = plot_prediction(ENTRY)  # no ground truth: duration from the clips
    assert bare.axes[0].get_xlim() == (0.0, 50.0)
    assert [t.get_text() for t in bare.axes[1].get_yticklabels()] == ['#1', '#2', '#3']


def test_stacked_and_summary_figures(tmp_path):
    other = dict(ENTRY, qid=4, pred_relevant_windows=[[40.0, 44.0, 0.7]])
    stacked = plot_predictions([ENTRY, other], {3: GT})
    assert len([ax for ax in stacked.axes if ax.get_title(loc='left')]) == 2
    gts = {3: GT, 4: dict(GT, qid=4)}
    assert split_summary([ENTRY, other], gts) == pytest.approx(
        {'queries': 2, 'mean top-1 IoU': 0.9, 'R1@0.5': 100.0, 'R1@0.7': 100.0})
    summary = plot_summary([ENTRY, other] * 5, gts, max_panels=6, columns=3)
    titled = [ax.get_title() for ax in summary.axes if ax.get_title()]
    assert titled[:2] == ['qid 3  IoU 0.80', 'qid 4  IoU 1.00'] and len(titled) == 6
    assert 'mean IoU 0.90' in summary._suptitle.get_text()
    save_figure(summary, str(tmp_path / 'grid.png'))
