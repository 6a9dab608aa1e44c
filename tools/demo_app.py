"""A demo page (Gradio): pick or upload a video (or a feature file), type queries, see the
moments on a timeline and the highlight curve.

    pip install -e ".[demo]"            # gradio
    make demo                           # trains the demo model (CPU, minutes)
    python tools/demo_app.py            # http://127.0.0.1:7860
    python tools/demo_app.py --config configs/sgdetr_qvh.py --checkpoint CKPT \\
        --encoder internvideo2 --video-encoder-path video_encoder.pt \\
        --text-encoder-path text_encoder.pt --tokenizer bert-large-uncased

Defaults: ``configs/sgdetr_demo.py`` and the latest checkpoint of
``work_dirs/demo/sgdetr`` (what ``make demo`` trains). The videos of the
config's split (``--split``, val by default) are offered as examples, with
their annotated queries and ground truth. Without a text encoder, a query is
looked up among the dataset's annotated queries (type one of them, or
``qid:<qid>``): the synthetic demo data has features but no encoder that
made them. With ``--encoder`` the page also reads uploaded video files and
free text. With ``--index DIR`` (built by ``tools/search.py index`` with the
same config and checkpoint) the page also has a library view: type a query,
see the best moments of every indexed video.
"""
import argparse
import glob
import os
import os.path as osp
import re
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'sgdetr_demo.py')
DEFAULT_WORK_DIR = osp.join('work_dirs', 'demo', 'sgdetr')


def latest_checkpoint(work_dir: str):
    """The checkpoint ``last_checkpoint`` names in ``work_dir``, else its newest
    ``epoch_*.pth`` / ``iter_*.pth``, else ``None``."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker, encoding='utf-8') as handle:
            path = handle.read().strip()
        for candidate in (path, osp.join(work_dir, osp.basename(path))):
            if candidate and osp.isfile(candidate):
                return candidate
    def number(path):
        match = re.search(r'(\d+)\.pth$', path)
        return int(match.group(1)) if match else -1
    found = glob.glob(osp.join(work_dir, 'epoch_*.pth')) + glob.glob(
        osp.join(work_dir, 'iter_*.pth'))
    return max(found, key=number) if found else None


def parse_args(argv=None):
    from sgdetr.extractors.cli import add_encoder_args
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--checkpoint', help=f'default: the latest in {DEFAULT_WORK_DIR}')
    parser.add_argument('--work-dir', default=DEFAULT_WORK_DIR,
                        help='where to look for the latest checkpoint')
    parser.add_argument('--split', default='val', help="the config's split offered as examples")
    parser.add_argument('--data-root', help="override the config's data_root")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--index', help='a library index (tools/search.py index) for the '
                        'library view')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    add_encoder_args(parser)
    return parser.parse_args(argv)


class DemoBackend:
    """What the page calls: examples, their queries, and predictions.

    Args:
        inferencer: a :class:`sgdetr.apis.MomentInferencer`.
        split: a :class:`sgdetr.apis.DatasetSplit` for the examples, or None.
        text_lookup: a text encoder used when the inferencer has none (e.g.
            :class:`sgdetr.extractors.DatasetQueryEncoder`).
    """

    def __init__(self, inferencer, split=None, text_lookup=None):
        self.inferencer, self.split, self.text_lookup = inferencer, split, text_lookup
        self.gts = {r['qid']: r for r in split.records} if split is not None else {}

    def examples(self):
        if self.split is None:
            return []
        choices = []
        for vid in self.split.vids:
            count = len(self.split.queries(vid))
            choices.append((f'{vid}  ({count} {"query" if count == 1 else "queries"})', vid))
        return choices

    def queries_for(self, vid) -> str:
        if not vid or self.split is None or vid not in self.split.by_vid:
            return ''
        return '\n'.join(r.get('query', f'qid:{r["qid"]}') for r in self.split.queries(vid))

    def _texts(self, text: str):
        return [line.strip() for line in (text or '').splitlines() if line.strip()]

    def _query_features(self, texts):
        encoder = self.inferencer.text_encoder or self.text_lookup
        if encoder is None:
            raise ValueError('typed queries need a text encoder: start the page with --encoder')
        return [t.numpy() for t in encoder.encode(texts)]

    def run(self, video_file=None, feature_file=None, example=None, queries='', top_k=5):
        """-> (figure or None, table rows, entries, status text)."""
        from sgdetr.apis.visualization import plot_predictions
        start = time.time()
        texts = self._texts(queries)
        if not texts:
            return None, [], [], 'Type at least one query (one per line).'
        try:
            vid, gts = None, {}
            if video_file:
                video, vid = video_file, osp.splitext(osp.basename(video_file))[0]
            elif feature_file:
                video, vid = feature_file, osp.splitext(osp.basename(feature_file))[0]
            elif example and self.split is not None:
                vid, video = example, self.split.video(example)
            else:
                return None, [], [], 'Pick an example video, or upload a video or feature file.'
            duration = None
            if video is not None and not isinstance(video, str):
                records = self.split.queries(vid)
                duration = records[0].get('duration')
            features, duration = self.inferencer.load_video(video, duration)
            query_features = self._query_features(texts)
            qids = list(range(len(texts)))
            if self.text_lookup is not None and self.inferencer.text_encoder is None:
                qids = [self.text_lookup.qid(t) for t in texts]
                if example and not (video_file or feature_file):
                    gts = {q: self.gts[q] for q in qids
                           if q in self.gts and self.gts[q].get('vid') == vid}
            entries = self.inferencer.predict_features(features, query_features, duration, texts,
                                                       qids, vid or '')
        except (ValueError, KeyError, FileNotFoundError, OSError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            return None, [], [], f'**Error:** {message}'
        figure = plot_predictions(entries, gts, self.inferencer.clip_len, int(top_k), duration)
        rows = [[e['query'], rank, round(w[0], 2), round(w[1], 2), round(w[2], 4)]
                for e in entries for rank, w in enumerate(e['pred_relevant_windows'][:int(top_k)],
                                                          start=1)]
        clips = len(entries[0]['pred_saliency_scores']) if entries else 0
        status = (f'{len(entries)} queries on **{vid}** ({clips} clips, {duration:.1f} s) in '
                  f'{time.time() - start:.2f} s' + (' - green: ground truth' if gts else ''))
        return figure, rows, entries, status


class LibraryBackend:
    """What the library view calls: one query, the best moments of all indexed videos.

    Args:
        searcher: a :class:`sgdetr.apis.MomentSearcher`.
        text_lookup: a text encoder used when the searcher has none.
    """

    def __init__(self, searcher, text_lookup=None):
        self.searcher, self.text_lookup = searcher, text_lookup

    def search(self, query: str = '', top_k=10, num_candidates=20):
        """-> (table rows [rank, video, start, end, score], status text)."""
        query = (query or '').strip()
        if not query:
            return [], 'Type a query.'
        try:
            encoder = self.searcher.text_encoder or self.text_lookup
            if encoder is None:
                raise ValueError('typed queries need a text encoder: start the page with '
                                 '--encoder')
            tokens = encoder.encode([query])[0].numpy()
            result = self.searcher.search(tokens, int(top_k), int(num_candidates))
        except (ValueError, KeyError, FileNotFoundError, OSError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            return [], f'**Error:** {message}'
        rows = [[rank, m.video, round(m.start, 2), round(m.end, 2), round(m.score, 4)]
                for rank, m in enumerate(result.moments, start=1)]
        videos = len(self.searcher.table().vids)
        timing = ', '.join(f'{name.replace("_", " ")} {1000 * seconds:.0f} ms'
                           for name, seconds in result.timings.items())
        return rows, f'{len(rows)} moments from {videos} videos ({timing})'


def library_view(gr, library: LibraryBackend):
    """The library section of the page (inside the Blocks)."""
    gr.Markdown('### Library\nThe best moments of every indexed video for one query.')
    with gr.Row():
        with gr.Column(scale=1):
            query = gr.Textbox(label='query', lines=1)
            top_k = gr.Slider(1, 50, value=10, step=1, label='moments shown')
            search = gr.Button('Search the library', variant='primary')
            status = gr.Markdown()
        with gr.Column(scale=2):
            table = gr.Dataframe(headers=['rank', 'video', 'start (s)', 'end (s)', 'score'],
                                 label='moments', interactive=False)
    search.click(library.search, inputs=[query, top_k], outputs=[table, status],
                 api_name='search_library')


def _theme(gr):
    """Gradio's default theme with local fonts only (the page loads nothing remote)."""
    return gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                             font_mono=['ui-monospace', 'monospace'])


def build_app(backend: DemoBackend, title: str = 'SG-DETR: moments and highlights',
              run_on_load: bool = True, library: LibraryBackend = None):
    """The page; with ``run_on_load`` it opens on an example's result; with
    ``library`` it also has the library view."""
    import inspect
    import gradio as gr
    blocks_args = dict(title=title, analytics_enabled=False)
    if 'theme' in inspect.signature(gr.Blocks.__init__).parameters:
        blocks_args['theme'] = _theme(gr)  # Gradio < 6 takes it here, >= 6 in launch()
    examples = backend.examples()
    # the page opens on the example with the most queries among the first ten
    first = max(examples[:10], key=lambda e: len(backend.split.queries(e[1])))[1] \
        if examples else None
    with gr.Blocks(**blocks_args) as app:
        gr.Markdown(f'## {title}\nPick an example video (or upload a video / feature file), '
                    'type queries one per line, and press **Find moments**.')
        with gr.Row():
            with gr.Column(scale=1):
                example = gr.Dropdown(examples, value=first,
                                      label='example video', allow_custom_value=False)
                with gr.Accordion('or upload', open=False):
                    video_file = gr.Video(label='video file (needs --encoder)', sources=['upload'])
                    feature_file = gr.File(label='video feature file (.pt / .npz / .npy)',
                                           file_types=['.pt', '.npz', '.npy'], type='filepath')
                queries = gr.Textbox(label='queries, one per line', lines=4,
                                     value=backend.queries_for(first) if first else '')
                top_k = gr.Slider(1, 10, value=5, step=1, label='windows shown per query')
                run = gr.Button('Find moments', variant='primary')
                status = gr.Markdown(label='status')
            with gr.Column(scale=2):
                plot = gr.Plot(label='highlight curve and moments', show_label=False)
                table = gr.Dataframe(headers=['query', 'rank', 'start (s)', 'end (s)', 'score'],
                                     label='moments', interactive=False)
                with gr.Accordion('submission-format output', open=False):
                    raw = gr.JSON(label='predictions')
        example.change(backend.queries_for, inputs=example, outputs=queries, api_name='queries')
        inputs, outputs = [video_file, feature_file, example, queries, top_k], [plot, table, raw,
                                                                               status]
        run.click(backend.run, inputs=inputs, outputs=outputs, api_name='find_moments')
        if run_on_load and examples:
            app.load(backend.run, inputs=inputs, outputs=outputs, api_name=False)
        if library is not None:
            library_view(gr, library)
    return app


def launch(app, host: str = '127.0.0.1', port: int = 7860, **kwargs):
    import inspect
    import gradio as gr
    options = dict(server_name=host, server_port=port, share=False, **kwargs)
    parameters = inspect.signature(gr.Blocks.launch).parameters
    if 'theme' in parameters:
        options['theme'] = _theme(gr)
    if 'ssr_mode' in parameters:
        options['ssr_mode'] = False
    return app.launch(**options)


def make_backend(args):
    """The inferencer, the example split and the query lookup the options ask for."""
    from mmengine.config import Config
    from sgdetr.apis import DatasetSplit, MomentInferencer
    from sgdetr.extractors import DatasetQueryEncoder
    from sgdetr.extractors.cli import encoders_from_args
    cfg = Config.fromfile(args.config)
    if args.data_root:
        root = args.data_root.rstrip('/') + '/'
        for name in ('train', 'val', 'test'):
            if cfg.get(f'{name}_dataloader'):
                cfg[f'{name}_dataloader'].dataset.data_root = root
    checkpoint = args.checkpoint or latest_checkpoint(args.work_dir)
    video_encoder, text_encoder = encoders_from_args(args)
    inferencer = MomentInferencer(cfg, checkpoint, args.device, video_encoder, text_encoder)
    if checkpoint is None and any(p.numel() for p in inferencer.model.parameters()):
        raise SystemExit(f'no checkpoint in {args.work_dir}: run `make demo` first, or pass '
                         '--checkpoint')
    split = lookup = None
    try:
        split = DatasetSplit(cfg, args.split)
        files = []
        for name in ('train', 'val', 'test'):
            loader = cfg.get(f'{name}_dataloader')
            if loader and loader.dataset.get('ann_file'):
                root = loader.dataset.get('data_root') or ''
                path = loader.dataset.ann_file
                path = path if not root or osp.isabs(path) else osp.join(root, path)
                if osp.isfile(path) and path not in files:
                    files.append(path)
        lookup = DatasetQueryEncoder(files, split.text_dir, split.layout)
    except Exception as error:  # the page still works on uploads
        print(f'no examples ({error})', file=sys.stderr)
    print(f'model: {args.config} + {checkpoint}')
    return DemoBackend(inferencer, split, lookup)


def make_library(args, backend: DemoBackend):
    """The library view's backend for ``--index`` (same config and checkpoint), or None."""
    if not args.index:
        return None
    from sgdetr.apis import MomentSearcher
    checkpoint = args.checkpoint or latest_checkpoint(args.work_dir)
    searcher = MomentSearcher(args.index, backend.inferencer.cfg, checkpoint, args.device,
                              text_encoder=backend.inferencer.text_encoder)
    print(f'library: {args.index} ({len(searcher.table().vids)} videos)')
    return LibraryBackend(searcher, backend.text_lookup)


def main(argv=None):
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    args = parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit('the demo page needs gradio: pip install -e ".[demo]"') from None
    backend = make_backend(args)
    app = build_app(backend, library=make_library(args, backend))
    launch(app, args.host, args.port)


if __name__ == '__main__':
    main()
