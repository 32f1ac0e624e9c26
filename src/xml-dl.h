/*
 * xml-dl.h - libxml2 loaded at run time, only when --configure reads an
 * autoconfig document (autoconfig-xml.c).
 *
 * smtpfwd is not linked against libxml2. xml_dl_load() dlopen()s
 * LIBXML2_SONAME (found by configure: libxml2.so.2) through dl_load()
 * and fills a table; the macros below make every xmlXxx() call of a file
 * that includes this header (instead of the libxml headers) go through
 * it, as json-dl.h does for json-c. The tree is walked through the
 * structures' fields (children, next, properties), which need no call.
 *
 * Rules for a user: include it instead of <libxml/parser.h>; call
 * xml_dl_load() before the first libxml2 call. A function not in
 * XML_DL_FUNCTIONS is a link error: add it to the list and give it a
 * #define below.
 *
 * Only with HAVE_LIBXML2.
 */
#ifndef SMTPFWD_XML_DL_H
#define SMTPFWD_XML_DL_H

#include <stdbool.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "dl.h"
#include "result.h"

#define XML_DL_FUNCTIONS(X) \
    X(xmlCheckVersion) \
    X(xmlDocGetRootElement) \
    X(xmlFreeDoc) \
    X(xmlReadMemory)

/* All NULL until xml_dl_load() succeeds. */
struct xml_dl_table {
    XML_DL_FUNCTIONS(DL_MEMBER)
};
extern struct xml_dl_table xml_dl;

/* Loads libxml2 once per process. Returns 0, or -1 with r set
 * (RC_LOCALTEMP, "cannot read an autoconfig document: ..." naming the
 * file and what is missing); nothing is kept from a failure, a later
 * call retries. */
int xml_dl_load(struct result *r);

/* True once xml_dl_load() has succeeded in this process. */
bool xml_dl_loaded(void);

/* The file name loaded (LIBXML2_SONAME), for messages and tests. */
const char *xml_dl_soname(void);

#ifndef XML_DL_NO_MACROS
/* parser.h makes xmlCheckVersion's caller LIBXML_TEST_VERSION a macro;
 * the function itself is what is called. */
#define xmlCheckVersion (*xml_dl.xmlCheckVersion)
#define xmlDocGetRootElement (*xml_dl.xmlDocGetRootElement)
#define xmlFreeDoc (*xml_dl.xmlFreeDoc)
#define xmlReadMemory (*xml_dl.xmlReadMemory)
XML_DL_FUNCTIONS(DL_CHECK_DEFINED)
#endif

#endif
