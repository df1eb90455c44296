/*
 * kurir/errors.h -- status codes shared by the core and every module.
 *
 * Part of the stable ABI.  Values are pinned: a code never changes meaning
 * and new codes are only ever appended (more negative).  0 is success;
 * every failure is negative.  A caller that meets a code it does not know
 * treats it as KURIR_E_TEMPFAIL.
 */
#ifndef KURIR_ERRORS_H
#define KURIR_ERRORS_H

#define KURIR_OK		0
#define KURIR_E_NOTFOUND	(-1)	/* no such user, mailbox, message */
#define KURIR_E_EXISTS		(-2)	/* already exists */
#define KURIR_E_OVERQUOTA	(-3)	/* user's quota would be exceeded */
#define KURIR_E_NOSPACE		(-4)	/* disk or map full: try later */
#define KURIR_E_TEMPFAIL	(-5)	/* transient: SMTP 4xx, IMAP NO */
#define KURIR_E_PERMFAIL	(-6)	/* permanent: SMTP 5xx */
#define KURIR_E_CORRUPT		(-7)	/* stored data is damaged */
#define KURIR_E_INVALID		(-8)	/* bad argument or bad input */
#define KURIR_E_UNSUPPORTED	(-9)	/* the backend lacks this operation */
#define KURIR_E_NOMEM		(-10)	/* allocation failed */
#define KURIR_E_TOOBIG		(-11)	/* over a configured limit */
#define KURIR_E_AUTH		(-12)	/* authentication failed */
#define KURIR_E_BUSY		(-13)	/* locked by someone else (POP3 IN-USE) */
#define KURIR_E_AGAIN		(-14)	/* would block; call again later */
#define KURIR_E_MODSEQ		(-15)	/* UNCHANGEDSINCE condition failed */

#endif /* KURIR_ERRORS_H */
