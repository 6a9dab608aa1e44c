"""The library index behind :class:`sgdetr.apis.MomentSearcher`.

- :mod:`.store`: SQLite bookkeeping + append-only embedding files
  (memory-mapped), atomic commits, compaction;
- :mod:`.quantize`: int8 rows with a scale per row, and their query product;
- :mod:`.library`: the library's files, what changed, durations;
- :mod:`.embedding`: the model's query-independent clip embedding and its
  query embedding (the two sides of the local saliency);
- :mod:`.candidates`: first stage, one matrix product -> candidate windows;
- :mod:`.ranking`: second stage scores on one scale for every video;
- :mod:`.identity`: the config / checkpoint an index belongs to.
"""
from .errors import IndexMismatchError, StaleIndexError
from .store import IndexStore, IndexTable, VideoRecord

__all__ = ['IndexStore', 'IndexTable', 'VideoRecord', 'IndexMismatchError', 'StaleIndexError']
