# SPDX-License-Identifier: Apache-2.0
# bash completion for capsule(1)

_capsule_global_flags="--dir= --local-config= --system-config= --user-config= --insecure-options= --trust-keys-from-https --debug --quiet --help --help-all"
_capsule_commands="run prepare run-prepared list status logs stats update enter stop rm gc cat-manifest fetch trust image df version config"
_capsule_image_commands="list ls rm gc cat-manifest export extract render"
_capsule_pod_flags="--stage1= --stage1-path= --stage1-name= --stage1-hash= --interactive --net= --set-env= --set-env-file= --inherit-env --volume= --hostname= --uuid-file-save= --no-overlay --insecure-options= --pull-policy= --platform="
# Pod flags of run only, and the unit properties --unit-property knows (systemd hosts).
_capsule_run_flags="--detach --restart= --unit-property="
_capsule_unit_properties="After= Before= BindsTo= BlockIOWeight= CPUAccounting= CPUQuota= CPUShares= CPUWeight= CollectMode= Conflicts= Delegate= Description= Environment= Group= IOAccounting= IOWeight= KillMode= KillSignal= LimitCORE= LimitMEMLOCK= LimitNOFILE= LimitNPROC= LogExtraFields= MemoryAccounting= MemoryHigh= MemoryLimit= MemoryLow= MemoryMax= MemoryMin= MemorySwapMax= Nice= NotifyAccess= OOMPolicy= OOMScoreAdjust= PartOf= RemainAfterExit= Requires= Restart= RestartSec= RuntimeMaxSec= SendSIGKILL= Slice= StartLimitBurst= StartLimitIntervalSec= StartupCPUWeight= StartupIOWeight= TasksAccounting= TasksMax= TimeoutStartSec= TimeoutStopSec= Type= User= Wants= WatchdogSec= WorkingDirectory="
_capsule_app_flags="--exec= --user= --group= --working-dir= --mount= --environment= --name= --memory= --cpu= --cap-retain= --cap-remove= --seccomp="

# _capsule_flags COMMAND [SUBCOMMAND]: the flags a command takes.
_capsule_flags() {
    case "$1${2:+ $2}" in
        run) echo "$_capsule_pod_flags $_capsule_run_flags $_capsule_app_flags" ;;
        prepare) echo "$_capsule_pod_flags --unit-property= $_capsule_app_flags" ;;
        run-prepared) echo "--interactive --allow-exited" ;;
        list) echo "--format= --full --no-legend" ;;
        status) echo "--wait --wait= --format=" ;;
        logs) echo "--app= -f --follow --tail= --since= --format=" ;;
        stats) echo "--format=" ;;
        update) echo "--memory= --cpu=" ;;
        enter) echo "--app=" ;;
        stop) echo "--force" ;;
        gc) echo "--grace-period= --expire-prepared= --mark-only" ;;
        fetch) echo "--pull-policy= --signature= --platform= --full" ;;
        trust) echo "--prefix= --root --skip-fingerprint-review" ;;
        "image list"|"image ls") echo "--format= --fields= --full --no-legend" ;;
        "image gc") echo "--grace-period=" ;;
        "image extract"|"image render") echo "--rootfs-only" ;;
        "image cat-manifest") echo "--config" ;;
        df) echo "--format= --no-legend" ;;
        version) echo "--format=" ;;
    esac
}

# The --dir given on the command line, for completing pod UUIDs and image names.
_capsule_dir_args() {
    local w
    for w in "${COMP_WORDS[@]}"; do
        case "$w" in --dir=*) echo "$w" ;; esac
    done
}

_capsule_pods() {
    capsule $(_capsule_dir_args) list --full --no-legend 2>/dev/null | awk '{print $1}'
}

_capsule_images() {
    capsule $(_capsule_dir_args) image list --full --no-legend --fields=id,name 2>/dev/null | awk '{print $1; print $2}'
}

_capsule() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd="" sub="" i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        [[ $w == -* ]] && continue
        if [ -z "$cmd" ]; then
            cmd=$w
        elif [ "$cmd" = image ] && [ -z "$sub" ]; then
            sub=$w
        fi
    done

    case "$cur" in
        --stage1=*) COMPREPLY=($(compgen -P "--stage1=" -W "systemd fly kvm" -- "${cur#*=}")); return ;;
        --format=*)
            if [ "$cmd" = logs ]; then
                COMPREPLY=($(compgen -P "--format=" -W "short cat json" -- "${cur#*=}"))
            else
                COMPREPLY=($(compgen -P "--format=" -W "text table json" -- "${cur#*=}"))
            fi
            return ;;
        --restart=*) COMPREPLY=($(compgen -P "--restart=" -W "no on-failure always" -- "${cur#*=}")); return ;;
        --unit-property=*)
            COMPREPLY=($(compgen -P "--unit-property=" -W "$_capsule_unit_properties" -- "${cur#*=}"))
            compopt -o nospace 2>/dev/null
            return ;;
        --pull-policy=*) COMPREPLY=($(compgen -P "--pull-policy=" -W "never new update" -- "${cur#*=}")); return ;;
        --platform=*) COMPREPLY=($(compgen -P "--platform=" -W "linux/amd64 linux/arm64/v8 linux/arm/v7 linux/386" -- "${cur#*=}")); return ;;
        --net=*) COMPREPLY=($(compgen -P "--net=" -W "host" -- "${cur#*=}")); return ;;
        --insecure-options=*)
            COMPREPLY=($(compgen -P "--insecure-options=" -W "none http image tls pubkey capabilities paths seccomp ondisk all-fetch all-run all" -- "${cur#*=}"))
            return ;;
        --dir=*|--local-config=*|--system-config=*|--user-config=*|--working-dir=*)
            COMPREPLY=($(compgen -P "${cur%%=*}=" -d -- "${cur#*=}")); return ;;
        --stage1-path=*|--signature=*|--set-env-file=*|--uuid-file-save=*)
            COMPREPLY=($(compgen -P "${cur%%=*}=" -f -- "${cur#*=}")); return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_capsule_flags "$cmd" "$sub") $_capsule_global_flags" -- "$cur"))
        [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi
    case "$cmd" in
        "") COMPREPLY=($(compgen -W "$_capsule_commands" -- "$cur")) ;;
        image)
            case "$sub" in
                "") COMPREPLY=($(compgen -W "$_capsule_image_commands" -- "$cur")) ;;
                rm|cat-manifest|export|extract|render) COMPREPLY=($(compgen -W "$(_capsule_images)" -f -- "$cur")) ;;
            esac ;;
        run|prepare|fetch) COMPREPLY=($(compgen -W "$(_capsule_images)" -f -- "$cur")) ;;
        trust) COMPREPLY=($(compgen -f -- "$cur")) ;;
        run-prepared|status|logs|stats|update|enter|stop|rm|cat-manifest) COMPREPLY=($(compgen -W "$(_capsule_pods)" -- "$cur")) ;;
    esac
}

complete -F _capsule capsule
