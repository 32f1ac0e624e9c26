/*
 * xml-dl.c - loads libxml2 with dlopen() the first time --configure
 * reads an autoconfig document, and owns the table of its entry points
 * (see xml-dl.h). Never unloaded (smtpfwd is short-lived).
 *
 * Owns: the list of symbols handed to dl_load(), the run-time version
 * check, and the messages when either fails.
 *
 * Must not: call libxml2 by its real names (built without the macros;
 * the program is not linked against it).
 */
#include <config.h>

#if HAVE_LIBXML2

#include <string.h>

#define XML_DL_NO_MACROS
#include "dl.h"
#include "i18n.h"
#include "xml-dl.h"

#ifndef LIBXML2_SONAME
# define LIBXML2_SONAME "libxml2.so.2"
#endif

struct xml_dl_table xml_dl;
static bool xml_dl_ok;

const char *xml_dl_soname(void)
{
    return LIBXML2_SONAME;
}

bool xml_dl_loaded(void)
{
    return xml_dl_ok;
}

int xml_dl_load(struct result *r)
{
    if (xml_dl_ok)
        return 0;
    /* Missing or unusable: the system's problem (see gnutls-dl.c). */
    const struct dl_lib l = { LIBXML2_SONAME, "libxml2", _("cannot read an autoconfig document"),
                              RC_LOCALTEMP };
    struct xml_dl_table dl_table;
    memset(&dl_table, 0, sizeof dl_table);
    const struct dl_sym syms[] = { XML_DL_FUNCTIONS(DL_SYM) };
    if (!dl_load(&l, syms, sizeof syms / sizeof syms[0], r))
        return -1;
    /* The structures walked by autoconfig-xml.c are those of the headers
     * smtpfwd was built with: the library must be at least as new
     * (xmlCheckVersion prints its own warning and never fails hard). */
    dl_table.xmlCheckVersion(LIBXML_VERSION);
    xml_dl = dl_table;
    xml_dl_ok = true;
    return 0;
}

#else
typedef int xml_dl_iso_c_needs_a_declaration;
#endif
