# download-lib.sh - what the download scripts share (sourced, not run):
# resumable downloads to <file>.part, checked against a published size and
# SHA-256 where known, renamed into place only when they check out.
#
# The sourcing script sets:
#   prog         its name, for messages
#   out          the directory the files go to
# and defines:
#   expected FILE      prints "SIZE SHA256" when they are known, nothing otherwise
#   unchecked FILE SIZE SHA256   (optional) prints the line for a file whose
#                      checksum is not known; the default says it was not checked
# then calls download_init once its arguments are read, and
# `download_fetch FILE URL` for each file.

die() {
    echo "$prog: $*" >&2
    exit 1
}

# Checks for the tools, once the arguments are read (so --help works without them).
download_init() {
    command -v curl >/dev/null || die "curl is not installed (Debian/Ubuntu: apt-get install curl)"
    if command -v sha256sum >/dev/null; then
        sha256() { sha256sum "$1" | cut -d' ' -f1; }
    elif command -v shasum >/dev/null; then
        sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
    else
        die "neither sha256sum nor shasum is installed"
    fi
}
file_size() { wc -c <"$1" | tr -d ' '; }

# Checks path against the expected "size sha256" (may be empty); prints what
# it found. Returns 1 for a wrong size, 2 for a wrong checksum.
verify() {
    local path=$1 file=$2 exp got_size got_sha
    exp=$(expected "$file")
    got_size=$(file_size "$path")
    if [ -n "$exp" ] && [ "$got_size" != "${exp%% *}" ]; then
        echo "  $file: $got_size bytes, expected ${exp%% *}" >&2
        return 1
    fi
    got_sha=$(sha256 "$path")
    if [ -n "$exp" ]; then
        if [ "$got_sha" != "${exp#* }" ]; then
            echo "  $file: sha256 $got_sha, expected ${exp#* }" >&2
            return 2
        fi
        echo "  $file: $got_size bytes, sha256 $got_sha (checked)"
        return 0
    fi
    if declare -F unchecked >/dev/null; then
        unchecked "$file" "$got_size" "$got_sha"
    else
        echo "  $file: $got_size bytes, sha256 $got_sha (no published checksum recorded; not checked)"
    fi
    return 0
}

# download_fetch FILE URL: $out/FILE from URL, resumably, checked.
download_fetch() {
    local file=$1 url=$2 dest="$out/$1" exp rc=0 why
    exp=$(expected "$file")
    if [ -f "$dest" ]; then
        verify "$dest" "$file" ||
            die "$dest is already there but does not match (see above); delete it and run again"
        return 0
    fi
    local part="$dest.part"
    if [ -n "$exp" ] && [ -f "$part" ] && [ "$(file_size "$part")" -gt "${exp%% *}" ]; then
        echo "  $part is larger than $file should be; starting over"
        rm -f "$part"
    fi
    if [ -z "$exp" ] || [ ! -f "$part" ] || [ "$(file_size "$part")" != "${exp%% *}" ]; then
        echo "fetching $url"
        local progress=(--silent --show-error)
        [ -t 2 ] && progress=(--progress-bar)
        # -C - continues a .part left by an earlier run; curl retries transient
        # failures itself, and a later run of the script resumes the rest.
        curl -fL --retry 5 --retry-delay 3 --connect-timeout 30 -C - \
            "${progress[@]}" \
            -o "$part" "$url" || rc=$?
        if [ "$rc" -ne 0 ]; then
            case "$rc" in
            6) why="cannot resolve the host name" ;;
            7) why="cannot connect to the host" ;;
            22) why="the server answered with an error (wrong size, revision or file name?)" ;;
            28) why="the connection timed out" ;;
            33) why="the server refused to resume; delete $part and run again" ;;
            37) why="cannot read the file" ;;
            *) why="curl failed" ;;
            esac
            [ -f "$part" ] && [ "$(file_size "$part")" -gt 0 ] && why="$why; $part is kept, run again to resume"
            [ -f "$part" ] && [ "$(file_size "$part")" -eq 0 ] && rm -f "$part"
            die "cannot download $url: $why (curl exit $rc)"
        fi
    fi
    rc=0
    verify "$part" "$file" || rc=$?
    case "$rc" in
    0) mv -f "$part" "$dest" ;;
    1) die "$file: the download is incomplete or not the published file; $part is kept, run again to resume" ;;
    *) rm -f "$part"; die "$file: checksum mismatch, the download is corrupt or not the published file; removed $part" ;;
    esac
}
