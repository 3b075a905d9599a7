"""Reading snapshots of the first format (MAGIC CCPYSNP1), written by runners before the
per-group format of snapshot.py: sessions saved then still restore. Nothing writes this format.

    MAGIC
    values   one pickle per value, back to back, all from one Pickler (one shared memo)
    index    pickle of {"python": "3.11", "modules": [(name, module)], "values": [(name, type, start, end)]}
    footer   offset of the index (8 bytes, little-endian), MAGIC
"""
from __future__ import annotations


from .snapshot_loader import SharedMemoLoader
from .snapshot_format import NotCarried, read_index, restore_modules

MAGIC = b"CCPYSNP1"


# --- restoring --------------------------------------------------------------------------------


def restore(path: str, namespace: dict) -> list[NotCarried]:
    """Puts the globals saved in `path` into `namespace`, which must be `__main__`'s.

    Values that fail are reported, never raised; SnapshotError means the file is not a snapshot.
    """
    not_carried: list[NotCarried] = []
    with open(path, "rb") as file:
        index = read_index(file, MAGIC, {"python", "modules", "values"})
        reason = restore_modules(index, namespace, not_carried)
        if reason is not None:
            not_carried.extend(NotCarried(name, type_name, reason) for name, type_name, _, _ in index["values"])
            return not_carried
        _load_values(file, index["values"], namespace, not_carried)
    return not_carried



def _load_values(file, entries, namespace: dict, not_carried: list[NotCarried]) -> None:
    SharedMemoLoader(file, entries).load_into(namespace, not_carried)
