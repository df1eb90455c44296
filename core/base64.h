/*
 * base64.h -- RFC 4648 base64 for SASL: strict decoding (no whitespace,
 * correct padding), used by the SASL exchange and the SCRAM messages.
 */
#ifndef KURIR_CORE_BASE64_H
#define KURIR_CORE_BASE64_H

#include <stddef.h>

/* Bytes needed to encode n bytes, including the NUL. */
#define BASE64_ENCODED_LEN(n)	((((n) + 2) / 3) * 4 + 1)

/* Encode into out (cap bytes, NUL-terminated); -1 if it does not fit,
 * else the length written without the NUL. */
int	base64_encode(const void *in, size_t len, char *out, size_t cap);
/* Decode len chars of in into out (cap bytes); -1 on bad input or if it
 * does not fit, else the number of bytes written. */
int	base64_decode(const char *in, size_t len, void *out, size_t cap);

#endif
