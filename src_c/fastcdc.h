/*
 * FastCDC 2020 content-defined chunking: find chunk cut points in a buffer.
 *
 * The boundary with Python is deliberately narrow: C gets a buffer and
 * returns the offsets where chunks end.  Files, streams, digests and policy
 * stay in Python (layerscope/chunk/).  The algorithm is defined by the plain
 * Python reference in layerscope/chunk/reference.py; this file must produce
 * exactly the same cut points (tests/test_chunk.py checks it).
 *
 * The text between the cffi-cdef markers is handed verbatim to cffi's cdef()
 * by src_c/build_native.py, so it must stay plain C declarations (no
 * preprocessor conditionals, no includes).
 */
#ifndef LAYERSCOPE_FASTCDC_H
#define LAYERSCOPE_FASTCDC_H

#include <stddef.h>
#include <stdint.h>

/* cffi-cdef-begin */

/* Bounds on the sizes, the same as fastcdc-rs v2020: they keep
 * bits(avg) +/- level inside the mask table. */
#define LS_FASTCDC_MIN_SIZE_LOWER 64
#define LS_FASTCDC_MIN_SIZE_UPPER 1048576
#define LS_FASTCDC_AVG_SIZE_LOWER 256
#define LS_FASTCDC_AVG_SIZE_UPPER 4194304
#define LS_FASTCDC_MAX_SIZE_LOWER 1024
#define LS_FASTCDC_MAX_SIZE_UPPER 16777216
#define LS_FASTCDC_LEVEL_UPPER 3

/* Parameters after validation, with the two normalized-chunking masks
 * (MaskS: harder, used before avg_size; MaskL: easier, used after). */
typedef struct {
    uint64_t min_size;
    uint64_t avg_size;
    uint64_t max_size;
    uint64_t mask_s;
    uint64_t mask_l;
} ls_fastcdc_params;

/* Fill *params.  Returns 0, or -1 when a size or the level is out of bounds
 * or min_size <= avg_size <= max_size does not hold. */
int ls_fastcdc_init(ls_fastcdc_params *params, uint64_t min_size,
                    uint64_t avg_size, uint64_t max_size, int level);

/* Chunk buf[0:len) from its start and write the end offset of each chunk,
 * relative to buf, to cuts[0..]; returns how many were written (at most
 * max_cuts).
 *
 * final != 0: buf is the whole rest of the stream; the last cut is len
 * (unless max_cuts stopped the scan first).
 * final == 0: more data may follow; only cut points that no later byte can
 * change are written, so the scan stops before an undecided tail (always
 * shorter than max_size).  Chunk the tail again with more data appended.
 *
 * Chunks are at least (min_size & ~1) bytes long except the final one, so
 * len / (min_size & ~1) + 1 cut slots are always enough. */
size_t ls_fastcdc_cuts(const ls_fastcdc_params *params, const uint8_t *buf,
                       size_t len, int final, uint64_t *cuts, size_t max_cuts);

/* cffi-cdef-end */

#endif /* LAYERSCOPE_FASTCDC_H */
