/*
 * dl.c - the shared run-time loader (see dl.h): dlopen() of one library,
 * dlsym() of a list of names into their slots, and the messages when
 * either fails.
 *
 * Must not: keep anything from a failed attempt, or unload a library
 * that loaded.
 */
#include <config.h>

#include <dlfcn.h>

#include "dl.h"
#include "i18n.h"

void *dl_load(const struct dl_lib *l, const struct dl_sym *syms, size_t n, struct result *r)
{
    (void)dlerror();
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        result_set(r, l->cls, _("%s: cannot load the %s library %s: %s"), l->purpose, l->lib,
                   l->soname, e ? e : _("dlopen failed"));
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        (void)dlerror();
        *syms[i].slot = dlsym(h, syms[i].name);
        if (*syms[i].slot)
            continue;
        const char *e = dlerror();
        result_set(r, l->cls, _("%s: %s has no symbol %s (%s); it is not a usable %s library"),
                   l->purpose, l->soname, syms[i].name, e ? e : _("not found"), l->lib);
        for (size_t j = 0; j < n; j++)
            *syms[j].slot = NULL;
        dlclose(h);
        return NULL;
    }
    return h;
}
