/*
 * config_keys.h -- the tables of keys the core declares.
 */
#ifndef KURIR_CORE_CONFIG_KEYS_H
#define KURIR_CORE_CONFIG_KEYS_H

#include <kurir/module.h>

extern const struct kurir_conf_key core_conf_keys[];	/* config_keys.c */
extern const struct kurir_conf_key core_listen_keys[];	/* config_keys.c */
extern const struct kurir_conf_key core_auth_conf_keys[]; /* auth_keys.c */

#endif
