/* reply.h - SMTP reply and capability parsing (split from smtp.c). */
#ifndef SMTPFWD_REPLY_H
#define SMTPFWD_REPLY_H
#endif
