"""``KvCache``: the decoder's past state as a value (shared by both decoder backends)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.generic]


@dataclass
class KvCache:
    """Past keys and values by input name, and how many positions they cover."""

    arrays: dict[str, Array]
    length: int

    def copy(self) -> KvCache:
        return KvCache({k: v.copy() for k, v in self.arrays.items()}, self.length)
