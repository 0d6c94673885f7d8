#!/bin/sh
# postrm for vmdispatch. On purge it removes the state directory and the
# operator's enablement links; it keeps the vmdispatch user (files it owned,
# e.g. the config's group, may remain). Works without a running systemd.
set -e

case "$1" in
purge)
	rm -rf /var/lib/vmdispatch
	rm -f /etc/systemd/system/multi-user.target.wants/vmdispatch.service
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
