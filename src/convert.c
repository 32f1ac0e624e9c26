/*
 * convert.c - the data to send a message to one server (see convert.h):
 * the fast path that reads nothing, the read-only mapping of the
 * message, and the private temporary file that receives a converted
 * message.
 *
 * What must change and how is decided by convert_message()
 * (convert-mime.c) on the mapped bytes; this file does no MIME and no
 * encoding of its own, and never writes to the message's own file.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "convert-int.h"
#include "i18n.h"
#include "message.h"

bool convert_may_need(const struct message *m)
{
    return m->has_8bit || m->force_7bit || m->longest_line > CONVERT_LINE_MAX;
}

/* The sink of convert_message(): the temporary file, made at the first
 * write (the walker gathers its output in 64 KiB pieces). */
struct file_sink {
    const char *dir;
    int fd;
    long long size;
};

static int file_write(void *ctx, const char *p, size_t n, struct result *r)
{
    struct file_sink *fs = ctx;
    if (fs->fd < 0) {
        char *err = NULL;
        fs->fd = util_open_tmp(fs->dir, &err);
        if (fs->fd < 0) {
            result_set(r, RC_CANTCREAT, "%s", err);
            free(err);
            return -1;
        }
    }
    if (write_all(fs->fd, p, n) != 0) {
        int e = errno;
        result_set(r, RC_IOERR, _("cannot write the converted message to a temporary file: %s"),
                   strerror(e));
        return -1;
    }
    fs->size += (long long)n;
    return 0;
}

int convert_for_server(const struct message *m, const struct convert_target *t,
                       const char *tmpdir, struct convert_output *out, struct result *r)
{
    *out = (struct convert_output)CONVERT_OUTPUT_INIT;
    out->fd = m->fd;
    out->offset = m->offset;
    out->size = m->size;
    if (!convert_may_need(m))
        return 0;                               /* 7-bit, short lines: as it is */

    /* mmap() wants an offset on a page boundary. */
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    long long base = m->offset - m->offset % page;
    size_t lead = (size_t)(m->offset - base);
    size_t len = (size_t)m->size + lead;
    char *map = NULL;
    if (m->size > 0) {
        if ((unsigned long long)m->size > SIZE_MAX - (size_t)lead) {
            result_set(r, RC_SOFTWARE, _("the message is too large to be converted"));
            return -1;
        }
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, m->fd, (off_t)base);
        if (map == MAP_FAILED) {
            int e = errno;
            result_set(r, RC_IOERR, _("cannot read the message to convert it: %s"),
                       strerror(e));
            return -1;
        }
    }

    struct file_sink fs = { tmpdir, -1, 0 };
    struct convert_sink sink = { file_write, &fs };
    struct convert_facts f = CONVERT_FACTS_INIT;
    int rc = convert_message(map ? map + lead : "", (size_t)m->size, t, m->force_7bit, &sink, &f,
                             r);
    if (map)
        munmap(map, len);
    if (rc != 0) {
        if (fs.fd >= 0)
            close(fs.fd);
        return -1;
    }
    out->body_8bit = f.body_8bit;
    out->header_utf8 = f.header_utf8;
    if (f.converted) {
        if (fs.fd < 0) {                        /* an empty conversion: cannot happen */
            char *err = NULL;
            fs.fd = util_open_tmp(tmpdir, &err);
            if (fs.fd < 0) {
                result_set(r, RC_CANTCREAT, "%s", err);
                free(err);
                convert_facts_free(&f);
                return -1;
            }
        }
        out->fd = fs.fd;
        out->offset = 0;
        out->size = fs.size;
        out->converted = true;
        out->summary = f.summary;
        f.summary = NULL;
    }
    convert_facts_free(&f);
    return 0;
}

void convert_output_free(struct convert_output *out)
{
    if (!out)
        return;
    if (out->converted && out->fd >= 0)
        close(out->fd);
    free(out->summary);
    *out = (struct convert_output)CONVERT_OUTPUT_INIT;
}
