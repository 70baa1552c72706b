#!/bin/sh
# tofu-wrapper.sh — an idpbot exec-driver command that provisions a request
# with OpenTofu (or Terraform) in a workspace of its own.
#
# Contract (see README.md next to this file):
#   in:  IDP_ACTION (create|delete), IDP_REQUEST_ID, IDP_SERVICE, IDP_NAME,
#        IDP_TEAM, IDP_ENVIRONMENT, IDP_<PARAMETER>...; the request as JSON on stdin.
#   out: progress lines on stdout, then one line
#        {"outputs":{...},"secrets":{...}}  (sensitive outputs are secrets);
#        tofu's own output goes to stderr, whose last lines explain a failure.
#   exit: 0 done, 75 try again later (state locked), anything else: failed.
#
# Settings (environment, e.g. through the exec driver's env list):
#   IDP_MODULES_DIR  directory holding one module per service (<dir>/<service>/*.tf)
#   IDP_STATE_DIR    root of the per-request workspaces (default /var/lib/idpbot/tofu)
#   TOFU_BIN         tofu or terraform binary (default: tofu, else terraform)
set -eu

fail() { echo "$*" >&2; exit 1; }

: "${IDP_ACTION:?IDP_ACTION is not set}"
: "${IDP_SERVICE:?}" "${IDP_NAME:?}" "${IDP_TEAM:?}" "${IDP_ENVIRONMENT:?}" "${IDP_REQUEST_ID:?}"
: "${IDP_MODULES_DIR:?IDP_MODULES_DIR is not set: the directory of one module per service}"
STATE_DIR=${IDP_STATE_DIR:-/var/lib/idpbot/tofu}

# Every path component must be a plain name: no "..", no slashes.
for part in "$IDP_SERVICE" "$IDP_NAME" "$IDP_TEAM" "$IDP_ENVIRONMENT"; do
	case $part in
	'' | . | .. | *[!A-Za-z0-9._-]*) fail "unsafe name: $part" ;;
	esac
done

if [ -z "${TOFU_BIN:-}" ]; then
	if command -v tofu >/dev/null 2>&1; then TOFU_BIN=tofu
	elif command -v terraform >/dev/null 2>&1; then TOFU_BIN=terraform
	else fail "neither tofu nor terraform is installed"; fi
fi
command -v jq >/dev/null 2>&1 || fail "jq is required to report outputs"

module=$IDP_MODULES_DIR/$IDP_SERVICE
workspace=$STATE_DIR/$IDP_TEAM/$IDP_ENVIRONMENT/$IDP_SERVICE/$IDP_NAME
export TF_IN_AUTOMATION=1 TF_INPUT=0

# Parameters become TF_VAR_<name> (lower case); the module declares the ones it uses.
for var in $(env | sed -n 's/^IDP_\([A-Z0-9_]*\)=.*/\1/p'); do
	case $var in
	ACTION | REQUEST_ID | SERVICE | NAME | TEAM | ENVIRONMENT | REQUESTER | MODULES_DIR | STATE_DIR) continue ;;
	esac
	lower=$(printf '%s' "$var" | tr 'A-Z' 'a-z')
	eval "value=\${IDP_$var}"
	export "TF_VAR_$lower=$value"
done
export TF_VAR_idp_name="$IDP_NAME" TF_VAR_idp_team="$IDP_TEAM" TF_VAR_idp_environment="$IDP_ENVIRONMENT" TF_VAR_idp_request_id="$IDP_REQUEST_ID"

# tofu runs with its output on stderr; a state lock held elsewhere is temporary.
run() {
	log=$workspace/.idp-last.log
	if "$TOFU_BIN" "$@" -no-color >"$log" 2>&1; then
		cat "$log" >&2
		return 0
	fi
	cat "$log" >&2
	if grep -q "Error acquiring the state lock" "$log"; then exit 75; fi
	exit 1
}

case $IDP_ACTION in
create)
	[ -d "$module" ] || fail "no module for $IDP_SERVICE in $IDP_MODULES_DIR"
	mkdir -p "$workspace"
	cat >"$workspace/request.json"
	cp -R "$module/." "$workspace/"
	echo "Initializing $(basename "$TOFU_BIN") workspace for $IDP_NAME"
	cd "$workspace"
	run init -input=false
	echo "Applying $IDP_SERVICE $IDP_NAME"
	run apply -input=false -auto-approve
	echo "Apply complete"
	"$TOFU_BIN" output -json | jq -c '
		def str: if type == "string" then . else tojson end;
		{outputs: (with_entries(select(.value.sensitive | not)) | map_values(.value | str)),
		 secrets: (with_entries(select(.value.sensitive)) | map_values(.value | str))}'
	;;
delete)
	if [ ! -d "$workspace" ]; then
		echo "Nothing to destroy for $IDP_NAME"
		exit 0
	fi
	cd "$workspace"
	echo "Destroying $IDP_SERVICE $IDP_NAME"
	run destroy -input=false -auto-approve
	cd /
	rm -rf "$workspace"
	echo "Destroyed"
	;;
*)
	fail "unknown IDP_ACTION $IDP_ACTION"
	;;
esac
