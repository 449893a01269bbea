#!/usr/bin/env bash
# Make the throwaway TLS material for the Kubernetes client's TLS tests
# (tests/unit/test_kube_client.c against fake-apiserver --tls-*), in OUTDIR:
#   ca.crt ca.key          the test CA
#   server.crt server.key  the fake API server: 127.0.0.1 and localhost, signed by the CA
#   client.crt client.key  a node's client certificate (system:node:node-a), signed by the CA
#   other-ca.crt           an unrelated CA: trusting it instead must fail the handshake
# Generated at build time rather than kept in git: no private key in the repository and
# nothing that expires under the tests. P-256 keys, so it takes a moment.
#
# usage: tests/k8s/make-test-certs.sh OUTDIR
set -euo pipefail
out=${1:?usage: make-test-certs.sh OUTDIR}
command -v openssl >/dev/null || {
	echo "make-test-certs.sh: openssl is not installed (scripts/deps.sh installs it)" >&2
	exit 1
}
mkdir -p "$out"
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # NAME CN
	key "$tmp/$1.key"
	openssl req -x509 -new -key "$tmp/$1.key" -subj "/CN=$2" -days 36500 -out "$tmp/$1.crt" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() { # NAME SUBJECT EXTENSIONS
	key "$tmp/$1.key"
	openssl req -new -key "$tmp/$1.key" -subj "$2" -out "$tmp/$1.csr"
	printf '%s\n' "$3" >"$tmp/$1.ext"
	openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
		-days 36500 -extfile "$tmp/$1.ext" -out "$tmp/$1.crt" 2>/dev/null
}

ca ca "gthulhu test CA"
ca other-ca "some other CA"
leaf server "/CN=fake-apiserver" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature"
leaf client "/O=system:nodes/CN=system:node:node-a" "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
openssl verify -CAfile "$tmp/ca.crt" "$tmp/server.crt" "$tmp/client.crt" >/dev/null
chmod 0600 "$tmp"/*.key
mv "$tmp"/ca.crt "$tmp"/ca.key "$tmp"/server.crt "$tmp"/server.key "$tmp"/client.crt \
	"$tmp"/client.key "$tmp"/other-ca.crt "$out"/
