"""How far a layer may expand: the defence against decompression bombs.

A gzip of zeros expands about 1000:1, so a 10 MB blob can claim 10 GB of
tar. Real layers expand 2-5x (measured in docs/security.md), so the default
limit is relative to the compressed size -- ``RATIO`` times it plus
``FLOOR`` -- and never more than ``ABSOLUTE_CAP``. ``--max-layer-size`` (or
``LAYERSCOPE_MAX_LAYER_SIZE``) replaces the rule by one absolute size, or
``off``. The limit is enforced while inflating (compression.py), so a bomb
is stopped at the limit rather than inflated to the end.
"""

from __future__ import annotations

import os

from ..errors import BadInputError, UsageError
from ..units import human_size, parse_size

RATIO = 100  # uncompressed bytes allowed per compressed byte, beyond FLOOR
FLOOR = 1 << 30  # any layer may expand to 1 GiB (a zero-filled file compresses ~1000:1)
ABSOLUTE_CAP = 64 << 30  # no layer expands past 64 GiB by default, whatever its compressed size
ENV = "LAYERSCOPE_MAX_LAYER_SIZE"
OPTION = "--max-layer-size"

_explicit: list[int | None | str] = ["default"]  # set by the CLI option: an int, None (off) or "default"


def parse_limit(value: str) -> int | None:
    """``"4GiB"`` -> bytes; ``"off"`` -> None (no limit). Raises ValueError."""
    if value.strip().lower() in ("off", "none", "unlimited"):
        return None
    n = parse_size(value)
    if n <= 0:
        raise ValueError(f"not a positive size: {value!r} (or 'off' for no limit)")
    return n


def set_max_layer_size(value: int | None | str) -> None:
    """The limit for every layer read from now on: bytes, None (off) or ``"default"`` (the rule)."""
    _explicit[0] = value


def _configured() -> int | None | str:
    if _explicit[0] != "default":
        return _explicit[0]
    env = os.environ.get(ENV)
    if env:
        try:
            return parse_limit(env)
        except ValueError as e:
            raise UsageError(f"{ENV}: {e}") from None
    return "default"


def max_layer_size(compressed: int) -> int | None:
    """The most uncompressed bytes a layer blob of ``compressed`` bytes may yield (None: no limit)."""
    chosen = _configured()
    if chosen != "default":
        return chosen  # type: ignore[return-value]
    return min(ABSOLUTE_CAP, RATIO * compressed + FLOOR)


def too_big(limit: int, compressed: int, where: str) -> BadInputError:
    """The one line for a layer that expands (or is stored) past ``limit``."""
    rule = ("set by --max-layer-size" if _configured() != "default"
            else f"default: {RATIO} x its {human_size(compressed)} compressed + {human_size(FLOOR)}, "
                 f"at most {human_size(ABSOLUTE_CAP)}")
    return BadInputError(f"layer larger than the limit of {human_size(limit)} uncompressed ({rule}); "
                         f"a bomb, or raise the limit with {OPTION} SIZE (or {ENV}=SIZE, 'off' for none)",
                         where=where)
