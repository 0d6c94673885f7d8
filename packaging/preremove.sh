#!/bin/sh
# prerm for vmdispatch: stops the service when the package is removed (not
# on upgrade: postinst restarts it). Stopping leaves VMs and containers as
# they are. Works without a running systemd.
set -e

case "$1" in
remove | deconfigure)
	if [ -d /run/systemd/system ]; then
		systemctl stop vmdispatch.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
