/*
 * i18n.h - gettext glue. Every user-visible string goes through _().
 * N_() marks a string for extraction where it cannot be translated at
 * its point of definition (tables).
 */
#ifndef SMTPFWD_I18N_H
#define SMTPFWD_I18N_H

#include <config.h>

#if ENABLE_NLS
# include <libintl.h>
# define _(s) gettext(s)
#else
# define _(s) (s)
# define ngettext(s, p, n) ((n) == 1 ? (s) : (p))
#endif
#define N_(s) (s)

#endif
