"""tools/data/make_intervid_mr.py: streaming input, atomic output, resume
after a stop or a crash with the file of an uninterrupted run."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from sgdetr.datasets.intervid_mr_builder import InterVidMRBuilder

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'data' / \
    'make_intervid_mr.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('make_intervid_mr', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_raw(root: Path) -> Path:
    """Features of 3 videos and 14 raw lines (one blank): 9 to write, 4 to
    leave out (2 caption rules, a duplicate, missing features)."""
    rng = np.random.default_rng(0)
    (root / 'video').mkdir()
    (root / 'caption').mkdir()
    lengths = dict(long=200, mid=90, short=20)  # clips of 2 s
    for vid, length in lengths.items():
        np.savez(root / 'video' / f'{vid}.npz',
                 features=rng.normal(size=(length, 8)).astype(np.float32))
    lines = []
    for qid in range(13):
        vid = ['long', 'mid', 'short'][qid % 3]
        duration = 2.0 * lengths[vid]
        start = float(rng.integers(0, int(duration) - 12))
        lines.append(dict(vid=vid, qid=qid, duration=duration,
                          interval=[start, start + 10],
                          query=f'person {qid} opens a door slowly'))
        if qid != 12:
            np.savez(root / 'caption' / f'qid{qid}.npz',
                     pooler_output=rng.normal(size=8).astype(np.float32))
    lines[2]['query'] = 'door'
    lines[4]['query'] = 'this is it'
    lines[9]['query'] = lines[0]['query'].upper()  # same video, same caption
    raw = root / 'raw.jsonl'
    text = [json.dumps(line) for line in lines]
    text.insert(6, '')
    raw.write_text('\n'.join(text) + '\n')
    return raw


def cli_args(root: Path, name: str, *extra):
    return ['--input', str(root / 'raw.jsonl'),
            '--video-dir', str(root / 'video'),
            '--caption-dir', str(root / 'caption'),
            '--segment-dir', str(root / f'{name}_segments'),
            '--out', str(root / name / 'out.jsonl'), '--quiet', *extra]


def summary_block(stdout: str) -> str:
    start = stdout.index('samples in:')
    return stdout[start:stdout.index('wrote')]


def segment_files(directory: Path) -> dict:
    return {p.name: np.load(p)['features'].tobytes()
            for p in sorted(directory.iterdir())}


@pytest.fixture
def one_shot(tmp_path, capsys):
    make_raw(tmp_path)
    assert load_tool().main(cli_args(tmp_path, 'once')) == 0
    stdout = capsys.readouterr().out
    return tmp_path, (tmp_path / 'once' / 'out.jsonl').read_bytes(), stdout


def test_one_shot_build(one_shot):
    root, output, stdout = one_shot
    lines = [json.loads(line) for line in output.decode().splitlines()]
    assert [line['qid'] for line in lines] == [0, 1, 3, 5, 6, 7, 8, 10, 11]
    assert 'samples in: 13, written: 9, skipped: 4' in stdout
    assert ('caption filter removed: too_short 1, stop_words_only 1, '
            'duplicate_in_video 1') in stdout
    assert 'skipped 1 x missing_caption_features' in stdout
    # 400 s and 180 s videos are cut to 150 s, the 40 s one kept whole
    for line in lines:
        expected = dict(long=150.0, mid=180.0, short=40.0)
        assert line['duration'] == min(expected[line['source_vid']], 150.0)
    assert sorted(p.name for p in (root / 'once').iterdir()) == ['out.jsonl']


def test_stop_and_rerun_gives_the_one_shot_file(one_shot, capsys):
    root, expected, expected_stdout = one_shot
    tool = load_tool()
    out = root / 'parts' / 'out.jsonl'
    for _ in range(2):
        assert tool.main(cli_args(root, 'parts', '--stop-after', '5')) == \
            tool.EXIT_STOPPED
        assert not out.exists()
        assert Path(f'{out}.partial').exists()
        assert Path(f'{out}.state.json').exists()
    assert tool.main(cli_args(root, 'parts')) == 0
    stdout = capsys.readouterr().out
    assert 'resuming' in stdout and 'after line 10' in stdout
    assert out.read_bytes() == expected
    assert summary_block(stdout) == summary_block(expected_stdout)
    assert sorted(p.name for p in out.parent.iterdir()) == ['out.jsonl']
    assert segment_files(root / 'parts_segments') == segment_files(
        root / 'once_segments')


def test_crash_between_checkpoints_resumes(one_shot, capsys, monkeypatch):
    root, expected, expected_stdout = one_shot
    tool = load_tool()
    out = root / 'crash' / 'out.jsonl'
    process, calls = InterVidMRBuilder.process, []

    def crashing(self, sample, where):
        calls.append(where)
        if len(calls) == 8:  # input line 9: lines 7-8 are past the state
            raise KeyboardInterrupt
        return process(self, sample, where)

    monkeypatch.setattr(InterVidMRBuilder, 'process', crashing)
    with pytest.raises(KeyboardInterrupt):
        tool.main(cli_args(root, 'crash', '--checkpoint-every', '3'))
    state = json.loads(Path(f'{out}.state.json').read_text())
    assert state['input_line'] == 6
    # lines written after the checkpoint are on disk but not in the state
    assert Path(f'{out}.partial').stat().st_size > state['output_bytes']
    monkeypatch.setattr(InterVidMRBuilder, 'process', process)
    assert tool.main(cli_args(root, 'crash')) == 0
    assert out.read_bytes() == expected
    assert summary_block(capsys.readouterr().out) == summary_block(
        expected_stdout)


def test_resume_refuses_other_options_or_input(one_shot, capsys):
    root = one_shot[0]
    tool = load_tool()
    args = cli_args(root, 'parts', '--stop-after', '4')
    assert tool.main(args) == tool.EXIT_STOPPED
    assert tool.main(cli_args(root, 'parts', '--seed', '1')) == 1
    error = capsys.readouterr().err
    assert "['seed']" in error and '--restart' in error
    raw = root / 'raw.jsonl'
    original = raw.read_bytes()
    raw.write_bytes(original.replace(b'"qid": 0,', b'"qid": 100,', 1))
    assert tool.main(cli_args(root, 'parts')) == 1
    assert 'changed' in capsys.readouterr().err
    # lines after the processed part may change: e.g. a fixed bad line
    raw.write_bytes(original)
    assert tool.main(cli_args(root, 'parts', '--stop-after', '2')) == \
        tool.EXIT_STOPPED
    assert 'after line 4' in capsys.readouterr().out
    assert tool.main(cli_args(root, 'parts', '--seed', '1',
                              '--restart')) == 0
    assert 'resuming' not in capsys.readouterr().out


def test_bad_line_names_file_line_and_qid(tmp_path, capsys):
    raw = make_raw(tmp_path)
    lines = raw.read_text().splitlines()
    bad = json.loads(lines[3])
    bad['interval'] = [4]
    lines[3] = json.dumps(bad)
    raw.write_text('\n'.join(lines) + '\n')
    assert load_tool().main(cli_args(tmp_path, 'bad')) == 1
    error = capsys.readouterr().err
    assert f'{raw}:4 (qid=3)' in error and '`interval`' in error


def test_streaming_reader_resumes_at_a_byte_offset(tmp_path):
    tool = load_tool()
    path = tmp_path / 'a.jsonl'
    path.write_bytes(b'{"a": 1}\n\n{"a": "\xc3\xa9"}\n{"a": 3}\n')
    rows = list(tool.iter_jsonl_from(str(path)))
    assert [(n, r) for n, _, _, r in rows] == [
        (1, {'a': 1}), (2, None), (3, {'a': 'é'}), (4, {'a': 3})]
    line, offset = rows[1][0], rows[1][1]
    assert [(n, r) for n, _, _, r in tool.iter_jsonl_from(
        str(path), offset, line)] == [(3, {'a': 'é'}), (4, {'a': 3})]


def test_progress_line(tmp_path, capsys):
    make_raw(tmp_path)
    args = [a for a in cli_args(tmp_path, 'p') if a != '--quiet']
    assert load_tool().main(args) == 0
    assert '14 lines (100.0%), 9 written' in capsys.readouterr().err
