/*
 * check_smtp_mock.h -- a stand-in for the core, for the SMTP module's
 * unit tests: a services table whose connection splits input into lines
 * (and BDAT byte runs) the way the core's reader does, honours pause,
 * STARTTLS (discarding pipelined input) and run_blocking, plus a storage
 * backend, address resolution and SASL that keep everything in memory.
 */
#ifndef CHECK_SMTP_MOCK_H
#define CHECK_SMTP_MOCK_H

#include <stddef.h>
#include <stdint.h>

#include "smtp.h"

struct kurir_conn {
	char		*out;		/* everything written */
	size_t		 outlen;
	char		*in;		/* received, not yet dispatched */
	size_t		 inlen;
	uint64_t	 bytes_left;	/* conn_read_bytes() still owed */
	int		 paused;
	int		 closed;
	int		 tls;
	int		 starttls;	/* a handshake is due */
	int		 loopback;
	const char	*service;
	const char	*peer;
	void		*sess;
	int		 gone;		/* on_close() called */
	uint32_t	 timeout;
	size_t		 chunk;		/* on_data() piece size, 0: all */
};

/* A stored message (one per user per delivery). */
struct mock_msg {
	char		 user[KURIR_ADDR_MAX + 1];
	char		*data;
	size_t		 len;
};

extern struct mock_msg mock_msgs[64];
extern size_t mock_nmsgs;
extern int mock_commit_status;	/* what deliver_commit returns */
extern int mock_pending_work;	/* run_blocking calls not yet run */
extern int mock_auto_work;	/* run blocking work at once (default) */
extern int mock_no_tls;		/* conn_starttls: no certificate */

void	 mock_reset(void);
void	 mock_conf_set(const char *key, const char *val);
struct kurir_conn *mock_connect(const char *service);
void	 mock_feed(struct kurir_conn *c, const char *buf, size_t len);
void	 mock_feeds(struct kurir_conn *c, const char *s);
void	 mock_run_work(void);
void	 mock_timeout(struct kurir_conn *c);
void	 mock_close(struct kurir_conn *c);
/* The output since the last call, NUL-terminated (static buffer). */
const char *mock_out(struct kurir_conn *c);
/* The last reply line's code in the output so far, or -1. */
int	 mock_last_code(struct kurir_conn *c);

#endif
