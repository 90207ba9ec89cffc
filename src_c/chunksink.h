/*
 * Content-defined chunks of every regular file the tar scanner walks over,
 * cut and hashed in the same pass (savings' digest tables, the store).
 *
 * Chunking in Python cost more than the tar walk itself: a memoryview and a
 * few calls per piece and per chunk.  Here the scanner (tarscan.c) hands
 * the sink each file's content where it hashes it; the sink cuts it with
 * FastCDC (fastcdc.c: the same cut points as layerscope/chunk/, restarted
 * at every file) and writes one fixed-size record per chunk.  Python owns
 * the buffers, drains the records after every ls_tar_scan() call
 * (layerscope/layer/chunkfeed.py) and owns every policy: what a chunk's
 * compressed size is, how tables merge.
 *
 * Sampling for compression: a chunk whose XXH3-128 digest's first two
 * bytes (big-endian) are below sample_below also has its bytes copied to
 * the sample arena, so Python can compress it while they are at hand.  A
 * chunk is then sampled in every layer or in none.
 *
 * Capacity: per call at most (len + max_size) / (min_size & ~1) + len / 512
 * + 2 records and len + max_size sample bytes, for a buffer of len bytes;
 * Python sizes the buffers for that (a full buffer sets overflow, never
 * writes past the end).
 *
 * The text between the cffi-cdef markers is handed verbatim to cffi's cdef()
 * by src_c/build_native.py, so it must stay plain C declarations.
 */
#ifndef LAYERSCOPE_CHUNKSINK_H
#define LAYERSCOPE_CHUNKSINK_H

#include <stddef.h>
#include <stdint.h>

#include "fastcdc.h"

/* cffi-cdef-begin */

/* One chunk, 32 bytes. */
typedef struct {
    uint8_t digest[16];  /* XXH3-128, canonical (big-endian) bytes */
    uint32_t size;
    uint32_t csize;      /* compressed size: Python fills it for sampled chunks */
    uint32_t sampled;    /* 1: its bytes went to the sample arena */
    uint32_t reserved;
} ls_chunk_rec;

/* A sampled chunk of this call, 24 bytes. */
typedef struct {
    uint64_t data_offset; /* stream offset of its file's content */
    uint32_t record;      /* index into recs */
    uint32_t arena_off;   /* its bytes: arena[arena_off:arena_off + size] */
    uint32_t size;
    uint32_t reserved;
} ls_chunk_sample;

typedef struct {
    ls_fastcdc_params params;
    uint32_t sample_below;  /* 0..65536 */
    uint32_t no_digests;    /* 1: no XXH3-128 per chunk (records' digests are zero, every chunk
                               is sampled): for a caller that hashes the bytes itself */
    uint8_t *carry;         /* the file's undecided tail, max_size bytes of room */
    size_t carry_len;
    uint64_t file_offset;   /* data_offset of the file being chunked */
    uint64_t file_chunks;   /* chunks of it so far */
    ls_chunk_rec *recs;     /* this call's chunks */
    size_t rec_cap;
    size_t n_recs;
    ls_chunk_sample *samples; /* rec_cap slots */
    size_t n_samples;
    uint8_t *arena;
    size_t arena_cap;
    size_t arena_used;
    int overflow;           /* a buffer was too small: records were lost */
} ls_chunk_sink;

/* Start a call: forget the previous call's records and samples. */
void ls_chunk_sink_clear(ls_chunk_sink *s);

/* Sort recs[0:n) by digest, keep one of equal digests (they agree), and write the
 * unique ones out; the compressed size of a chunk not sampled is
 * floor(size * ratio + 0.5).  Returns the number written. */
size_t ls_chunk_table(ls_chunk_rec *recs, size_t n, double ratio, uint8_t *digests,
                      uint32_t *sizes, uint32_t *csizes);

/* cffi-cdef-end */

/* For tarscan.c: a file whose content is all in hand (digest: its XXH3-128,
 * or NULL), or one fed in pieces: begin, data any number of times, end. */
void ls_chunk_whole(ls_chunk_sink *s, uint64_t data_offset, const uint8_t *p, size_t n,
                    const uint8_t *digest);
void ls_chunk_begin(ls_chunk_sink *s, uint64_t data_offset);
void ls_chunk_data(ls_chunk_sink *s, const uint8_t *p, size_t n);
void ls_chunk_end(ls_chunk_sink *s, const uint8_t *digest);

#endif /* LAYERSCOPE_CHUNKSINK_H */
