/* Where the API server is and how to authenticate to it.
 *
 * kube_config_load() resolves, in kube-proxy's order: a kubeconfig file
 * (--kubeconfig; current-context -> context -> cluster + user), optionally with
 * its server replaced by --master; --master alone (no credentials, for http://
 * dev servers); else in-cluster config (KUBERNETES_SERVICE_HOST/_PORT and the
 * service-account token and ca.crt).
 *
 * TLS is always verified unless the kubeconfig itself says
 * insecure-skip-tls-verify: true. A token file (tokenFile, or the in-cluster
 * token) is re-read whenever it changes on disk, because kubelet rotates
 * projected tokens.
 */
#ifndef XLB_KUBECONFIG_H
#define XLB_KUBECONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Bytes decoded from a *-data field (PEM text), for the CURLOPT_*_BLOB options. */
struct kube_blob {
	unsigned char *data;
	size_t len;
};

struct kube_config {
	char *source;		/* "kubeconfig /path", "--master" or "in-cluster config" */
	char *server;		/* base URL, no trailing '/' */
	bool insecure;		/* insecure-skip-tls-verify: true in the kubeconfig */
	char *ca_file;		/* each file is an absolute or cwd-relative path */
	struct kube_blob ca_data;
	char *cert_file;
	struct kube_blob cert_data;
	char *key_file;
	struct kube_blob key_data;
	char *token;		/* static bearer token */
	char *token_file;	/* wins over token when both are set */

	/* Token file cache: re-read when the file's identity changes. */
	pthread_mutex_t token_lock;
	char *file_token;
	dev_t tok_dev;
	ino_t tok_ino;
	off_t tok_size;
	struct timespec tok_mtime, tok_ctime;
};

/* kubeconfig and master may be NULL; sa_dir NULL means KUBE_SA_DIR (tests
 * point it elsewhere). Returns 0, or -1 with a message naming the source in
 * err, e.g. `kubeconfig /p: context "x" not found`. */
int kube_config_load(struct kube_config *cfg, const char *kubeconfig,
		     const char *master, const char *sa_dir,
		     char *err, size_t errlen);
void kube_config_free(struct kube_config *cfg);

/* The bearer token to send now, malloc'd, in *token (NULL when no token auth
 * is configured). Thread-safe. A token file is re-read when its inode, size,
 * mtime or ctime changed. Returns 0, or -1 with err when the file cannot be
 * read; *token then holds the last good token, if any. */
int kube_config_token(struct kube_config *cfg, char **token,
		      char *err, size_t errlen);

/* Decodes standard base64, ignoring whitespace. Returns the length or -1. */
ssize_t kube_base64_decode(const char *in, unsigned char *out, size_t outlen);

#endif
