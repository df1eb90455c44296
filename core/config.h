/*
 * config.h -- the configuration: "key = value" lines, '#' comments, -o
 * overrides on top, every key typed and known (core keys in config_keys.c,
 * module keys from their descriptors).  Unknown keys and bad values are
 * errors reported as "FILE:LINE: message" (or "-o KEY: message").
 */
#ifndef KURIR_CORE_CONFIG_H
#define KURIR_CORE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include <kurir/module.h>

struct config;

/* Read path (NULL: defaults only) and the KEY=VALUE overrides; checks the
 * syntax only, since which keys exist depends on the modules. */
struct config	*config_parse(const char *path, char *const *overrides,
		    size_t noverrides, char *err, size_t errlen);
void		 config_free(struct config *cf);
/* The value as written (file or -o), or NULL: for protocols, storage and
 * module_dir, needed before the modules are known. */
const char	*config_raw(const struct config *cf, const char *key);
/* Declare keys (ended by {NULL}); owner names the module for errors. */
int		 config_add_keys(struct config *cf,
		    const struct kurir_conf_key *keys, const char *owner);
/* Check every key and value; fills the effective values. */
int		 config_validate(struct config *cf, char *err, size_t errlen);
/* Print the effective configuration (kurird -n). */
void		 config_print(const struct config *cf, FILE *fp);
/* Make cf the configuration config_str/config_num read. */
void		 config_set_current(struct config *cf);
struct config	*config_current(void);

/* Where the effective value came from: "FILE:LINE", "-o KEY" or
 * "default" (for errors about a value found later, e.g. a listen address). */
const char	*config_origin(const char *key);
const char	*config_origin_in(const struct config *cf, const char *key);
/* Effective value of a key of a validated cf (not yet current). */
const char	*config_value(const struct config *cf, const char *key);
/* Effective value of a key of the current configuration (api->conf_*). */
const char	*config_str(const char *key);
int64_t		 config_num(const char *key);
/* Parsers shared with modules' own syntax checks. */
int		 config_parse_size(const char *s, int64_t *v_r);
int		 config_parse_duration(const char *s, int64_t *v_r);
int		 config_parse_bool(const char *s, int64_t *v_r);

#endif
