#!/bin/sh
# Makes throwaway TLS certificates for tests in DIR (created if missing):
#   ca.pem        a CA; it signs node.pem and driver.pem (keys: NAME.key)
#   other-ca.pem  another CA; it signs other.pem
#   driver.enc.key  driver.key encrypted with the passphrase "sesame"
#   expired.pem   signed by ca.pem, expired yesterday (key: expired.key)
# EC P-256, valid 30 days: made at test time, so no private key lives in the
# repository and nothing expires. Needs the `openssl` program (Debian package
# openssl, installed by tools/deps.sh). Exit status 0 on success.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
mkdir -p "$dir"
cd "$dir"

make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.pem" -days 30 -subj "/CN=actorflow test $1"
}

make_cert() { # NAME CA [DAYS]
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" &&
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
      -set_serial 1 -out "$1.pem" -days "${3:-30}"
}

# openssl's progress output is noise; its errors are kept in a log.
if ! {
  make_ca ca && make_cert node ca && make_cert driver ca &&
    make_ca other-ca && make_cert other other-ca &&
    make_cert expired ca -1 &&
    openssl pkey -in driver.key -aes256 -passout pass:sesame \
      -out driver.enc.key
} >openssl.log 2>&1; then
  echo "$0: openssl failed (is the openssl program installed?):" >&2
  cat openssl.log >&2
  exit 1
fi
