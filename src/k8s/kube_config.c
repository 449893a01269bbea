/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the Kubernetes client (kube_client.c) finds the API server and its credentials.
 *
 * Two sources, as kubectl and client-go know them:
 *  - a kubeconfig file (YAML, read with libyaml's document API): current-context names a
 *    context, which names a cluster (server, certificate-authority[-data],
 *    insecure-skip-tls-verify) and a user (token, tokenFile, client-certificate[-data],
 *    client-key[-data]). Relative paths are relative to the file's directory, *-data
 *    fields are base64 and stay in memory (libcurl takes them as blobs);
 *  - in-cluster: KUBERNETES_SERVICE_HOST/PORT from the environment, the service account's
 *    token and CA under /var/run/secrets/kubernetes.io/serviceaccount.
 * Only what a DaemonSet or an operator's workstation needs is supported; exec and
 * auth-provider plugins are refused with a message rather than silently ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "k8s/kube_client.h"
#include "log/log.h"

#define KUBECONFIG_MAX (4u << 20) /* bytes: a kubeconfig with many inline certificates */

/* ---- base64 ----------------------------------------------------------------------------- */

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

unsigned char *kube_base64_decode(const char *text, size_t *len)
{
	size_t n = strlen(text), out_len = 0;
	unsigned char *out = malloc(n / 4 * 3 + 3);
	unsigned int acc = 0, bits = 0, pad = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)text[i];
		int v;

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		v = b64_value(ch);
		if (v < 0 || pad) /* a bad character, or data after the padding */
			goto bad;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[out_len++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero padding of a 2- or 3-char group, never a whole char. */
	if (bits >= 6 || acc || pad > 2 || out_len == 0)
		goto bad;
	*len = out_len;
	return out;
bad:
	free(out);
	return NULL;
}

/* ---- small helpers ------------------------------------------------------------------------ */

void kube_config_free(struct kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	if (cfg->token)
		explicit_bzero(cfg->token, strlen(cfg->token));
	free(cfg->token);
	free(cfg->token_file);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->ca_data);
	free(cfg->cert_data);
	if (cfg->key_data)
		explicit_bzero(cfg->key_data, cfg->key_len);
	free(cfg->key_data);
	memset(cfg, 0, sizeof(*cfg));
}

/* @path as given when absolute, else relative to the directory of @base (a file). */
static char *resolve_path(const char *base, const char *path)
{
	const char *slash = strrchr(base, '/');
	char *out;

	if (path[0] == '/' || !slash)
		return strdup(path);
	if (asprintf(&out, "%.*s/%s", (int)(slash - base), base, path) < 0)
		return NULL;
	return out;
}

/* A server URL: http(s)://..., kept without a trailing '/' so paths can be appended. */
static char *server_url(const char *s, char *err, size_t errlen, const char *origin)
{
	size_t len = strlen(s);
	char *out;

	if (strncmp(s, "https://", 8) && strncmp(s, "http://", 7)) {
		err_printf(err, errlen, "%s: server \"%s\": expected http:// or https://", origin,
			   s);
		return NULL;
	}
	while (len && s[len - 1] == '/')
		len--;
	out = strndup(s, len);
	if (!out)
		err_printf(err, errlen, "%s: out of memory", origin);
	return out;
}

/* ---- kubeconfig ----------------------------------------------------------------------------- */

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	size_t klen = strlen(key);

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == klen &&
		    !memcmp(k->data.scalar.value, key, klen))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* A scalar's text (libyaml keeps it NUL-terminated); NULL for other nodes or inner NULs. */
static const char *scalar(yaml_node_t *n)
{
	const char *s;

	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	return strlen(s) == n->data.scalar.length ? s : NULL;
}

static const char *map_str(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	const char *s = scalar(map_get(doc, map, key));

	return s && s[0] ? s : NULL;
}

/* In the list @list of {name: ..., @field: {...}} entries, the @field of the one named @name. */
static yaml_node_t *named(yaml_document_t *doc, yaml_node_t *root, const char *list,
			  const char *name, const char *field)
{
	yaml_node_t *seq = map_get(doc, root, list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *entry = yaml_document_get_node(doc, *it);
		const char *n = scalar(map_get(doc, entry, "name"));

		if (n && !strcmp(n, name))
			return map_get(doc, entry, field);
	}
	return NULL;
}

static bool yaml_true(const char *s)
{
	return s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"));
}

/* A file path field (resolved) or its -data twin (decoded); both absent is fine. */
static int file_or_data(yaml_document_t *doc, yaml_node_t *map, const char *key,
			const char *kubeconfig, char **path, unsigned char **data, size_t *len,
			char *err, size_t errlen, const char *origin)
{
	char data_key[64];
	const char *p, *d;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	d = map_str(doc, map, data_key);
	p = map_str(doc, map, key);
	if (d) {
		*data = kube_base64_decode(d, len);
		if (!*data) {
			err_printf(err, errlen, "%s: %s: not valid base64", origin, data_key);
			return -1;
		}
	} else if (p) {
		*path = resolve_path(kubeconfig, p);
		if (!*path || access(*path, R_OK)) {
			err_printf(err, errlen, "%s: %s \"%s\": %s", origin, key, p,
				   *path ? strerror(errno) : "out of memory");
			return -1;
		}
	}
	return 0;
}

static int load_kubeconfig(const char *path, struct kube_config *out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *context, *cluster, *user = NULL;
	const char *ctx_name, *cluster_name, *user_name, *server, *tok, *tok_file;
	char origin[sizeof(out->origin)];
	unsigned char *text = NULL;
	struct stat sb;
	int ret = -1;
	size_t len;
	FILE *f;

	snprintf(origin, sizeof(origin), "kubeconfig %s", path);
	f = fopen(path, "re");
	if (!f) {
		err_printf(err, errlen, "%s: %s", origin, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) || sb.st_size > (off_t)KUBECONFIG_MAX) {
		err_printf(err, errlen, "%s: unreadable or larger than %u bytes", origin,
			   KUBECONFIG_MAX);
		fclose(f);
		return -1;
	}
	text = malloc((size_t)sb.st_size + 1);
	len = text ? fread(text, 1, (size_t)sb.st_size, f) : 0;
	fclose(f);
	if (!text) {
		err_printf(err, errlen, "%s: out of memory", origin);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		err_printf(err, errlen, "%s: out of memory", origin);
		return -1;
	}
	yaml_parser_set_input_string(&parser, text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		err_printf(err, errlen, "%s:%zu: not valid YAML: %s", origin,
			   parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
		yaml_parser_delete(&parser);
		free(text);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		err_printf(err, errlen, "%s: not a kubeconfig (expected a mapping)", origin);
		goto out;
	}
	ctx_name = map_str(&doc, root, "current-context");
	if (!ctx_name) {
		err_printf(err, errlen, "%s: no current-context", origin);
		goto out;
	}
	snprintf(origin, sizeof(origin), "kubeconfig %s, context %s", path, ctx_name);
	context = named(&doc, root, "contexts", ctx_name, "context");
	if (!context) {
		err_printf(err, errlen, "%s: context \"%s\" not found", origin, ctx_name);
		goto out;
	}
	cluster_name = map_str(&doc, context, "cluster");
	cluster = cluster_name ? named(&doc, root, "clusters", cluster_name, "cluster") : NULL;
	if (!cluster) {
		err_printf(err, errlen, "%s: cluster \"%s\" not found", origin,
			   cluster_name ? cluster_name : "");
		goto out;
	}
	server = map_str(&doc, cluster, "server");
	if (!server) {
		err_printf(err, errlen, "%s: cluster \"%s\" has no server", origin, cluster_name);
		goto out;
	}
	out->server = server_url(server, err, errlen, origin);
	if (!out->server)
		goto out;
	out->insecure = yaml_true(scalar(map_get(&doc, cluster, "insecure-skip-tls-verify")));
	if (file_or_data(&doc, cluster, "certificate-authority", path, &out->ca_file, &out->ca_data,
			 &out->ca_len, err, errlen, origin))
		goto out;

	/* A context without a user is anonymous access: allowed (an http test server). */
	user_name = map_str(&doc, context, "user");
	if (user_name) {
		user = named(&doc, root, "users", user_name, "user");
		if (!user) {
			err_printf(err, errlen, "%s: user \"%s\" not found", origin, user_name);
			goto out;
		}
	}
	if (user && (map_get(&doc, user, "exec") || map_get(&doc, user, "auth-provider")) &&
	    !map_str(&doc, user, "token") && !map_str(&doc, user, "tokenFile")) {
		err_printf(err, errlen,
			   "%s: user \"%s\": exec and auth-provider credentials are not "
			   "supported; use token, tokenFile or a client certificate",
			   origin, user_name);
		goto out;
	}
	tok = map_str(&doc, user, "token");
	tok_file = map_str(&doc, user, "tokenFile");
	if (tok && !(out->token = strdup(tok)))
		goto oom;
	if (tok_file) {
		/* As in client-go, a token file wins over a fixed token: it may rotate. */
		out->token_file = resolve_path(path, tok_file);
		if (!out->token_file)
			goto oom;
		if (access(out->token_file, R_OK)) {
			err_printf(err, errlen, "%s: tokenFile \"%s\": %s", origin, tok_file,
				   strerror(errno));
			goto out;
		}
	}
	if (file_or_data(&doc, user, "client-certificate", path, &out->cert_file, &out->cert_data,
			 &out->cert_len, err, errlen, origin) ||
	    file_or_data(&doc, user, "client-key", path, &out->key_file, &out->key_data,
			 &out->key_len, err, errlen, origin))
		goto out;
	if (!(out->cert_file || out->cert_data) != !(out->key_file || out->key_data)) {
		err_printf(err, errlen,
			   "%s: user \"%s\": client-certificate and client-key go "
			   "together",
			   origin, user_name ? user_name : "");
		goto out;
	}
	snprintf(out->origin, sizeof(out->origin), "%s", origin);
	ret = 0;
	goto out;
oom:
	err_printf(err, errlen, "%s: out of memory", origin);
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(text);
	return ret;
}

/* ---- in-cluster ------------------------------------------------------------------------------ */

static int load_in_cluster(const char *sa_dir, struct kube_config *out, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *end = NULL;
	long p;

	if (!sa_dir || !sa_dir[0])
		sa_dir = KUBE_SA_DIR_DEFAULT;
	if (!host || !host[0] || !port || !port[0]) {
		err_printf(err, errlen,
			   "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
			   "must be set (not running in a pod? give a kubeconfig)");
		return -1;
	}
	p = strtol(port, &end, 10);
	if (*end || p < 1 || p > 65535) {
		err_printf(err, errlen,
			   "in-cluster config: KUBERNETES_SERVICE_PORT \"%s\": "
			   "expected a port number",
			   port);
		return -1;
	}
	/* An IPv6 literal needs brackets in a URL (the variable holds the bare address). */
	if (asprintf(&out->server,
		     strchr(host, ':') && host[0] != '[' ? "https://[%s]:%ld" : "https://%s:%ld",
		     host, p) < 0) {
		out->server = NULL;
		goto oom;
	}
	if (asprintf(&out->token_file, "%s/token", sa_dir) < 0) {
		out->token_file = NULL;
		goto oom;
	}
	if (access(out->token_file, R_OK)) {
		err_printf(err, errlen, "in-cluster config: %s: %s", out->token_file,
			   strerror(errno));
		return -1;
	}
	if (asprintf(&out->ca_file, "%s/ca.crt", sa_dir) < 0) {
		out->ca_file = NULL;
		goto oom;
	}
	if (access(out->ca_file, R_OK)) {
		/* As client-go does: go on with the system's CAs, but say so. */
		log_msg(LOG_WARN, "kubernetes: %s: %s; trusting the system CAs", out->ca_file,
			strerror(errno));
		free(out->ca_file);
		out->ca_file = NULL;
	}
	snprintf(out->origin, sizeof(out->origin), "in-cluster");
	return 0;
oom:
	err_printf(err, errlen, "in-cluster config: out of memory");
	return -1;
}

int kube_config_load(const char *kubeconfig, const char *sa_dir, struct kube_config *out, char *err,
		     size_t errlen)
{
	int ret;

	memset(out, 0, sizeof(*out));
	if (kubeconfig && kubeconfig[0])
		ret = load_kubeconfig(kubeconfig, out, err, errlen);
	else
		ret = load_in_cluster(sa_dir, out, err, errlen);
	if (ret)
		kube_config_free(out);
	return ret;
}
