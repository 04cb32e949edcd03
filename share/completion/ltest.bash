# bash completion for ltest: its own flags before `--`, pytest's after it.
_ltest() {
    local cur prev i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} == -- ]]; then
            # pytest's arguments: files, directories and pytest's common flags.
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-v -q -s -x -k -m --co --lf --ff --pdb --tb= --maxfail= -p -rA --durations=" -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return
        fi
    done
    case $prev in
        --kernel)
            COMPREPLY=($(compgen -W "$(ls /usr/share/jupyter/kernels /usr/local/share/jupyter/kernels ~/.local/share/jupyter/kernels 2>/dev/null)" -- "$cur"))
            return ;;
        --existing)
            COMPREPLY=($(compgen -f -X '!*.json' -- "$cur"))
            return ;;
        -n|--workers)
            COMPREPLY=($(compgen -W "auto 2 4 8" -- "$cur"))
            return ;;
        -m|--module|-i|--ip|-p|--port|--timeout|--idle|--gateway|--gateway-kernels)
            return ;;
    esac
    COMPREPLY=($(compgen -W "-l --listen -i --ip -p --port -m --module --kernel --existing --gateway --gateway-kernels -n --workers --status --stop --json --timeout --no-start --idle --watch --forget -q --quiet -v --verbose -V --version -h --help --" -- "$cur"))
}
complete -F _ltest ltest
