"""tools/infer.py refuses inputs it would answer wrongly: a duration the video
cannot have, a query feature file that does not exist; the qid of a query
feature file is the one its name gives."""
import pytest

from reliability_utils import DIM, REPO, load_tool, read_jsonl


@pytest.fixture(scope='module')
def infer_tool():
    return load_tool('infer')


@pytest.fixture
def video(shared_data, tmp_path):
    """(config, video feature file, its number of clips, a query feature file)."""
    import numpy as np
    config = tmp_path / 'zero_shot.py'
    config.write_text(f"_base_ = ['{REPO}/configs/zero_shot/zero_shot_synthetic.py']\n"
                      f"_data = dict(data_root='{shared_data}/', video_dim={DIM}, "
                      f"text_dim={DIM})\n"
                      "val_dataloader = dict(dataset=_data)\n"
                      "test_dataloader = dict(dataset=_data)\n")
    record = read_jsonl(shared_data / 'annotations' / 'highlight_val_release.jsonl')[0]
    path = shared_data / 'features' / 'video' / f'{record["vid"]}.npz'
    with np.load(path) as npz:
        clips = len(npz['features'])
    return config, path, clips, shared_data / 'features' / 'text' / f'qid{record["qid"]}.npz'


def infer(tool, capsys, config, *args):
    status = tool.main([str(config), *map(str, args)])
    return status, capsys.readouterr().err


@pytest.mark.parametrize('duration', ['-3', '0', 'nan'])
def test_a_duration_that_is_not_positive_is_refused(infer_tool, video, tmp_path, capsys,
                                                    duration):
    config, path, _, query = video
    with pytest.raises(SystemExit):
        infer(infer_tool, capsys, config, '--video', path, '--query-features', query,
              '--duration', duration, '--out', tmp_path / 'pred.jsonl')
    assert ('error: --duration must be a positive number of seconds, got '
            f'{float(duration):g}') in capsys.readouterr().err
    assert not (tmp_path / 'pred.jsonl').exists()


def test_a_duration_the_features_cannot_have_is_refused(infer_tool, video, tmp_path, capsys):
    config, path, clips, query = video
    status, error = infer(infer_tool, capsys, config, '--video', path, '--query-features',
                          query, '--duration', 500, '--out', tmp_path / 'pred.jsonl')
    assert status == 1
    assert (f'error: duration 500 s disagrees with the video features: {clips} clips of 2 s '
            f'are {2 * clips} s') in error
    assert not (tmp_path / 'pred.jsonl').exists()
    # a partial last clip is within the tolerance
    status, _ = infer(infer_tool, capsys, config, '--video', path, '--query-features', query,
                      '--duration', 2 * clips - 1.5, '--out', tmp_path / 'pred.jsonl')
    assert status == 0


def test_a_missing_query_feature_file_is_not_read_as_text(infer_tool, video, tmp_path, capsys):
    config, path, _, query = video
    missing = tmp_path / 'qid404.npz'
    with pytest.raises(SystemExit):
        infer(infer_tool, capsys, config, '--video', path, '--query-features', query, missing,
              '--out', tmp_path / 'pred.jsonl')
    assert f'error: --query-features {missing}: no such file' in capsys.readouterr().err


def test_the_qid_of_a_query_feature_file_is_the_one_its_name_gives(infer_tool, video, tmp_path,
                                                                    capsys):
    config, path, _, query = video
    out = tmp_path / 'pred.jsonl'
    other = tmp_path / 'my query.npz'
    other.write_bytes(query.read_bytes())
    status, _ = infer(infer_tool, capsys, config, '--video', path, '--query-features', query,
                      other, '--out', out)
    assert status == 0
    assert [(e['qid'], e['query']) for e in read_jsonl(out)] == [
        (int(query.stem[3:]), query.stem), ('my query', 'my query')]
    status, error = infer(infer_tool, capsys, config, '--video', path, '--query-features', query,
                          query, '--out', tmp_path / 'twice.jsonl')
    assert status == 1
    assert f"error: qid(s) ['{query.stem[3:]}'] given to more than one query" in error
