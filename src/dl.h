/*
 * dl.h - the one loader for the libraries smtpfwd opens with dlopen()
 * only when a run needs them (GnuTLS in gnutls-dl.c, GNU SASL in
 * gsasl-dl.c, libidn2 in idn.c, libsecret in secret.c), and the macros
 * their tables of entry points are made from.
 *
 * A user keeps an X-macro list of the functions it calls, makes its
 * table type with DL_MEMBER, its symbol list with DL_SYM, and (when it
 * #defines every name to the table entry so calling code is unchanged)
 * checks the two lists agree with DL_CHECK_DEFINED.
 *
 * Must not: know any particular library.
 */
#ifndef SMTPFWD_DL_H
#define SMTPFWD_DL_H

#include <stddef.h>

#include "result.h"

/* One symbol to look up and where to store its address. */
struct dl_sym {
    const char *name;
    void **slot;
};

/* What to load and how to word a failure. */
struct dl_lib {
    const char *soname;        /* file name given to dlopen() */
    const char *lib;           /* library name for messages, e.g. "GnuTLS" */
    const char *purpose;       /* translated prefix, e.g. "cannot initialize TLS" */
    enum result_class cls;     /* class of a failure */
};

/* dlopen(l->soname, RTLD_NOW | RTLD_LOCAL) and dlsym() every entry of
 * syms into its slot. Returns the handle, or NULL with r set ("PURPOSE:
 * cannot load the LIB library SONAME: why" or "PURPOSE: SONAME has no
 * symbol NAME (why); it is not a usable LIB library"). On failure every
 * slot is NULL again and the library is closed, so a later call may
 * retry. The caller never unloads a library that loaded (they keep
 * global state and exit handlers; smtpfwd is short-lived). */
void *dl_load(const struct dl_lib *l, const struct dl_sym *syms, size_t n, struct result *r);

/* Table member of the function NAME, typed from its prototype. */
#define DL_MEMBER(name) __typeof__(name) *name;
/* struct dl_sym entry storing NAME into the member of the same name of
 * a table variable called dl_table (a local of the loading function). */
#define DL_SYM(name) { #name, (void **)&dl_table.name },

/* Fails to compile when NAME is not #defined to something else (the
 * name would expand to itself, the real symbol, and link against a
 * library the program does not link). */
#define DL_STR_(x) #x
#define DL_XSTR_(x) DL_STR_(x)
#define DL_CHECK_DEFINED(name) \
    _Static_assert(sizeof DL_XSTR_(name) > sizeof #name, #name " has no #define");

#endif
