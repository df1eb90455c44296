/*
 * kurir/module.h -- the module descriptor: how a module introduces itself.
 *
 * RULES FOR EVOLVING THE ABI (read before editing anything in include/kurir)
 *
 *  1. KURIR_ABI_MAJOR changes only when an existing struct field, function
 *     signature or constant changes meaning.  Every module must then be
 *     rebuilt; the core refuses modules built for another major.
 *  2. Within one major, tables only grow at the END.  Appending a member
 *     to struct kurir_core_api, kurir_module_desc or any *_ops table bumps
 *     KURIR_ABI_MINOR.  Nothing is removed, reordered or retyped.
 *     Exception: until the first release (kurir 0.x), ABI 1.0 is still
 *     being filled in; members appended before it are labelled "ABI 1.0,
 *     <what>" and the minor stays 0.  The first release freezes 1.0.
 *  3. Every table starts with a uint32_t size (sizeof when built).  The
 *     reader of a table checks the size before touching a member that was
 *     appended later: KURIR_HAS(table, member).  A NULL op means
 *     "unsupported" and the caller falls back or answers KURIR_E_UNSUPPORTED.
 *  4. The core refuses a module whose minor is newer than its own (the
 *     module may call members the core does not have).  An older minor
 *     loads.
 *  5. Handles are opaque (declared, never defined here).  No struct is
 *     passed by value, no bitfields, no bool or enum members (uint32_t),
 *     no exported data.  Public enums pin their values and carry no _COUNT.
 *  6. A module exports exactly one symbol, the entry function made by
 *     KURIR_MODULE(name); it reaches the core only through the services
 *     table handed to init, never through linked symbols.
 */
#ifndef KURIR_MODULE_H
#define KURIR_MODULE_H

#include <stddef.h>
#include <stdint.h>

#define KURIR_ABI_MAJOR	1
#define KURIR_ABI_MINOR	0

#define KURIR_EXPORT	__attribute__((visibility("default")))

/* True when `table` (a pointer to a size-prefixed struct) is large enough
 * to contain `member`. */
#define KURIR_HAS(table, member)					\
	((table) != NULL && (size_t)(table)->size >=			\
	    offsetof(__typeof__(*(table)), member) + sizeof((table)->member))

#define KURIR_MOD_PROTOCOL	1u
#define KURIR_MOD_STORAGE	2u
#define KURIR_MOD_AUTH		3u

/* Value types for configuration keys a module declares. */
#define KURIR_CONF_STRING	1u	/* any text */
#define KURIR_CONF_INT		2u	/* decimal integer >= 0 */
#define KURIR_CONF_SIZE		3u	/* bytes: 4096, 64k, 50M, 1G */
#define KURIR_CONF_DURATION	4u	/* seconds: 30, 30s, 5m, 2h, 5d */
#define KURIR_CONF_BOOL		5u	/* yes/no, on/off, true/false, 1/0 */
#define KURIR_CONF_LIST		6u	/* comma or space separated words */
#define KURIR_CONF_ENUM		7u	/* one of the words in `choices` */

struct kurir_conf_key {
	const char	*name;		/* "pop3_delete_action" */
	uint32_t	 type;		/* KURIR_CONF_* */
	const char	*def;		/* default, in config syntax */
	const char	*choices;	/* ENUM: "expunge|trash"; else NULL */
	const char	*doc;		/* one line for -n and etc/kurir.conf */
};

struct kurir_module;		/* opaque: the core's record of a module */
struct kurir_core_api;		/* kurir/api.h */

struct kurir_module_desc {
	uint32_t	 size;		/* sizeof(struct kurir_module_desc) */
	uint32_t	 abi_major;	/* KURIR_ABI_MAJOR when built */
	uint32_t	 abi_minor;	/* KURIR_ABI_MINOR when built */
	uint32_t	 kind;		/* KURIR_MOD_* */
	const char	*name;		/* "smtp", "lmdb": equals the file name */
	const char	*version;	/* the module's own version, informational */
	/* Configuration keys the module adds, ended by a {NULL} entry. */
	const struct kurir_conf_key *conf_keys;
	/*
	 * Called once in the master after the configuration is read and
	 * before privileges are dropped.  On failure returns a negative
	 * KURIR_E_* and sets *errstr_r to a static or module-owned message.
	 */
	int		(*init)(struct kurir_module *mod,
			    const struct kurir_core_api *api,
			    const char **errstr_r);
	/* Called in each worker after fork and privilege drop (may be NULL).
	 * Open per-process resources (LMDB environments) here. */
	int		(*init_worker)(struct kurir_module *mod,
			    const char **errstr_r);
	/* Called at shutdown; must be safe to call twice (may be NULL). */
	void		(*fini)(struct kurir_module *mod);
	/* Kind-specific table: struct kurir_proto_ops, kurir_storage_ops or
	 * kurir_auth_ops.  Its first member is its size. */
	const void	*ops;
};

/* The descriptor size of ABI 1.0: the smallest the core accepts. */
#define KURIR_MODULE_DESC_SIZE_V1_0	(sizeof(struct kurir_module_desc))

/*
 * KURIR_MODULE(smtp, smtp_desc) defines the module's one exported function,
 * smtp_LTX_kurir_module_entry, returning &smtp_desc.  libltdl finds it for
 * "smtp.la" both when loaded with dlopen and when preloaded into a static
 * binary (libtool's NAME_LTX_ prefix).  The name is the .la file's base
 * name, which must equal desc.name.
 */
#define KURIR_MODULE(name, desc)	KURIR_MODULE_EXPANDED(name, desc)
/* A second level so that `name` may itself be a macro. */
#define KURIR_MODULE_EXPANDED(name, desc)				\
	KURIR_EXPORT const struct kurir_module_desc *			\
	name##_LTX_kurir_module_entry(void);				\
	KURIR_EXPORT const struct kurir_module_desc *			\
	name##_LTX_kurir_module_entry(void)				\
	{								\
		return &(desc);						\
	}

#define KURIR_MODULE_ENTRY_SYMBOL	"kurir_module_entry"

#endif /* KURIR_MODULE_H */
