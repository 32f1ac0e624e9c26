/*
 * fuzz-cli.c - fuzz target: the sendmail command line (src/cli.c) and
 * the msmtp options it turns into configuration settings (--host: the
 * account made of the settings alone, src/smtprc-parse.c).
 *
 * Input: the words of argv separated by NUL bytes; the first byte picks
 * the name the program is called by (sendmail, mailq, newaliases,
 * smtpfwd), which changes the default mode. Properties checked:
 *  - cli_parse() returns 0 with no error, or -1 with a usage error
 *    (RC_USAGE) and a message;
 *  - the recipients are words of argv (not copies, not other memory);
 *  - at most CLI_MAX_SETTINGS settings, each with a command and a value
 *    and the option that gave it;
 *  - the settings either build an account (config_from_settings) or are
 *    refused with a usage error and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "smtprc.h"
#include "result.h"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const prognames[] = { "sendmail", "mailq", "newaliases", "smtpfwd" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *words = malloc(size);   /* the bytes after the first, NUL-terminated */
    if (words == NULL)
        return 0;
    memcpy(words, data + 1, size - 1);
    words[size - 1] = '\0';

    char *argv[MAX_WORDS + 2];
    int argc = 0;
    argv[argc++] = (char *)prognames[data[0] % 4];
    for (char *p = words; p < words + size && argc <= MAX_WORDS; p += strlen(p) + 1) {
        argv[argc++] = p;
        if (p + strlen(p) + 1 >= words + size)
            break;
    }
    argv[argc] = NULL;

    struct options opts;
    memset(&opts, 0, sizeof opts);
    struct result r = RESULT_INIT;
    int rc = cli_parse(argc, argv, &opts, &r);
    if (rc == 0) {
        if (r.cls != RC_OK || r.msg != NULL)
            abort();
        if (opts.nrecipients < 0 || opts.nsettings > CLI_MAX_SETTINGS)
            abort();
        for (int i = 0; i < opts.nrecipients; i++) {
            int found = 0;
            for (int j = 1; j < argc; j++)
                if (opts.recipients[i] == argv[j])
                    found = 1;
            if (!found)
                abort();
        }
        for (size_t i = 0; i < opts.nsettings; i++)
            if (opts.settings[i].command == NULL || opts.settings[i].option == NULL)
                abort();
        if (opts.nsettings > 0) {
            struct config *cfg = NULL;
            struct result cr = RESULT_INIT;
            int crc = config_from_settings(opts.settings, opts.nsettings, &cfg, &cr);
            if (crc == 0) {
                if (cfg == NULL || cr.msg != NULL
                    || config_find(cfg, CONFIG_COMMAND_LINE) == NULL)
                    abort();
                config_free(cfg);
            } else if (cr.cls != RC_USAGE || cr.msg == NULL) {
                abort();
            }
            result_clear(&cr);
        }
    } else if (rc != -1 || r.cls != RC_USAGE || r.msg == NULL) {
        abort();
    }
    result_clear(&r);
    free(words);
    return 0;
}
