/*
 * Tar header walk with XXH3-128 content hashing (see tarscan.h for the
 * contract).  Every rule here mirrors layerscope/layer/tar.py, the
 * reference reader, for the inputs C accepts; whatever C is not sure of it
 * leaves to that reader by stopping before the member (goto fallback).
 * Being stricter than the reference is always safe; being more lenient is
 * a bug, and tests/test_tarscan.py compares both readers on generated and
 * damaged archives to catch one.
 *
 * A member is handled as a unit from its first header (a pax 'x' or GNU
 * 'L' / 'K' block, or its own header) to the end of its own header block:
 * the "chain".  Nothing of a chain is consumed until the whole chain is in
 * the buffer, so C can always stop before it.  File content may then span
 * calls: the record goes out flagged LS_TAR_PENDING and the digest follows
 * in state.digest when the content is done.
 */
#define XXH_INLINE_ALL
#include "xxhash.h"

#include "tarscan.h"

#include <string.h>

#define BLOCK 512
/* A chain C buffers whole: pre-headers' data (capped by LS_TAR_MAX_META, as
 * tar.py caps it), ignored data of non-files, 'g' / 'V' data; beyond this C
 * hands over to Python, which streams it. */
#define CHAIN_MAX ((size_t)LS_TAR_MAX_META + ((size_t)1 << 20))

typedef char ls_hash_space_fits[(sizeof(XXH3_state_t) + 64 <= sizeof(((ls_tar_state *)0)->hash_space)) ? 1 : -1];
typedef char ls_entry_is_104_bytes[(sizeof(ls_tar_entry) == 104) ? 1 : -1];

static XXH3_state_t *hash_state(ls_tar_state *st)
{
    /* XXH3's accumulators want 64-byte alignment; cffi gives 8 or 16. */
    uintptr_t p = ((uintptr_t)st->hash_space + 63) & ~(uintptr_t)63;
    return (XXH3_state_t *)p;
}

void ls_tar_init(ls_tar_state *st, int hash_content)
{
    ls_chunk_sink *chunks = st->chunks; /* set by the caller before or after init */
    memset(st, 0, sizeof(*st));
    st->hash_content = hash_content ? 1 : 0;
    st->chunks = chunks;
}

/* A numeric field as tar.py's _num reads it when it is not base-256: up to
 * the first NUL, spaces stripped, octal digits only (empty is 0).  Returns
 * the number of digits, or -1 where _num would go base-256 or raise. */
static int octal(const uint8_t *f, size_t n, uint64_t *out)
{
    size_t a = 0, b = 0;
    uint64_t v = 0;
    if (f[0] & 0x80)
        return -1;
    while (b < n && f[b])
        b++;
    while (a < b && f[a] == ' ')
        a++;
    while (b > a && f[b - 1] == ' ')
        b--;
    for (size_t k = a; k < b; k++) {
        unsigned d = (unsigned)f[k] - '0';
        if (d > 7)
            return -1;
        v = (v << 3) | d;
    }
    *out = v;
    return (int)(b - a);
}

/* tar.py's _checksum_ok: the stored octal sum equals the unsigned or the
 * signed byte sum, the checksum field counted as eight spaces. */
static int checksum_ok(const uint8_t *h)
{
    uint64_t want;
    uint32_t us = 256;
    int32_t ss = 256;
    if (octal(h + 148, 8, &want) <= 0)
        return 0;
    for (size_t k = 0; k < 148; k++)
        us += h[k];
    for (size_t k = 156; k < BLOCK; k++)
        us += h[k];
    if (want == us)
        return 1;
    for (size_t k = 0; k < 148; k++)
        ss += (int8_t)h[k];
    for (size_t k = 156; k < BLOCK; k++)
        ss += (int8_t)h[k];
    return ss >= 0 && want == (uint64_t)ss;
}

static int is_zero_block(const uint8_t *h)
{
    uint64_t acc = 0, w;
    if (h[0])
        return 0;
    for (size_t k = 0; k < BLOCK; k += 8) {
        memcpy(&w, h + k, 8);
        acc |= w;
    }
    return acc == 0;
}

static size_t cstrlen(const uint8_t *s, size_t n)
{
    const uint8_t *z = memchr(s, 0, n);
    return z ? (size_t)(z - s) : n;
}

/* paths.normalize_path's fast path, on bytes (UTF-8 never makes '/' or '.'
 * out of non-ASCII bytes): *plen is the normal path's length. */
static int is_normal(const uint8_t *s, size_t n, size_t *plen)
{
    size_t m = (n && s[n - 1] == '/') ? n - 1 : n;
    if (m == 0 || s[0] == '/' || s[0] == '.')
        return 0;
    const uint8_t *p = s, *last = s + n - 1; /* a '/' at the end is followed by nothing */
    while (p < last && (p = memchr(p, '/', (size_t)(last - p))) != NULL) {
        if (p[1] == '/' || (p[1] == '.' && (size_t)(p - s) + 1 < m))
            return 0;
        p++;
    }
    *plen = m;
    return 1;
}

/* Pax records as pax.parse_records splits them (or stricter).  1: well
 * formed, no GNU.sparse.* key, every "size" plain decimal or empty; *size
 * is the last "size" (-1: none, or empty, so the header's counts) and
 * *path the last "path" value (*path_len 0: none, or empty). */
static int pax_ok(const uint8_t *d, size_t end, int64_t *size, const uint8_t **path, size_t *path_len)
{
    size_t pos = 0;
    *size = -1;
    *path_len = 0;
    while (pos < end) {
        if (d[pos] == 0) {
            for (size_t k = pos; k < end; k++)
                if (d[k])
                    return 0;
            break;
        }
        size_t lim = end - pos > 24 ? pos + 24 : end;
        size_t sp = pos;
        while (sp < lim && d[sp] != ' ')
            sp++;
        if (sp == lim || sp == pos || sp - pos > 18)
            return 0;
        uint64_t length = 0;
        for (size_t k = pos; k < sp; k++) {
            unsigned c = (unsigned)d[k] - '0';
            if (c > 9)
                return 0;
            length = length * 10 + c;
        }
        if (length > end - pos || length <= sp - pos + 1)
            return 0;
        size_t rec_end = pos + (size_t)length;
        if (d[rec_end - 1] != '\n')
            return 0;
        size_t eq = sp + 1;
        while (eq < rec_end - 1 && d[eq] != '=')
            eq++;
        if (eq >= rec_end - 1 || eq == sp + 1)
            return 0;
        const uint8_t *key = d + sp + 1;
        size_t klen = eq - sp - 1;
        if (klen >= 11 && memcmp(key, "GNU.sparse.", 11) == 0)
            return 0;
        if (klen == 4 && memcmp(key, "path", 4) == 0) {
            *path = d + eq + 1;
            *path_len = rec_end - 1 - (eq + 1);
        }
        if (klen == 4 && memcmp(key, "size", 4) == 0) {
            size_t vlen = rec_end - 1 - (eq + 1);
            if (vlen == 0) {
                *size = -1;
            } else {
                int64_t v = 0;
                if (vlen > 18)
                    return 0;
                for (size_t k = eq + 1; k < rec_end - 1; k++) {
                    unsigned c = (unsigned)d[k] - '0';
                    if (c > 9)
                        return 0;
                    v = v * 10 + c;
                }
                *size = v;
            }
        }
        pos = rec_end;
    }
    return 1;
}

static void digest_of(const uint8_t *p, size_t n, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
    memcpy(out, c.digest, 16);
}

static void digest_end(ls_tar_state *st, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(hash_state(st)));
    memcpy(out, c.digest, 16);
}

/* Index of this batch's copy of a 64-byte uname+gname field; -1: table full
 * (or no room in the arena: *need says how much). */
static int owner_index(ls_tar_batch *b, const uint8_t *field, size_t *room)
{
    for (size_t k = b->n_owners; k-- > 0;)
        if (memcmp(b->arena + b->owner_off[k], field, 64) == 0)
            return (int)k;
    if (b->n_owners == LS_TAR_MAX_OWNERS || *room < 64)
        return -1;
    b->data_used += 64;
    *room -= 64;
    b->owner_off[b->n_owners] = (uint32_t)(b->arena_cap - b->data_used);
    memcpy(b->arena + b->owner_off[b->n_owners], field, 64);
    return (int)b->n_owners++;
}

/* Index of (mode, uid, gid) in this batch's table; -1: table full. */
static int ids_index(ls_tar_batch *b, uint32_t mode, uint32_t uid, uint32_t gid)
{
    for (size_t k = b->n_ids; k-- > 0;)
        if (b->id_mode[k] == mode && b->id_uid[k] == uid && b->id_gid[k] == gid)
            return (int)k;
    if (b->n_ids == LS_TAR_MAX_OWNERS)
        return -1;
    b->id_mode[b->n_ids] = mode;
    b->id_uid[b->n_ids] = uid;
    b->id_gid[b->n_ids] = gid;
    return (int)b->n_ids++;
}

static uint32_t put_data(ls_tar_batch *b, const uint8_t *p, size_t n)
{
    b->data_used += n;
    size_t off = b->arena_cap - b->data_used;
    if (n)
        memcpy(b->arena + off, p, n);
    return (uint32_t)off;
}

int ls_tar_scan(ls_tar_state *st, ls_tar_batch *b, const uint8_t *buf, size_t len, int final)
{
    size_t i = 0;      /* buf[0:i) is done with */
    uint64_t off0;     /* stream offset of buf[0] */
    const int hashing = st->hash_content;

    b->count = b->n_special = b->n_slashed = b->text_used = b->data_used = 0;
    b->consumed = b->need = b->arena_need = b->n_owners = b->n_ids = 0;
    st->pending_done = 0;
    if (st->chunks)
        ls_chunk_sink_clear(st->chunks);

    /* ---- the pending member's content and padding ---------------------- */
    if (st->content_left) {
        size_t k = st->content_left < len ? (size_t)st->content_left : len;
        if (hashing && k)
            XXH3_128bits_update(hash_state(st), buf, k);
        if (st->chunks && k)
            ls_chunk_data(st->chunks, buf, k);
        i = k;
        st->content_left -= k;
        st->pos += k;
        if (st->content_left) {
            b->consumed = len;
            return final ? LS_TAR_TRUNCATED : LS_TAR_MORE;
        }
        if (hashing)
            digest_end(st, st->digest);
        if (st->chunks)
            ls_chunk_end(st->chunks, hashing ? st->digest : NULL);
        st->pending_done = 1;
    }
    if (st->skip_left) {
        size_t k = st->skip_left < len - i ? (size_t)st->skip_left : len - i;
        i += k;
        st->skip_left -= k;
        st->pos += k;
        if (st->skip_left) {
            b->consumed = len;
            if (!final)
                return LS_TAR_MORE;
            /* content whole, padding cut: the next header is at EOF */
            st->pos += st->skip_left;
            st->skip_left = 0;
            return LS_TAR_FALLBACK;
        }
    }
    off0 = st->pos - i;

    /* ---- members ------------------------------------------------------- */
    for (;;) {
        size_t chain = i; /* where this member's first header starts */
        size_t j = i;     /* the header block being looked at */
        size_t need;
        const uint8_t *h;
        const uint8_t *pax = NULL, *lname = NULL, *llink = NULL, *pax_path = NULL;
        size_t pax_len = 0, lname_len = 0, llink_len = 0, pax_path_len = 0;
        uint64_t meta_bytes = 0, size;
        int64_t pax_size = -1;
        int have_meta = 0;
        uint8_t t;

        for (;;) {
            size_t padded;
            if (len - j < BLOCK) {
                need = j + BLOCK - chain;
                goto short_input;
            }
            h = buf + j;
            if (is_zero_block(h)) {
                if (have_meta)
                    goto fallback;
                if (len - j < 2 * BLOCK) {
                    need = j + 2 * BLOCK - chain;
                    goto short_input;
                }
                if (!is_zero_block(h + BLOCK))
                    goto fallback;
                b->consumed = j + 2 * BLOCK;
                st->pos = off0 + b->consumed;
                return LS_TAR_END;
            }
            if (!checksum_ok(h) || octal(h + 124, 12, &size) < 0)
                goto fallback;
            t = h[156];
            padded = (size_t)((size + 511) & ~(uint64_t)511);
            if (t == 'x' || t == 'L' || t == 'K') {
                const uint8_t *data = h + BLOCK;
                meta_bytes += size;
                if (meta_bytes > LS_TAR_MAX_META || j + BLOCK - chain + padded > CHAIN_MAX)
                    goto fallback;
                if (len - j - BLOCK < padded) {
                    need = j + 2 * BLOCK + padded - chain;
                    goto short_input;
                }
                if (t == 'x') {
                    if (pax != NULL || !pax_ok(data, (size_t)size, &pax_size, &pax_path, &pax_path_len))
                        goto fallback; /* two pax headers: Python merges them */
                    pax = data;
                    pax_len = (size_t)size;
                } else if (t == 'L') {
                    lname = data;
                    lname_len = cstrlen(data, (size_t)size);
                } else {
                    llink = data;
                    llink_len = cstrlen(data, (size_t)size);
                }
                have_meta = 1;
                j += BLOCK + padded;
                continue;
            }
            if (t == 'g' || t == 'V') { /* global pax header, volume label: skipped */
                if (j + BLOCK - chain + padded > CHAIN_MAX)
                    goto fallback;
                if (len - j - BLOCK < padded) {
                    need = j + 2 * BLOCK + padded - chain;
                    goto short_input;
                }
                j += BLOCK + padded;
                if (!have_meta)
                    i = chain = j;
                continue;
            }
            if (t == 'M' || t == 'S')
                goto fallback;
            break;
        }

        /* ---- a member header at h = buf + j ---------------------------- */
        {
            uint64_t mode, uid, gid, mtime, devmajor = 0, devminor = 0;
            const uint8_t *name, *prefix = NULL, *link = NULL;
            size_t name_len, prefix_len = 0, link_len = 0, raw_len, path_len = 0;
            size_t data_start = j + BLOCK, avail = len - data_start;
            uint64_t dsize;
            size_t dpad;
            int kind, own, ids, normal;
            uint8_t flags = 0;
            size_t room;
            ls_tar_entry *e;
            uint8_t *text;

            if (octal(h + 100, 8, &mode) < 0 || octal(h + 108, 8, &uid) < 0 || octal(h + 116, 8, &gid) < 0
                || octal(h + 136, 12, &mtime) < 0)
                goto fallback;
            switch (t) {
            case '0': case '\0': case '7': kind = LS_TAR_KIND_FILE; break;
            case '1': kind = LS_TAR_KIND_HARDLINK; break;
            case '2': kind = LS_TAR_KIND_SYMLINK; break;
            case '3': kind = LS_TAR_KIND_CHAR; break;
            case '4': kind = LS_TAR_KIND_BLOCK; break;
            case '5': case 'D': kind = LS_TAR_KIND_DIR; break;
            case '6': kind = LS_TAR_KIND_FIFO; break;
            default: kind = LS_TAR_KIND_FILE; break; /* POSIX: unknown types are files */
            }
            if (kind == LS_TAR_KIND_CHAR || kind == LS_TAR_KIND_BLOCK) {
                if (octal(h + 329, 8, &devmajor) < 0 || octal(h + 337, 8, &devminor) < 0)
                    goto fallback;
                flags |= LS_TAR_DEVICE;
            }
            if (lname != NULL) {
                name = lname;
                name_len = lname_len;
            } else {
                name = h;
                name_len = cstrlen(h, 100);
                if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345]) {
                    prefix = h + 345; /* star: a 131-byte prefix, then atime/ctime */
                    prefix_len = cstrlen(prefix, memcmp(h + 508, "tar\0", 4) == 0 ? 131 : 155);
                }
            }
            raw_len = prefix_len ? prefix_len + 1 + name_len : name_len;
            if (t == '\0') { /* pre-POSIX: a trailing slash makes a directory (of the final name) */
                int slash = pax_path_len ? pax_path[pax_path_len - 1] == '/'
                                         : name_len ? name[name_len - 1] == '/' : prefix_len != 0;
                if (slash)
                    kind = LS_TAR_KIND_DIR;
            }
            if (kind == LS_TAR_KIND_HARDLINK || kind == LS_TAR_KIND_SYMLINK) {
                flags |= LS_TAR_LINK;
                if (llink != NULL) {
                    link = llink;
                    link_len = llink_len;
                } else {
                    link = h + 157;
                    link_len = cstrlen(link, 100);
                }
            }
            dsize = pax_size >= 0 ? (uint64_t)pax_size : size;
            dpad = (size_t)(((dsize + 511) & ~(uint64_t)511) - dsize);
            if (kind != LS_TAR_KIND_FILE && dsize) {
                /* no content, but the data area is skipped: whole, in this buffer */
                if (data_start - chain + dsize + dpad > CHAIN_MAX)
                    goto fallback;
                if (avail < dsize + dpad) {
                    need = data_start + (size_t)dsize + dpad + BLOCK - chain;
                    goto short_input;
                }
                if (t != 'D')
                    flags |= LS_TAR_IGNORED_DATA;
            } else if (kind == LS_TAR_KIND_FILE && final && avail < dsize) {
                goto fallback; /* content cut short: tar.py says where */
            }

            /* ---- room for the record ----------------------------------- */
            if (b->count == b->max_entries)
                goto full;
            room = b->arena_cap - b->text_used - b->data_used;
            if (room < raw_len + 1 + link_len + pax_len + 64) {
                if (b->count == 0)
                    b->arena_need = raw_len + 1 + link_len + pax_len + 64;
                goto full;
            }
            ids = ids_index(b, (uint32_t)(mode & 07777), (uint32_t)uid, (uint32_t)gid);
            if (ids < 0)
                goto full;
            own = owner_index(b, h + 265, &room);
            if (own < 0)
                goto full;

            /* ---- the record -------------------------------------------- */
            text = b->arena + b->text_used;
            if (prefix_len) {
                memcpy(text, prefix, prefix_len);
                text[prefix_len] = '/';
                memcpy(text + prefix_len + 1, name, name_len);
            } else {
                memcpy(text, name, name_len);
            }
            normal = is_normal(text, raw_len, &path_len);
            if (normal) {
                if (path_len != raw_len)
                    b->slashed[b->n_slashed++] = (uint32_t)b->count;
            } else {
                path_len = raw_len;
                flags |= LS_TAR_ODD_NAME;
            }
            text[path_len] = 0;
            b->text_used += path_len + 1;

            e = &b->entries[b->count];
            e->header_offset = off0 + chain;
            e->data_offset = off0 + data_start;
            e->data_size = dsize;
            e->size = kind == LS_TAR_KIND_FILE ? dsize : 0;
            e->mtime = (double)mtime;
            e->mode = (uint32_t)(mode & 07777);
            e->uid = (uint32_t)uid;
            e->gid = (uint32_t)gid;
            e->devmajor = (uint32_t)devmajor;
            e->devminor = (uint32_t)devminor;
            e->link_off = e->link_len = e->pax_off = e->pax_len = 0;
            if (link != NULL) {
                e->link_off = put_data(b, link, link_len);
                e->link_len = (uint32_t)link_len;
            }
            if (pax != NULL) {
                flags |= LS_TAR_PAX;
                e->pax_off = put_data(b, pax, pax_len);
                e->pax_len = (uint32_t)pax_len;
            }
            e->owner = (uint32_t)own;
            e->typeflag = t;
            e->kind = (uint8_t)kind;
            e->ids = (uint8_t)ids;
            memset(e->reserved, 0, sizeof(e->reserved));

            if (kind != LS_TAR_KIND_FILE) {
                memset(e->digest, 0, 16);
                i = data_start + (size_t)dsize + dpad;
            } else if (avail >= dsize) {
                if (hashing)
                    digest_of(buf + data_start, (size_t)dsize, e->digest);
                else
                    memset(e->digest, 0, 16);
                if (st->chunks && dsize)
                    ls_chunk_whole(st->chunks, off0 + data_start, buf + data_start, (size_t)dsize,
                                   hashing ? e->digest : NULL);
                i = data_start + (size_t)dsize;
                if (len - i < dpad) { /* padding runs past the buffer */
                    st->skip_left = dpad - (len - i);
                    i = len;
                } else {
                    i += dpad;
                }
            } else { /* content runs past the buffer: hash on in later calls */
                flags |= LS_TAR_PENDING;
                memset(e->digest, 0, 16);
                if (hashing) {
                    XXH3_128bits_reset(hash_state(st));
                    XXH3_128bits_update(hash_state(st), buf + data_start, avail);
                }
                if (st->chunks) {
                    ls_chunk_begin(st->chunks, off0 + data_start);
                    ls_chunk_data(st->chunks, buf + data_start, avail);
                }
                st->content_left = dsize - avail;
                st->skip_left = dpad;
                i = len;
            }
            e->flags = flags;
            if (flags)
                b->special[b->n_special++] = (uint32_t)b->count;
            b->count++;
            if (st->content_left || st->skip_left) {
                b->consumed = len;
                st->pos = off0 + len;
                if (st->content_left || !final)
                    return LS_TAR_MORE; /* (content_left && final cannot happen: see above) */
                st->pos += st->skip_left;
                st->skip_left = 0;
                return LS_TAR_FALLBACK;
            }
        }
        continue;

    short_input:
        if (final)
            goto fallback;
        b->consumed = chain;
        b->need = need;
        st->pos = off0 + chain;
        return LS_TAR_MORE;
    full:
        b->consumed = chain;
        st->pos = off0 + chain;
        return LS_TAR_FULL;
    fallback:
        b->consumed = chain;
        st->pos = off0 + chain;
        return LS_TAR_FALLBACK;
    }
}
