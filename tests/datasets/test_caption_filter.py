"""The caption rules of InterVid-MR (removed and kept cases of each rule)."""
import pytest

from sgdetr.datasets.caption_filter import (STOP_WORDS, CaptionFilter,
                                            caption_words, normalize_caption)


def test_stop_word_list_is_the_documented_one():
    assert len(STOP_WORDS) == 179
    assert {'the', 'is', "don't", 'wouldn', 'yourselves'} <= STOP_WORDS
    assert not {'man', 'go', 'none', 'video', 'guitar'} & STOP_WORDS


def test_words_and_normalisation():
    assert caption_words('A man, playing  GUITAR!') == [
        'a', 'man', 'playing', 'guitar']
    # digits alone, punctuation and underscores are no words
    assert caption_words('... 2 3 _ --') == []
    assert caption_words('Room 101 at 5pm') == ['room', 'at', '5pm']
    # typographic apostrophes and full-width letters normalise
    assert normalize_caption('He don\u2019t stop') == "he don't stop"
    assert normalize_caption('\uff21 cat') == 'a cat'
    # numbers are no words but tell captions apart
    assert normalize_caption('Room 101, at 5pm.') == 'room 101 at 5pm'


@pytest.mark.parametrize('caption, rule', [
    ('guitar', 'too_short'),
    ('a man', 'too_short'),
    ('...', 'too_short'),
    ('2 3 4 5', 'too_short'),
    ('this is it', 'stop_words_only'),
    ('it is what it is', 'stop_words_only'),
    ("and then they didn't", 'stop_words_only'),
    ('man plays guitar', None),
    ('what is that dog', None),
    ('here we go', None),
])
def test_text_rules(caption, rule):
    assert CaptionFilter().reason('v', caption) == rule


def test_min_words_is_configurable():
    assert CaptionFilter(min_words=4).reason('v', 'man plays guitar') == \
        'too_short'
    assert CaptionFilter(min_words=1).reason('v', 'guitar') is None
    with pytest.raises(ValueError):
        CaptionFilter(min_words=0)


def test_duplicates_in_video_and_in_set():
    kept = CaptionFilter()
    kept.add('v1', 'A man, playing GUITAR!')
    assert kept.reason('v1', 'a man playing guitar') == 'duplicate_in_video'
    assert kept.reason('v1', 'a man playing the guitar') is None
    kept.add('v1', '2 dogs run on grass')
    assert kept.reason('v1', '3 dogs run on grass') is None
    assert kept.reason('v1', '2 Dogs run on grass!') == 'duplicate_in_video'
    # another video: two valid pairs while dedupe_in_set is off
    assert kept.reason('v2', 'a man playing guitar') is None

    thinned = CaptionFilter(dedupe_in_set=True)
    thinned.add('v1', 'a man playing guitar')
    assert thinned.reason('v1', 'A man playing guitar.') == \
        'duplicate_in_video'
    assert thinned.reason('v2', 'A man playing guitar.') == 'duplicate_in_set'
    assert thinned.reason('v2', 'a woman playing guitar') is None
    # only what was added counts: judging a caption does not remember it
    assert thinned.reason('v3', 'a woman playing guitar') is None
