"""Build InterVid-MR annotations (paper §4.3.2): filter captions, trim each
sample's video to a segment of at most 150 s around its annotated interval,
and relabel it into QVHighlights-format MR + HD lines.

    python tools/data/make_intervid_mr.py --input raw.jsonl \\
        --video-dir data/intervid_mr/features/internvideo2_full \\
        --caption-dir data/intervid_mr/features/internvideo2_caption \\
        --segment-dir data/intervid_mr/features/internvideo2 \\
        --out data/intervid_mr/annotations/intervid_mr_train.jsonl

``raw.jsonl``: one JSON object per line with ``vid``, ``qid``, ``query``,
``duration`` (seconds) and ``interval`` ``[start, end]`` (seconds).  Video
features of the source videos: ``{video-dir}/{vid}.npz`` key ``features``
(L, D); caption embeddings: ``{caption-dir}/qid{qid}.npz`` key
``pooler_output`` (D,) or ``last_hidden_state`` (N, D) (averaged), in the
same space as the video features.  Every written sample's segment clips go
to ``{segment-dir}/{vid}_{start}_{end}.npz``: the directory the training
config reads (``--max-duration 0`` keeps whole videos and writes none).

The input is read line by line.  The output appears at ``--out`` only when
the build is complete (``{out}.partial`` until then); every
``--checkpoint-every`` input lines ``{out}.state.json`` records how far it
got, and rerunning the same command after a kill continues from there and
ends with the file an uninterrupted run writes (``--restart`` starts over).
``--stop-after N`` stops (exit status 3) after N more input lines, e.g. to
build in parts.

Try it on the synthetic data (``tools/data/make_synthetic.py``), whose video
and text share one space: every query's first ground-truth window plays the
annotated interval, and the report says how many of the other planted
windows the relabelling finds::

    python tools/data/make_intervid_mr.py \\
        --demo-from-synthetic data/synthetic \\
        --out data/synthetic/annotations/intervid_mr_train.jsonl

See :mod:`sgdetr.datasets.intervid_mr` and
:mod:`sgdetr.datasets.intervid_mr_builder` for the rules.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import sys
import time

import numpy as np

from sgdetr.datasets.annotations import read_jsonl
from sgdetr.datasets.caption_filter import MIN_WORDS, CaptionFilter
from sgdetr.errors import DataError
from sgdetr.datasets.intervid_mr import GRADE_STATS, PLACEMENTS
from sgdetr.datasets.intervid_mr_builder import (MAX_SEGMENT_SECONDS,
                                                 InterVidMRBuilder,
                                                 build_intervid_mr,
                                                 format_intervid_mr_summary)
from sgdetr.engine.atomic_local_backend import (atomic_output,
                                                atomic_write_text)
from sgdetr.structures.spans import span_iou_exact

#: IoU at which a relabelled window counts as finding a planted one (demo).
DEMO_IOU = 0.5
#: exit status of a build stopped by --stop-after (rerun to continue).
EXIT_STOPPED = 3
STATE_VERSION = 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--input', help='raw samples, JSON lines')
    source.add_argument(
        '--demo-from-synthetic', metavar='DIR',
        help='use the synthetic dataset in DIR instead: its --split '
        'annotations (first window = the annotated interval) and features')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val'],
                        help='synthetic split of --demo-from-synthetic')
    parser.add_argument('--video-dir',
                        help='{vid}.npz video features (key "features")')
    parser.add_argument('--caption-dir',
                        help='qid{qid}.npz caption embeddings')
    parser.add_argument('--segment-dir',
                        help='where the segments\' features are written '
                        '(demo: DIR/features/intervid_mr_video)')
    parser.add_argument('--feature-layout', default='npz',
                        choices=['npz', 'released'],
                        help='video files in --video-dir and --segment-dir: '
                        '{vid}.npz "features" or {vid}.pt tensors')
    parser.add_argument('--out', required=True, help='output JSON lines')
    rules = parser.add_argument_group('rules')
    rules.add_argument('--clip-len', type=float, default=2.0,
                       help='seconds per video feature clip')
    rules.add_argument('--length-tolerance', type=float, default=0.1,
                       help='skip samples whose feature length differs from '
                       'duration / clip-len by more than this fraction (and '
                       '2 clips); negative: keep all')
    rules.add_argument('--max-duration', type=float,
                       default=MAX_SEGMENT_SECONDS,
                       help='longest segment in seconds; 0: keep whole '
                       'videos (features already per segment)')
    rules.add_argument('--placement', default='random', choices=PLACEMENTS,
                       help='where the segment sits around the interval')
    rules.add_argument('--seed', type=int, default=0,
                       help='seed of the random placement')
    rules.add_argument('--grade-stats', default='positives',
                       choices=GRADE_STATS,
                       help='eq. 18 mu/sigma of the new positive clips or '
                       'of the annotated interval (S_pos)')
    rules.add_argument('--min-words', type=int, default=MIN_WORDS,
                       help='captions with fewer words are removed')
    rules.add_argument('--dedupe-across-videos', action='store_true',
                       help='also remove a caption written for another video')
    rules.add_argument('--no-caption-filter', action='store_true',
                       help='keep every caption')
    run = parser.add_argument_group('running')
    run.add_argument('--checkpoint-every', type=int, default=1000,
                     help='input lines between two resume checkpoints')
    run.add_argument('--stop-after', type=int, default=None, metavar='N',
                     help='stop after N more input lines (exit status 3); '
                     'rerun to continue')
    run.add_argument('--restart', action='store_true',
                     help='ignore an interrupted build of --out, start over')
    run.add_argument('--quiet', action='store_true', help='no progress line')
    args = parser.parse_args(argv)
    if args.input and not (args.video_dir and args.caption_dir):
        parser.error('--input needs --video-dir and --caption-dir')
    if args.max_duration > 0 and args.input and not args.segment_dir:
        parser.error('trimming (--max-duration > 0) needs --segment-dir')
    if min(args.checkpoint_every, args.min_words,
           1 if args.stop_after is None else args.stop_after) < 1:
        parser.error('--checkpoint-every, --stop-after and --min-words must '
                     'be >= 1')
    return args


def builder_options(args) -> dict:
    """Keyword arguments of :class:`InterVidMRBuilder` (all but the dirs)."""
    return dict(
        clip_len=args.clip_len,
        length_tolerance=(None if args.length_tolerance < 0 else
                          args.length_tolerance),
        caption_filter=(None if args.no_caption_filter else CaptionFilter(
            args.min_words, dedupe_in_set=args.dedupe_across_videos)),
        max_duration=args.max_duration if args.max_duration > 0 else None,
        segment_dir=args.segment_dir, placement=args.placement,
        seed=args.seed, grade_stats=args.grade_stats,
        feature_layout=args.feature_layout)


# -- streaming, resumable build -----------------------------------------------
def iter_jsonl_from(path: str, offset: int = 0, line_number: int = 0):
    """Yield ``(line_number, end_offset, raw_bytes, record)`` for each
    non-blank line of ``path`` after byte ``offset`` (the end of line
    ``line_number``), one line at a time.

    Raises:
        DataError: unreadable file; a line not UTF-8, not JSON or not an
            object (naming ``path:line``).
    """
    try:
        handle = open(path, 'rb')
    except OSError as error:
        raise DataError(f'{path}: cannot read ({error.strerror or error})'
                        ) from error
    with handle:
        handle.seek(offset)
        for raw in handle:
            line_number += 1
            offset += len(raw)
            where = f'{path}:{line_number}'
            try:
                text = raw.decode('utf-8-sig' if line_number == 1 else
                                  'utf-8')
            except UnicodeDecodeError as error:
                raise DataError(f'{where}: not valid UTF-8 ({error})'
                                ) from error
            if not text.strip():
                yield line_number, offset, raw, None
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise DataError(f'{where}: malformed JSON ({error.msg} at '
                                f'column {error.colno})') from error
            if not isinstance(record, dict):
                raise DataError(f'{where}: expected a JSON object, got '
                                f'{type(record).__name__}')
            yield line_number, offset, raw, record


def run_options(args) -> dict:
    """What must not change between a build and its resumption."""
    return dict(input=osp.abspath(args.input),
                video_dir=osp.abspath(args.video_dir),
                caption_dir=osp.abspath(args.caption_dir),
                segment_dir=(osp.abspath(args.segment_dir)
                             if args.segment_dir else None),
                clip_len=args.clip_len,
                length_tolerance=args.length_tolerance,
                max_duration=args.max_duration, placement=args.placement,
                seed=args.seed, grade_stats=args.grade_stats,
                min_words=args.min_words,
                dedupe_across_videos=args.dedupe_across_videos,
                caption_filter=not args.no_caption_filter,
                feature_layout=args.feature_layout)


class Progress:
    """Input lines done, rate and ETA (from the bytes left) on stderr: a
    redrawn line on a terminal, a line every 30 s in a log."""

    def __init__(self, total_bytes: int, start_offset: int, quiet: bool,
                 interval: float = 1.0):
        self.total, self.start_offset = max(1, total_bytes), start_offset
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.wait = interval if self.tty else 30 * interval
        self.started = self.last = time.perf_counter()
        self.lines = 0

    def update(self, line_number: int, offset: int, written: int) -> None:
        self.lines += 1
        now = time.perf_counter()
        if not self.quiet and now - self.last >= self.wait:
            self.last = now
            self._show(line_number, offset, written, now)

    def close(self, line_number: int, offset: int, written: int) -> None:
        if not self.quiet:
            self._show(line_number, offset, written, time.perf_counter())
            if self.tty:
                print(file=sys.stderr)

    def _show(self, line_number, offset, written, now) -> None:
        elapsed = max(now - self.started, 1e-9)
        done = offset - self.start_offset
        eta = (self.total - offset) * elapsed / done if done else float('nan')
        text = (f'{line_number} lines ({offset / self.total:.1%}), '
                f'{written} written, {self.lines / elapsed:.0f} lines/s, '
                f'ETA {_clock(eta)}')
        print(('\r' + text) if self.tty else text, end='' if self.tty
              else '\n', file=sys.stderr, flush=True)


def build_from_file(args) -> int:
    """The streaming, resumable build of ``--input`` (see the module doc)."""
    partial, state_path = f'{args.out}.partial', f'{args.out}.state.json'
    builder = InterVidMRBuilder(args.video_dir, args.caption_dir,
                                **builder_options(args))
    options = run_options(args)
    offset = line_number = output_bytes = 0
    digest = hashlib.sha256()  # of the input bytes processed so far
    if osp.exists(state_path) and not args.restart:
        with open(state_path, encoding='utf-8') as handle:
            state = json.load(handle)
        problem = _resume_problem(state, options, partial)
        if problem is None:
            digest = _prefix_hash(args.input, state['input_offset'])
            if digest.hexdigest() != state['input_sha256']:
                problem = (f'the first {state["input_line"]} lines of '
                           f'{args.input} changed')
        if problem:
            raise DataError(f'{state_path}: cannot resume ({problem}); '
                            f'rerun with --restart to start over')
        offset, line_number = state['input_offset'], state['input_line']
        output_bytes = state['output_bytes']
        with open(partial, 'r+b') as handle:
            handle.truncate(output_bytes)  # lines after the checkpoint
        for _, line in read_jsonl(partial):
            builder.add_written(line)
        builder.load_state_dict(state['builder'])
        print(f'resuming {args.input} after line {line_number} '
              f'({builder.num_written} lines written)')
    else:
        if osp.exists(state_path):  # --restart: the old state is void now
            os.remove(state_path)
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        open(partial, 'wb').close()

    def checkpoint():
        # the lines first: the state never counts bytes not on disk
        output.flush()
        os.fsync(output.fileno())
        atomic_write_text(json.dumps(dict(
            version=STATE_VERSION, options=options, input_offset=offset,
            input_line=line_number, input_sha256=digest.hexdigest(),
            output_bytes=output_bytes, builder=builder.state_dict())),
            state_path)

    progress = Progress(os.path.getsize(args.input), offset, args.quiet)
    done = 0
    with open(partial, 'ab') as output:
        for line_number, offset, raw, record in iter_jsonl_from(
                args.input, offset, line_number):
            digest.update(raw)
            if record is not None:
                line = builder.process(record, f'{args.input}:{line_number}')
                if line is not None:
                    data = (json.dumps(line) + '\n').encode('utf-8')
                    output.write(data)
                    output_bytes += len(data)
            done += 1
            progress.update(line_number, offset, builder.num_written)
            if args.stop_after is not None and done >= args.stop_after:
                checkpoint()
                progress.close(line_number, offset, builder.num_written)
                print(f'stopped after line {line_number}; rerun the same '
                      f'command to continue')
                return EXIT_STOPPED
            if done % args.checkpoint_every == 0:
                checkpoint()
        output.flush()
        os.fsync(output.fileno())
    progress.close(line_number, offset, builder.num_written)
    summary = builder.summary()
    print(format_intervid_mr_summary(summary))
    if not summary['num_written']:
        print('error: no sample left to write', file=sys.stderr)
        return 1
    os.replace(partial, args.out)
    if osp.exists(state_path):
        os.remove(state_path)
    print(f'wrote {summary["num_written"]} lines to {args.out}')
    return 0


def _prefix_hash(path: str, num_bytes: int):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        left = num_bytes
        while left > 0:
            block = handle.read(min(left, 1 << 24))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest


def _resume_problem(state: dict, options: dict, partial: str):
    """Why a saved state cannot be resumed (but for the input's bytes), or
    ``None``."""
    if state.get('version') != STATE_VERSION:
        return f'state version {state.get("version")}'
    changed = sorted(k for k in options if state['options'].get(k)
                     != options[k])
    if changed:
        return f'other options than the interrupted build: {changed}'
    if not osp.exists(partial) or osp.getsize(partial) < state[
            'output_bytes']:
        return f'{partial} is missing or shorter than recorded'
    return None


def _clock(seconds: float) -> str:
    if not np.isfinite(seconds):
        return '?'
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}'


# -- demo on synthetic data ---------------------------------------------------
def synthetic_raw_samples(root: str, split: str):
    """Raw samples of a synthetic split and its planted windows.

    Returns:
        (samples, planted): the raw sample dicts and, per sample, the (K, 2)
        seconds of all its ground-truth windows.
    """
    path = osp.join(root, 'annotations', f'highlight_{split}_release.jsonl')
    samples, planted = [], []
    for _, line in read_jsonl(path):
        samples.append(dict(vid=line['vid'], qid=line['qid'],
                            query=line['query'], duration=line['duration'],
                            interval=line['relevant_windows'][0]))
        planted.append(np.asarray(line['relevant_windows'], np.float64))
    return samples, planted


def demo_report(lines, samples, planted) -> str:
    """How many planted windows a relabelled window matches (IoU >= 0.5),
    separately for the annotated interval and the other planted windows."""
    planted_by_qid = {s['qid']: p for s, p in zip(samples, planted)}
    found = np.zeros(2, np.int64)  # annotated interval, other windows
    total = np.zeros(2, np.int64)
    for line in lines:
        gt = planted_by_qid[line['qid']]
        # relabelled windows are in segment time, planted ones in the video's
        shift = line.get('source_window', [0.0])[0]
        hit = span_iou_exact(gt, np.asarray(line['relevant_windows']) + shift
                             ).max(axis=1) >= DEMO_IOU  # (K,)
        found += [hit[0], hit[1:].sum()]
        total += [1, len(gt) - 1]
    return (f'planted windows found (IoU >= {DEMO_IOU:g}): annotated '
            f'interval {found[0]}/{total[0]}, the other planted windows '
            f'{found[1]}/{total[1]}')


def build_demo(args) -> int:
    root = args.demo_from_synthetic
    samples, planted = synthetic_raw_samples(root, args.split)
    args.segment_dir = args.segment_dir or osp.join(root, 'features',
                                                    'intervid_mr_video')
    lines, summary = build_intervid_mr(
        samples, args.video_dir or osp.join(root, 'features', 'video'),
        args.caption_dir or osp.join(root, 'features', 'text'),
        **builder_options(args))
    print(format_intervid_mr_summary(summary))
    print(demo_report(lines, samples, planted))
    if not lines:
        print('error: no sample left to write', file=sys.stderr)
        return 1
    with atomic_output(args.out) as temp_path:
        with open(temp_path, 'w', encoding='utf-8') as handle:
            handle.writelines(json.dumps(line) + '\n' for line in lines)
    print(f'wrote {len(lines)} lines to {args.out}')
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        status = build_demo(args) if args.demo_from_synthetic else \
            build_from_file(args)
    except DataError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(f'{time.perf_counter() - start:.1f} s')
    return status


if __name__ == '__main__':
    sys.exit(main())
