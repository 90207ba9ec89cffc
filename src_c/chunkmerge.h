/*
 * The chunk level of `savings`: a k-way merge of the unique layers' sorted
 * chunk tables, in C (layerscope/analysis/savings.py: _merge_chunks).
 *
 * Each unique layer's table (layerscope/analysis/layer_digests.py) is a run
 * of sorted, unique 16-byte digests with two uint32 arrays beside it (chunk
 * size, compressed size).  Walking them at once meets every unique chunk as
 * a run of equal digests, one per table holding it.  Python needs per-image
 * sums, and a table ("layer") maps to a set of images only Python knows, so
 * C stops one step short: it sums per *combination of tables* holding a
 * chunk, and Python turns each combination into its images once.  There are
 * few combinations (a handful per layer) against millions of chunks, so
 * nothing crosses the boundary per chunk and no Python object is made per
 * chunk.
 *
 * Memory: the tables are read in place (no copy); C adds O(tables) for the
 * heap of cursors and O(combinations) for the result.
 *
 * A chunk's size and compressed size are those of the lowest-indexed table
 * holding it (compressed sizes of unsampled chunks are per-layer estimates,
 * so tables may differ there); the pure-Python walk uses the same rule.
 *
 * The text between the cffi-cdef markers is handed verbatim to cffi's cdef()
 * by src_c/build_native.py, so it must stay plain C declarations.
 */
#ifndef LAYERSCOPE_CHUNKMERGE_H
#define LAYERSCOPE_CHUNKMERGE_H

#include <stddef.h>
#include <stdint.h>

/* cffi-cdef-begin */

/* ls_chunk_merge() results. */
#define LS_CHUNK_MERGE_OK 0
#define LS_CHUNK_MERGE_NOMEM 1     /* an allocation failed: out is left empty */
#define LS_CHUNK_MERGE_UNSORTED 2  /* a table's digests are not strictly increasing (or too many tables) */

#define LS_CHUNK_DIGEST_SIZE 16

/* Sums per distinct set of tables holding a chunk; only sets holding at
 * least one chunk are listed, in no particular order.  Set k's table
 * indices (ascending) are tables[offsets[k]] .. tables[offsets[k + 1] - 1].
 * Owned by C: release with ls_chunk_combos_free(). */
typedef struct {
    size_t n_combos;
    size_t *offsets;   /* n_combos + 1 entries */
    uint32_t *tables;  /* offsets[n_combos] entries */
    uint64_t *bytes;   /* per set: the sizes of its chunks, each chunk once */
    uint64_t *csize;   /* per set: their compressed sizes */
    uint64_t *count;   /* per set: how many chunks */
} ls_chunk_combos;

/* Merge n_tables tables: table t has counts[t] chunks, digests[t] holds
 * counts[t] * 16 bytes (sorted, unique), sizes[t] and csizes[t] counts[t]
 * values.  Fills *out (whose previous contents are ignored); on an error
 * *out is empty and needs no free. */
int ls_chunk_merge(size_t n_tables, const uint8_t *const *digests, const uint32_t *const *sizes,
                   const uint32_t *const *csizes, const size_t *counts, ls_chunk_combos *out);

/* Free what ls_chunk_merge() put in *out and empty it (safe to call twice). */
void ls_chunk_combos_free(ls_chunk_combos *out);

/* cffi-cdef-end */

#endif
