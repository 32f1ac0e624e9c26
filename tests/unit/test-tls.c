/*
 * test-tls.c - unit tests for tls.c underneath conn.c: certificates (a CA,
 * another CA, server certificates that are good, expired, for another
 * name, or from the other CA) are generated with the GnuTLS API in a
 * temporary directory at start; a tiny GnuTLS server runs in a forked
 * child over a socketpair; each check drives conn_start_tls() and looks
 * at the outcome, its class and its message: verification, pinning,
 * certcheck off, protocol versions, channel binding bytes (compared with
 * what the server computed), client certificates, network failures,
 * record I/O through conn_write/conn_read_line, the session description,
 * and that the system trust store is loaded only when needed (counted by
 * wrapping the GnuTLS function in the gnutls-dl table, through which
 * tls.c makes every GnuTLS call: production code keeps no counter).
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "account-tls.h"
#include "smtprc.h"
#include "conn.h"
/* The table by name only: this file calls GnuTLS directly. */
#define GNUTLS_DL_NO_MACROS 1
#include "gnutls-dl.h"
#include "result.h"
#include "tap.h"
#include "testutil.h"
#include "tls.h"
#include "util.h"

static const char *tmpdir;

/* How many times tls.c loaded the system trust store: the entry of
 * gnutls_certificate_set_x509_system_trust in the gnutls-dl table is
 * replaced by a wrapper that counts the calls (count_system_trust_loads,
 * once GnuTLS is loaded; a later gnutls_dl_load leaves the table alone).
 * This file's own calls to GnuTLS do not go through the table. */
static unsigned system_trust_loads;
static __typeof__(gnutls_certificate_set_x509_system_trust) *real_system_trust;

static int counting_system_trust(gnutls_certificate_credentials_t cred)
{
    system_trust_loads++;
    return real_system_trust(cred);
}

static void count_system_trust_loads(void)
{
    struct result r = RESULT_INIT;
    if (gnutls_dl_load(&r) != 0) {
        printf("Bail out! %s\n", r.msg);
        exit(99);
    }
    real_system_trust = gnutls_dl.gnutls_certificate_set_x509_system_trust;
    gnutls_dl.gnutls_certificate_set_x509_system_trust = counting_system_trust;
}

/* A read deadline ms from now (valid until the next call). */
static const struct conn_deadline *in_ms(int ms)
{
    static struct conn_deadline d;
    d = conn_deadline_in(ms);
    return &d;
}

/* ---------------------------------------------------------------- */
/* certificates */

struct pki {
    char ca[256], other_ca[256];
    char good[256], good_key[256];
    char expired[256], expired_key[256];
    char wrongname[256], wrongname_key[256];
    char otherca_srv[256], otherca_srv_key[256];
    char client[256], client_key[256];
    unsigned char good_sha256[32], good_sha1[20], otherca_sha256[32];
};
static struct pki pki;

static void die(const char *what, int e)
{
    fprintf(stderr, "test-tls: %s: %s\n", what, gnutls_strerror(e));
    exit(99);
}

static gnutls_x509_privkey_t mkkey(void)
{
    gnutls_x509_privkey_t k;
    int e;
    if ((e = gnutls_x509_privkey_init(&k)) < 0
        || (e = gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
                                             GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                             0)) < 0)
        die("key", e);
    return k;
}

static void write_datum(const char *path, const gnutls_datum_t *d)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(d->data, 1, d->size, f) != d->size || fclose(f) != 0) {
        perror(path);
        exit(99);
    }
}

static void save_key(gnutls_x509_privkey_t k, char *path, const char *name)
{
    gnutls_datum_t d;
    snprintf(path, 256, "%s/%s", tmpdir, name);
    int e = gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM, &d);
    if (e < 0)
        die("export key", e);
    write_datum(path, &d);
    gnutls_free(d.data);
}

static void save_crt(gnutls_x509_crt_t c, char *path, const char *name)
{
    gnutls_datum_t d;
    snprintf(path, 256, "%s/%s", tmpdir, name);
    int e = gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &d);
    if (e < 0)
        die("export crt", e);
    write_datum(path, &d);
    gnutls_free(d.data);
}

/* A certificate for key, signed by issuer (NULL: self-signed). */
static gnutls_x509_crt_t mkcrt(gnutls_x509_privkey_t key, const char *cn, const char *dns,
                               bool ip_localhost, bool ca, bool client,
                               gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key,
                               time_t from, time_t until, unsigned serial)
{
    gnutls_x509_crt_t c;
    int e;
    unsigned char ser[4] = { 0, 0, (unsigned char)(serial >> 8), (unsigned char)serial };
    if ((e = gnutls_x509_crt_init(&c)) < 0)
        die("crt init", e);
    gnutls_x509_crt_set_version(c, 3);
    gnutls_x509_crt_set_serial(c, ser, sizeof ser);
    gnutls_x509_crt_set_activation_time(c, from);
    gnutls_x509_crt_set_expiration_time(c, until);
    gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn));
    gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "smtpfwd tests", 13);
    if ((e = gnutls_x509_crt_set_key(c, key)) < 0)
        die("set key", e);
    if (ca) {
        gnutls_x509_crt_set_basic_constraints(c, 1, -1);
        gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    } else {
        gnutls_x509_crt_set_basic_constraints(c, 0, -1);
        gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_DIGITAL_SIGNATURE);
        gnutls_x509_crt_set_key_purpose_oid(c, client ? GNUTLS_KP_TLS_WWW_CLIENT
                                                      : GNUTLS_KP_TLS_WWW_SERVER, 0);
    }
    if (dns)
        gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME, dns, (unsigned)strlen(dns),
                                             GNUTLS_FSAN_APPEND);
    if (ip_localhost) {
        unsigned char ip[4] = { 127, 0, 0, 1 };
        gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_APPEND);
    }
    unsigned char kid[64];
    size_t kidlen = sizeof kid;
    if (gnutls_x509_crt_get_key_id(c, 0, kid, &kidlen) == 0)
        gnutls_x509_crt_set_subject_key_id(c, kid, kidlen);
    if (issuer) {
        kidlen = sizeof kid;
        if (gnutls_x509_crt_get_subject_key_id(issuer, kid, &kidlen, NULL) == 0)
            gnutls_x509_crt_set_authority_key_id(c, kid, kidlen);
    }
    e = gnutls_x509_crt_sign2(c, issuer ? issuer : c, issuer ? issuer_key : key,
                              GNUTLS_DIG_SHA256, 0);
    if (e < 0)
        die("sign", e);
    return c;
}

static void make_pki(void)
{
    time_t now = time(NULL);
    time_t day = 24 * 3600;
    gnutls_x509_privkey_t cak = mkkey(), ocak = mkkey();
    gnutls_x509_crt_t ca = mkcrt(cak, "Test CA", NULL, false, true, false, NULL, NULL,
                                 now - day, now + 30 * day, 1);
    gnutls_x509_crt_t oca = mkcrt(ocak, "Other CA", NULL, false, true, false, NULL, NULL,
                                  now - day, now + 30 * day, 2);
    save_crt(ca, pki.ca, "ca.pem");
    save_crt(oca, pki.other_ca, "other-ca.pem");

    struct {
        char *crt, *key;
        const char *name, *cn, *dns;
        bool ip, client;
        gnutls_x509_crt_t iss;
        gnutls_x509_privkey_t isskey;
        time_t from, until;
    } specs[] = {
        { pki.good, pki.good_key, "good", "localhost", "localhost", true, false, ca, cak,
          now - day, now + 10 * day },
        { pki.expired, pki.expired_key, "expired", "localhost", "localhost", true, false, ca,
          cak, now - 10 * day, now - day },
        { pki.wrongname, pki.wrongname_key, "wrongname", "other.example", "other.example",
          false, false, ca, cak, now - day, now + 10 * day },
        { pki.otherca_srv, pki.otherca_srv_key, "otherca", "localhost", "localhost", true,
          false, oca, ocak, now - day, now + 10 * day },
        { pki.client, pki.client_key, "client", "client user", NULL, false, true, ca, cak,
          now - day, now + 10 * day },
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char name[64];
        gnutls_x509_privkey_t k = mkkey();
        gnutls_x509_crt_t c = mkcrt(k, specs[i].cn, specs[i].dns, specs[i].ip, false,
                                    specs[i].client, specs[i].iss, specs[i].isskey,
                                    specs[i].from, specs[i].until, (unsigned)(10 + i));
        snprintf(name, sizeof name, "%s.pem", specs[i].name);
        save_crt(c, specs[i].crt, name);
        snprintf(name, sizeof name, "%s-key.pem", specs[i].name);
        save_key(k, specs[i].key, name);
        if (specs[i].crt == pki.good) {
            size_t n = sizeof pki.good_sha256;
            gnutls_x509_crt_get_fingerprint(c, GNUTLS_DIG_SHA256, pki.good_sha256, &n);
            n = sizeof pki.good_sha1;
            gnutls_x509_crt_get_fingerprint(c, GNUTLS_DIG_SHA1, pki.good_sha1, &n);
        }
        if (specs[i].crt == pki.otherca_srv) {
            size_t n = sizeof pki.otherca_sha256;
            gnutls_x509_crt_get_fingerprint(c, GNUTLS_DIG_SHA256, pki.otherca_sha256, &n);
        }
        gnutls_x509_crt_deinit(c);
        gnutls_x509_privkey_deinit(k);
    }
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crt_deinit(oca);
    gnutls_x509_privkey_deinit(cak);
    gnutls_x509_privkey_deinit(ocak);
}

static char *hexfp(const unsigned char *b, size_t n, bool lower)
{
    const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
    char *s = xmalloc(n * 3 + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            s[j++] = ':';
        s[j++] = hex[b[i] >> 4];
        s[j++] = hex[b[i] & 15];
    }
    s[j] = '\0';
    return s;
}

/* ---------------------------------------------------------------- */
/* the server */

enum srv_mode {
    SRV_TLS,          /* handshake, report binding data, echo byte counts */
    SRV_CLOSE,        /* close at once */
    SRV_SILENT,       /* never answer */
    SRV_GARBAGE,      /* answer with plaintext instead of a ServerHello */
    SRV_DRIP,         /* a TLS server that sends its handshake one byte every 10 ms */
};

struct srv {
    enum srv_mode mode;
    const char *crt, *key;
    const char *prio;          /* NULL = "NORMAL" */
    bool want_client_cert;
    const gnutls_datum_t *ticket_key;   /* issue session tickets with this key */
};

struct child {
    pid_t pid;
    int info;                  /* pipe: binding data from the server */
};

static void put_datum(int fd, const gnutls_datum_t *d)
{
    unsigned char n = d->data ? (unsigned char)d->size : 0;
    if (write_all(fd, &n, 1) != 0 || (n && write_all(fd, d->data, n) != 0))
        _exit(3);
}

/* SRV_DRIP: every byte of the server's handshake 10 ms after the one
 * before, so that no wait of the client lasts long but the whole
 * handshake takes half a minute. */
static ssize_t drip_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    int fd = (int)(intptr_t)ptr;
    const struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
    for (size_t i = 0; i < len; i++) {
        if (write(fd, (const char *)data + i, 1) != 1)
            return i ? (ssize_t)i : -1;
        nanosleep(&ten_ms, NULL);
    }
    return (ssize_t)len;
}

static void server_main(int fd, int info, const struct srv *o)
{
    if (o->mode == SRV_CLOSE) {
        close(fd);
        _exit(0);
    }
    if (o->mode == SRV_SILENT) {
        sleep(5);
        _exit(0);
    }
    if (o->mode == SRV_GARBAGE) {
        char tmp[512];
        (void)read(fd, tmp, sizeof tmp);
        (void)write_all(fd, "220 this is not TLS at all\r\n", 28);
        sleep(1);
        _exit(0);
    }
    gnutls_certificate_credentials_t cred;
    gnutls_session_t s;
    gnutls_certificate_allocate_credentials(&cred);
    if (gnutls_certificate_set_x509_key_file(cred, o->crt, o->key, GNUTLS_X509_FMT_PEM) < 0)
        _exit(2);
    gnutls_init(&s, GNUTLS_SERVER);
    if (gnutls_priority_set_direct(s, o->prio ? o->prio : "NORMAL", NULL) < 0)
        _exit(2);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    if (o->want_client_cert)
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
    if (o->ticket_key && gnutls_session_ticket_enable_server(s, o->ticket_key) < 0)
        _exit(2);
    gnutls_transport_set_int(s, fd);
    if (o->mode == SRV_DRIP)
        gnutls_transport_set_push_function(s, drip_push);
    gnutls_handshake_set_timeout(s, 10000);
    int e;
    do
        e = gnutls_handshake(s);
    while (e < 0 && !gnutls_error_is_fatal(e));
    if (e < 0)
        _exit(1);

    gnutls_datum_t d = { NULL, 0 };
#if GNUTLS_VERSION_NUMBER >= 0x030702
    if (gnutls_session_channel_binding(s, GNUTLS_CB_TLS_EXPORTER, &d) < 0)
        d.data = NULL;
#endif
    put_datum(info, &d);
    gnutls_free(d.data);
    d.data = NULL;
    if (gnutls_protocol_get_version(s) != GNUTLS_TLS1_2
        || gnutls_session_channel_binding(s, GNUTLS_CB_TLS_UNIQUE, &d) < 0)
        d.data = NULL;
    put_datum(info, &d);
    gnutls_free(d.data);
    unsigned n = 0;
    unsigned char has_client = gnutls_certificate_get_peers(s, &n) != NULL && n > 0;
    if (write_all(info, &has_client, 1) != 0)
        _exit(3);
    unsigned char resumed = gnutls_session_is_resumed(s) != 0;
    if (write_all(info, &resumed, 1) != 0)
        _exit(3);

    /* Echo: for each chunk ending in "END\r\n", reply "250 N\r\n" with
     * the byte count; stop at EOF or close_notify. */
    char buf[65536];
    unsigned long long total = 0;
    for (;;) {
        ssize_t r = gnutls_record_recv(s, buf, sizeof buf);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r <= 0)
            break;
        total += (unsigned long long)r;
        if (r >= 5 && memcmp(buf + r - 5, "END\r\n", 5) == 0) {
            char reply[64];
            int len = snprintf(reply, sizeof reply, "250 %llu\r\n", total);
            gnutls_record_send(s, reply, (size_t)len);
            total = 0;
        }
    }
    gnutls_deinit(s);
    gnutls_certificate_free_credentials(cred);
    _exit(0);
}

/* Start the server; *c gets the client end wrapped in a conn. */
static struct child start_server(const struct srv *o, struct conn **c)
{
    int sv[2], pp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pipe(pp) != 0) {
        perror("socketpair");
        exit(99);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        close(pp[0]);
        server_main(sv[1], pp[1], o);
    }
    close(sv[1]);
    close(pp[1]);
    *c = conn_from_fd(sv[0]);
    return (struct child){ pid, pp[0] };
}

static void end_server(struct child *ch, struct conn *c)
{
    conn_close(c);
    int st;
    kill(ch->pid, SIGTERM);
    waitpid(ch->pid, &st, 0);
    close(ch->info);
}

/* Read one length-prefixed datum from the server's info pipe. */
static int read_datum(int fd, struct buf *out)
{
    unsigned char n;
    if (read(fd, &n, 1) != 1)
        return -1;
    unsigned char tmp[256];
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, tmp + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    buf_append(out, tmp, n);
    return n;
}

static struct tls_config base_cfg(void)
{
    struct tls_config cfg = {
        .host = "localhost",
        .certcheck = true,
        .trust_file = pki.ca,
        .account = "test",
    };
    return cfg;
}

/* Run one handshake against a server; returns the class, message in msg
 * (caller frees) and the conn still open in *cp when cp is given. */
static enum result_class try_tls(const struct srv *o, const struct tls_config *cfg,
                                 int timeout_ms, char **msg, struct child *chp,
                                 struct conn **cp)
{
    struct conn *c;
    struct child ch = start_server(o, &c);
    struct result r = RESULT_INIT;
    int rc = conn_start_tls(c, cfg, timeout_ms, &r);
    enum result_class cls = r.cls;
    if (rc == 0 && cls != RC_OK)
        cls = RC_SOFTWARE;     /* must not happen: success with an error set */
    if (rc != 0 && cls == RC_OK)
        cls = RC_SOFTWARE;
    if (msg)
        *msg = r.msg ? xstrdup(r.msg) : NULL;
    result_clear(&r);
    if (cp) {
        *cp = c;
        *chp = ch;
    } else {
        end_server(&ch, c);
    }
    return cls;
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* Capture what fn-like code writes to stderr between the two calls. */
static int saved_stderr = -1;
static char stderr_path[300];

static void capture_stderr(void)
{
    fflush(stderr);
    snprintf(stderr_path, sizeof stderr_path, "%s/stderr.txt", tmpdir);
    int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

static char *captured_stderr(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(stderr_path, "r");
    struct buf b = BUF_INIT;
    char tmp[1024];
    size_t n;
    while (f && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    if (f)
        fclose(f);
    return buf_steal(&b);
}

/* ---------------------------------------------------------------- */
/* the checks */

static void test_good_chain(void)
{
    struct srv o = { SRV_TLS, pki.good, pki.good_key, NULL, false, NULL };
    struct tls_config cfg = base_cfg();
    struct conn *c;
    struct child ch;
    char *msg;
    unsigned loads = system_trust_loads;
    enum result_class cls = try_tls(&o, &cfg, 10000, &msg, &ch, &c);
    tap_int(cls, RC_OK, "good chain with tls_trust_file: handshake and verification succeed");
    if (msg)
        printf("#   %s\n", msg);
    free(msg);
    tap_int(system_trust_loads, loads, "a trust file given: the system store is not loaded");
    tap_ok(conn_is_tls(c), "conn_is_tls after the handshake");

    /* record I/O through conn: a short line and a large body */
    struct result r = RESULT_INIT;
    char line[256];
    size_t len;
    int rc = conn_write(c, "HELLO END\r\n", 11, 5000, &r);
    rc |= conn_flush(c, 5000, &r);
    rc |= conn_read_line(c, line, sizeof line, &len, in_ms(5000), &r);
    tap_ok(rc == 0 && strcmp(line, "250 11") == 0, "a line goes through TLS and the reply comes back");
    size_t big = 300 * 1024 + 7;
    char *data = xmalloc(big);
    memset(data, 'x', big);
    memcpy(data + big - 5, "END\r\n", 5);
    rc = conn_write(c, data, big, 5000, &r);
    rc |= conn_flush(c, 5000, &r);
    rc |= conn_read_line(c, line, sizeof line, &len, in_ms(5000), &r);
    char want[64];
    snprintf(want, sizeof want, "250 %zu", big);
    tap_ok(rc == 0 && strcmp(line, want) == 0, "300 KiB through TLS arrive complete");
    if (rc != 0)
        printf("#   %s\n", r.msg ? r.msg : "?");
    free(data);
    result_clear(&r);

    struct tls_info ti;
    tap_int(conn_tls_info(c, &ti), 0, "conn_tls_info works on a TLS connection");
    tap_str(ti.version, "TLS1.3", "default priorities negotiate TLS 1.3 with a modern server");
    tap_ok(contains(ti.subject, "CN=localhost"), "subject DN names the server");
    tap_ok(contains(ti.issuer, "CN=Test CA"), "issuer DN names the CA");
    char *fp = hexfp(pki.good_sha256, 32, false);
    tap_str(ti.sha256, fp, "SHA-256 fingerprint as AA:BB:...");
    free(fp);
    fp = hexfp(pki.good_sha1, 20, false);
    tap_str(ti.sha1, fp, "SHA-1 fingerprint as AA:BB:...");
    free(fp);
    tap_ok(contains(ti.not_after, " UTC") && strlen(ti.not_after) == 23,
           "expiration time as YYYY-MM-DD HH:MM:SS UTC");
    tap_ok(ti.cipher && *ti.cipher && strcmp(ti.cipher, "?") != 0, "cipher suite named");
    tls_info_free(&ti);

    /* channel binding: exporter equal on both ends; no tls-unique on 1.3 */
    struct buf srv_exp = BUF_INIT, srv_uniq = BUF_INIT, cli = BUF_INIT;
    int ne = read_datum(ch.info, &srv_exp);
    int nu = read_datum(ch.info, &srv_uniq);
    unsigned char has_client = 1;
    tap_ok(read(ch.info, &has_client, 1) == 1 && has_client == 0,
           "no client certificate sent when none is configured");
#if GNUTLS_VERSION_NUMBER >= 0x030702
    tap_int(conn_channel_binding(c, "tls-exporter", &cli), 0, "tls-exporter available on TLS 1.3");
    tap_ok(ne > 0 && cli.len == srv_exp.len && memcmp(cli.data, srv_exp.data, cli.len) == 0,
           "tls-exporter bytes equal on both ends");
#else
    (void)ne;
#endif
    buf_free(&cli);
    tap_int(conn_channel_binding(c, "tls-unique", &cli), -1, "no tls-unique on TLS 1.3");
    tap_ok(nu == 0, "server agrees: no tls-unique");
    tap_int(conn_channel_binding(c, "tls-server-end-point", &cli), -1,
            "unknown binding type refused");
    buf_free(&cli);
    buf_free(&srv_exp);
    buf_free(&srv_uniq);
    end_server(&ch, c);
}

static void test_tls12_binding(void)
{
    struct srv o = { SRV_TLS, pki.good, pki.good_key, "NORMAL:-VERS-ALL:+VERS-TLS1.2", false, NULL };
    struct tls_config cfg = base_cfg();
    struct conn *c;
    struct child ch;
    enum result_class cls = try_tls(&o, &cfg, 10000, NULL, &ch, &c);
    tap_int(cls, RC_OK, "a TLS 1.2 server is accepted (1.2 is the minimum)");
    struct tls_info ti;
    if (conn_tls_info(c, &ti) == 0) {
        tap_str(ti.version, "TLS1.2", "version TLS1.2 reported");
        tls_info_free(&ti);
    } else {
        tap_ok(0, "version TLS1.2 reported");
    }
    struct buf se = BUF_INIT, su = BUF_INIT, ce = BUF_INIT, cu = BUF_INIT;
    int ne = read_datum(ch.info, &se);
    int nu = read_datum(ch.info, &su);
#if GNUTLS_VERSION_NUMBER >= 0x030702
    tap_ok(conn_channel_binding(c, "tls-exporter", &ce) == 0 && ne > 0 && ce.len == se.len
               && memcmp(ce.data, se.data, ce.len) == 0,
           "TLS 1.2 with EMS: tls-exporter bytes equal on both ends");
#else
    (void)ne;
#endif
    tap_ok(conn_channel_binding(c, "tls-unique", &cu) == 0 && nu > 0 && cu.len == su.len
               && memcmp(cu.data, su.data, cu.len) == 0,
           "TLS 1.2: tls-unique bytes equal on both ends");
    buf_free(&se);
    buf_free(&su);
    buf_free(&ce);
    buf_free(&cu);
    end_server(&ch, c);
}

static void test_failures(void)
{
    struct tls_config cfg = base_cfg();
    char *msg = NULL;
    struct srv o = { SRV_TLS, pki.expired, pki.expired_key, NULL, false, NULL };

    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_NOPERM, "expired certificate: 77");
    tap_ok(contains(msg, "expired") && contains(msg, "TLS certificate verification failed for localhost: "),
           "expired: the message names the host and says expired");
    printf("#   %s\n", msg ? msg : "(null)");
    free(msg);

    o.crt = pki.wrongname;
    o.key = pki.wrongname_key;
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_NOPERM, "wrong host name: 77");
    tap_ok(contains(msg, "name"), "wrong host name: GnuTLS' reason quoted");
    printf("#   %s\n", msg ? msg : "(null)");
    free(msg);

    struct tls_config over = cfg;
    over.host = "other.example";
    tap_int(try_tls(&o, &over, 10000, &msg, NULL, NULL), RC_OK,
            "tls_host_override names the certificate's host: accepted");
    free(msg);

    o.crt = pki.otherca_srv;
    o.key = pki.otherca_srv_key;
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_NOPERM, "unknown CA: 77");
    tap_ok(contains(msg, "issuer is unknown") || contains(msg, "NOT trusted"),
           "unknown CA: the reason says so");
    printf("#   %s\n", msg ? msg : "(null)");
    free(msg);

    /* IP literal: checked against the IP SAN */
    struct tls_config ip = cfg;
    ip.host = "127.0.0.1";
    o.crt = pki.good;
    o.key = pki.good_key;
    tap_int(try_tls(&o, &ip, 10000, &msg, NULL, NULL), RC_OK,
            "IP literal host matches the certificate's IP SAN");
    free(msg);
    o.crt = pki.wrongname;
    o.key = pki.wrongname_key;
    tap_int(try_tls(&o, &ip, 10000, &msg, NULL, NULL), RC_NOPERM,
            "IP literal host without a matching IP SAN: 77");
    free(msg);

    /* a TLS 1.1-only server is refused by the default priorities */
    o.crt = pki.good;
    o.key = pki.good_key;
    o.prio = "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0";
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_UNAVAILABLE,
            "TLS 1.1-only server: refused as a permanent incompatibility (69)");
    printf("#   %s\n", msg ? msg : "(null)");
    free(msg);
    o.prio = NULL;

    /* network failures are temporary */
    o.mode = SRV_CLOSE;
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_TEMPFAIL,
            "server closes during the handshake: 75");
    tap_ok(contains(msg, "TLS handshake with localhost failed"), "the message names the handshake");
    free(msg);
    o.mode = SRV_SILENT;
    tap_int(try_tls(&o, &cfg, 300, &msg, NULL, NULL), RC_TEMPFAIL, "silent server: 75");
    tap_ok(contains(msg, "timed out after 300 milliseconds"), "timeout named in the message");
    free(msg);
    /* one deadline for the whole handshake: a server that drip-feeds it
     * (every wait short, the whole half a minute) times out as well */
    o.mode = SRV_DRIP;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tap_int(try_tls(&o, &cfg, 1000, &msg, NULL, NULL), RC_TEMPFAIL,
            "handshake drip-fed one byte every 10 ms: 75");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    tap_ok(contains(msg, "timed out after 1 second"), "  ... the handshake's one deadline named");
    printf("#   %s (%.1f s)\n", msg ? msg : "(null)",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(msg);
    o.mode = SRV_GARBAGE;
    enum result_class cls = try_tls(&o, &cfg, 3000, &msg, NULL, NULL);
    tap_ok(cls == RC_PROTOCOL || cls == RC_TEMPFAIL,
           "plaintext instead of a ServerHello: a protocol or network error, not success");
    printf("#   %s\n", msg ? msg : "(null)");
    free(msg);
    o.mode = SRV_TLS;

    /* configuration errors */
    struct tls_config bad = cfg;
    bad.priorities = "NORMAL:+NONSENSE-THING";
    tap_int(try_tls(&o, &bad, 10000, &msg, NULL, NULL), RC_CONFIG, "invalid tls_priorities: 78");
    tap_ok(contains(msg, "tls_priorities"), "the message names tls_priorities");
    free(msg);
    bad = cfg;
    bad.trust_file = "/nonexistent/ca.pem";
    tap_int(try_tls(&o, &bad, 10000, &msg, NULL, NULL), RC_CONFIG, "missing trust file: 78");
    tap_ok(contains(msg, "/nonexistent/ca.pem"), "the message names the trust file");
    free(msg);
    bad = cfg;
    bad.key_file = pki.client_key;
    tap_int(try_tls(&o, &bad, 10000, &msg, NULL, NULL), RC_CONFIG,
            "tls_key_file without tls_cert_file: 78");
    free(msg);
    bad = cfg;
    bad.crl_file = "/nonexistent/crl.pem";
    tap_int(try_tls(&o, &bad, 10000, &msg, NULL, NULL), RC_CONFIG, "missing CRL file: 78");
    free(msg);
}

static void test_pinning(void)
{
    struct srv o = { SRV_TLS, pki.otherca_srv, pki.otherca_srv_key, NULL, false, NULL };
    struct tls_config cfg = base_cfg();
    cfg.trust_file = NULL;       /* would mean the system store without a pin */
    char *msg = NULL;

    /* pin the good certificate; serve the good one: match even though
     * nothing in the trust store knows the CA */
    o.crt = pki.good;
    o.key = pki.good_key;
    char *fp = hexfp(pki.good_sha256, 32, true);
    cfg.fingerprint = fp;
    unsigned loads = system_trust_loads;
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_OK,
            "SHA-256 pin matches (lower-case hex accepted)");
    free(msg);
    tap_int(system_trust_loads, loads, "fingerprint pinned: the system store is not loaded");

    char *fp1 = hexfp(pki.good_sha1, 20, false);
    cfg.fingerprint = fp1;
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_OK, "SHA-1 pin matches");
    free(msg);

    /* pin replaces chain verification: even the wrong name passes */
    cfg.fingerprint = fp;
    cfg.host = "mismatch.example";
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_OK,
            "a pinned certificate needs no matching name");
    free(msg);
    cfg.host = "localhost";

    /* another certificate: mismatch, both fingerprints named */
    o.crt = pki.otherca_srv;
    o.key = pki.otherca_srv_key;
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_NOPERM, "pin mismatch: 77");
    char *upper = hexfp(pki.good_sha256, 32, false);
    tap_ok(contains(msg, upper), "the message names the expected fingerprint");
    tap_ok(contains(msg, "does not match"), "the message says it does not match");
    char *got = hexfp(pki.otherca_sha256, 32, false);
    tap_ok(contains(msg, got), "the message names the server's fingerprint too");
    free(got);
    printf("#   %s\n", msg ? msg : "(null)");
    free(msg);
    free(upper);

    cfg.fingerprint = "AA:BB";
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_CONFIG, "malformed fingerprint: 78");
    free(msg);
    cfg.fingerprint = "zz:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD";
    tap_int(try_tls(&o, &cfg, 10000, &msg, NULL, NULL), RC_CONFIG, "non-hex fingerprint: 78");
    free(msg);
    free(fp);
    free(fp1);
}

static void test_certcheck_off(void)
{
    struct srv o = { SRV_TLS, pki.otherca_srv, pki.otherca_srv_key, NULL, false, NULL };
    struct tls_config cfg = base_cfg();
    cfg.certcheck = false;
    cfg.trust_file = NULL;
    char *msg = NULL;
    unsigned loads = system_trust_loads;
    capture_stderr();
    enum result_class cls = try_tls(&o, &cfg, 10000, &msg, NULL, NULL);
    char *err = captured_stderr();
    tap_int(cls, RC_OK, "certcheck off: an unknown CA is accepted");
    tap_ok(contains(err, "TLS certificate verification is off for account test: the "
                         "connection can be intercepted"),
           "certcheck off: the warning is printed");
    free(err);
    free(msg);
    tap_int(system_trust_loads, loads, "certcheck off: the system store is not loaded");

    capture_stderr();
    cls = try_tls(&o, &cfg, 10000, &msg, NULL, NULL);
    err = captured_stderr();
    tap_ok(cls == RC_OK && contains(err, "verification is off"), "the warning comes on every use");
    free(err);
    free(msg);
}

/* How many trust anchors GnuTLS finds in this machine's system store
 * (0 when there is none, e.g. without Debian's ca-certificates). */
static int system_store_size(void)
{
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0)
        return 0;
    int n = gnutls_certificate_set_x509_system_trust(cred);
    gnutls_certificate_free_credentials(cred);
    return n > 0 ? n : 0;
}

static void test_system_store(void)
{
    /* No trust file, no pin: the system store is loaded. When the machine
     * has one, it does not know the test CA: the certificate is refused
     * (77). When it has none: a configuration error (78) that says what
     * to set. */
    struct srv o = { SRV_TLS, pki.good, pki.good_key, NULL, false, NULL };
    struct tls_config cfg = base_cfg();
    cfg.trust_file = "system";
    char *msg = NULL;
    unsigned loads = system_trust_loads;
    enum result_class cls = try_tls(&o, &cfg, 10000, &msg, NULL, NULL);
    tap_int(system_trust_loads, loads + 1, "chain verification loads the system store once");
    if (system_store_size() > 0) {
        tap_int(cls, RC_NOPERM, "the test CA is unknown to the system store: 77");
    } else {
        tap_int(cls, RC_CONFIG, "no system trust store on this machine: 78");
        tap_ok(msg && contains(msg, "system's trusted certificates") &&
                   contains(msg, "tls_trust_file") && contains(msg, "tls_fingerprint"),
               "the message names the missing store and what to set instead");
    }
    free(msg);
}

static void test_client_cert(void)
{
    struct srv o = { SRV_TLS, pki.good, pki.good_key, NULL, true, NULL };
    struct tls_config cfg = base_cfg();
    cfg.cert_file = pki.client;
    cfg.key_file = pki.client_key;
    struct conn *c;
    struct child ch;
    tap_int(try_tls(&o, &cfg, 10000, NULL, &ch, &c), RC_OK, "client certificate configured");
    struct buf b = BUF_INIT;
    read_datum(ch.info, &b);
    read_datum(ch.info, &b);
    unsigned char has = 0;
    tap_ok(read(ch.info, &has, 1) == 1 && has == 1, "the server received the client certificate");
    buf_free(&b);
    end_server(&ch, c);
}

static void test_pending_before_tls(void)
{
    /* Bytes left in the input buffer before the handshake are refused. */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    (void)write_all(sv[1], "220 go ahead\r\n250 injected\r\n", 28);
    struct conn *c = conn_from_fd(sv[0]);
    struct result r = RESULT_INIT;
    char line[128];
    size_t len;
    conn_read_line(c, line, sizeof line, &len, in_ms(2000), &r);
    struct tls_config cfg = base_cfg();
    tap_int(conn_start_tls(c, &cfg, 2000, &r), -1, "data buffered before the handshake: refused");
    tap_int(r.cls, RC_PROTOCOL, "... as a protocol error (76)");
    tap_ok(!conn_is_tls(c), "... and TLS is not active");
    result_clear(&r);
    struct buf b = BUF_INIT;
    tap_int(conn_channel_binding(c, "tls-exporter", &b), -1, "no channel binding without TLS");
    struct tls_info ti;
    tap_int(conn_tls_info(c, &ti), -1, "no TLS info without TLS");
    buf_free(&b);
    conn_close(c);
    close(sv[1]);
}

static void test_config_from_account(void)
{
    struct account a;
    memset(&a, 0, sizeof a);
    a.name = "acct";
    a.host = "mail.example";
    a.tls_certcheck = true;
    a.tls_trust_file = "/x/ca.pem";
    a.tls_fingerprint = "AA";
    struct tls_config cfg;
    account_tls_config(&cfg, &a);
    tap_str(cfg.host, "mail.example", "tls_config host from host");
    tap_str(cfg.account, "acct", "tls_config account name");
    tap_str(cfg.trust_file, "/x/ca.pem", "tls_config trust file");
    tap_ok(cfg.certcheck, "tls_config certcheck");
    a.tls_host_override = "override.example";
    account_tls_config(&cfg, &a);
    tap_str(cfg.host, "override.example", "tls_host_override wins over host");
}

/* ---------------------------------------------------------------- */
/* session cache */

static char cache_root[300];

/* The one file in the session cache directory (path in out), or the
 * number of files when there is not exactly one. */
static int cache_files(char *out, size_t outsize)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/smtpfwd/tls-sessions", cache_root);
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        if ((size_t)snprintf(out, outsize, "%s/%s", dir, e->d_name) >= outsize)
            exit(99);
    }
    closedir(d);
    return n;
}

static void cache_clear(void)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/smtpfwd", cache_root);
    if (tu_rmtree(dir) != 0)
        exit(99);
}

/* One connection: handshake, a line through, close (which stores the
 * session). Returns the class; *resumed says whether the server resumed. */
static enum result_class cache_round(const struct srv *o, const struct tls_config *cfg,
                                     bool *resumed, char **msg)
{
    struct conn *c;
    struct child ch;
    *resumed = false;
    enum result_class cls = try_tls(o, cfg, 10000, msg, &ch, &c);
    if (cls == RC_OK) {
        struct result r = RESULT_INIT;
        char line[64];
        size_t len;
        /* the reply makes the client read the ticket that comes first */
        if (conn_write(c, "x END\r\n", 7, 5000, &r) != 0 || conn_flush(c, 5000, &r) != 0
            || conn_read_line(c, line, sizeof line, &len, in_ms(5000), &r) != 0)
            cls = RC_SOFTWARE;
        result_clear(&r);
        struct buf b = BUF_INIT;
        unsigned char flags[2] = { 0, 0 };
        if (read_datum(ch.info, &b) < 0 || read_datum(ch.info, &b) < 0
            || read(ch.info, flags, 2) != 2)
            cls = RC_SOFTWARE;
        *resumed = flags[1] == 1;
        buf_free(&b);
    }
    end_server(&ch, c);
    return cls;
}

static void test_session_cache(void)
{
    gnutls_datum_t key1 = { NULL, 0 }, key2 = { NULL, 0 };
    if (gnutls_session_ticket_key_generate(&key1) < 0
        || gnutls_session_ticket_key_generate(&key2) < 0)
        die("ticket key", 0);
    struct srv o = { SRV_TLS, pki.good, pki.good_key, NULL, false, &key1 };
    struct tls_config cfg = base_cfg();
    cfg.session_cache = true;
    char path[600], *msg = NULL;
    bool resumed;
    cache_clear();

    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: first connection succeeds");
    tap_ok(!resumed, "cache: the first connection is a full handshake");
    tap_int(cache_files(path, sizeof path), 1, "cache: the session is kept in one file");
    struct stat st;
    tap_ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
           "cache: the file is readable by the user only (0600)");
    tap_ok(strstr(path, "/smtpfwd/tls-sessions/") != NULL,
           "cache: under $XDG_CACHE_HOME/smtpfwd/tls-sessions");
    free(msg);

    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: second connection succeeds");
    tap_ok(resumed, "cache: the second connection resumes the session");
    free(msg);

    /* The server no longer accepts the ticket and now shows a certificate
     * the settings do not trust: the fallback handshake must still verify. */
    struct srv bad = { SRV_TLS, pki.otherca_srv, pki.otherca_srv_key, NULL, false, &key2 };
    tap_int(cache_round(&bad, &cfg, &resumed, &msg), RC_NOPERM,
            "cache: ticket refused + untrusted certificate: verification still fails (77)");
    tap_ok(contains(msg, "TLS certificate verification failed for localhost"),
           "cache: ... with the verification message");
    free(msg);
    bad.crt = pki.wrongname;
    bad.key = pki.wrongname_key;
    tap_int(cache_round(&bad, &cfg, &resumed, &msg), RC_NOPERM,
            "cache: ticket refused + certificate for another name: 77");
    free(msg);

    /* Ticket refused, good certificate: full handshake, new ticket kept. */
    cache_clear();
    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: fresh ticket from key 1");
    free(msg);
    struct srv rekeyed = { SRV_TLS, pki.good, pki.good_key, NULL, false, &key2 };
    tap_int(cache_round(&rekeyed, &cfg, &resumed, &msg), RC_OK,
            "cache: server with a new ticket key: the handshake falls back and succeeds");
    tap_ok(!resumed, "cache: ... without resumption");
    free(msg);
    tap_int(cache_round(&rekeyed, &cfg, &resumed, &msg), RC_OK, "cache: next connection");
    tap_ok(resumed, "cache: ... resumes with the ticket of the new key");
    free(msg);

    /* Other settings: never resumed with the old session. */
    char ca2[300];
    snprintf(ca2, sizeof ca2, "%s/ca-copy.pem", tmpdir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", pki.ca, ca2);
    if (system(cmd) != 0)
        exit(99);
    struct tls_config other = cfg;
    other.trust_file = ca2;
    tap_int(cache_round(&rekeyed, &other, &resumed, &msg), RC_OK,
            "cache: another trust file: connection succeeds");
    tap_ok(!resumed, "cache: ... and does not resume a session verified under other settings");
    free(msg);
    tap_int(cache_files(path, sizeof path), 2, "cache: one file per settings");
    other = cfg;
    other.host = "127.0.0.1";
    tap_int(cache_round(&rekeyed, &other, &resumed, &msg), RC_OK,
            "cache: another host name to verify: connection succeeds");
    tap_ok(!resumed, "cache: ... without resuming");
    free(msg);

    /* Unusable files are ignored, never trusted. */
    cache_clear();
    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: ticket for the damage tests");
    free(msg);
    cache_files(path, sizeof path);
    chmod(path, 0644);
    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: file readable by others");
    tap_ok(!resumed, "cache: ... is not used");
    free(msg);
    cache_files(path, sizeof path);
    struct timespec old[2] = { { time(NULL) - 2 * 24 * 3600, 0 }, { time(NULL) - 2 * 24 * 3600, 0 } };
    utimensat(AT_FDCWD, path, old, 0);
    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: file two days old");
    tap_ok(!resumed, "cache: ... is not used");
    free(msg);
    cache_files(path, sizeof path);
    int fd = open(path, O_WRONLY | O_TRUNC);
    (void)write_all(fd, "smtpfwd-tls-session 1\ngarbage that is no session", 48);
    close(fd);
    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: damaged file: still delivers");
    tap_ok(!resumed, "cache: ... with a full handshake");
    free(msg);
    cache_files(path, sizeof path);
    fd = open(path, O_WRONLY | O_TRUNC);
    (void)write_all(fd, "not our format at all\n", 22);
    close(fd);
    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: foreign file: still delivers");
    tap_ok(!resumed, "cache: ... with a full handshake");
    free(msg);
    char link[700];
    cache_files(path, sizeof path);
    snprintf(link, sizeof link, "%s.target", path);
    rename(path, link);
    if (symlink(link, path) != 0)
        exit(99);
    tap_int(cache_round(&o, &cfg, &resumed, &msg), RC_OK, "cache: symlink in the cache: delivers");
    tap_ok(!resumed, "cache: ... and the link is not followed");
    free(msg);

    /* Off: nothing is written. */
    cache_clear();
    struct tls_config off = cfg;
    off.session_cache = false;
    tap_int(cache_round(&o, &off, &resumed, &msg), RC_OK, "cache off: delivers");
    free(msg);
    tap_int(cache_files(path, sizeof path), 0, "cache off: no file is written");
    tap_int(cache_round(&o, &off, &resumed, &msg), RC_OK, "cache off: second connection");
    tap_ok(!resumed, "cache off: ... is never resumed");
    free(msg);

    gnutls_free(key1.data);
    gnutls_free(key2.data);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    tmpdir = tu_tmpdir("tls");
    make_pki();
    count_system_trust_loads();
    snprintf(cache_root, sizeof cache_root, "%s/cache", tmpdir);
    setenv("XDG_CACHE_HOME", cache_root, 1);
    test_config_from_account();
    test_good_chain();
    test_tls12_binding();
    test_failures();
    test_pinning();
    test_certcheck_off();
    test_system_store();
    test_client_cert();
    test_pending_before_tls();
    test_session_cache();

    tu_rmtree(tmpdir);
    return tap_done();
}
