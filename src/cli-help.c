/*
 * cli-help.c - the texts of --help and --version: every option of
 * cli.c (sendmail's and smtpfwd's own), the exit statuses, and the
 * features of this build (which libraries it loads at run time or
 * links). Keep --help in step with cli.c's option tables and with
 * doc/smtpfwd.1.
 *
 * This file only prints to standard output; it parses nothing and loads
 * no library.
 */
#include <config.h>

#include <stdio.h>

/* Only for GNUTLS_VERSION, GSASL_VERSION and IDN2_VERSION: no function
 * of these libraries is called here (they are loaded only when used). */
#include <gnutls/gnutls.h>
#ifndef GNUTLS_SONAME
# define GNUTLS_SONAME "libgnutls.so.30"
#endif
#if HAVE_LIBGSASL
# include <gsasl.h>
# ifndef GSASL_SONAME
#  define GSASL_SONAME "libgsasl.so.18"
# endif
#endif
#if HAVE_LIBSECRET
# ifndef LIBSECRET_SONAME
#  define LIBSECRET_SONAME "libsecret-1.so.0"
# endif
#endif
#if HAVE_LIBIDN2
# include <idn2.h>
# ifndef LIBIDN2_SONAME
#  define LIBIDN2_SONAME "libidn2.so.0"
# endif
#endif

#if HAVE_LIBUNISTRING
# ifndef LIBUNISTRING_SONAME
#  define LIBUNISTRING_SONAME "libunistring.so.2"
# endif
#endif

#if SMTPFWD_OAUTH2
# include <curl/curlver.h>
# include <json_c_version.h>
# ifndef LIBCURL_SONAME
#  define LIBCURL_SONAME "libcurl-gnutls.so.4"
# endif
# ifndef JSONC_SONAME
#  define JSONC_SONAME "libjson-c.so.5"
# endif
#endif

#if HAVE_LIBXML2
# include <libxml/xmlversion.h>
# ifndef LIBXML2_SONAME
#  define LIBXML2_SONAME "libxml2.so.2"
# endif
#endif

#include "cli.h"
#include "i18n.h"

#ifndef SYSCONFDIR
# define SYSCONFDIR "/etc"
#endif

void cli_print_help(void)
{
    printf(_("Usage: %s [OPTION]... [--] [RECIPIENT]...\n"
             "  or:  mailq, newaliases\n"
             "Read a message on standard input, as sendmail(8) does, and forward it to the\n"
             "smarthost of an account in ~/.smtprc.\n"),
           PACKAGE);
    fputs(_("\n"
            "Sendmail options:\n"
            "  -t               also send to the To, Cc and Bcc header recipients (or those\n"
            "                   of the first Resent- block) and remove the Bcc headers\n"
            "  -i, -oi          a line with a single \".\" does not end the message (this\n"
            "                   only matters when standard input is a terminal)\n"
            "  -f ADDR, -r ADDR envelope sender; \"<>\" or \"\" is the null sender\n"
            "  -F NAME          full name for a From header that smtpfwd adds\n"
            "  -N LIST          delivery status notifications: never, or a list of\n"
            "                   success, failure, delay; off for none\n"
            "  -R full|hdrs     return the full message or only its headers in a DSN\n"
            "                   (also headers; off for no RET)\n"
            "  -V ENVID         envelope identifier for delivery status notifications\n"
            "  -B 7BIT|8BITMIME body type: 7BIT sends the message as 7-bit ASCII to every\n"
            "                   server (converted when needed); 8BITMIME and other types\n"
            "                   change nothing\n"
            "  -C FILE          read FILE instead of ~/.smtprc\n"
            "  -bm              read a message and deliver it (the default)\n"
            "  -bp              list the queued messages (same as mailq)\n"
            "  -bs              speak SMTP on standard input and output (Symfony, Laravel,\n"
            "                   Alpine): each message is delivered or queued before\n"
            "                   the reply to its end of data; -t is refused with -bs\n"
            "  -bi, -I          rebuild the aliases: nothing to do (same as newaliases)\n"
            "  -q[INTERVAL]     deliver the queued messages that are due; INTERVAL is\n"
            "                   ignored\n"
            "  -qf              deliver all queued messages, due or not\n"
            "  -odq             put the message in the queue instead of delivering it\n"
            "  -odi, -odb, -odd accepted; the message is delivered at once\n"
            "  -oem, -oee, -oep, -oeq, -oew\n"
            "                   accepted; errors are always reported on standard error\n"
            "                   and in the exit status\n"
            "  -v               show the SMTP dialog; twice (-vv, -d) for more detail\n"
            "  -X FILE          append a log line to FILE (the logfile command)\n"
            "  -o X, -O X, -L X, -h N, -A X, -G, -U, -m, -n\n"
            "                   accepted and ignored\n"
            "  --               end of the options: everything after it is a recipient\n"
            "Flags may be bundled: -ti is -t -i.\n"),
          stdout);
    fputs(_("\n"
            "smtpfwd options:\n"
            "  -a, --account=NAME    use the account NAME of the configuration\n"
            "      --file=FILE       same as -C FILE\n"
            "      --from=ADDR       same as -f ADDR\n"
            "      --read-recipients same as -t\n"
            "      --verbose         same as -v\n"
            "  -d, --debug           same as -v -v\n"
            "      --read-envelope-from\n"
            "                        take the sender from the message's From header\n"
            "  -P, --pretend         print the account that would be used (passwords\n"
            "                        masked) and exit\n"
            "  -q, --flush           deliver the queued messages that are due\n"
            "      --force           with --flush: deliver all queued messages, due or not\n"
            "      --queue-json      list the queued messages as JSON (like -bp)\n"
            "      --queue-remove ID...\n"
            "                        remove the queued messages with these ids\n"
            "      --queue-retry ID...\n"
            "                        make these queued messages due now (a failed one\n"
            "                        goes back to the queue)\n"
            "  -S, --serverinfo      print what the account's smarthost offers and exit\n"
            "      --store-password [ACCOUNT]\n"
            "                        store the account's password in the keyring: asked\n"
            "                        on the terminal, or the first line of standard\n"
            "                        input when that is not a terminal\n"
            "      --forget-password [ACCOUNT]\n"
            "                        remove the account's password from the keyring\n"
            "      --authorize [ACCOUNT]\n"
            "                        for an account with oauth2_provider: sign in once\n"
            "                        (the address to open is printed) and store the\n"
            "                        refresh token smtpfwd renews its access with\n"
            "      --device          with --authorize: enter a code on any device instead\n"
            "                        of coming back to this computer's browser\n"
            "      --authorize-timeout=SECONDS\n"
            "                        with --authorize: wait at most SECONDS for the\n"
            "                        sign-in (default 300)\n"
            "      --configure ADDRESS\n"
            "                        find the submission server of ADDRESS (DNS SRV\n"
            "                        records, then the provider's autoconfig document\n"
            "                        over HTTPS) and print an account for ~/.smtprc\n"
            "      --write           with --configure: append the account to the\n"
            "                        configuration file (-C FILE, else the user's file;\n"
            "                        never over an existing account; old content in FILE~)\n"
            "      --help            print this help and exit\n"
            "      --version         print the version and the features built in and exit\n"),
          stdout);
    fputs(_("\n"
            "msmtp options: each sets the configuration command of the same name over\n"
            "the chosen account (\"\" unsets; see smtpfwd(1)); --host=HOST reads no\n"
            "configuration file at all and cannot be used with -a.\n"
            "  --host=HOST  --port=N  --source-ip=[IP]  --proxy-host=[HOST]\n"
            "  --proxy-port=[N]  --proxy-user=[NAME]  --socket=[PATH]\n"
            "  --timeout=(off|SECONDS)  --connect-timeout=SECONDS\n"
            "  --protocol=(smtp|lmtp)  --domain=[NAME]  --auth[=(on|off|METHOD)]\n"
            "  --user=[NAME]  --passwordeval=[COMMAND]  --tls[=(on|off)]\n"
            "  --tls-starttls[=(on|off)]  --tls-trust-file=[FILE]\n"
            "  --tls-crl-file=[FILE]  --tls-fingerprint=[HEX]  --tls-key-file=[FILE]\n"
            "  --tls-cert-file=[FILE]  --tls-certcheck[=(on|off)]\n"
            "  --tls-priorities=[STRING]  --tls-host-override=[HOST]\n"
            "  --tls-min-dh-prime-bits=[BITS]  --tls-force-sslv3[=(on|off)]\n"
            "  --auto-from[=(on|off)]  --maildomain=[DOMAIN]  --keepbcc[=(on|off)]\n"
            "  --dsn-notify=(off|never|LIST)  --dsn-return=(off|full|hdrs|headers)\n"
            "  --logfile=[FILE]  --logfile-time-format=[FORMAT]\n"
            "  --syslog[=(on|off|FACILITY)]  --aliases=[FILE]\n"
            "  --set-from-header[=(auto|on|off)]  --set-date-header[=(auto|off)]\n"
            "  --set-msgid-header[=(auto|off)]  --remove-bcc-headers[=(on|off)]\n"
            "  --undisclosed-recipients[=(on|off)]\n"),
          stdout);
    fputs(_("\n"
            "Each RECIPIENT is an address list, such as \"a@example.org, Bob <b@example.org>\".\n"
            "Options end at the first recipient, as in sendmail.\n"),
          stdout);
    printf(_("\n"
             "Configuration: %s, then -C FILE or ~/.smtprc (else\n"
             "$XDG_CONFIG_HOME/smtpfwd/config), in msmtprc syntax; see smtprc(5).\n"),
           SYSCONFDIR "/smtprc");
    fputs(_("\n"
            "Exit status (sysexits):\n"
            "   0  delivered, or safely queued\n"
            "  64  bad command line, no recipients\n"
            "  65  invalid address or message, or the server refused the message\n"
            "  67  recipients refused\n"
            "  68  the smarthost's name does not exist\n"
            "  69  a required service is missing (STARTTLS, AUTH, DSN)\n"
            "  75  temporary failure; the message was not queued\n"
            "  76  the server broke the protocol\n"
            "  77  authentication refused or certificate not trusted\n"
            "  78  configuration error\n"
            "  70, 71, 73, 74  internal or local system errors\n"),
          stdout);
    printf(_("\nReport bugs to <%s>.\n"), PACKAGE_BUGREPORT);
}

void cli_print_version(void)
{
    /* TLS is always built in (GnuTLS is required), so every other
     * feature follows it with ", ". GnuTLS is not linked: it is loaded
     * when a connection uses TLS (gnutls-dl.c), so the version printed
     * is the one compiled against, and nothing is loaded to print it;
     * the same for GNU SASL, libsecret, libidn2, libunistring, libcurl
     * and json-c (gsasl-dl.c, secret.c, idn.c, unistring-dl.c, curl-dl.c,
     * json-dl.c). With
     * configure --disable-dlopen they are linked and each says so
     * ("FILE linked"). */
    printf("%s %s\n", PACKAGE, VERSION);
    fputs(_("Features:"), stdout);
    printf(" TLS (GnuTLS %s, ", GNUTLS_VERSION);
#if SMTPFWD_DLOPEN
    printf(_("%s loaded when a connection uses TLS"), GNUTLS_SONAME);
#else
    printf(_("%s linked"), GNUTLS_SONAME);
#endif
    putchar(')');
#if HAVE_LIBGSASL
    printf(", SASL (GNU SASL %s, ", GSASL_VERSION);
# if SMTPFWD_DLOPEN
    printf(_("%s loaded when AUTH uses it"), GSASL_SONAME);
# else
    printf(_("%s linked"), GSASL_SONAME);
# endif
    putchar(')');
#endif
#if HAVE_LIBSECRET
    fputs(", keyring (libsecret, ", stdout);
# if SMTPFWD_DLOPEN
    printf(_("%s loaded when the keyring is used"), LIBSECRET_SONAME);
# else
    printf(_("%s linked"), LIBSECRET_SONAME);
# endif
    putchar(')');
#endif
#if HAVE_LIBIDN2
    printf(", IDN (libidn2 %s, ", IDN2_VERSION);
# if SMTPFWD_DLOPEN
    printf(_("%s loaded for non-ASCII names"), LIBIDN2_SONAME);
# else
    printf(_("%s linked"), LIBIDN2_SONAME);
# endif
    putchar(')');
#endif
#if HAVE_LIBUNISTRING
    fputs(", NFC (libunistring, ", stdout);
# if SMTPFWD_DLOPEN
    printf(_("%s loaded for non-ASCII addresses"), LIBUNISTRING_SONAME);
# else
    printf(_("%s linked"), LIBUNISTRING_SONAME);
# endif
    putchar(')');
#endif
#if SMTPFWD_OAUTH2
    printf(", OAuth2 (libcurl %s, ", LIBCURL_VERSION);
# if SMTPFWD_DLOPEN
    printf(_("%s loaded when a token is fetched"), LIBCURL_SONAME);
# else
    printf(_("%s linked"), LIBCURL_SONAME);
# endif
    printf("; json-c %s, ", JSON_C_VERSION);
# if SMTPFWD_DLOPEN
    printf(_("%s loaded when OAuth2 data is read"), JSONC_SONAME);
# else
    printf(_("%s linked"), JSONC_SONAME);
# endif
    putchar(')');
#endif
#if HAVE_LIBXML2
    printf(", autoconfig (libxml2 %s, ", LIBXML_DOTTED_VERSION);
# if SMTPFWD_DLOPEN
    printf(_("%s loaded by --configure"), LIBXML2_SONAME);
# else
    printf(_("%s linked"), LIBXML2_SONAME);
# endif
    putchar(')');
#endif
    putchar('\n');
    printf(_("Configuration: %s, %s\n"), SYSCONFDIR "/smtprc", "~/.smtprc");
}
