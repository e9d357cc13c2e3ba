/* netaddr: parsing of listen entries and allow_from networks; matching of
 * a peer address against the networks.  Pure functions, no resolver use
 * except getaddrinfo in the caller that binds. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "netaddr.h"

int
netaddr_parse_listen(const char *spec, struct netaddr_listen *out,
		     const char **error_r)
{
	const char *colon, *host, *port;
	size_t host_len;

	memset(out, 0, sizeof(*out));
	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;

		if (path[0] != '/') {
			*error_r = "a UNIX socket path must be absolute";
			return -1;
		}
		if (strlen(path) >= sizeof(out->path)) {
			*error_r = "UNIX socket path too long";
			return -1;
		}
		out->is_unix = true;
		strcpy(out->path, path);
		return 0;
	}
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':') {
			*error_r = "expected [address]:port";
			return -1;
		}
		host = spec + 1;
		host_len = (size_t)(end - host);
		port = end + 2;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL) {
			*error_r = "expected host:port or unix:/path";
			return -1;
		}
		host = spec;
		host_len = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof(out->host)) {
		*error_r = "missing or overlong host";
		return -1;
	}
	if (port[0] == '\0' || strlen(port) >= sizeof(out->port) ||
	    strspn(port, "0123456789") != strlen(port) || atol(port) < 1 ||
	    atol(port) > 65535) {
		*error_r = "port must be a number from 1 to 65535";
		return -1;
	}
	memcpy(out->host, host, host_len);
	out->host[host_len] = '\0';
	strcpy(out->port, port);
	return 0;
}

int
netaddr_parse_net(const char *spec, struct netaddr_net *out,
		  const char **error_r)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(spec, '/');
	size_t len = slash != NULL ? (size_t)(slash - spec) : strlen(spec);
	unsigned int max;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(addr)) {
		*error_r = "bad network address";
		return -1;
	}
	memcpy(addr, spec, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		*error_r = "bad network address";
		return -1;
	}
	out->prefix = max;
	if (slash != NULL) {
		char *end;
		long p;

		errno = 0;
		p = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno != 0 || p < 0 ||
		    (unsigned long)p > max) {
			*error_r = "bad prefix length";
			return -1;
		}
		out->prefix = (unsigned int)p;
	}
	return 0;
}

static bool
netaddr_prefix_equal(const unsigned char *a, const unsigned char *b,
		     unsigned int prefix)
{
	unsigned int bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - bits))) == 0;
}

bool
netaddr_match(const struct netaddr_net *nets, size_t count,
	      const struct sockaddr *sa)
{
	unsigned char v4[4], v6[16];
	bool have_v4 = false, have_v6 = false;
	size_t i;

	if (sa->sa_family == AF_INET) {
		memcpy(v4, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		have_v4 = true;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		memcpy(v6, a, 16);
		have_v6 = true;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(v4, v6 + 12, 4);
			have_v4 = true;
		}
	}
	for (i = 0; i < count; i++) {
		if (nets[i].family == AF_INET && have_v4 &&
		    netaddr_prefix_equal(nets[i].addr, v4, nets[i].prefix))
			return true;
		if (nets[i].family == AF_INET6 && have_v6 &&
		    netaddr_prefix_equal(nets[i].addr, v6, nets[i].prefix))
			return true;
	}
	return false;
}

void
netaddr_to_text(const struct sockaddr *sa, char *out, size_t out_size)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, out, (socklen_t)out_size) == NULL)
		snprintf(out, out_size, "unknown");
}
