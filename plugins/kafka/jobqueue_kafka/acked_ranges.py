"""The commit-metadata format that carries acks past a partition's committed offset.

Kafka stores one offset per partition and group, so a record acked after one that is still
in flight would come back to the next owner of the partition. The offset commit also carries
a metadata string (up to ``offset.metadata.max.bytes``, 4096 by default); the plugin writes the
acked offsets beyond the committed one there, and a consumer taking the partition over skips
them. Format: ``jq1:`` then comma-separated ``<start>+<extra>`` in hex, ``start`` relative to
the committed offset and ``extra`` the length of the inclusive range minus one.
"""

from __future__ import annotations

PREFIX = "jq1:"
DEFAULT_LIMIT = 4000  # characters, under Kafka's default offset.metadata.max.bytes

Range = tuple[int, int]  # inclusive offsets


def merge(ranges: list[Range]) -> list[Range]:
    """Sorted, with overlapping and adjacent ranges joined."""
    merged: list[Range] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def encode(position: int, ranges: list[Range], limit: int = DEFAULT_LIMIT) -> str:
    """The metadata for committed offset ``position``; ranges that do not fit are left out
    (those records would be redelivered: at-least-once still holds)."""
    parts: list[str] = []
    length = len(PREFIX)
    for start, end in merge(ranges):
        if end < position:
            continue
        start = max(start, position)
        part = f"{start - position:x}+{end - start:x}"
        length += len(part) + (1 if parts else 0)
        if length > limit:
            break
        parts.append(part)
    return PREFIX + ",".join(parts) if parts else ""


def decode(position: int, metadata: str | None) -> list[Range]:
    """The acked ranges in ``metadata`` committed with offset ``position``; [] if not ours."""
    if not metadata or not metadata.startswith(PREFIX):
        return []
    ranges: list[Range] = []
    try:
        for part in metadata[len(PREFIX) :].split(","):
            start_text, extra_text = part.split("+")
            start, extra = int(start_text, 16), int(extra_text, 16)
            if start < 0 or extra < 0:
                return []
            ranges.append((position + start, position + start + extra))
    except ValueError:
        return []  # written by something else: trust only the offset
    return merge(ranges)
