/*
 * message.c - releasing a struct message, and what starts a header field
 * (see message.h). Owns nothing else: reading a message is intake's,
 * storing one is queue's.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message.h"

void message_free(struct message *m)
{
    if (!m)
        return;
    if (m->fd >= 0)
        close(m->fd);
    addr_list_free(&m->rcpts);
    free(m->from_header);
    free(m->sender_header);
    memset(m, 0, sizeof *m);
    m->fd = -1;
}

size_t message_field_name_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 && s[i] != ':')
        i++;
    size_t name = i;
    if (name == 0)
        return 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i < n && s[i] == ':' ? name : 0;
}
