#!/bin/sh
# postinst for vmdispatch: creates the system user, reloads systemd. It
# neither enables nor starts the service: the operator configures first.
# Works without a running systemd (containers, chroots, CI).
set -e

case "$1" in
configure | abort-upgrade | abort-remove | abort-deconfigure | "") ;;
*) exit 0 ;;
esac

home=/var/lib/vmdispatch
if ! getent passwd vmdispatch >/dev/null; then
	if command -v adduser >/dev/null 2>&1; then
		adduser --quiet --system --group --home "$home" \
			--shell /usr/sbin/nologin vmdispatch
	else
		useradd --system --user-group --home-dir "$home" --create-home \
			--shell /usr/sbin/nologin vmdispatch
	fi
fi
mkdir -p "$home"
chown vmdispatch:vmdispatch "$home"
chmod 0750 "$home"

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts a running dispatcher on the new binary; it
	# adopts the VMs the old one left.
	if [ -n "$2" ]; then
		systemctl try-restart vmdispatch.service >/dev/null 2>&1 || true
	fi
fi

if [ -z "$2" ]; then
	cat <<'MSG'
vmdispatch is installed but not enabled or started. To run it:
  1. Write the Arvados cluster config to /etc/arvados/config.yml (example:
     /usr/share/doc/vmdispatch/examples/config.yml) and make it and the
     Containers.DispatchPrivateKey file readable by the user vmdispatch
     (see the comments in /lib/systemd/system/vmdispatch.service).
  2. Stop arvados-dispatch-cloud if it runs (both would manage the same VMs).
  3. systemctl enable --now vmdispatch
MSG
fi
exit 0
