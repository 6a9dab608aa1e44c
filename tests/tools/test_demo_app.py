"""tools/demo_app.py: the backend, and the page through Gradio's client on a
local server (skipped without gradio: pip install -e ".[demo]")."""
import importlib.util
import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


def _load(name, path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


assets = _load('sgdetr_assets', REPO / 'tests' / 'apis' / 'sgdetr_assets.py')
demo_app = _load('demo_app_tool', REPO / 'tools' / 'demo_app.py')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def backend(tmp_path_factory):
    base = tmp_path_factory.getbasetemp() / 'sgdetr_assets'
    root = assets.synthetic_root(base, 256)
    args = demo_app.parse_args(['--data-root', root, '--checkpoint',
                                assets.demo_checkpoint(base)])
    return demo_app.make_backend(args)


def test_latest_checkpoint(tmp_path):
    assert demo_app.latest_checkpoint(str(tmp_path)) is None
    for name in ('epoch_2.pth', 'epoch_10.pth', 'epoch_9.pth'):
        (tmp_path / name).write_bytes(b'')
    assert demo_app.latest_checkpoint(str(tmp_path)).endswith('epoch_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))
    assert demo_app.latest_checkpoint(str(tmp_path)).endswith('epoch_9.pth')


def test_backend_examples_queries_and_predictions(backend):
    examples = backend.examples()
    assert examples and examples[0][1] == backend.split.vids[0]
    vid = next(v for _, v in examples if len(backend.split.queries(v)) >= 2)
    queries = backend.queries_for(vid)
    records = backend.split.queries(vid)
    assert queries.splitlines() == [r['query'] for r in records]
    other = next(r for r in backend.split.records if r['vid'] != vid)
    figure, rows, entries, status = backend.run(
        example=vid, queries=queries + f'\nqid:{other["qid"]}', top_k=3)
    assert [e['qid'] for e in entries] == [r['qid'] for r in records] + [other['qid']]
    assert len(rows) == 3 * len(entries) and rows[0][:2] == [records[0]['query'], 1]
    assert f'{len(entries)} queries on **{vid}**' in status and 'ground truth' in status
    assert figure is not None
    # the same windows as the inferencer on that video alone
    alone = backend.split.predict(backend.inferencer, vid)
    assert entries[0]['pred_relevant_windows'] == alone[0]['pred_relevant_windows']
    _, _, _, status = backend.run(example=vid, queries='free text nobody annotated')
    assert status.startswith('**Error:**') and 'not an annotated query' in status
    _, _, _, status = backend.run(example=vid, queries='  ')
    assert 'at least one query' in status


def test_backend_reads_uploaded_feature_files(backend, tmp_path):
    from sgdetr.extractors import save_video_features
    vid = backend.split.vids[0]
    path = save_video_features(backend.split.video(vid)[0], str(tmp_path), 'upload', 'released')
    query = backend.split.queries(vid)[0]['query']
    _, _, entries, status = backend.run(feature_file=path, queries=query)
    assert entries[0]['vid'] == 'upload' and 'ground truth' not in status
    fake = tmp_path / 'clip.mp4'
    fake.write_bytes(b'\x00')
    _, _, _, status = backend.run(video_file=str(fake), queries=query)
    assert 'video_encoder' in status


def test_library_view_searches_every_indexed_video(backend, tmp_path_factory):
    from sgdetr.apis import MomentSearcher
    base = tmp_path_factory.getbasetemp() / 'sgdetr_assets'
    checkpoint = assets.demo_checkpoint(base)
    index = str(tmp_path_factory.mktemp('library') / 'index')
    MomentSearcher(index, backend.inferencer.cfg, checkpoint).index(
        backend.split.video_dirs[0], progress=False)
    args = demo_app.parse_args(['--data-root', assets.synthetic_root(base, 256), '--checkpoint',
                                checkpoint, '--index', index])
    library = demo_app.make_library(args, backend)
    record = backend.split.records[0]
    rows, status = library.search(record['query'], top_k=3)
    assert [row[0] for row in rows] == [1, 2, 3] and rows[0][2] < rows[0][3]
    assert {row[1] for row in rows} <= set(library.searcher.table().vids.tolist())
    assert status.startswith('3 moments from') and 'first stage' in status
    assert library.search('  ') == ([], 'Type a query.')
    rows, status = library.search('free text nobody annotated')
    assert rows == [] and 'not an annotated query' in status


def test_page_through_the_gradio_client(backend):
    pytest.importorskip('gradio')
    from gradio_client import Client
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    app = demo_app.build_app(backend)
    port = free_port()
    demo_app.launch(app, '127.0.0.1', port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f'http://127.0.0.1:{port}/', verbose=False)
        vid = backend.split.vids[1]
        queries = client.predict(vid, api_name='/queries')
        assert queries == backend.queries_for(vid)
        plot, table, entries, status = client.predict(None, None, vid, queries, 2,
                                                      api_name='/find_moments')
        assert plot['type'] == 'matplotlib' and plot['plot'].startswith('data:image/')
        assert table['headers'] == ['query', 'rank', 'start (s)', 'end (s)', 'score']
        assert len(table['data']) == 2 * len(entries) and entries[0]['vid'] == vid
        assert status.startswith(f'{len(entries)} quer')
    finally:
        app.close()
