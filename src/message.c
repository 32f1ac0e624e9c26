/*
 * message.c - releasing a struct message (see message.h). Owns nothing
 * else: reading a message is intake's, storing one is queue's.
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
