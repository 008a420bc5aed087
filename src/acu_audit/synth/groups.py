"""Grouped random picks (a CSR index): "a random member of unit u", "a random person on case c"."""

from __future__ import annotations

import numpy as np


class Groups:
    """Members grouped by an integer key, for vectorised uniform picks within a group."""

    def __init__(self, keys: np.ndarray, n_keys: int, members: np.ndarray | None = None) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        members = np.arange(len(keys)) if members is None else np.asarray(members)
        order = np.argsort(keys, kind="stable")
        self.members = members[order]
        self.offsets = np.searchsorted(keys[order], np.arange(n_keys + 1)).astype(np.int64)

    def count(self, key: np.ndarray | int) -> np.ndarray:
        key = np.asarray(key)
        return self.offsets[key + 1] - self.offsets[key]

    def pick(self, rng: np.random.Generator, key: np.ndarray) -> np.ndarray:
        """One uniform member per key (``-1`` where the group is empty or the key is ``-1``)."""
        key = np.asarray(key, dtype=np.int64)
        ok = key >= 0
        k = np.where(ok, key, 0)
        lo, n = self.offsets[k], self.offsets[k + 1] - self.offsets[k]
        idx = lo + (rng.random(len(key)) * n).astype(np.int64)
        out = np.full(len(key), -1, dtype=self.members.dtype if self.members.dtype.kind == "i" else np.int64)
        good = ok & (n > 0)
        out[good] = self.members[idx[good]]
        return out

    def of(self, key: int) -> np.ndarray:
        return self.members[self.offsets[key] : self.offsets[key + 1]]
