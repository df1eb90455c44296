#!/bin/sh
# Run the storage conformance suite against one backend module:
#   run-conformance.sh NAME [MODULE_DIR]
# with a fresh state directory, removed afterwards.
name=${1:?usage: run-conformance.sh NAME [MODULE_DIR]}
builddir=${KURIR_BUILDDIR:-.}
moddir=${2:-$builddir/modules}
if [ ! -e "$moddir/$name.la" ] && [ ! -e "$moddir/$name.so" ]; then
	echo "SKIP: no $name module in $moddir (not built yet)"
	exit 77
fi
state=$(mktemp -d "${TMPDIR:-/tmp}/kurir-conf-$name.XXXXXX") || exit 99
trap 'rm -rf "$state"' EXIT INT TERM
KURIR_STORAGE=$name KURIR_MODULE_DIR=$moddir KURIR_STATE_DIR=$state \
	"$builddir/tests/storage/conformance"
