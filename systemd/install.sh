#!/usr/bin/env bash
# Install the assistant as a systemd service. Safe to run again: it only adds what is missing
# and never overwrites a configuration file.
#
#   sudo systemd/install.sh            system service: user 'assistant', venv in /opt/assistant,
#                                      config in /etc/assistant, state and model in /var/lib/assistant
#   systemd/install.sh --user          user service for a PipeWire desktop: venv in
#                                      ~/.local/share/assistant, config in ~/.config/assistant,
#                                      state and model in ~/.local/state/assistant
# Options:
#   --root DIR       install into DIR as if it were / (an image being built; no daemon-reload)
#   --dry-run        print what would be done, change nothing
#   --no-enable      install but do not enable the unit
#   --python PY      Python (3.11+) for the venv (default: python3)
#   --venv-args A    extra arguments for 'python -m venv' (e.g. --system-site-packages)
#   --pip-args A     extra arguments for 'pip install' (e.g. --no-deps)
#   --from SPEC      what pip installs (default: this source tree; e.g. a built wheel)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
root=/ dry=0 user_mode=0 enable=1 python=python3 venv_args="" pip_args="" from=$src
while (($#)); do
    case "$1" in
        --root) root=${2:?--root needs a directory}; shift ;;
        --dry-run) dry=1 ;;
        --user) user_mode=1 ;;
        --no-enable) enable=0 ;;
        --python) python=${2:?--python needs a path}; shift ;;
        --venv-args) venv_args=${2-}; shift ;;
        --pip-args) pip_args=${2-}; shift ;;
        --from) from=${2:?--from needs a path}; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $root == / ]] || root=$(mkdir -p "$root" && cd "$root" && pwd)
prefix=${root%/}

say() { echo "install: $*"; }
run() {
    echo "+ $*"
    ((dry)) || "$@"
}
die() { echo "install.sh: $*" >&2; exit 1; }

if ((user_mode)); then
    home=${HOME:?HOME is not set}
    venv=$home/.local/share/assistant/venv
    config=$home/.config/assistant/config.toml
    state=$home/.local/state/assistant
    unit_src=$src/systemd/user/assistant.service
    unit=$home/.config/systemd/user/assistant.service
else
    venv=/opt/assistant/venv
    config=/etc/assistant/config.toml
    state=/var/lib/assistant
    unit_src=$src/systemd/assistant.service
    unit=/etc/systemd/system/assistant.service
    if [[ $root == / ]] && ((EUID != 0)) && ((!dry)); then
        die "the system service needs root: run it with sudo (or use --user, --root DIR or --dry-run)"
    fi
fi

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
    die "Python 3.11 or newer is needed ('$python' is not); pass --python"

# 1. The service user (system service only).
owner=() uid="" gid=""
if ((!user_mode)); then
    passwd=$prefix/etc/passwd
    if [[ ! -f $passwd ]]; then
        say "no $passwd: not creating the user 'assistant' (create it when the image boots)"
    elif grep -q '^assistant:' "$passwd"; then
        say "user 'assistant' exists"
    else
        groups=()
        grep -q '^audio:' "$prefix/etc/group" 2>/dev/null && groups=(--groups audio)
        where=()
        [[ $root == / ]] || where=(--prefix "$root")
        run useradd "${where[@]}" --system --user-group --home-dir "$state" --no-create-home \
            --shell /usr/sbin/nologin "${groups[@]}" --comment "voice assistant" assistant
    fi
    if [[ -f $passwd ]] && grep -q '^assistant:' "$passwd"; then
        uid=$(awk -F: '$1 == "assistant" {print $3}' "$passwd")
        gid=$(awk -F: '$1 == "assistant" {print $4}' "$passwd")
        owner=(-o "$uid" -g "$gid")
    fi
fi

# 2. The virtual environment with the assistant in it.
if [[ -x $prefix$venv/bin/python ]]; then
    say "venv $venv exists; upgrading the assistant in it"
else
    # shellcheck disable=SC2086
    run "$python" -m venv $venv_args "$prefix$venv"
fi
# shellcheck disable=SC2086
run "$prefix$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pip_args "$from"

if ((!user_mode)); then
    run install -m 0644 "$src/README.md" "$prefix/opt/assistant/README.md"
fi

# 3. Configuration: the documented example, never overwriting an existing file.
if [[ -e $prefix$config ]]; then
    say "keeping the existing $config"
else
    run install -d -m 0755 "$(dirname "$prefix$config")"
    conf_owner=()
    [[ -n $gid ]] && conf_owner=(-o 0 -g "$gid")
    run install -m 0640 "${conf_owner[@]}" "$src/config.example.toml" "$prefix$config"
fi

# 4. State and model directories.
run install -d -m 0750 "${owner[@]}" "$prefix$state" "$prefix$state/models"

# 5. The unit.
run install -d -m 0755 "$(dirname "$prefix$unit")"
run install -m 0644 "$unit_src" "$prefix$unit"

# 6. Enable it.
scope=()
((user_mode)) && scope=(--user)
if ((enable)); then
    if [[ $root != / ]]; then
        run systemctl --root="$root" "${scope[@]}" enable assistant.service
    elif [[ -d /run/systemd/system ]]; then
        run systemctl "${scope[@]}" daemon-reload
        run systemctl "${scope[@]}" enable assistant.service
        ((user_mode)) && say "to keep it running after logout: loginctl enable-linger $(id -un)"
    else
        say "systemd is not running here: enable later with 'systemctl${scope[*]:+ ${scope[*]}} enable assistant.service'"
    fi
fi

say "done. Put the model in $state/models/gemma-4-E2B-it-ONNX, edit $config,"
say "check with '$venv/bin/assistant doctor', then: systemctl${scope[*]:+ ${scope[*]}} start assistant"
