/*
 * util.h - small helpers shared by every module: allocation that cannot
 * return NULL (out of memory aborts with a message and exit 71), growable
 * byte buffers, secret wiping, and string helpers.
 *
 * Nothing here knows about mail.
 */
#ifndef SMTPFWD_UTIL_H
#define SMTPFWD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/stat.h>

#if defined(__GNUC__)
# define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
# define ATTR_PRINTF(f, a)
#endif

/* Allocation: never returns NULL; on failure prints "smtpfwd: out of
 * memory" and exits with EX_OSERR (71). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a newly allocated string (caller frees). */
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) ATTR_PRINTF(1, 0);

/* Growable byte buffer; always NUL-terminated after its len bytes. */
struct buf {
    char *data;     /* owned; NULL until the first append */
    size_t len;
    size_t cap;
};
#define BUF_INIT { NULL, 0, 0 }
void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
void buf_reset(struct buf *b);          /* len = 0, keeps memory */
void buf_free(struct buf *b);           /* frees memory */
char *buf_steal(struct buf *b);         /* returns data (never NULL), b emptied */

/* buf_put_escaped() flags. */
enum {
    ESCAPE_BACKSLASH = 1 << 0,  /* '\' becomes "\\" (the result can be read back) */
    ESCAPE_8BIT      = 1 << 1,  /* bytes 0x80..0xff become \xNN too (else kept: UTF-8) */
    ESCAPE_NAMED     = 1 << 2,  /* CR, LF and tab as \r, \n, \t (for a person: an
                                   address quoted in an error message) */
};
/* The one escaper of untrusted bytes for display (server replies in
 * messages, the -v transcript): appends data[0..n) to b with every
 * control byte (0x00..0x1f, 0x7f) written as \xNN (lower-case hex), so
 * the text can carry no line break or terminal escape sequence; flags add
 * the backslash and the bytes 0x80..0xff. NUL bytes in data are escaped
 * like the others. Written in place, 4 KiB of input at a time (room for
 * the worst case reserved once per slice): no allocation or printf per
 * byte. */
void buf_put_escaped(struct buf *b, const void *data, size_t n, unsigned flags);

/* Overwrite n bytes at p with zeros in a way the compiler keeps. */
void secure_wipe(void *p, size_t n);
/* Wipe and free a NUL-terminated secret; NULL is fine. */
void secret_free(char *s);

/* A whole file read into memory by util_read_file(). */
struct file_data {
    char *data;        /* owned; NUL-terminated after len bytes; NULL when empty */
    size_t len;
    size_t size;       /* bytes allocated (all of them are wiped for a secret) */
    bool secret;       /* util_file_free() wipes the buffer */
    struct stat st;    /* of the file that was read (after symbolic links) */
};
#define FILE_DATA_INIT { .data = NULL }

/* util_read_file() results besides 0. */
enum {
    READ_FILE_ERRNO = -1,       /* open, fstat or read failed: errno is set */
    READ_FILE_NOT_REGULAR = -2, /* a FIFO, device, socket or directory */
    READ_FILE_TOO_BIG = -3,     /* more than max bytes */
    READ_FILE_CHANGED = -4,     /* it grew between fstat() and the end of reading */
};

/* Read the whole regular file path into out (which must be
 * FILE_DATA_INIT), for every file smtpfwd reads whole (configuration,
 * aliases, netrc, TLS certificates and keys). The file is opened with
 * O_NONBLOCK, so that a FIFO never blocks the open(), and checked with
 * fstat() on the open descriptor: anything but a regular file is refused
 * before a byte is read, and so is a file larger than max bytes. Symbolic
 * links are followed (a ~/.smtprc, ~/.netrc or aliases file kept in a
 * dotfiles repository is a link; the files are the user's own). The
 * buffer is allocated once from the size fstat() reports and never
 * reallocated, so no copy of the contents is left in freed memory; with
 * secret, util_file_free() wipes it (the file may hold passwords or a
 * private key). The contents may hold NUL bytes (callers check).
 * Returns 0, or one of the READ_FILE_* codes above (errno kept for
 * READ_FILE_ERRNO; ENOENT for a missing file). out is empty on error. */
int util_read_file(const char *path, size_t max, bool secret, struct file_data *out);
/* The sentence for a util_read_file() failure rc (errno err), naming
 * path and, for READ_FILE_TOO_BIG, the limit: "PATH: not a regular
 * file (...)", "PATH: larger than N KiB ...", "cannot read PATH: ...".
 * Translated; caller frees. */
char *util_read_file_error(const char *path, int rc, int err, size_t max);
/* Overwrite all of f's buffer with zeros (keeps it allocated). */
void util_file_wipe(struct file_data *f);
/* Free f's buffer, wiped first when f->secret; f becomes empty. */
void util_file_free(struct file_data *f);

/* The value of a hexadecimal digit (either case), or -1. */
int hex_digit_value(char c);
/* The value of a standard base64 digit (A-Z a-z 0-9 + /), or -1. */
int base64_digit_value(char c);

/* Standard base64 (RFC 4648 section 4, padded, no line breaks) of
 * in[0..n); xmalloc'd, NUL-terminated. Wipe before freeing when the
 * input was secret (secret_free). */
char *base64_encode(const void *in, size_t n);

/* Decode standard base64 (RFC 4648 section 4; the padding may be left
 * out, but when present it must be right). Returns the bytes,
 * NUL-terminated, with their number in *len (caller frees; wipe first
 * when secret), or NULL when in is not base64. */
char *base64_decode(const char *in, size_t *len);

/* ASCII case-insensitive helpers (locale independent). */
/* True when s[0..n) has no octet >= 0x80 (7-bit: plain ASCII). */
bool ascii_only(const char *s, size_t n);
int ascii_strcasecmp(const char *a, const char *b);
int ascii_strncasecmp(const char *a, const char *b, size_t n);
bool ascii_startswith_ci(const char *s, const char *prefix);
/* A..Z to a..z in place; other bytes (UTF-8 included) unchanged. */
void ascii_lower(char *s);

/* The UTF-8 character at p, which has avail > 0 octets: its code point,
 * with its length in octets in *len; or -1 (*len = 1) when the octets
 * there are not a well-formed UTF-8 character (RFC 3629: a stray
 * continuation octet, an overlong form, a surrogate, beyond U+10FFFF, or
 * a sequence cut short by the end or by an octet that does not continue
 * it, such as a terminating NUL). Reads no octet past the ones it needs. */
long utf8_decode(const char *p, size_t avail, size_t *len);

/* The host of an https:// URL (the scheme in any case): what lies
 * between "https://" and the first '/', '?' or '#', after a "user@"
 * part and before a ":port", an IPv6 literal without its brackets;
 * lower-cased. Newly allocated (caller frees), or NULL when url is NULL,
 * not https://, or names no host. What the OAuth2 endpoints must be
 * (the configuration's check and oauth2.c's file names agree on it). */
char *util_https_url_host(const char *url);

/* A new private temporary file in dir (NULL or empty: $TMPDIR, else
 * /tmp), open for reading and writing, close-on-exec, mode 0600, with no
 * name left behind: O_TMPFILE where the file system has it, else
 * mkostemp() and unlink(). Returns the descriptor, or -1 with *error
 * (when error is not NULL) a translated sentence naming the directory
 * and the cause, "cannot create a temporary file in DIR: ..." (caller
 * frees; the caller's failure class is RC_CANTCREAT). */
int util_open_tmp(const char *dir, char **error);

/* Replace the file path with len bytes of data, atomically: a new file
 * beside it (path.XXXXXX, mode), written, fsync'd, renamed over path,
 * then the directory fsync'd, so that a reader sees the old content or
 * the new, never a part. A symbolic link at path is replaced, not
 * followed (the caller resolves it first when it must be written
 * through). Returns 0, or -1 with errno set and no temporary file left. */
int util_replace_file(const char *path, const void *data, size_t len, mode_t mode);

/* Write all of buf to fd, retrying on EINTR and short writes.
 * Returns 0 or -1 with errno set. */
int write_all(int fd, const void *buf, size_t n);

/* Run cmd with /bin/sh -c, standard input from /dev/null, standard error
 * inherited, and collect its standard output into out, which must be
 * empty: it is allocated once at max + 1 bytes so that no reallocation
 * leaves a copy of a secret behind (the caller wipes out.data when the
 * output is secret). Reading stops once more than max bytes arrive
 * (*too_big is set; the command then gets EOF/SIGPIPE on its next write).
 * *status receives the waitpid status, or -1 if it could not be read.
 * Returns 0, or -1 with errno set when the command could not be started. */
int run_command_output(const char *cmd, size_t max, struct buf *out, bool *too_big,
                       int *status);

/* Fill buf with n random bytes (getrandom, falls back to /dev/urandom). */
void random_bytes(void *buf, size_t n);

/* The login name of the real user (from the user database, not $LOGNAME).
 * Static storage. */
const char *util_user_name(void);
/* The home directory that "~" stands for, as in msmtp, git and curl:
 * $HOME when it is an absolute path, else the user database's entry,
 * else "/". Used for ~/.smtprc, ~/.netrc and "~" in configuration
 * paths; NOT for the spool and cache (util_state_dir, util_cache_dir).
 * Not copied: valid until the environment changes. */
const char *util_home(void);
/* path with a leading "~" or "~/" replaced by util_home(); any other
 * path copied unchanged ("~user" is not expanded). Caller frees. */
char *util_expand_home(const char *path);
/* The host's fully qualified name if one is known, else the short name. */
const char *util_host_name(void);

/* smtpfwd's state directory: $XDG_STATE_HOME/smtpfwd when that is an
 * absolute path, else ~/.local/state/smtpfwd with ~ the home directory of
 * the user database entry (not $HOME, which serves only a uid without an
 * entry); NULL when there is no absolute home. Caller frees. Not created. */
char *util_state_dir(void);
/* smtpfwd's cache directory: $XDG_CACHE_HOME/smtpfwd, else
 * HOME/.cache/smtpfwd (as util_state_dir). Caller frees. Not created. */
char *util_cache_dir(void);
/* smtpfwd's data directory: $XDG_DATA_HOME/smtpfwd, else
 * HOME/.local/share/smtpfwd (as util_state_dir). Caller frees. Not
 * created. */
char *util_data_dir(void);
/* mkdir -p: create path and its missing parents with mode 0700.
 * Returns 0 (also when it exists) or -1 with errno. */
int util_make_dirs(const char *path);

#endif
