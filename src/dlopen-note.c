/*
 * dlopen-note.c - the ELF note that tells packagers which libraries
 * smtpfwd loads with dlopen() (src/dl.c), since DT_NEEDED does not name
 * them: the "dlopen metadata" note described by systemd (section
 * .note.dlopen, owner "FDO", type 0x407c0c0a). Its descriptor is one
 * NUL-terminated UTF-8 JSON array with an object per library (feature,
 * description, priority, soname list), for the libraries this build
 * has, with the file names configure found.
 *
 * Owns: nothing at run time; no code reads it. Linked into the program
 * itself (not libsmtpfwd.a: an archive member nobody references would
 * be left out). Emits nothing when configure --disable-dlopen links the
 * libraries normally.
 *
 * Must not: use characters the format forbids in its strings (control
 * characters, backslash escapes).
 */
#include <config.h>

#include <stddef.h>
#include <stdint.h>

#if SMTPFWD_DLOPEN && defined __ELF__

/* One object of the array (the strings are literal C text; JSON quotes
 * are the only escapes, for the C compiler). */
#define NOTE_ENTRY(feature, priority, description, soname) \
    "{\"feature\":\"" feature "\",\"description\":\"" description "\",\"priority\":\"" \
    priority "\",\"soname\":[\"" soname "\"]}"

#define NOTE_TLS NOTE_ENTRY("tls", "recommended", \
    "TLS for accounts with tls on (the default): STARTTLS and implicit TLS", GNUTLS_SONAME)
#if HAVE_LIBGSASL
# define NOTE_SASL "," NOTE_ENTRY("sasl", "recommended", \
    "SMTP authentication with the mechanisms of GNU SASL (PLAIN, LOGIN, SCRAM, ...)", \
    GSASL_SONAME)
#else
# define NOTE_SASL ""
#endif
#if HAVE_LIBSECRET
# define NOTE_KEYRING "," NOTE_ENTRY("keyring", "suggested", \
    "passwords from the desktop keyring (Secret Service)", LIBSECRET_SONAME)
#else
# define NOTE_KEYRING ""
#endif
#if HAVE_LIBIDN2
# define NOTE_IDN "," NOTE_ENTRY("idn", "suggested", \
    "internationalized domain names in hosts and addresses", LIBIDN2_SONAME)
#else
# define NOTE_IDN ""
#endif
#if HAVE_LIBUNISTRING
# define NOTE_NFC "," NOTE_ENTRY("nfc", "suggested", \
    "Unicode normalization (NFC) of internationalized addresses", LIBUNISTRING_SONAME)
#else
# define NOTE_NFC ""
#endif

#if SMTPFWD_OAUTH2
# define NOTE_OAUTH2 "," NOTE_ENTRY("oauth2-https", "suggested", \
    "OAuth2 tokens for accounts with oauth2_provider: HTTPS to the token endpoint", \
    LIBCURL_SONAME) "," NOTE_ENTRY("oauth2-json", "suggested", \
    "OAuth2 tokens for accounts with oauth2_provider: the token endpoint's JSON answers", \
    JSONC_SONAME)
#else
# define NOTE_OAUTH2 ""
#endif

#if HAVE_LIBXML2
# define NOTE_XML "," NOTE_ENTRY("autoconfig", "suggested", \
    "smtpfwd --configure: the autoconfig documents of mail providers (XML)", LIBXML2_SONAME)
#else
# define NOTE_XML ""
#endif

#define NOTE_JSON "[" NOTE_TLS NOTE_SASL NOTE_KEYRING NOTE_IDN NOTE_NFC NOTE_OAUTH2 NOTE_XML "]"
#define NOTE_OWNER "FDO"
#define NOTE_TYPE UINT32_C(0x407c0c0a)
/* Name and descriptor are each padded with zeros to 4 bytes. */
#define NOTE_PAD4(n) (((n) + 3) & ~(size_t)3)

/* An ELF note in a section of its own: the assembler makes a section
 * whose name starts with ".note" SHT_NOTE; const and no "w" make it
 * allocated and read-only; aligned(4) and the padded arrays give the
 * 4-byte alignment and zero padding the format asks for. "used" keeps
 * it although nothing refers to it. */
__attribute__((used, section(".note.dlopen"), aligned(4)))
static const struct {
    uint32_t n_namesz, n_descsz, n_type;
    char name[NOTE_PAD4(sizeof NOTE_OWNER)];
    char desc[NOTE_PAD4(sizeof NOTE_JSON)];
} smtpfwd_dlopen_note = {
    sizeof NOTE_OWNER, sizeof NOTE_JSON, NOTE_TYPE, NOTE_OWNER, NOTE_JSON,
};

#else
typedef int dlopen_note_iso_c_needs_a_declaration;
#endif
