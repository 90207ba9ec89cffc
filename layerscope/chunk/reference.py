"""FastCDC 2020 in plain Python: the definition the C chunker is tested against.

Slow (about a megabyte per second) and meant to be read.  Names follow the
paper: Wen Xia et al., "The Design of Fast Content-Defined Chunking for Data
Deduplication Based Storage Systems", IEEE TPDS 31(9), 2020 -- Algorithm 2,
"FastCDC with rolling two bytes each time".  Cut points are identical to
fastcdc-rs ``v2020`` and pyfastcdc for the same parameters.

The chunk parameters live here too, because they are part of the definition:
the masks follow from ``avg_size`` and the normalization level.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from layerscope.errors import UsageError

__all__ = [
    "ChunkParams",
    "DEFAULT_PARAMS",
    "GEAR",
    "GEAR_LS",
    "MASKS",
    "cut",
    "cut_points",
    "round_log2",
]

_U64 = (1 << 64) - 1

# GEAR: 256 "random" 64-bit values, one per byte value: the high 8 bytes of
# MD5(64 bytes of that value), as in the paper's C code (destor) and in
# fastcdc-rs.  The C file spells the same table out as literals.
GEAR: tuple[int, ...] = tuple(
    int.from_bytes(hashlib.md5(bytes([i]) * 64).digest()[:8], "big") for i in range(256)
)

# GEAR_LS: the same table shifted left by one bit (paper section 3.7), so a
# two-byte step needs a single shift of the fingerprint.
GEAR_LS: tuple[int, ...] = tuple((g << 1) & _U64 for g in GEAR)

# MASKS[bits]: `bits` one-bits spread across the fingerprint's upper half
# (spreading improves dedup slightly, per the paper).  Values from destor and
# fastcdc-rs; 5 and 23..25 only exist for normalization levels that reach
# past the average-size bounds.
MASKS: tuple[int, ...] = (
    0, 0, 0, 0, 0,
    0x0000000001804110,  # 5
    0x0000000001803110,  # 6: 64 B
    0x0000000018035100,  # 7: 128 B
    0x0000001800035300,  # 8: 256 B
    0x0000019000353000,  # 9: 512 B
    0x0000590003530000,  # 10: 1 KiB
    0x0000D90003530000,  # 11: 2 KiB
    0x0000D90103530000,  # 12: 4 KiB
    0x0000D90303530000,  # 13: 8 KiB
    0x0000D90313530000,  # 14: 16 KiB
    0x0000D90F03530000,  # 15: 32 KiB
    0x0000D90303537000,  # 16: 64 KiB
    0x0000D90703537000,  # 17: 128 KiB
    0x0000D90707537000,  # 18: 256 KiB
    0x0000D91707537000,  # 19: 512 KiB
    0x0000D91747537000,  # 20: 1 MiB
    0x0000D91767537000,  # 21: 2 MiB
    0x0000D93767537000,  # 22: 4 MiB
    0x0000D93777537000,  # 23: 8 MiB
    0x0000D93777577000,  # 24: 16 MiB
    0x0000DB3777577000,  # 25
)

# Size bounds (the same as fastcdc-rs): they keep bits(avg) +/- level inside
# MASKS.  Mirrored by LS_FASTCDC_* in src_c/fastcdc.h.
MIN_SIZE_BOUNDS = (64, 1 << 20)
AVG_SIZE_BOUNDS = (256, 4 << 20)
MAX_SIZE_BOUNDS = (1024, 16 << 20)
LEVEL_BOUNDS = (0, 3)


def round_log2(value: int) -> int:
    """round(log2(value)) in exact integers (fastcdc-rs uses f64 log2 + round).

    round(log2 v) = floor(log2(v) + 1/2) = floor(log2(2 v^2) / 2).
    """
    return ((2 * value * value).bit_length() - 1) // 2


def _check_int(name: str, value: object, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"chunk {name} must be an integer, not {type(value).__name__}")
    low, high = bounds
    if not low <= value <= high:
        raise UsageError(f"chunk {name} {value} is out of range [{low}, {high}]")
    return value


@dataclass(frozen=True)
class ChunkParams:
    """Chunk size parameters; validated on construction, hashable, reusable.

    ``avg_size`` sets the mask width (round(log2(avg_size)) bits), so it need
    not be a power of two.  ``level`` is the paper's normalization level NC:
    cuts use a mask NC bits harder before ``avg_size`` and NC bits easier
    after it, which narrows the chunk-size spread.  Chunks are at most
    ``max_size``; all but the last are at least ``min_size & ~1`` (two-byte
    stepping rounds the skipped prefix down to even).
    """

    min_size: int = 16 * 1024
    avg_size: int = 64 * 1024
    max_size: int = 256 * 1024
    level: int = 1

    def __post_init__(self) -> None:
        _check_int("min_size", self.min_size, MIN_SIZE_BOUNDS)
        _check_int("avg_size", self.avg_size, AVG_SIZE_BOUNDS)
        _check_int("max_size", self.max_size, MAX_SIZE_BOUNDS)
        _check_int("normalization level", self.level, LEVEL_BOUNDS)
        if not self.min_size <= self.avg_size <= self.max_size:
            raise UsageError(
                "chunk sizes must satisfy min_size <= avg_size <= max_size, got "
                f"{self.min_size} / {self.avg_size} / {self.max_size}"
            )

    @property
    def mask_s(self) -> int:
        """MaskS: the harder mask, used from min_size up to avg_size."""
        return MASKS[round_log2(self.avg_size) + self.level]

    @property
    def mask_l(self) -> int:
        """MaskL: the easier mask, used from avg_size up to max_size."""
        return MASKS[round_log2(self.avg_size) - self.level]


DEFAULT_PARAMS = ChunkParams()


def cut(src: bytes | bytearray | memoryview, params: ChunkParams = DEFAULT_PARAMS) -> int:
    """Length of the first chunk of ``src`` (paper Algorithm 2).

    ``src`` is everything that is left; ``len(src)`` bounds the chunk like
    the end of the stream does.
    """
    n = len(src)
    MinSize = params.min_size
    NormalSize = params.avg_size
    MaxSize = params.max_size
    MaskS, MaskL = params.mask_s, params.mask_l
    MaskS_LS, MaskL_LS = MaskS << 1, MaskL << 1

    if n <= MinSize:
        return n
    if n >= MaxSize:
        n = MaxSize
    elif n <= NormalSize:
        NormalSize = n

    fp = 0  # the gear fingerprint
    # Two bytes per step, so every bound is halved; the first MinSize bytes
    # are skipped without hashing ("cut-point skipping").
    i = MinSize // 2
    # Before NormalSize: the harder mask MaskS ("normalized chunking").
    while i < NormalSize // 2:
        a = i * 2
        # fp after src[a], shifted left by one: test it with MaskS << 1.
        fp = ((fp << 2) + GEAR_LS[src[a]]) & _U64
        if not fp & MaskS_LS:
            return a
        fp = (fp + GEAR[src[a + 1]]) & _U64
        if not fp & MaskS:
            return a + 1
        i += 1
    # After NormalSize: the easier mask MaskL.
    while i < n // 2:
        a = i * 2
        fp = ((fp << 2) + GEAR_LS[src[a]]) & _U64
        if not fp & MaskL_LS:
            return a
        fp = (fp + GEAR[src[a + 1]]) & _U64
        if not fp & MaskL:
            return a + 1
        i += 1
    # No cut point before MaxSize (or the end): cut there.
    return n


def cut_points(data: bytes | bytearray | memoryview, params: ChunkParams = DEFAULT_PARAMS) -> list[int]:
    """End offsets of all chunks of ``data``, chunked as one whole stream."""
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    points: list[int] = []
    pos = 0
    while pos < len(view):
        pos += cut(view[pos:], params)
        points.append(pos)
    return points
