# SPDX-License-Identifier: Apache-2.0
# fish completion for capsule(1)

set -l commands run prepare run-prepared list status logs stats update enter stop rm gc cat-manifest fetch trust image df version config
set -l image_commands list ls rm gc cat-manifest export extract render

function __capsule_pods
    capsule list --full --no-legend 2>/dev/null | string split -f1 ' '
end

function __capsule_images
    capsule image list --full --no-legend --fields=id,name 2>/dev/null | string split ' ' | string match -rv '^$'
end

complete -c capsule -f
# global flags
complete -c capsule -l dir -r -F -d 'Store and pod directory'
complete -c capsule -l local-config -r -F -d 'Local configuration directory'
complete -c capsule -l system-config -r -F -d 'System configuration directory'
complete -c capsule -l user-config -r -F -d 'User configuration directory'
complete -c capsule -l insecure-options -x -a 'none http image tls pubkey capabilities paths seccomp ondisk all-fetch all-run all' -d 'Turn protections off'
complete -c capsule -l trust-keys-from-https -d 'Trust keys fetched over HTTPS'
complete -c capsule -l debug -d 'Print debug output'
complete -c capsule -s q -l quiet -d 'Print only errors'

# commands
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a run -d 'Prepare and run a pod in the foreground'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a prepare -d 'Prepare a pod and print its UUID'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a run-prepared -d 'Run a prepared pod'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a list -d 'List pods'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a status -d 'Show a pod state and exit statuses'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a logs -d 'Show the output of a pod apps'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a stats -d 'Show a pod CPU, memory, IO and pids use'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a update -d 'Change a running pod memory and CPU limits'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a enter -d 'Run a command in a running pod'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a stop -d 'Stop running pods'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a rm -d 'Remove pods'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a gc -d 'Collect exited pods'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a cat-manifest -d 'Print a pod manifest'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a fetch -d 'Fetch images into the store'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a trust -d 'Trust an OpenPGP key to sign images'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a image -d 'Manage stored images'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a df -d 'Show disk use'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a version -d 'Print version information'
complete -c capsule -n "not __fish_seen_subcommand_from $commands" -a config -d 'Print the effective configuration'

# run, prepare: pod flags, then images with their app flags
for c in run prepare
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l stage1 -x -a 'systemd fly kvm' -d 'Stage1 flavour'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l stage1-path -r -F -d 'Stage1 image file'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l stage1-name -x -d 'Stage1 image name'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l stage1-hash -x -d 'Stage1 image ID'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l interactive -d 'Attach stdin to the app'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l net -x -a host -d 'Network'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l set-env -x -d 'Environment variable for all apps'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l set-env-file -r -F -d 'File of environment variables'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l inherit-env -d 'Inherit the environment'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l volume -x -d 'NAME,kind=host|empty,source=PATH'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l hostname -x -d 'Pod hostname'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l uuid-file-save -r -F -d 'Write the UUID to a file'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l no-overlay -d 'Copy images instead of overlayfs'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l pull-policy -x -a 'never new update' -d 'Pull policy for every image'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l platform -x -a 'linux/amd64 linux/arm64/v8 linux/arm/v7 linux/386' -d 'Platform of multi-platform images'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l unit-property -x -a 'After= Before= BindsTo= BlockIOWeight= CPUAccounting= CPUQuota= CPUShares= CPUWeight= CollectMode= Conflicts= Delegate= Description= Environment= Group= IOAccounting= IOWeight= KillMode= KillSignal= LimitCORE= LimitMEMLOCK= LimitNOFILE= LimitNPROC= LogExtraFields= MemoryAccounting= MemoryHigh= MemoryLimit= MemoryLow= MemoryMax= MemoryMin= MemorySwapMax= Nice= NotifyAccess= OOMPolicy= OOMScoreAdjust= PartOf= RemainAfterExit= Requires= Restart= RestartSec= RuntimeMaxSec= SendSIGKILL= Slice= StartLimitBurst= StartLimitIntervalSec= StartupCPUWeight= StartupIOWeight= TasksAccounting= TasksMax= TimeoutStartSec= TimeoutStopSec= Type= User= Wants= WatchdogSec= WorkingDirectory=' -d 'NAME=VALUE for the pod scope or service'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l exec -x -d 'Command to run'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l user -x -d 'User'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l group -x -d 'Group'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l working-dir -x -d 'Working directory'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l mount -x -d 'volume=NAME,target=PATH'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l environment -x -d 'App environment variable'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l name -x -d 'App name'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l memory -x -d 'Memory limit (64M, 1Gi)'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l cpu -x -d 'CPU limit in millicores (500m, 2)'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l cap-retain -x -d 'Capabilities the app keeps (CAP,...)'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l cap-remove -x -d 'Capabilities the app loses (CAP,...)'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -l seccomp -x -a 'mode=retain, mode=remove,' -d 'System call filter'
    complete -c capsule -n "__fish_seen_subcommand_from $c" -F -a '(__capsule_images)'
end

complete -c capsule -n "__fish_seen_subcommand_from run" -l detach -d 'Run as the service capsule-UUID.service, print the UUID'
complete -c capsule -n "__fish_seen_subcommand_from run" -l restart -x -a 'no on-failure always' -d 'With --detach: restart policy'
complete -c capsule -n "__fish_seen_subcommand_from run-prepared" -l interactive -d 'Attach stdin to the app'
complete -c capsule -n "__fish_seen_subcommand_from run-prepared" -l allow-exited -d 'Also run a pod that exited'
complete -c capsule -n "__fish_seen_subcommand_from run-prepared status logs stats update enter stop rm cat-manifest; and not __fish_seen_subcommand_from image" -a '(__capsule_pods)'
complete -c capsule -n "__fish_seen_subcommand_from list; and not __fish_seen_subcommand_from image" -l format -x -a 'text json' -d 'Output format'
complete -c capsule -n "__fish_seen_subcommand_from list df" -l no-legend -d 'No header line'
complete -c capsule -n "__fish_seen_subcommand_from list fetch" -l full -d 'Full IDs'
complete -c capsule -n "__fish_seen_subcommand_from status" -l wait -d 'Wait for the pod to exit (optionally =DURATION)'
complete -c capsule -n "__fish_seen_subcommand_from status stats version" -l format -x -a 'text json' -d 'Output format'
complete -c capsule -n "__fish_seen_subcommand_from logs" -l app -x -d 'Only this app'
complete -c capsule -n "__fish_seen_subcommand_from logs" -s f -l follow -d 'Follow until the pod exits'
complete -c capsule -n "__fish_seen_subcommand_from logs" -l tail -x -d 'Only the last N entries'
complete -c capsule -n "__fish_seen_subcommand_from logs" -l since -x -d 'Only entries since a time or duration ago (10m)'
complete -c capsule -n "__fish_seen_subcommand_from logs" -l format -x -a 'short cat json' -d 'Output format'
complete -c capsule -n "__fish_seen_subcommand_from update" -l memory -x -d 'Memory limit (64M, 1Gi)'
complete -c capsule -n "__fish_seen_subcommand_from update" -l cpu -x -d 'CPU limit in millicores (500m, 2)'
complete -c capsule -n "__fish_seen_subcommand_from enter" -l app -x -d 'App name'
complete -c capsule -n "__fish_seen_subcommand_from stop" -l force -d 'Kill with SIGKILL'
complete -c capsule -n "__fish_seen_subcommand_from gc" -l grace-period -x -d 'Grace period (e.g. 30m, 24h, 0s)'
complete -c capsule -n "__fish_seen_subcommand_from gc; and not __fish_seen_subcommand_from image" -l expire-prepared -x -d 'Expire prepared pods after'
complete -c capsule -n "__fish_seen_subcommand_from gc; and not __fish_seen_subcommand_from image" -l mark-only -d 'Only mark exited pods'
complete -c capsule -n "__fish_seen_subcommand_from fetch" -l pull-policy -x -a 'never new update' -d 'Pull policy'
complete -c capsule -n "__fish_seen_subcommand_from fetch" -l signature -r -F -d 'Detached signature file'
complete -c capsule -n "__fish_seen_subcommand_from fetch" -l platform -x -a 'linux/amd64 linux/arm64/v8 linux/arm/v7 linux/386' -d 'Platform of multi-platform images'
complete -c capsule -n "__fish_seen_subcommand_from fetch" -F -a '(__capsule_images)'
complete -c capsule -n "__fish_seen_subcommand_from trust" -l prefix -x -d 'Trust for names under PREFIX'
complete -c capsule -n "__fish_seen_subcommand_from trust" -l root -d 'Trust for every image'
complete -c capsule -n "__fish_seen_subcommand_from trust" -l skip-fingerprint-review -d 'Do not ask to confirm the fingerprint'
complete -c capsule -n "__fish_seen_subcommand_from trust" -F
complete -c capsule -n "__fish_seen_subcommand_from df" -l format -x -a 'table json' -d 'Output format'

# image subcommands
complete -c capsule -n "__fish_seen_subcommand_from image; and not __fish_seen_subcommand_from $image_commands" -a "$image_commands"
complete -c capsule -n "__fish_seen_subcommand_from image; and __fish_seen_subcommand_from list ls" -l format -x -a 'table json' -d 'Output format'
complete -c capsule -n "__fish_seen_subcommand_from image; and __fish_seen_subcommand_from list ls" -l fields -x -d 'Columns'
complete -c capsule -n "__fish_seen_subcommand_from image; and __fish_seen_subcommand_from list ls" -l full -d 'Full IDs'
complete -c capsule -n "__fish_seen_subcommand_from image; and __fish_seen_subcommand_from list ls" -l no-legend -d 'No header line'
complete -c capsule -n "__fish_seen_subcommand_from image; and __fish_seen_subcommand_from extract render" -l rootfs-only -d 'Only rootfs'
complete -c capsule -n "__fish_seen_subcommand_from image; and __fish_seen_subcommand_from cat-manifest" -l config -d 'OCI images: the image config'
complete -c capsule -n "__fish_seen_subcommand_from image; and __fish_seen_subcommand_from rm cat-manifest export extract render" -F -a '(__capsule_images)'
