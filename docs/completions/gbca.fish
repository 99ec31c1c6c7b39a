# fish completion for gbca
set -l cmds init issue trust untrust ci up down doctor uninstall serve hosts env compose list caroot export join leave version help
complete -c gbca -f
complete -c gbca -n "not __fish_seen_subcommand_from $cmds" -a "$cmds"
complete -c gbca -n "__fish_seen_subcommand_from init issue" -l key -xa "ecdsa p384 rsa rsa2048 rsa3072"
complete -c gbca -n "__fish_seen_subcommand_from init" -l permit -x -d "also permit a name"
complete -c gbca -n "__fish_seen_subcommand_from init" -l no-constraints
complete -c gbca -n "__fish_seen_subcommand_from init" -l import -r
# the second file of --import CERT KEY
complete -c gbca -n "__fish_seen_subcommand_from init; and __fish_seen_argument -l import" -F
complete -c gbca -n "__fish_seen_subcommand_from init" -l force
complete -c gbca -n "__fish_seen_subcommand_from issue" -l days -x
complete -c gbca -n "__fish_seen_subcommand_from issue" -l client
complete -c gbca -n "__fish_seen_subcommand_from issue ci" -l out-dir -xa "(__fish_complete_directories)"
complete -c gbca -n "__fish_seen_subcommand_from issue" -l cert-file -r
complete -c gbca -n "__fish_seen_subcommand_from issue" -l key-file -r
complete -c gbca -n "__fish_seen_subcommand_from issue" -l pkcs12
complete -c gbca -n "__fish_seen_subcommand_from issue" -l p12-file -r
complete -c gbca -n "__fish_seen_subcommand_from issue" -l p12-password -x
complete -c gbca -n "__fish_seen_subcommand_from issue" -l csr -r
complete -c gbca -n "__fish_seen_subcommand_from trust untrust" -l stores -xa "system nss node python java"
complete -c gbca -n "__fish_seen_subcommand_from trust" -l shells
complete -c gbca -n "__fish_seen_subcommand_from trust" -l check
complete -c gbca -n "__fish_seen_subcommand_from trust list doctor hosts" -l json
complete -c gbca -n "__fish_seen_subcommand_from untrust" -l all
complete -c gbca -n "__fish_seen_subcommand_from ci" -l format -xa "github gitlab sh json"
complete -c gbca -n "__fish_seen_subcommand_from ci" -l output -r
complete -c gbca -n "__fish_seen_subcommand_from ci" -l days -x
complete -c gbca -n "__fish_seen_subcommand_from up doctor serve" -l upstream -x
complete -c gbca -n "__fish_seen_subcommand_from up" -l service
complete -c gbca -n "__fish_seen_subcommand_from up" -l foreground
complete -c gbca -n "__fish_seen_subcommand_from up" -l no-trust
complete -c gbca -n "__fish_seen_subcommand_from up" -l no-hosts
complete -c gbca -n "__fish_seen_subcommand_from up serve" -l bridge
complete -c gbca -n "__fish_seen_subcommand_from uninstall" -l purge
complete -c gbca -n "__fish_seen_subcommand_from hosts" -a "on off status"
complete -c gbca -n "__fish_seen_subcommand_from hosts" -l hosts-file -r
complete -c gbca -n "__fish_seen_subcommand_from hosts" -l ipv6
complete -c gbca -n "__fish_seen_subcommand_from hosts" -l no-ipv6
complete -c gbca -n "__fish_seen_subcommand_from hosts" -l force
complete -c gbca -n "__fish_seen_subcommand_from env" -l shell -xa "bash zsh fish"
complete -c gbca -n "__fish_seen_subcommand_from env" -l no-python
complete -c gbca -n "__fish_seen_subcommand_from compose" -l docker-run -d "docker run flags instead"
complete -c gbca -n "__fish_seen_subcommand_from serve doctor" -l name -x
complete -c gbca -n "__fish_seen_subcommand_from doctor" -l upstream-ca -r
complete -c gbca -n "__fish_seen_subcommand_from doctor" -l upstream-proxy -x
for o in listen http-listen upstream-ca upstream-proxy allow cert key workers max-connections cors access-log user pid-file header-timeout idle-timeout connect-timeout upstream-timeout drain-timeout config
	complete -c gbca -n "__fish_seen_subcommand_from serve" -l $o -r
end
complete -c gbca -n "__fish_seen_subcommand_from serve" -l google-passthrough
complete -c gbca -n "__fish_seen_subcommand_from init issue trust untrust ci serve hosts" -l quiet -s q
complete -c gbca -n "__fish_seen_subcommand_from export" -l host -x
complete -c gbca -n "__fish_seen_subcommand_from export" -l json
complete -c gbca -n "__fish_seen_subcommand_from join" -l fingerprint -x
complete -c gbca -n "__fish_seen_subcommand_from join" -l stores -xa "system nss node python java"
complete -c gbca -n "__fish_seen_subcommand_from join" -l no-hosts
complete -c gbca -n "__fish_seen_subcommand_from join leave" -l quiet -s q
complete -c gbca -l help -s h
