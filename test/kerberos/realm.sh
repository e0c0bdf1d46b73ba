#!/usr/bin/env bash
# A throwaway MIT Kerberos realm EXAMPLE.TEST on loopback, entirely inside one folder, for pop3d's GSSAPI tests.
# It never touches /etc/krb5.conf or a system KDC: everything is selected by KRB5_CONFIG & co. (DIR/env.sh).
#
#   usage: test/kerberos/realm.sh DIR [KDC_PORT]        (default port 18888; takes well under a second)
#   then:  . DIR/env.sh ; kinit -k -t DIR/user1.keytab user1@EXAMPLE.TEST
#   stop:  kill "$(cat DIR/kdc.pid)"
#
# What it makes in DIR: krb5.conf, kdc.conf, the KDC database, env.sh, kdc.log, kdc.pid and
#   pop.keytab    keys of pop/localhost (what pop3d accepts) and imap/localhost (another service, for the
#                 "ticket for the wrong service is refused" test: its key is there, its name is not pop3d's)
#   user1.keytab  user1's keys, so tests can kinit without a password prompt (user1's password: user1pw)
#   user2.keytab  the same for user2 (password user2pw)
#   user3.keytab  the same for user3 (password user3pw)
# Needs (Debian): krb5-kdc krb5-admin-server krb5-user. Exit status 3 when they are missing.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 DIR [KDC_PORT]" >&2
  exit 2
fi
D=$(realpath -m "$1")
PORT=${2:-18888}
REALM=EXAMPLE.TEST
export PATH="$PATH:/usr/sbin:/sbin"
for tool in kdb5_util kadmin.local krb5kdc kinit; do
  if ! command -v "$tool" >/dev/null; then
    echo "$0: $tool not found; install the Debian packages krb5-kdc krb5-admin-server krb5-user" >&2
    exit 3
  fi
done
if [ -f "$D/kdc.pid" ]; then kill "$(cat "$D/kdc.pid")" 2>/dev/null || true; fi
rm -rf "$D"
mkdir -p "$D"
cat >"$D/krb5.conf" <<CONF
[libdefaults]
  default_realm = $REALM
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
  default_ccache_name = FILE:$D/ccache
[realms]
  $REALM = {
    kdc = 127.0.0.1:$PORT
  }
[domain_realm]
  localhost = $REALM
  .example.test = $REALM
CONF
cat >"$D/kdc.conf" <<CONF
[kdcdefaults]
  kdc_listen = 127.0.0.1:$PORT
  kdc_tcp_listen = 127.0.0.1:$PORT
[realms]
  $REALM = {
    database_name = $D/principal
    key_stash_file = $D/stash
    acl_file = $D/kadm5.acl
    max_life = 10h
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:$D/kdc.log
CONF
cat >"$D/env.sh" <<ENV
export KRB5_CONFIG=$D/krb5.conf KRB5_KDC_PROFILE=$D/kdc.conf KRB5CCNAME=FILE:$D/ccache KRB5RCACHEDIR=$D
ENV
# shellcheck disable=SC1091
. "$D/env.sh"
kadmin() {
  local out
  out=$(kadmin.local -q "$1" 2>&1) || { echo "$out" >&2; exit 1; }
}
kdb5_util create -s -r "$REALM" -P 'master-pw-not-secret' >/dev/null
for user in user1 user2 user3; do
  kadmin "addprinc -pw ${user}pw $user@$REALM"
  kadmin "ktadd -k $D/$user.keytab -norandkey $user@$REALM"
done
kadmin "addprinc -randkey pop/localhost@$REALM"
kadmin "addprinc -randkey imap/localhost@$REALM"
kadmin "ktadd -k $D/pop.keytab pop/localhost@$REALM"
kadmin "ktadd -k $D/pop.keytab imap/localhost@$REALM"
krb5kdc -P "$D/kdc.pid" # forks into the background once it listens; logs to $D/kdc.log
for _ in $(seq 100); do
  if [ -s "$D/kdc.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "realm $REALM ready in $D (KDC 127.0.0.1:$PORT, pid $(cat "$D/kdc.pid"))"
    exit 0
  fi
  sleep 0.05
done
echo "$0: the KDC did not come up on 127.0.0.1:$PORT; see $D/kdc.log" >&2
exit 1
