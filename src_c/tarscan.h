/*
 * Tar header walk with XXH3-128 content hashing: the hot loop of
 * layerscope/layer/tar.py, in C.
 *
 * The boundary with Python is narrow: Python owns the stream, reads it in
 * big slices and hands each one to ls_tar_scan() with a persistent state;
 * C walks the headers in the slice, hashes file content (also across
 * slices), and fills a batch of fixed-size records plus a byte arena of
 * names.  Python turns records into Entry objects (layerscope/layer/
 * tarscan.py) and owns every policy that is not plain header walking.
 *
 * C takes the common path only: ustar / GNU / v7 headers with octal
 * numbers, member types 0 \0 7 1 2 3 4 5 6 D and unknown (regular files),
 * one pax 'x' header and GNU 'L' / 'K' long names per member, 'g' / 'V'
 * skipped.  At anything else (base-256 numbers, sparse files, 'M', a bad
 * checksum, a pax record it does not like, truncation inside a header or a
 * small member, a lone zero block) it stops *before* the first header of
 * that member and says LS_TAR_FALLBACK: the pure-Python reader
 * (layer/tar.py, the reference) goes on from there, so every error keeps
 * its wording and offset.  The one thing C reports itself is the stream
 * ending inside the content of a file whose header it already handed out
 * (LS_TAR_TRUNCATED), because those bytes are gone.
 *
 * The text between the cffi-cdef markers is handed verbatim to cffi's cdef()
 * by src_c/build_native.py, so it must stay plain C declarations.
 */
#ifndef LAYERSCOPE_TARSCAN_H
#define LAYERSCOPE_TARSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "chunksink.h"

/* cffi-cdef-begin */

/* ls_tar_scan() results. */
#define LS_TAR_MORE 0      /* buffer used up to batch.consumed: read on (batch.need) */
#define LS_TAR_FULL 1      /* batch full: take it, call again with buf[consumed:] */
#define LS_TAR_END 2       /* end-of-archive marker read; consumed is just past it */
#define LS_TAR_FALLBACK 3  /* stopped before a member C does not take, at state.pos */
#define LS_TAR_TRUNCATED 4 /* stream ended in the pending member's content, at state.pos */

/* ls_tar_entry.flags: why Python must look closer at a record. */
#define LS_TAR_PENDING 1      /* content goes on past this call: digest arrives later */
#define LS_TAR_PAX 2          /* pax records at pax_off/pax_len: Python applies them */
#define LS_TAR_ODD_NAME 4     /* name not in normal form: Python normalises it */
#define LS_TAR_LINK 8         /* hard or symbolic link: target at link_off/link_len */
#define LS_TAR_IGNORED_DATA 16 /* a non-file whose header claims data (not 'D') */
#define LS_TAR_DEVICE 32      /* character or block device: devmajor / devminor */

/* ls_tar_entry.kind */
#define LS_TAR_KIND_FILE 0
#define LS_TAR_KIND_DIR 1
#define LS_TAR_KIND_SYMLINK 2
#define LS_TAR_KIND_HARDLINK 3
#define LS_TAR_KIND_CHAR 4
#define LS_TAR_KIND_BLOCK 5
#define LS_TAR_KIND_FIFO 6

#define LS_TAR_MAX_OWNERS 64
/* Kept in step with tar.py's MAX_META_SIZE (a test checks). */
#define LS_TAR_MAX_META 16777216

/* One member, 104 bytes, no implicit padding (tarscan.py reads it as
 * strided columns: keep the layout in step with its _LAYOUT). */
typedef struct {
    uint64_t header_offset; /* first header block, pax / long-name blocks included */
    uint64_t data_offset;   /* first content byte */
    uint64_t data_size;     /* stored bytes after data_offset (pax size wins) */
    uint64_t size;          /* Entry.size: data_size for files, 0 otherwise */
    double mtime;           /* header mtime (pax mtime is applied by Python) */
    uint32_t mode;          /* permission bits only */
    uint32_t uid;
    uint32_t gid;
    uint32_t devmajor;      /* 0 unless a device */
    uint32_t devminor;
    uint32_t link_off;      /* arena offset of the link target (LS_TAR_LINK) */
    uint32_t link_len;
    uint32_t pax_off;       /* arena offset of the pax data (LS_TAR_PAX) */
    uint32_t pax_len;
    uint32_t owner;         /* index into batch.owner_off */
    uint8_t typeflag;
    uint8_t kind;           /* LS_TAR_KIND_* */
    uint8_t flags;          /* LS_TAR_* flags */
    uint8_t ids;            /* index into batch.id_* (mode, uid, gid) */
    uint8_t reserved[4];
    uint8_t digest[16];     /* XXH3-128, canonical (big-endian) bytes */
} ls_tar_entry;

/* Where one call's output goes (caller-allocated, reused), and what it got.
 *
 * The arena holds two stacks: from its start, one "name\0" per record in
 * record order: the normal path (the raw name is that plus "/" for the
 * records listed in slashed), or the raw name for LS_TAR_ODD_NAME; from its
 * end, downwards, link targets, pax data and raw 64-byte owner fields. */
typedef struct {
    ls_tar_entry *entries;
    size_t max_entries;
    uint32_t *special;      /* indices of records with flags, max_entries slots */
    uint32_t *slashed;      /* indices of records whose raw name is path + "/", max_entries slots */
    uint8_t *arena;
    size_t arena_cap;
    /* out */
    size_t count;
    size_t n_special;
    size_t n_slashed;
    size_t text_used;       /* arena[0:text_used]: the names */
    size_t data_used;       /* arena[arena_cap - data_used:]: the rest */
    size_t consumed;        /* bytes of buf done with */
    size_t need;            /* LS_TAR_MORE: call again with buf[consumed:] plus
                               more bytes, this many in all (0: any amount) */
    size_t arena_need;      /* LS_TAR_FULL with no record: grow the arena to this */
    size_t n_owners;
    uint32_t owner_off[64]; /* arena offsets of this batch's distinct owner fields */
    size_t n_ids;           /* this batch's distinct (mode, uid, gid): Python shares
                               one int object per value, as tar.py's id cache does */
    uint32_t id_mode[64];
    uint32_t id_uid[64];
    uint32_t id_gid[64];
} ls_tar_batch;

/* Everything that carries over from one slice to the next. */
typedef struct {
    uint64_t pos;           /* stream offset of buf[consumed] (FALLBACK: where
                               Python resumes; TRUNCATED: where the stream ended) */
    uint64_t content_left;  /* pending member: content bytes still to hash */
    uint64_t skip_left;     /* padding still to skip */
    int32_t hash_content;
    int32_t pending_done;   /* the pending member ended in this call: digest below */
    uint8_t digest[16];
    uint64_t hash_space[128]; /* XXH3 streaming state, aligned inside */
    ls_chunk_sink *chunks;  /* NULL, or where each file's content is also chunked
                               (chunksink.h; needs hash_content for the shortcut
                               of one-chunk files, works without) */
} ls_tar_state;

void ls_tar_init(ls_tar_state *st, int hash_content);

/* Walk buf[0:len) (len == 0 allowed); final != 0: the stream ends there. */
int ls_tar_scan(ls_tar_state *st, ls_tar_batch *batch, const uint8_t *buf, size_t len, int final);

/* cffi-cdef-end */

#endif /* LAYERSCOPE_TARSCAN_H */
