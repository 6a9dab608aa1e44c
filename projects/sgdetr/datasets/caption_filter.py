"""Removal of meaningless captions before relabelling (paper §4.3.2: "we
additionally filtered the captions ... to remove meaningless ones").

The paper names the step but not its rules; these are the rules of this
package, each counted separately by :class:`CaptionFilter`:

- ``too_short``: fewer than ``min_words`` words (default 3: subject, verb,
  object).  A word is a run of letters/digits (an inner apostrophe kept,
  ``don't``) holding at least one letter, so ``"..."`` or ``"2 3"`` has
  none.  The shortest QVHighlights training query has 4 words.
- ``stop_words_only``: no word outside :data:`STOP_WORDS` (``"this is
  it"``, ``"here we go"``): nothing to localise.
- ``duplicate_in_video``: the same normalised caption was already written
  for the same video; the earlier sample is kept.  Repeats are near-copies
  of one sample that would weigh one query-video pair several times.
- ``duplicate_in_set`` (off by default): the same normalised caption was
  already written for any video.  Off because one caption on two videos
  are two valid pairs; on, it thins generic captions ("a man is talking").

Duplicates are judged against the captions *written* so far (a caption
whose first sample was dropped for missing features is not lost), so the
state is rebuilt exactly from an output file (:meth:`CaptionFilter.add`
per written line) when a build resumes.

Normalisation: Unicode NFKC, lower case, typographic apostrophes as ``'``,
punctuation and extra spaces removed: ``"A man, playing  GUITAR!"`` and
``"a man playing guitar"`` are one caption; numbers are kept for the
duplicate rules (``"2 dogs"`` and ``"3 dogs"`` differ).
"""
import hashlib
import re
import unicodedata
from typing import List, Optional

#: English stop words: the 179-word English list of NLTK's ``stopwords``
#: corpus (``nltk.corpus.stopwords.words('english')`` of the nltk_data
#: releases up to 2023), committed here so that no corpus download is
#: needed.
STOP_WORDS = frozenset('''
i me my myself we our ours ourselves you you're you've you'll you'd your
yours yourself yourselves he him his himself she she's her hers herself it
it's its itself they them their theirs themselves what which who whom this
that that'll these those am is are was were be been being have has had
having do does did doing a an the and but if or because as until while of
at by for with about against between into through during before after
above below to from up down in out on off over under again further then
once here there when where why how all any both each few more most other
some such no nor not only own same so than too very s t can will just don
don't should should've now d ll m o re ve y ain aren aren't couldn
couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't
isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't
shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
'''.split())

#: the rules, in the order they are applied and reported.
FILTER_RULES = ('too_short', 'stop_words_only', 'duplicate_in_video',
                'duplicate_in_set')
#: default ``min_words`` (see the module doc).
MIN_WORDS = 3

# Letters/digits, with apostrophes inside a word ("don't", "people's").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_APOSTROPHES = str.maketrans({'\u2019': "'", '\u2018': "'", '\u02bc': "'",
                              '`': "'"})


def _tokens(caption: str) -> List[str]:
    text = unicodedata.normalize('NFKC', caption).translate(_APOSTROPHES)
    return _WORD.findall(text.lower())


def caption_words(caption: str) -> List[str]:
    """The normalised words of a caption (tokens with a letter, see the
    module doc), as counted by the length and stop-word rules."""
    return [word for word in _tokens(caption)
            if any(char.isalpha() for char in word)]


def normalize_caption(caption: str) -> str:
    """The caption as compared by the duplicate rules: every token, numbers
    included ("2 dogs" and "3 dogs" differ)."""
    return ' '.join(_tokens(caption))


def _digest(*parts: str) -> bytes:
    # 8-byte keys: millions of captions fit in memory; a collision at 2**64
    # is negligible next to the filter's own approximations.
    return hashlib.blake2b('\x00'.join(parts).encode('utf-8'),
                           digest_size=8).digest()


class CaptionFilter:
    """Decides whether a caption is kept; remembers the written ones.

    Args:
        min_words: captions with fewer words are ``too_short``.
        dedupe_in_set: also drop a caption written before for another video.
    """

    def __init__(self, min_words: int = MIN_WORDS,
                 dedupe_in_set: bool = False):
        if min_words < 1:
            raise ValueError(f'min_words must be >= 1, got {min_words}')
        self.min_words = int(min_words)
        self.dedupe_in_set = bool(dedupe_in_set)
        self._in_video = set()
        self._in_set = set()

    def reason(self, vid: str, caption: str) -> Optional[str]:
        """The rule of :data:`FILTER_RULES` that removes the caption, or
        ``None`` when it is kept."""
        tokens = _tokens(caption)
        words = [token for token in tokens
                 if any(char.isalpha() for char in token)]
        if len(words) < self.min_words:
            return 'too_short'
        if all(word in STOP_WORDS for word in words):
            return 'stop_words_only'
        text = ' '.join(tokens)
        if _digest(vid, text) in self._in_video:
            return 'duplicate_in_video'
        if self.dedupe_in_set and _digest(text) in self._in_set:
            return 'duplicate_in_set'
        return None

    def add(self, vid: str, caption: str) -> None:
        """Remember a written caption of video ``vid``."""
        text = normalize_caption(caption)
        self._in_video.add(_digest(vid, text))
        if self.dedupe_in_set:
            self._in_set.add(_digest(text))
