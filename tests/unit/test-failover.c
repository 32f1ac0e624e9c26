/*
 * test-failover.c - unit tests for smarthost failover: the decision
 * whether a recipient may go to a fallback account
 * (deliver_may_fall_back, pure), the `fallback` value's names
 * (config_fallback_names), the sender rule (failover_sender_allowed),
 * and failover_deliver's choice of fallbacks and merge on accounts that
 * need no network (a fallback without a host fails before connecting).
 * What goes over the wire is seen in the data cases (tests/data,
 * 1040-1079).
 */
#include <config.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "envelope.h"
#include "message.h"
#include "failover.h"
#include "smtprc.h"
#include "tap.h"

static void names(const char *value, size_t want_n, const char *want_joined, const char *what)
{
    size_t n = 99;
    char **v = config_fallback_names(value, &n);
    char joined[256] = "";
    for (size_t i = 0; v && i < n; i++) {
        if (i)
            strcat(joined, "|");
        strcat(joined, v[i]);
        free(v[i]);
    }
    free(v);
    tap_ok(n == want_n && strcmp(joined, want_joined) == 0, what);
}

static struct config *load(const char *text)
{
    struct config *cfg = config_new();
    struct result r = RESULT_INIT;
    if (config_parse_string(cfg, text, "test", &r) != 0) {
        tap_ok(0, r.msg ? r.msg : "config");
        result_clear(&r);
    }
    return cfg;
}

int main(void)
{
    /* deliver_may_fall_back(class, reply to its RCPT, data taken) */
    tap_ok(deliver_may_fall_back(RC_TEMPFAIL, 0, false),
           "no RCPT reply, temporary failure before any data (connect, greeting, EHLO, AUTH, MAIL): falls back");
    tap_ok(deliver_may_fall_back(RC_TEMPFAIL, 250, false),
           "accepted at RCPT, then 4xx/421 to DATA before any data: falls back");
    tap_ok(!deliver_may_fall_back(RC_TEMPFAIL, 250, true),
           "accepted at RCPT and the data sent (4xx to the end of data, lost after the dot): never");
    tap_ok(!deliver_may_fall_back(RC_TEMPFAIL, 0, true),
           "no RCPT reply read but the data sent (a chunk pipelined): never");
    tap_ok(deliver_may_fall_back(RC_TEMPFAIL, 450, false), "450 to its RCPT: falls back");
    tap_ok(deliver_may_fall_back(RC_NOUSER, 451, true),
           "4xx to its RCPT while others were refused for good and the data went to others: falls back");
    tap_ok(deliver_may_fall_back(RC_TEMPFAIL, 421, false), "421 to its RCPT: falls back");
    tap_ok(!deliver_may_fall_back(RC_NOUSER, 550, false), "5xx to its RCPT: never");
    tap_ok(!deliver_may_fall_back(RC_NOPERM, 0, false), "certificate or authentication refused (77): never");
    tap_ok(!deliver_may_fall_back(RC_UNAVAILABLE, 0, false), "5xx greeting, no STARTTLS (69): never");
    tap_ok(!deliver_may_fall_back(RC_DATAERR, 0, false), "5xx to MAIL or DATA (65): never");
    tap_ok(!deliver_may_fall_back(RC_CONFIG, 0, false), "configuration error (78): never");
    tap_ok(!deliver_may_fall_back(RC_PROTOCOL, 0, false), "protocol error (76): never");
    tap_ok(!deliver_may_fall_back(RC_LOCALTEMP, 0, false),
           "a library of this system missing (75, local): never (a fallback fails the same way)");

    /* config_fallback_names */
    names("backup", 1, "backup", "one name");
    names("a,b", 2, "a|b", "two names");
    names(" a , b\t,c ", 3, "a|b|c", "blanks around names and commas are dropped");
    names("a,,b", 0, "", "an empty name refuses the value");
    names("a,", 0, "", "a trailing comma refuses the value");
    names(NULL, 0, "", "no value: no names");

    /* config_check_fallbacks */
    struct config *cfg = load("account default\nhost h\nfrom me@x.test\nfallback backup,other\n"
                              "account backup\nhost b\n"
                              "account other\nhost o\nfrom o@x.test\nallow_from_override off\n"
                              "account free\nhost f\nfrom *@x.test\n");
    struct result r = RESULT_INIT;
    tap_int(config_check_fallbacks(cfg, &r), 0, "known fallback accounts are accepted");
    struct config *bad = load("account default\nhost h\nfallback backup, nosuch\n"
                              "account backup\nhost b\n");
    tap_int(config_check_fallbacks(bad, &r), -1, "an unknown fallback account is refused");
    tap_ok(r.cls == RC_CONFIG && r.msg && strstr(r.msg, "test:1: account default: fallback names "
                                                         "an unknown account \"nosuch\""),
           "... as a configuration error naming the account's FILE:LINE");
    result_clear(&r);
    config_free(bad);
    struct config *self = load("account default\nhost h\nfallback default\n");
    tap_int(config_check_fallbacks(self, &r), 0, "an account naming itself is accepted (skipped)");
    config_free(self);

    /* failover_sender_allowed: the sender the fallback would use itself */
    const struct account *backup = config_find(cfg, "backup");
    const struct account *other = config_find(cfg, "other");
    tap_ok(failover_sender_allowed(backup, "me@x.test"), "no from: any sender");
    tap_ok(failover_sender_allowed(backup, ""), "no from: the null sender");
    tap_ok(!failover_sender_allowed(other, "me@x.test"),
           "from o@x.test and allow_from_override off: another sender is not allowed");
    tap_ok(failover_sender_allowed(other, "o@x.test"),
           "from o@x.test and allow_from_override off: its own sender is");
    tap_ok(failover_sender_allowed(config_find(cfg, "free"), "me@x.test"),
           "from set but allow_from_override on (the default): any sender");

    /* failover_deliver without network: "backup" has a host but is made
     * unusable below (no host), "other" refuses the sender. */
    struct account *a = (struct account *)config_find(cfg, "default");
    struct account *b = (struct account *)backup;
    free(b->host);
    b->host = NULL;
    char *rcpts[] = { "x@x.test", "y@x.test" };
    struct envelope env = { .sender = "me@x.test", .rcpts = rcpts, .nrcpts = 2 };
    struct message msg;
    memset(&msg, 0, sizeof msg);
    struct delivery d = { .env = &env, .msg = &msg, .log_later = true };
    d.rcpts = calloc(2, sizeof *d.rcpts);
    d.rcpts[0].outcome = DELIVERY_DELIVERED;
    d.rcpts[1].outcome = DELIVERY_TEMPORARY;
    d.rcpts[1].answered = true;
    d.rcpts[1].may_fall_back = true;
    result_set(&d.result, RC_TEMPFAIL, "the message was not delivered to 1 of 2 recipients");
    tap_ok(failover_deliver(cfg, a, &d, NULL), "a fallback was tried");
    tap_ok(d.via == b, "the last account tried is named for the log line");
    tap_ok(d.rcpts[0].outcome == DELIVERY_DELIVERED, "the delivered recipient stays delivered");
    tap_ok(d.rcpts[1].outcome == DELIVERY_TEMPORARY && d.rcpts[1].may_fall_back,
           "a fallback that cannot be used (no host: 78) leaves the recipient temporary, and "
           "free for the next fallback");
    tap_int(d.result.cls, RC_TEMPFAIL, "the message stays temporary (the spool keeps it)");
    d.via = NULL;
    d.rcpts[1].may_fall_back = false;
    tap_ok(!failover_deliver(cfg, a, &d, NULL), "nothing left that may fall back: nothing tried");
    deliver_free(&d);

    struct delivery ok = { .env = &env, .msg = &msg };
    ok.rcpts = calloc(2, sizeof *ok.rcpts);
    tap_ok(!failover_deliver(cfg, a, &ok, NULL), "a delivered message is not tried again");
    deliver_free(&ok);
    config_free(cfg);
    return tap_done();
}
