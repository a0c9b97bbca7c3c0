#!/usr/bin/env bash
# Smoke test of the drlab-lab image: builds it, starts dc/mail/san/client containers and proves each service works.
#
# Usage: lab/images/smoke.sh         (KEEP=1 leaves the containers and network running for debugging)
# Checks: (a) DC answers LDAP + DNS SOA (+ kinit, smbclient)  (b) samba-tool dns add -> visible to dig
#         (c) SMTP to mail1:25 -> read back over IMAP :143    (d) ssh into mail1 (key and password)
#         (e) tgtd + iSCSI login from the client with the allowed initiator, refusal with another one
#         (f) plain rsync mail1 -> mail2 over ssh, and lsyncd replication of the mail root mail1 -> mail2
# Everything it creates is named drlab-smoke-<pid>-* and removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
p=drlab-smoke-$$
net=$p-net
t0=$SECONDS

REALM=DRLAB.TEST
LREALM=drlab.test
DOMAIN=DRLAB
ADMIN_PW='Smoke-Adm1n-Pw'
ROOT_PW='smoke-root-pw'
MAIL_USER=alice
MAIL_PW='smoke-alice-pw'
SAN_IQN=iqn.2024-01.test.drlab:san1
INI_OK=iqn.2024-01.test.drlab:client-ok
INI_BAD=iqn.2024-01.test.drlab:intruder

log() { printf '[smoke %4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }

created=()
cleanup() {
  local rc=$?
  if [ -n "${KEEP:-}" ]; then
    log "KEEP set: leaving ${created[*]:-nothing} and $net running"
    return
  fi
  if [ ${#created[@]} -gt 0 ]; then docker rm -f "${created[@]}" >/dev/null 2>&1 || true; fi
  docker network rm "$net" >/dev/null 2>&1 || true
  log "cleaned up (exit $rc)"
}
trap cleanup EXIT

phases=()
phase_start() { phase_name=$1; phase_t=$SECONDS; log "=== $1"; }
phase_end() { phases+=("$(printf '%-34s %4ds' "$phase_name" "$((SECONDS - phase_t))")"); }

results=()
failed=0
check() { # check ID DESCRIPTION COMMAND... ; runs COMMAND, records PASS/FAIL, shows output on failure
  local id=$1 desc=$2 t=$SECONDS out
  shift 2
  if out=$("$@" 2>&1); then
    results+=("PASS ($id) $desc")
    log "PASS ($id) $desc [$((SECONDS - t))s]"
    [ -n "${VERBOSE:-}" ] && printf '%s\n' "$out" | sed 's/^/      /' >&2
  else
    results+=("FAIL ($id) $desc")
    failed=1
    log "FAIL ($id) $desc [$((SECONDS - t))s]; output:"
    printf '%s\n' "$out" | tail -n 25 | sed 's/^/      /' >&2
  fi
  return 0
}

ip_of() { docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$1"; }

wait_ready() { # wait_ready CONTAINER TIMEOUT
  local c=$1 n=$2 i
  for ((i = 0; i < n * 4; i++)); do
    docker exec "$c" test -e /run/drlab-ready 2>/dev/null && return 0
    if [ "$(docker inspect -f '{{.State.Running}}' "$c")" != true ]; then
      log "$c exited:"; docker logs --tail 30 "$c" >&2; return 1
    fi
    sleep 0.25
  done
  log "$c not ready after ${n}s:"; docker logs --tail 30 "$c" >&2
  return 1
}

# Bash helpers run inside the client container: SMTP and IMAP dialogues over /dev/tcp (no extra package).
read -r -d '' PROTO <<'EOF' || true
smtp_reply() { # read until the final "NNN " line; succeed if it starts with $1
  local l
  while IFS= read -r -t 15 l <&3; do
    l=${l%$'\r'}; echo "S: $l"
    if [[ $l =~ ^[0-9]{3}( |$) ]]; then [[ $l == "$1"* ]]; return; fi
  done
  echo "no reply (wanted $1)"; return 1
}
smtp_cmd() { echo "C: $2"; printf '%s\r\n' "$2" >&3; smtp_reply "$1"; }
smtp_send() { # smtp_send HOST RCPT SUBJECT
  exec 3<>"/dev/tcp/$1/25" || return 1
  smtp_reply 220 && smtp_cmd 250 "EHLO smoke-client" && smtp_cmd 250 "MAIL FROM:<smoke@example.org>" &&
    smtp_cmd 250 "RCPT TO:<$2>" && smtp_cmd 354 DATA &&
    { printf 'From: smoke@example.org\r\nTo: %s\r\nSubject: %s\r\n\r\nbody of %s\r\n.\r\n' "$2" "$3" "$3" >&3; smtp_reply 250; } &&
    smtp_cmd 221 QUIT
  local rc=$?; exec 3>&-; return $rc
}
imap_cmd() { # imap_cmd TAG COMMAND: print the responses, succeed on "TAG OK"
  local l
  echo "C: $1 $2"; printf '%s %s\r\n' "$1" "$2" >&4
  while IFS= read -r -t 15 l <&4; do
    l=${l%$'\r'}; echo "S: $l"
    case $l in "$1 OK"*) return 0 ;; "$1 NO"* | "$1 BAD"*) return 1 ;; esac
  done
  echo "no tagged reply"; return 1
}
imap_find() { # imap_find HOST USER PASS SUBJECT: login, find the message by subject, fetch its body
  exec 4<>"/dev/tcp/$1/143" || return 1
  local out n rc=1
  if imap_cmd a1 "LOGIN $2 $3" && imap_cmd a2 "SELECT INBOX" && out=$(imap_cmd a3 "SEARCH SUBJECT \"$4\""); then
    echo "$out"
    n=$(sed -n 's/^S: \* SEARCH \([0-9][0-9]*\).*/\1/p' <<<"$out")
    [ -n "$n" ] && imap_cmd a4 "FETCH $n (BODY[HEADER.FIELDS (SUBJECT)] BODY[TEXT])" && rc=0
  fi
  imap_cmd a5 LOGOUT >/dev/null 2>&1; exec 4>&-; return $rc
}
EOF

# ============================================================================ build
phase_start "build image (build.sh)"
image=$("$here/build.sh" | tail -n 1)
log "image: $image ($(($(docker image inspect -f '{{.Size}}' "$image") / 1024 / 1024)) MiB)"
phase_end

# ============================================================================ start
phase_start "start containers"
docker network create "$net" >/dev/null
log "network $net ($(docker network inspect -f '{{(index .IPAM.Config 0).Subnet}}' "$net"))"

run() { # run NAME ALIAS ROLE [docker args...]
  local name=$p-$1 alias=$2 role=$3; shift 3
  created+=("$name")
  docker run -d --name "$name" --hostname "$alias" --network "$net" --network-alias "$alias" \
    -e ROLE="$role" "$@" "$image" >/dev/null
}

t_dc=$SECONDS
run dc dc1 dc -e DC_REALM=$REALM -e DC_DOMAIN=$DOMAIN -e DC_ADMIN_PASSWORD="$ADMIN_PW"
DC_IP=$(ip_of "$p-dc")
log "dc1 at $DC_IP"

# the client is also the ssh key holder; it resolves through the DC (docker forwards unknown names to it)
run client client client --dns "$DC_IP"
client=$p-client
cx() { docker exec "$client" "$@"; }
wait_ready "$client" 30
cx sh -c "install -d -m 700 /root/.ssh && ssh-keygen -q -t ed25519 -N '' -C drlab-smoke -f /root/.ssh/id_ed25519"
PUB=$(cx cat /root/.ssh/id_ed25519.pub)
PRIV=$(cx cat /root/.ssh/id_ed25519)

mail_env=(-e MAIL_DOMAIN=$LREALM -e MAIL_USER=$MAIL_USER -e MAIL_PASSWORD="$MAIL_PW"
          -e ROOT_PASSWORD="$ROOT_PW" -e SSH_AUTHORIZED_KEYS="$PUB" -e SSH_PRIVATE_KEY="$PRIV")
run mail2 mail2 mail "${mail_env[@]}"
run mail1 mail1 mail "${mail_env[@]}" -e MAIL_REPLICATE_TO=mail2
run san san san -e SAN_TARGET_IQN=$SAN_IQN -e SAN_INITIATORS=$INI_OK -e SAN_LUN_SIZE=64M
for c in mail1 mail2 san; do wait_ready "$p-$c" 60; done
log "client, mail1, mail2, san ready"
wait_ready "$p-dc" 180
dc_ready=$((SECONDS - t_dc))
prov=$(docker logs "$p-dc" 2>&1 | sed -n 's/.*provisioned in \([0-9]*\)s.*/\1/p')
log "dc1 ready ${dc_ready}s after docker run (samba-tool domain provision: ${prov:-?}s)"
phase_end

# ============================================================================ (a) LDAP + DNS
phase_start "(a) DC: LDAP, DNS, Kerberos, SMB"
BASE_DN="DC=${LREALM//./,DC=}"
check a "ldapsearch simple bind lists the DC computer object" \
  bash -c "docker exec $client ldapsearch -LLL -H ldap://$DC_IP -x -D 'Administrator@$REALM' -w '$ADMIN_PW' \
           -b '$BASE_DN' '(objectClass=computer)' dn | tee /dev/stderr | grep -qi 'CN=DC1,OU=Domain Controllers'"
check a "dig @dc $LREALM SOA" \
  bash -c "docker exec $client dig +short @$DC_IP $LREALM SOA | tee /dev/stderr | grep -q ."
check a "dig @dc _ldap._tcp.$LREALM SRV" \
  bash -c "docker exec $client dig +short @$DC_IP _ldap._tcp.$LREALM SRV | tee /dev/stderr | grep -qi dc1.$LREALM"
check a "kinit administrator on the DC" \
  docker exec "$p-dc" bash -c "echo '$ADMIN_PW' | kinit administrator@$REALM >/dev/null && klist"
check a "smbclient -L lists sysvol/netlogon" \
  bash -c "docker exec $client smbclient -L //$DC_IP -U 'Administrator%$ADMIN_PW' 2>&1 | tee /dev/stderr | grep -q netlogon"
phase_end

# ============================================================================ (b) DNS record
phase_start "(b) DC: samba-tool dns add -> dig"
check b "samba-tool dns add web1 A 10.77.0.10, then dig sees it" \
  bash -c "docker exec $client samba-tool dns add $DC_IP $LREALM web1 A 10.77.0.10 -U Administrator --password='$ADMIN_PW' &&
           docker exec $client dig +short @$DC_IP web1.$LREALM A | tee /dev/stderr | grep -qx 10.77.0.10"
check b "client resolves web1.$LREALM through its resolver (--dns dc)" \
  bash -c "docker exec $client getent hosts web1.$LREALM | tee /dev/stderr | grep -q 10.77.0.10"
phase_end

# ============================================================================ (c) SMTP -> IMAP
phase_start "(c) mail: SMTP :25 -> IMAP :143"
SUBJ="drlab smoke $$ $RANDOM"
check c "SMTP to $MAIL_USER@$LREALM on mail1:25" \
  cx bash -c "$PROTO"$'\n'"smtp_send mail1 '$MAIL_USER@$LREALM' '$SUBJ'"
imap_mail1() {
  local i
  for ((i = 0; i < 20; i++)); do   # local delivery is asynchronous
    cx bash -c "$PROTO"$'\n'"imap_find mail1 '$MAIL_USER' '$MAIL_PW' '$SUBJ'" && return 0
    sleep 0.5
  done
  return 1
}
check c "IMAP LOGIN/SELECT/SEARCH/FETCH on mail1:143 finds it" imap_mail1
check c "message is in the user's mbox under /srv/mail" \
  docker exec "$p-mail1" sh -c "grep -l '$SUBJ' /srv/mail/$MAIL_USER/mbox"
phase_end

# ============================================================================ (d) ssh
phase_start "(d) ssh into mail1"
check d "ssh with key (root@mail1)" \
  cx ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new root@mail1 'hostname; id -un'
check d "ssh with password (root@mail1, SSH_ASKPASS)" \
  cx bash -c "printf '#!/bin/sh\necho %s\n' '$ROOT_PW' >/tmp/askpass && chmod 700 /tmp/askpass &&
    SSH_ASKPASS=/tmp/askpass SSH_ASKPASS_REQUIRE=force setsid -w ssh -o StrictHostKeyChecking=accept-new \
      -o PubkeyAuthentication=no -o PreferredAuthentications=password root@mail1 'echo password-login-ok' </dev/null"
phase_end

# ============================================================================ (e) iSCSI
phase_start "(e) san: tgtd + iSCSI ACL"
check e "tgtadm --op show --mode target" \
  bash -c "docker exec $p-san tgtadm --lld iscsi --op show --mode target | tee /dev/stderr | grep -q '$SAN_IQN'"
check e "iscsi-ls -s with allowed initiator sees target + LUN" \
  bash -c "docker exec $client iscsi-ls -s -i $INI_OK iscsi://san/ | tee /dev/stderr | grep -q 'Lun:1'"
check e "iscsi-inq + iscsi-readcapacity16 with allowed initiator" \
  bash -c "docker exec $client iscsi-inq -i $INI_OK iscsi://san/$SAN_IQN/1 | head -3 &&
           docker exec $client iscsi-readcapacity16 -i $INI_OK iscsi://san/$SAN_IQN/1"
check e "login refused for another initiator name" \
  bash -c "! docker exec $client iscsi-inq -i $INI_BAD iscsi://san/$SAN_IQN/1 &&
           test -z \"\$(docker exec $client iscsi-ls -i $INI_BAD iscsi://san/)\""
phase_end

# ============================================================================ (f) rsync + lsyncd
phase_start "(f) replication mail1 -> mail2"
check f "plain rsync over ssh mail1 -> mail2" \
  bash -c "docker exec $p-mail1 sh -c 'mkdir -p /root/rsync-test && echo $SUBJ > /root/rsync-test/token &&
             rsync -a /root/rsync-test/ root@mail2:/root/rsync-test/' &&
           docker exec $p-mail2 grep -qx '$SUBJ' /root/rsync-test/token"
lsyncd_check() {
  local i t=$SECONDS
  for ((i = 0; i < 60; i++)); do
    if cx bash -c "$PROTO"$'\n'"imap_find mail2 '$MAIL_USER' '$MAIL_PW' '$SUBJ'" >/dev/null 2>&1; then
      echo "message readable over IMAP on mail2 after $((SECONDS - t))s"
      return 0
    fi
    sleep 0.5
  done
  docker exec "$p-mail1" tail -n 20 /var/log/lsyncd.log
  return 1
}
check f "lsyncd (started by MAIL_REPLICATE_TO) makes the mail readable on mail2" lsyncd_check
SUBJ2="drlab smoke lsyncd $$ $RANDOM"
lsyncd_lag() {
  local i t=$SECONDS
  cx bash -c "$PROTO"$'\n'"smtp_send mail1 '$MAIL_USER@$LREALM' '$SUBJ2'" >/dev/null || return 1
  for ((i = 0; i < 60; i++)); do
    if docker exec "$p-mail2" grep -lq "$SUBJ2" "/srv/mail/$MAIL_USER/mbox"; then
      echo "new mail on mail2 $((SECONDS - t))s after SMTP to mail1"; return 0
    fi
    sleep 0.5
  done
  return 1
}
check f "a second mail to mail1 shows up on mail2 (lsyncd, live)" lsyncd_lag
phase_end

# ============================================================================ summary
{
  echo
  echo "image: $image   dc ready after ${dc_ready}s (provision ${prov:-?}s)"
  echo "phase timings:"
  printf '  %s\n' "${phases[@]}"
  echo "results:"
  printf '  %s\n' "${results[@]}"
  echo "total: $((SECONDS - t0))s"
} >&2
exit $failed
