"""Matching the qids of a submission with those of the ground truth."""
from typing import Dict, Iterable, List, Set


def preview(items: Iterable, limit: int = 10) -> str:
    """The first ``limit`` items, sorted, for error messages."""
    items = sorted(items, key=str)
    more = f' ... (+{len(items) - limit})' if len(items) > limit else ''
    return '[' + ', '.join(map(repr, items[:limit])) + more + ']'


def index_by_qid(entries: List[dict], source: str) -> Dict:
    """``{qid: entry}``; a repeated qid is an error naming ``source``."""
    by_qid, duplicates = {}, []
    for entry in entries:
        if entry['qid'] in by_qid:
            duplicates.append(entry['qid'])
        by_qid[entry['qid']] = entry
    if duplicates:
        raise ValueError(f'{source} has duplicate qids: {preview(duplicates)}')
    return by_qid


def shared_qids(submitted: Set, expected: Set, match_number: bool) -> Set:
    """The qids to score: all of them, which must agree when ``match_number``
    (as the official evaluation asserts), else those both sides have."""
    if match_number and submitted != expected:
        raise ValueError(
            'qids of the submission and the ground truth differ: '
            f'{len(expected - submitted)} missing from the submission '
            f'{preview(expected - submitted)}, {len(submitted - expected)} not '
            f'in the ground truth {preview(submitted - expected)} '
            '(pass match_number=False to evaluate the shared qids only)')
    shared = submitted & expected
    if not shared:
        raise ValueError('the submission shares no qid with the ground truth')
    return shared
