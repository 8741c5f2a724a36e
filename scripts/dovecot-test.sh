#!/usr/bin/env bash
# A throwaway Dovecot IMAP server on 127.0.0.1 for the e-mail tests (and for trying IMAP polling).
#
#   scripts/dovecot-test.sh start DIR PORT   # user "npsbot", password "npsbot", mailbox INBOX
#   scripts/dovecot-test.sh kick DIR         # drop every client connection
#   scripts/dovecot-test.sh stop DIR
#
# Everything (config, sockets, state, Maildir, log) lives in DIR: the system's /etc/dovecot is
# never read or changed, so it can run beside an installed Dovecot. Needs Debian's dovecot-imapd.
set -euo pipefail
cmd=${1:?usage: dovecot-test.sh start DIR PORT | stop DIR}
dir=$(realpath -m "${2:?DIR}")
dovecot_bin=$(command -v dovecot || echo /usr/sbin/dovecot)
[ -x "$dovecot_bin" ] || { echo "dovecot is not installed (apt-get install dovecot-imapd)" >&2; exit 3; }

if [ "$cmd" = kick ] || [ "$cmd" = stop ]; then
    # Drop every client connection (IMAP sessions outlive a plain `dovecot stop`).
    [ -f "$dir/dovecot.conf" ] && doveadm -c "$dir/dovecot.conf" kick npsbot >/dev/null 2>&1 || true
fi
if [ "$cmd" = kick ]; then
    exit 0
fi
if [ "$cmd" = stop ]; then
    [ -f "$dir/dovecot.conf" ] && "$dovecot_bin" -c "$dir/dovecot.conf" stop 2>/dev/null || true
    exit 0
fi
port=${3:?PORT}
mkdir -p "$dir/run" "$dir/state" "$dir/mail" "$dir/home"
# Mail is stored as an unprivileged user; as root use Debian's "dovecot" account, else ourselves.
if [ "$(id -u)" = 0 ]; then
    mail_user=dovecot; login_user=dovenull
    chown -R dovecot:dovecot "$dir/mail" "$dir/home"
else
    mail_user=$(id -un); login_user=$(id -un)
fi
uid=$(id -u "$mail_user"); gid=$(id -g "$mail_user")
echo "npsbot:{PLAIN}npsbot::::::" > "$dir/passwd"
cat > "$dir/dovecot.conf" <<CONF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
instance_name = npsbot-test-$port
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = $login_user
default_internal_user = $mail_user
first_valid_uid = $uid
mail_location = maildir:$dir/mail/%u
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service anvil {
  chroot =
}
passdb {
  driver = passwd-file
  args = $dir/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/home/%u
}
protocol imap {
  mail_max_userip_connections = 50
}
CONF
# Detach from our stdout/stderr (callers may wait for them to close); Dovecot logs to its file.
"$dovecot_bin" -c "$dir/dovecot.conf" </dev/null >/dev/null 2>&1
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "dovecot listening on 127.0.0.1:$port ($dir)"; exit 0; }
    sleep 0.1
done
echo "dovecot did not start; see $dir/dovecot.log" >&2
cat "$dir/dovecot.log" >&2 || true
exit 1
