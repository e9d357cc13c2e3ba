/* Socket addresses and networks as the config spells them:
 * "host:port", "[v6addr]:port", "unix:/path" and CIDR lists for allow_from. */
#ifndef LMTPD_NETADDR_H
#define LMTPD_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "compat.h"

struct netaddr_listen {
	bool is_unix;
	char path[108];		/* sun_path for unix: */
	char host[256];		/* numeric or name for TCP */
	char port[16];
};

/* Parses one listen entry; on error fills error_r (static text) and
 * returns -1. */
int netaddr_parse_listen(const char *spec, struct netaddr_listen *out,
			 const char **error_r) ATTR_WUR;

struct netaddr_net {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned int prefix;
};

/* Parses "10.0.0.0/8", "::1", "192.0.2.1"; -1 with error_r on bad input. */
int netaddr_parse_net(const char *spec, struct netaddr_net *out,
		      const char **error_r) ATTR_WUR;
/* True if sa is inside one of nets; IPv4-mapped IPv6 addresses match IPv4
 * networks. */
bool netaddr_match(const struct netaddr_net *nets, size_t count,
		   const struct sockaddr *sa);
/* "127.0.0.1" / "::1" text form of sa (no port). */
void netaddr_to_text(const struct sockaddr *sa, char *out, size_t out_size);

#endif
