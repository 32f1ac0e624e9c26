/*
 * result.c - failure classes, their messages, and the single mapping from
 * a class to a sysexits(3) exit status.
 *
 * No other file maps a failure to an exit status; this one prints nothing.
 */
#include <config.h>

#include <stdlib.h>
#include <sysexits.h>

#include "result.h"

static void set_va(struct result *r, enum result_class cls, const char *fmt, va_list ap)
    ATTR_PRINTF(3, 0);
static void set_va(struct result *r, enum result_class cls, const char *fmt, va_list ap)
{
    free(r->msg);
    r->cls = cls;
    r->msg = xvasprintf(fmt, ap);
}

void result_set(struct result *r, enum result_class cls, const char *fmt, ...)
{
    if (!r || r->cls != RC_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    set_va(r, cls, fmt, ap);
    va_end(ap);
}

void result_replace(struct result *r, enum result_class cls, const char *fmt, ...)
{
    if (!r)
        return;
    va_list ap;
    va_start(ap, fmt);
    set_va(r, cls, fmt, ap);
    va_end(ap);
}

void result_clear(struct result *r)
{
    free(r->msg);
    r->msg = NULL;
    r->cls = RC_OK;
}

void result_move(struct result *dst, struct result *src)
{
    result_clear(dst);
    *dst = *src;
    src->cls = RC_OK;
    src->msg = NULL;
}

int result_exit_status(enum result_class cls)
{
    switch (cls) {
    case RC_OK:          return EX_OK;
    case RC_USAGE:       return EX_USAGE;
    case RC_DATAERR:     return EX_DATAERR;
    case RC_NOUSER:      return EX_NOUSER;
    case RC_NOHOST:      return EX_NOHOST;
    case RC_UNAVAILABLE: return EX_UNAVAILABLE;
    case RC_SOFTWARE:    return EX_SOFTWARE;
    case RC_OSERR:       return EX_OSERR;
    case RC_CANTCREAT:   return EX_CANTCREAT;
    case RC_IOERR:       return EX_IOERR;
    case RC_TEMPFAIL:    return EX_TEMPFAIL;
    case RC_LOCALTEMP:   return EX_TEMPFAIL;
    case RC_PROTOCOL:    return EX_PROTOCOL;
    case RC_NOPERM:      return EX_NOPERM;
    case RC_CONFIG:      return EX_CONFIG;
    }
    return EX_SOFTWARE;
}

bool result_worth_retry(enum result_class cls)
{
    return cls == RC_TEMPFAIL || cls == RC_LOCALTEMP;
}

const char *result_status_name(int status)
{
    switch (status) {
    case EX_OK:          return "EX_OK";
    case EX_USAGE:       return "EX_USAGE";
    case EX_DATAERR:     return "EX_DATAERR";
    case EX_NOINPUT:     return "EX_NOINPUT";
    case EX_NOUSER:      return "EX_NOUSER";
    case EX_NOHOST:      return "EX_NOHOST";
    case EX_UNAVAILABLE: return "EX_UNAVAILABLE";
    case EX_SOFTWARE:    return "EX_SOFTWARE";
    case EX_OSERR:       return "EX_OSERR";
    case EX_OSFILE:      return "EX_OSFILE";
    case EX_CANTCREAT:   return "EX_CANTCREAT";
    case EX_IOERR:       return "EX_IOERR";
    case EX_TEMPFAIL:    return "EX_TEMPFAIL";
    case EX_PROTOCOL:    return "EX_PROTOCOL";
    case EX_NOPERM:      return "EX_NOPERM";
    case EX_CONFIG:      return "EX_CONFIG";
    }
    return "EX_UNKNOWN";
}
