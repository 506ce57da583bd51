"""Random damage for the fuzz tests of the decoders: a few items changed, added or removed."""

from __future__ import annotations

import random
from collections.abc import MutableSequence, Sequence
from typing import TypeVar

_T = TypeVar("_T")


def damage(items: MutableSequence[_T], chooser: random.Random, alphabet: Sequence[_T], most: int = 3) -> None:
    """Change, add or remove up to ``most`` items of ``items`` in place, at random places, drawing new
    items from ``alphabet`` (a change 40% of the time, an addition 30%, a removal 30%)."""
    for _ in range(chooser.randint(0, most)):
        where, change = chooser.randrange(len(items)), chooser.random()
        if change < 0.4:
            items[where] = chooser.choice(alphabet)
        elif change < 0.7:
            items.insert(where, chooser.choice(alphabet))
        else:
            del items[where]
