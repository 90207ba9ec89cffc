/*
 * Chunking inside the tar walk (see chunksink.h for the contract).
 *
 * Streaming mirrors layerscope/chunk/stream.py: cut points depend only on
 * the bytes since the chunk's start, so the undecided tail of a piece
 * (shorter than max_size) is carried and chunked again with the next
 * piece's head; once a cut falls in the new bytes, the rest of the piece
 * is chunked in place.
 */
#define XXH_INLINE_ALL
#include "xxhash.h"

#include "chunksink.h"

#include <stdlib.h>
#include <string.h>

#define CUTS 256 /* cut points found per ls_fastcdc_cuts() call */

void ls_chunk_sink_clear(ls_chunk_sink *s)
{
    s->n_recs = s->n_samples = s->arena_used = 0;
}

static void emit(ls_chunk_sink *s, const uint8_t *p, size_t n, const uint8_t *digest)
{
    ls_chunk_rec *r;

    if (s->n_recs == s->rec_cap) {
        s->overflow = 1;
        return;
    }
    r = &s->recs[s->n_recs];
    if (s->no_digests) {
        memset(r->digest, 0, 16);
    } else if (digest != NULL) {
        memcpy(r->digest, digest, 16);
    } else {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
        memcpy(r->digest, c.digest, 16);
    }
    r->size = (uint32_t)n;
    r->csize = 0;
    r->sampled = 0;
    r->reserved = 0;
    if (s->no_digests || ((uint32_t)r->digest[0] << 8 | r->digest[1]) < s->sample_below) {
        if (s->arena_cap - s->arena_used < n) {
            s->overflow = 1;
        } else {
            ls_chunk_sample *m = &s->samples[s->n_samples++];
            memcpy(s->arena + s->arena_used, p, n);
            m->data_offset = s->file_offset;
            m->record = (uint32_t)s->n_recs;
            m->arena_off = (uint32_t)s->arena_used;
            m->size = (uint32_t)n;
            m->reserved = 0;
            s->arena_used += n;
            r->sampled = 1;
        }
    }
    s->n_recs++;
    s->file_chunks++;
}

/* Emit the decided chunks of p[0:n) (all of them when final); returns the
 * bytes used: the undecided tail p[used:n) is the caller's to keep. */
static size_t chunk_run(ls_chunk_sink *s, const uint8_t *p, size_t n, int final)
{
    uint64_t cuts[CUTS];
    size_t start = 0;

    for (;;) {
        size_t k = ls_fastcdc_cuts(&s->params, p + start, n - start, final, cuts, CUTS);
        size_t prev = 0;
        for (size_t j = 0; j < k; j++) {
            emit(s, p + start + prev, (size_t)cuts[j] - prev, NULL);
            prev = (size_t)cuts[j];
        }
        start += prev;
        if (k < CUTS || start == n)
            return start;
    }
}

void ls_chunk_whole(ls_chunk_sink *s, uint64_t data_offset, const uint8_t *p, size_t n,
                    const uint8_t *digest)
{
    s->file_offset = data_offset;
    s->file_chunks = 0;
    s->carry_len = 0;
    if (n == 0)
        return;
    if (digest != NULL && n <= s->params.min_size) { /* one chunk: the file's own digest */
        emit(s, p, n, digest);
        return;
    }
    chunk_run(s, p, n, 1);
}

void ls_chunk_begin(ls_chunk_sink *s, uint64_t data_offset)
{
    s->file_offset = data_offset;
    s->file_chunks = 0;
    s->carry_len = 0;
}

void ls_chunk_data(ls_chunk_sink *s, const uint8_t *p, size_t n)
{
    const size_t max = (size_t)s->params.max_size;

    while (n) {
        if (s->carry_len) {
            size_t had = s->carry_len;
            size_t take = max - had < n ? max - had : n;
            size_t used;
            memcpy(s->carry + had, p, take);
            s->carry_len += take;
            used = chunk_run(s, s->carry, s->carry_len, 0);
            if (used >= had) { /* the last cut is in the new bytes: go on in place */
                p += used - had;
                n -= used - had;
                s->carry_len = 0;
                continue;
            }
            /* the last cut (if any) fell in the carried bytes: carry on from it */
            memmove(s->carry, s->carry + used, s->carry_len - used);
            s->carry_len -= used;
            p += take;
            n -= take;
            continue;
        }
        {
            size_t used = chunk_run(s, p, n, 0);
            memcpy(s->carry, p + used, n - used); /* < max_size: the undecided tail */
            s->carry_len = n - used;
            return;
        }
    }
}

void ls_chunk_end(ls_chunk_sink *s, const uint8_t *digest)
{
    if (s->carry_len) {
        if (digest != NULL && s->file_chunks == 0 && s->carry_len <= s->params.min_size)
            emit(s, s->carry, s->carry_len, digest);
        else
            chunk_run(s, s->carry, s->carry_len, 1);
    }
    s->carry_len = 0;
}

static int rec_cmp(const void *a, const void *b)
{
    return memcmp(((const ls_chunk_rec *)a)->digest, ((const ls_chunk_rec *)b)->digest, 16);
}

size_t ls_chunk_table(ls_chunk_rec *recs, size_t n, double ratio, uint8_t *digests,
                      uint32_t *sizes, uint32_t *csizes)
{
    size_t out = 0;

    qsort(recs, n, sizeof(*recs), rec_cmp);
    for (size_t i = 0; i < n; i++) {
        const ls_chunk_rec *r = &recs[i];
        if (out && memcmp(digests + (out - 1) * 16, r->digest, 16) == 0)
            continue;
        memcpy(digests + out * 16, r->digest, 16);
        sizes[out] = r->size;
        csizes[out] = r->sampled ? r->csize : (uint32_t)((double)r->size * ratio + 0.5);
        out++;
    }
    return out;
}
