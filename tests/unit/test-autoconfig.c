/*
 * test-autoconfig.c - unit tests for --configure's pure parts: the SRV
 * answer parser (srv_parse_answer: records, order, compression, the "."
 * target, every kind of malformed message), the autoconfig document
 * reader (ac_parse_document through libxml2: servers of type smtp only,
 * the domain list, entities not followed, a DOCTYPE refused, broken
 * XML), the choice among servers (ac_pick_server), the username
 * placeholders (ac_substitute) and the escaping of a query value
 * (https_escape).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "https.h"
#include "result.h"
#include "tap.h"
#include "util.h"

/* A DNS message under construction. */
struct msg {
    unsigned char b[2048];
    size_t n;
};

static void put8(struct msg *m, unsigned v) { m->b[m->n++] = (unsigned char)v; }
static void put16(struct msg *m, unsigned v) { put8(m, v >> 8); put8(m, v & 255); }
static void put32(struct msg *m, unsigned long v) { put16(m, (unsigned)(v >> 16)); put16(m, v & 0xffff); }
static void putname(struct msg *m, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        put8(m, (unsigned)l);
        memcpy(m->b + m->n, name, l);
        m->n += l;
        name += l + (dot ? 1 : 0);
    }
    put8(m, 0);
}

/* Header and the question _submissions._tcp.example.org SRV IN. */
static void start(struct msg *m, unsigned ancount)
{
    m->n = 0;
    put16(m, 0x1234);
    put16(m, 0x8180);
    put16(m, 1);
    put16(m, ancount);
    put16(m, 0);
    put16(m, 0);
    putname(m, "_submissions._tcp.example.org");
    put16(m, 33);
    put16(m, 1);
}

/* An SRV record owned by the question's name (pointer to 12); target
 * as a name, or compressed (a pointer to offset ptr) when ptr. */
static void srv(struct msg *m, unsigned prio, unsigned weight, unsigned port, const char *target,
                unsigned ptr)
{
    put16(m, 0xc00c);
    put16(m, 33);
    put16(m, 1);
    put32(m, 300);
    size_t rdlen_at = m->n;
    put16(m, 0);
    size_t start_rd = m->n;
    put16(m, prio);
    put16(m, weight);
    put16(m, port);
    if (ptr) {
        putname(m, target);
        m->n--;                       /* drop the root label: the pointer ends it */
        put16(m, 0xc000 | ptr);
    } else {
        putname(m, target);
    }
    size_t rdlen = m->n - start_rd;
    m->b[rdlen_at] = (unsigned char)(rdlen >> 8);
    m->b[rdlen_at + 1] = (unsigned char)rdlen;
}

static void test_srv(void)
{
    struct msg m;
    struct srv_record r[SRV_MAX];

    start(&m, 3);
    srv(&m, 20, 0, 465, "backup.example.org", 0);
    srv(&m, 10, 0, 4650, "light.example.org", 0);
    srv(&m, 10, 9, 465, "heavy", 30);    /* "heavy" + pointer to "example.org" in the question */
    int n = srv_parse_answer(m.b, m.n, r, SRV_MAX);
    tap_int(n, 3, "srv: three records");
    if (n == 3) {
        tap_str(r[0].target, "heavy.example.org", "srv: priority then weight: heavy first");
        tap_int(r[0].port, 465, "srv: its port");
        tap_str(r[1].target, "light.example.org", "srv: then the lighter one");
        tap_str(r[2].target, "backup.example.org", "srv: the higher priority last");
        tap_int(r[2].priority, 20, "srv: priority read");
    }
    srv_free(r, n > 0 ? (size_t)n : 0);

    start(&m, 1);
    srv(&m, 0, 0, 0, "", 0);
    n = srv_parse_answer(m.b, m.n, r, SRV_MAX);
    tap_int(n, 1, "srv: the \".\" target is a record");
    if (n == 1)
        tap_str(r[0].target, "", "srv: \".\" is the empty name");
    srv_free(r, n > 0 ? (size_t)n : 0);

    start(&m, 0);
    tap_int(srv_parse_answer(m.b, m.n, r, SRV_MAX), 0, "srv: no answer: 0 records");

    /* a CNAME before the SRV is skipped */
    start(&m, 2);
    put16(&m, 0xc00c); put16(&m, 5); put16(&m, 1); put32(&m, 60);
    put16(&m, 2); put16(&m, 0xc00c);
    srv(&m, 1, 1, 587, "smtp.example.org", 0);
    n = srv_parse_answer(m.b, m.n, r, SRV_MAX);
    tap_int(n, 1, "srv: another type skipped");
    srv_free(r, n > 0 ? (size_t)n : 0);

    /* max keeps the first ones read */
    start(&m, 3);
    srv(&m, 1, 0, 1, "a.example", 0);
    srv(&m, 2, 0, 2, "b.example", 0);
    srv(&m, 3, 0, 3, "c.example", 0);
    n = srv_parse_answer(m.b, m.n, r, 2);
    tap_int(n, 2, "srv: at most max records");
    srv_free(r, n > 0 ? (size_t)n : 0);

    /* malformed */
    struct msg bad;
    start(&m, 1);
    srv(&m, 0, 1, 465, "mail.example.org", 0);
    for (size_t cut = 0; cut < m.n; cut++)
        if (srv_parse_answer(m.b, cut, r, SRV_MAX) >= 0) {
            tap_ok(0, "srv: every truncation refused");
            goto truncated_done;
        }
    tap_ok(1, "srv: every truncation refused");
truncated_done:
    bad = m;
    bad.b[2] &= 0x7f;                         /* not a response */
    tap_int(srv_parse_answer(bad.b, bad.n, r, SRV_MAX), -1, "srv: a query refused");
    bad = m;
    bad.b[m.n - 1 - 17 - 6 - 2] = 0x0f;       /* RDLENGTH high byte: past the end */
    tap_int(srv_parse_answer(bad.b, bad.n, r, SRV_MAX), -1, "srv: RDLENGTH past the end");

    /* a pointer to itself and a forward pointer */
    start(&m, 1);
    size_t here = m.n;
    put16(&m, 0xc000 | (unsigned)here);
    put16(&m, 33); put16(&m, 1); put32(&m, 1); put16(&m, 0);
    tap_int(srv_parse_answer(m.b, m.n, r, SRV_MAX), -1, "srv: a pointer loop refused");
    start(&m, 1);
    put16(&m, 0xc000 | (unsigned)(m.n + 4));
    put16(&m, 33); put16(&m, 1); put32(&m, 1); put16(&m, 0);
    tap_int(srv_parse_answer(m.b, m.n, r, SRV_MAX), -1, "srv: a forward pointer refused");

    /* a target with a byte that is no host name character */
    start(&m, 1);
    srv(&m, 0, 0, 465, "bad\nname.example", 0);
    tap_int(srv_parse_answer(m.b, m.n, r, SRV_MAX), -1, "srv: a newline in the target refused");

    /* the target must end where RDLENGTH says */
    start(&m, 1);
    srv(&m, 0, 0, 465, "mail.example.org", 0);
    m.b[m.n - 24 - 1] += 1;                   /* RDLENGTH (low byte) one longer */
    put8(&m, 0);
    tap_int(srv_parse_answer(m.b, m.n, r, SRV_MAX), -1, "srv: RDLENGTH disagreeing refused");
}

#if HAVE_LIBXML2
static const char *DOC =
    "<?xml version=\"1.0\"?>\n"
    "<clientConfig version=\"1.1\"><emailProvider id=\"example.org\">"
    "<domain>example.org</domain><domain>example.net</domain>"
    "<incomingServer type=\"imap\"><hostname>imap.example.org</hostname></incomingServer>"
    "<outgoingServer type=\"smtp\"><hostname>plain.example.org</hostname><port>25</port>"
    "<socketType>plain</socketType><authentication>password-cleartext</authentication>"
    "</outgoingServer>"
    "<outgoingServer type=\"smtp\"><hostname> starttls.example.org </hostname><port>587</port>"
    "<socketType>STARTTLS</socketType><authentication>NTLM</authentication>"
    "<authentication>password-encrypted</authentication>"
    "<username>%EMAILLOCALPART%</username></outgoingServer>"
    "<outgoingServer type=\"smtp\"><hostname>ssl.example.org</hostname><port>465</port>"
    "<socketType>SSL</socketType><authentication>OAuth2</authentication>"
    "<username>%EMAILADDRESS%</username></outgoingServer>"
    "<outgoingServer type=\"exchange\"><hostname>ews.example.org</hostname></outgoingServer>"
    "</emailProvider></clientConfig>\n";

static void test_xml(void)
{
    struct ac_document d;
    struct result r = RESULT_INIT;
    int rc = ac_parse_document(DOC, strlen(DOC), "example.net", &d, &r);
    tap_int(rc, 0, "xml: the document is read");
    tap_int((long long)d.nservers, 3, "xml: the three smtp servers, not exchange");
    tap_ok(d.domain_listed, "xml: example.net is listed");
    if (d.nservers == 3) {
        tap_str(d.servers[1].hostname, "starttls.example.org", "xml: hostname trimmed");
        tap_int(d.servers[1].auth, AC_AUTH_PASSWORD, "xml: the first usable authentication");
        tap_str(d.servers[1].username, "%EMAILLOCALPART%", "xml: username as written");
        tap_int(d.servers[2].socket, AC_SOCKET_SSL, "xml: SSL");
        tap_int(d.servers[2].auth, AC_AUTH_OAUTH2, "xml: OAuth2");
        tap_int(d.servers[0].port, 25, "xml: port");
        tap_int(ac_pick_server(&d), 2, "pick: SSL before STARTTLS before plain");
    }
    ac_document_free(&d);
    result_clear(&r);

    rc = ac_parse_document(DOC, strlen(DOC), "other.org", &d, &r);
    tap_ok(rc == 0 && !d.domain_listed, "xml: a domain not listed is seen");
    ac_document_free(&d);
    result_clear(&r);

    const char *broken = "<clientConfig><emailProvider>";
    rc = ac_parse_document(broken, strlen(broken), "x.org", &d, &r);
    tap_ok(rc == -1 && r.cls == RC_PROTOCOL, "xml: broken XML refused (protocol)");
    ac_document_free(&d);
    result_clear(&r);

    const char *other = "<html><body>not here</body></html>";
    rc = ac_parse_document(other, strlen(other), "x.org", &d, &r);
    tap_ok(rc == -1 && r.cls == RC_PROTOCOL, "xml: another root refused");
    ac_document_free(&d);
    result_clear(&r);

    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE c [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
                      "<clientConfig><emailProvider><domain>x.org</domain>"
                      "<outgoingServer type=\"smtp\"><hostname>&e;</hostname></outgoingServer>"
                      "</emailProvider></clientConfig>";
    rc = ac_parse_document(xxe, strlen(xxe), "x.org", &d, &r);
    tap_ok(rc == -1 && r.msg && strstr(r.msg, "DOCTYPE"), "xml: a DOCTYPE refused");
    ac_document_free(&d);
    result_clear(&r);

    const char *evil = "<clientConfig><emailProvider><domain>x.org</domain>"
                       "<outgoingServer type=\"smtp\"><hostname>a.org\nhost evil</hostname>"
                       "<socketType>SSL</socketType></outgoingServer>"
                       "</emailProvider></clientConfig>";
    rc = ac_parse_document(evil, strlen(evil), "x.org", &d, &r);
    tap_ok(rc == 0 && d.nservers == 1 && !d.servers[0].hostname,
           "xml: a hostname with a newline is not taken");
    tap_int(ac_pick_server(&d), -1, "pick: no usable server");
    ac_document_free(&d);
    result_clear(&r);
}
#endif

static void test_substitute(void)
{
    char *s = ac_substitute("%EMAILLOCALPART%+x@%EMAILDOMAIN% (%EMAILADDRESS%) %OTHER%",
                            "a.b@example.org", "a.b", "example.org");
    tap_str(s, "a.b+x@example.org (a.b@example.org) %OTHER%", "substitute: the three placeholders");
    free(s);
    s = ac_substitute("", "a@b.c", "a", "b.c");
    tap_str(s, "", "substitute: empty");
    free(s);
    s = https_escape("a.b+c@ex ample/é~");
    tap_str(s, "a.b%2Bc%40ex%20ample%2F%C3%A9~", "escape: RFC 3986 unreserved kept");
    free(s);
}

int main(void)
{
    test_srv();
    test_substitute();
#if HAVE_LIBXML2
    test_xml();
#else
    struct ac_document d;
    struct result r = RESULT_INIT;
    tap_ok(ac_parse_document("<a/>", 4, "x.org", &d, &r) == -1 && r.cls == RC_UNAVAILABLE,
           "xml: built without libxml2: documents refused (unavailable)");
    result_clear(&r);
#endif
    return tap_done();
}
