/*
 * imap_mock.h -- a stand-in core for driving the IMAP module without
 * kurird: the real imap and storage modules are dlopen'ed from the build
 * tree and given a services table whose connections are in memory.
 * Input is split into lines and literals as the core does; output is
 * collected, with a configurable high-water mark to exercise on_drain.
 */
#ifndef IMAP_MOCK_H
#define IMAP_MOCK_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/api.h>
#include <kurir/proto.h>
#include <kurir/storage.h>

struct kurir_conn {
	void		*sess;
	char		*out;		/* everything written, NUL-terminated */
	size_t		 out_len;
	size_t		 out_cap;
	size_t		 queued;	/* bytes "in the socket queue" */
	uint64_t	 lit_left;	/* conn_read_bytes() pending */
	int		 paused;
	int		 closed;
	int		 close_requested;
};

/* Load modules from $KURIR_BUILDDIR/modules with state in a new temp
 * directory; `storage` is "lmdb" or "maildir".  Returns 0, or 77 when a
 * module is not built. */
int	 mock_setup(const char *storage);
void	 mock_teardown(void);
const struct kurir_proto_ops *mock_imap(void);
const struct kurir_storage_ops *mock_storage(void);
/* Override a configuration number before mock_setup(). */
void	 mock_conf_set(const char *key, int64_t v);
/* Output queue high mark (0: unlimited). */
void	 mock_set_high_water(size_t bytes);

struct kurir_conn *mock_connect(void);
void	 mock_disconnect(struct kurir_conn *c);
/* Feed client bytes; returns what the server wrote in response (a
 * pointer into c->out, valid until the next call). */
const char *mock_send(struct kurir_conn *c, const char *bytes, size_t len);
const char *mock_sends(struct kurir_conn *c, const char *str);
/* Fire the watch callbacks of readable descriptors (change notification). */
void	 mock_poll_watches(int timeout_ms);
/* Output written since a mark. */
size_t	 mock_mark(struct kurir_conn *c);
const char *mock_since(struct kurir_conn *c, size_t mark);

#endif /* IMAP_MOCK_H */
