# bash completion for gbca                                   -*- shell-script -*-
_gbca()
{
	local cur prev cmd opts
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands="init issue trust untrust ci up down doctor uninstall serve hosts env compose list caroot export join leave version help"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi
	cmd=${COMP_WORDS[1]}
	# init --import CERT KEY: the word after CERT is a file too
	if [ "$COMP_CWORD" -ge 3 ] && [ "${COMP_WORDS[COMP_CWORD-2]}" = --import ]; then
		COMPREPLY=($(compgen -f -- "$cur")); return
	fi
	case $prev in
	--key) # serve's --key is the key file; init's and issue's a key type
		if [ "$cmd" = serve ]; then COMPREPLY=($(compgen -f -- "$cur")); else
		COMPREPLY=($(compgen -W "ecdsa p384 rsa rsa2048 rsa3072" -- "$cur")); fi; return ;;
	--stores) COMPREPLY=($(compgen -W "system nss node python java" -- "$cur")); return ;;
	--shell) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return ;;
	--format) COMPREPLY=($(compgen -W "github gitlab sh json" -- "$cur")); return ;;
	--out-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--cert-file|--key-file|--csr|--cert|--key|--config|--access-log|--hosts-file|--output|--p12-file|--import)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	case $cmd in
	init) opts="--key --permit --no-constraints --import --force --quiet --help" ;;
	issue) opts="--key --days --client --out-dir --cert-file --key-file --pkcs12 --p12-file --p12-password --csr --quiet --help" ;;
	trust) opts="--stores --shells --check --json --quiet --help" ;;
	untrust) opts="--stores --all --quiet --help" ;;
	ci) opts="--format --output --out-dir --days --quiet --help" ;;
	up) opts="--upstream --service --foreground --no-trust --no-hosts --bridge --help" ;;
	down) opts="--help" ;;
	doctor) opts="--upstream --upstream-ca --upstream-proxy --name --json --help" ;;
	uninstall) opts="--purge --help" ;;
	serve) opts="--listen --http-listen --upstream --upstream-ca --upstream-proxy --name --cert --key --workers --max-connections --cors --google-passthrough --allow --bridge --access-log --user --pid-file --header-timeout --idle-timeout --connect-timeout --upstream-timeout --drain-timeout --config --quiet --help" ;;
	hosts) opts="on off status --hosts-file --ipv6 --no-ipv6 --force --json --quiet --help" ;;
	env) opts="--shell --no-python --help" ;;
	compose) opts="--docker-run --help" ;;
	list) opts="--json --help" ;;
	export) opts="--host --json --help" ;;
	join) opts="--fingerprint --stores --no-hosts --quiet --help" ;;
	leave) opts="--quiet --help" ;;
	help) opts="$commands" ;;
	*) opts="--help" ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _gbca gbca
