#!/bin/sh
# The TLS files for scripts/nats/cluster.conf: a CA, the NATS server's certificate and one client
# certificate per node, all P-256 and signed by that CA (openssl 3, as Debian and Ubuntu ship it).
# test/helpers/cluster.ts makes the test cluster's files with this very script.
#
#   scripts/nats/make-certs.sh DIR [SERVER_NAMES] [CLIENTS] [DAYS]
#
#   DIR           a new or empty folder for the files (created, readable only by you)
#   SERVER_NAMES  the server's subjectAltName: how nodes reach it, default IP:127.0.0.1,DNS:localhost
#                 (e.g. DNS:nats.internal,IP:10.0.0.5)
#   CLIENTS       names of the client certificates, space-separated, default "client"
#                 (e.g. "gw1 gw2 host1 host2": gw1.pem and gw1.key, …)
#   DAYS          how long they are valid, default 365
#
# Out: ca.pem (NATS_CA for the server, NATS_TLS_CA for every node), server.pem and server.key
# (NATS_SERVER_CERT, NATS_SERVER_KEY), <client>.pem and <client>.key (a node's NATS_TLS_CERT and
# NATS_TLS_KEY), and ca.key: keep that one offline, it signs certificates the server trusts.
set -eu

dir=${1:?usage: scripts/nats/make-certs.sh DIR [SERVER_NAMES] [CLIENTS] [DAYS]}
san=${2:-IP:127.0.0.1,DNS:localhost}
clients=${3:-client}
days=${4:-365}
command -v openssl >/dev/null || {
  echo "make-certs.sh: openssl is needed (apt-get install -y openssl)" >&2
  exit 1
}
umask 077
mkdir -p "$dir"
cd "$dir"

# A new P-256 key with each request, unencrypted (the server and the nodes read it unattended).
newkey="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

# shellcheck disable=SC2086 # $newkey is several words on purpose
openssl req -x509 $newkey -days "$days" -subj "/CN=agent-batcher NATS CA" -keyout ca.key -out ca.pem 2>/dev/null

# sign NAME EXTENSIONS: NAME.key and NAME.pem, signed by the CA, with those X.509v3 extensions.
sign() {
  printf '%s\n' "$2" >"$1.ext"
  # shellcheck disable=SC2086
  openssl req $newkey -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

sign server "subjectAltName=$san
extendedKeyUsage=serverAuth"
for client in $clients; do
  sign "$client" "extendedKeyUsage=clientAuth"
done
echo "made in $dir: ca.pem, server.pem/.key, $(echo "$clients" | sed 's/\([^ ]*\)/\1.pem\/.key/g'); keep ca.key offline"
