#include "chunkmerge.h"

#include <stdlib.h>
#include <string.h>

/*
 * A binary heap of cursors, one per non-empty table, ordered by the
 * cursor's current digest and then by table index: popping the equal
 * digests of one chunk yields the tables holding it in ascending order, the
 * lowest first (whose size and compressed size are the chunk's).  Each
 * chunk costs O(log tables) comparisons of two 64-bit words.
 *
 * Runs of one table (a chunk only one layer has: the common case) are summed
 * straight into that table's own set; longer runs are looked up in an
 * open-addressing hash of the sets met so far (linear probing, load <= 1/2).
 * Set ids 0 .. n_tables-1 are the single tables, in order; unused ones are
 * dropped at the end.
 */

#define NO_COMBO SIZE_MAX

/* One table's place in the merge; its digest as two big-endian words, so
 * that comparing the words orders digests as memcmp does. */
typedef struct {
    uint64_t hi, lo;
    size_t pos;
    uint32_t table;
} cursor;

typedef struct {
    cursor *heap;
    size_t n; /* cursors left */
    const uint8_t *const *digests;
    const size_t *counts;
} merge_heap;

typedef struct {
    size_t n, cap; /* sets listed, and room for (offsets has cap + 1) */
    size_t *offsets;
    uint32_t *tables;
    size_t tables_len, tables_cap;
    uint64_t *bytes, *csize, *count, *hash;
    size_t *slots;  /* the hash index of sets of 2+ tables: set id + 1, 0 when empty */
    size_t n_slots; /* a power of two */
    size_t n_multi; /* sets in the index */
} combo_store;

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void load_digest(cursor *c, const uint8_t *digests)
{
    const uint8_t *d = digests + c->pos * LS_CHUNK_DIGEST_SIZE;
    c->hi = load_be64(d);
    c->lo = load_be64(d + 8);
}

static int cursor_less(const cursor *a, const cursor *b)
{
    if (a->hi != b->hi)
        return a->hi < b->hi;
    if (a->lo != b->lo)
        return a->lo < b->lo;
    return a->table < b->table;
}

static void sift_down(cursor *heap, size_t n, size_t i)
{
    cursor c = heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && cursor_less(&heap[child + 1], &heap[child]))
            child++;
        if (!cursor_less(&heap[child], &c))
            break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = c;
}

/* Move the smallest cursor to its table's next digest, or drop it at the
 * table's end.  0 when that digest is not above the one it leaves: the
 * table is not sorted and unique, and a run could then outgrow its buffer. */
static int advance_top(merge_heap *m)
{
    cursor *c = &m->heap[0];
    uint64_t hi = c->hi, lo = c->lo;
    if (++c->pos < m->counts[c->table]) {
        load_digest(c, m->digests[c->table]);
        if (c->hi < hi || (c->hi == hi && c->lo <= lo))
            return 0;
    } else {
        m->heap[0] = m->heap[--m->n];
    }
    if (m->n > 0)
        sift_down(m->heap, m->n, 0);
    return 1;
}

/* realloc to n items of size bytes (at least one item), NULL on overflow or
 * failure (the old block is then still valid). */
static void *resize(void *p, size_t n, size_t size)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / size)
        return NULL;
    return realloc(p, n * size);
}

#define RESIZE(field, n)                                   \
    do {                                                   \
        void *q_ = resize((field), (n), sizeof *(field));  \
        if (q_ == NULL)                                    \
            return 0;                                      \
        (field) = q_;                                      \
    } while (0)

static int reserve_combos(combo_store *s, size_t cap)
{
    if (cap == SIZE_MAX)
        return 0;
    RESIZE(s->offsets, cap + 1);
    RESIZE(s->bytes, cap);
    RESIZE(s->csize, cap);
    RESIZE(s->count, cap);
    RESIZE(s->hash, cap);
    s->cap = cap;
    return 1;
}

static int reserve_tables(combo_store *s, size_t need)
{
    size_t cap = s->tables_cap ? s->tables_cap : 16;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return 0;
        cap *= 2;
    }
    RESIZE(s->tables, cap);
    s->tables_cap = cap;
    return 1;
}

static uint64_t hash_tables(const uint32_t *t, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ t[i]) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    return h;
}

/* Append a set with zero sums; its id, or NO_COMBO when out of memory. */
static size_t add_combo(combo_store *s, const uint32_t *run, size_t len, uint64_t h)
{
    if (s->n == s->cap && !reserve_combos(s, s->cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * s->cap))
        return NO_COMBO;
    if (len > SIZE_MAX - s->tables_len || !reserve_tables(s, s->tables_len + len))
        return NO_COMBO;
    memcpy(s->tables + s->tables_len, run, len * sizeof *run);
    s->tables_len += len;
    size_t id = s->n++;
    s->offsets[id + 1] = s->tables_len;
    s->bytes[id] = s->csize[id] = s->count[id] = 0;
    s->hash[id] = h;
    return id;
}

static void index_insert(size_t *slots, size_t n_slots, uint64_t h, size_t id)
{
    size_t i = (size_t)h & (n_slots - 1);
    while (slots[i] != 0)
        i = (i + 1) & (n_slots - 1);
    slots[i] = id + 1;
}

/* Double the hash index (set ids below first_multi are not in it). */
static int grow_index(combo_store *s, size_t first_multi)
{
    if (s->n_slots > SIZE_MAX / 2 / sizeof *s->slots)
        return 0;
    size_t n_slots = 2 * s->n_slots;
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (slots == NULL)
        return 0;
    for (size_t id = first_multi; id < s->n; id++)
        index_insert(slots, n_slots, s->hash[id], id);
    free(s->slots);
    s->slots = slots;
    s->n_slots = n_slots;
    return 1;
}

/* The id of the set of tables run[0..len) (len >= 2), added if new;
 * NO_COMBO when out of memory. */
static size_t find_or_add(combo_store *s, const uint32_t *run, size_t len, size_t first_multi)
{
    if (2 * (s->n_multi + 1) > s->n_slots && !grow_index(s, first_multi))
        return NO_COMBO;
    uint64_t h = hash_tables(run, len);
    size_t i = (size_t)h & (s->n_slots - 1);
    for (; s->slots[i] != 0; i = (i + 1) & (s->n_slots - 1)) {
        size_t id = s->slots[i] - 1;
        if (s->hash[id] == h && s->offsets[id + 1] - s->offsets[id] == len
            && memcmp(s->tables + s->offsets[id], run, len * sizeof *run) == 0)
            return id;
    }
    size_t id = add_combo(s, run, len, h);
    if (id == NO_COMBO)
        return NO_COMBO;
    s->slots[i] = id + 1;
    s->n_multi++;
    return id;
}

/* Drop the sets that hold no chunk (single tables met in no run of one),
 * moving the rest down in order. */
static void drop_empty(combo_store *s)
{
    size_t w = 0, tables_len = 0;
    for (size_t k = 0; k < s->n; k++) {
        if (s->count[k] == 0)
            continue;
        size_t start = s->offsets[k], len = s->offsets[k + 1] - start;
        memmove(s->tables + tables_len, s->tables + start, len * sizeof *s->tables);
        s->offsets[w] = tables_len;
        tables_len += len;
        s->bytes[w] = s->bytes[k];
        s->csize[w] = s->csize[k];
        s->count[w] = s->count[k];
        w++;
    }
    s->offsets[w] = tables_len;
    s->n = w;
    s->tables_len = tables_len;
}

static void store_free(combo_store *s)
{
    free(s->offsets);
    free(s->tables);
    free(s->bytes);
    free(s->csize);
    free(s->count);
    free(s->hash);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* The single-table sets 0 .. n_tables-1 and an empty hash index. */
static int store_init(combo_store *s, size_t n_tables)
{
    memset(s, 0, sizeof *s);
    if (!reserve_combos(s, n_tables > 16 ? n_tables : 16))
        return 0;
    s->offsets[0] = 0;
    if (!reserve_tables(s, n_tables))
        return 0;
    for (size_t t = 0; t < n_tables; t++) {
        uint32_t one = (uint32_t)t;
        if (add_combo(s, &one, 1, 0) == NO_COMBO)
            return 0;
    }
    s->n_slots = 16;
    s->slots = calloc(s->n_slots, sizeof *s->slots);
    return s->slots != NULL;
}

static int heap_init(merge_heap *m, size_t n_tables, const uint8_t *const *digests, const size_t *counts)
{
    m->heap = resize(NULL, n_tables, sizeof *m->heap);
    if (m->heap == NULL)
        return 0;
    m->digests = digests;
    m->counts = counts;
    m->n = 0;
    for (size_t t = 0; t < n_tables; t++) {
        if (counts[t] == 0)
            continue;
        cursor *c = &m->heap[m->n++];
        c->table = (uint32_t)t;
        c->pos = 0;
        load_digest(c, digests[t]);
    }
    for (size_t i = m->n / 2; i-- > 0;)
        sift_down(m->heap, m->n, i);
    return 1;
}

/* The walk itself: every chunk's run of tables, summed into its set. */
static int merge_runs(merge_heap *m, combo_store *s, uint32_t *run, size_t n_tables,
                      const uint32_t *const *sizes, const uint32_t *const *csizes)
{
    while (m->n > 0) {
        const cursor first = m->heap[0];
        size_t len = 0;
        do {
            run[len++] = m->heap[0].table;
            if (!advance_top(m))
                return LS_CHUNK_MERGE_UNSORTED;
        } while (m->n > 0 && m->heap[0].hi == first.hi && m->heap[0].lo == first.lo);
        size_t id = len == 1 ? first.table : find_or_add(s, run, len, n_tables);
        if (id == NO_COMBO)
            return LS_CHUNK_MERGE_NOMEM;
        s->bytes[id] += sizes[first.table][first.pos];
        s->csize[id] += csizes[first.table][first.pos];
        s->count[id]++;
    }
    return LS_CHUNK_MERGE_OK;
}

int ls_chunk_merge(size_t n_tables, const uint8_t *const *digests, const uint32_t *const *sizes,
                   const uint32_t *const *csizes, const size_t *counts, ls_chunk_combos *out)
{
    memset(out, 0, sizeof *out);
    if (n_tables > UINT32_MAX)
        return LS_CHUNK_MERGE_UNSORTED;
    merge_heap m = {0};
    combo_store s = {0};
    uint32_t *run = resize(NULL, n_tables, sizeof *run);
    int rc = LS_CHUNK_MERGE_NOMEM;
    if (run != NULL && store_init(&s, n_tables) && heap_init(&m, n_tables, digests, counts))
        rc = merge_runs(&m, &s, run, n_tables, sizes, csizes);
    free(run);
    free(m.heap);
    if (rc != LS_CHUNK_MERGE_OK) {
        store_free(&s);
        return rc;
    }
    drop_empty(&s);
    out->n_combos = s.n;
    out->offsets = s.offsets;
    out->tables = s.tables;
    out->bytes = s.bytes;
    out->csize = s.csize;
    out->count = s.count;
    free(s.hash);
    free(s.slots);
    return LS_CHUNK_MERGE_OK;
}

void ls_chunk_combos_free(ls_chunk_combos *out)
{
    free(out->offsets);
    free(out->tables);
    free(out->bytes);
    free(out->csize);
    free(out->count);
    memset(out, 0, sizeof *out);
}
