#!/bin/sh
# version.sh prints the package version, a Debian version (it must start
# with a digit) derived from `git describe --tags --always --dirty`:
#
#   v1.2.3                  -> 1.2.3
#   v1.2.3-4-gabc1234       -> 1.2.3+git4.abc1234   (sorts after 1.2.3)
#   abc1234 (no tag)        -> 0.0.0~git20261127.abc1234 (commit date;
#                              sorts before any release)
#   v1.2.3-rc1              -> 1.2.3~rc1   (sorts before 1.2.3)
#   ...-dirty               -> ... with ".dirty" appended
#   no git                  -> 0.0.0~dev
set -eu
cd "$(dirname "$0")/.."
desc=$(git describe --tags --always --dirty 2>/dev/null) || { echo 0.0.0~dev; exit 0; }
dirty=
case $desc in *-dirty) dirty=.dirty; desc=${desc%-dirty} ;; esac
case $desc in
v[0-9]* | [0-9]*)
	desc=${desc#v}
	# tag-N-gSHA: commits since the tag.
	if expr "$desc" : '.*-[0-9][0-9]*-g[0-9a-f][0-9a-f]*$' >/dev/null; then
		sha=${desc##*-g}
		rest=${desc%-g*}
		n=${rest##*-}
		tag=${rest%-*}
		v=$tag+git$n.$sha
	else
		v=$desc
	fi
	# A Debian upstream version holds no "-" (that starts the revision).
	v=$(printf %s "$v" | tr -- - '~')
	;;
*)
	date=$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null) || date=0
	v=0.0.0~git$date.$(printf %s "$desc" | tr -c 'A-Za-z0-9.+~' '~')
	;;
esac
echo "$v$dirty"
