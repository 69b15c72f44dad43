# True when this system runs systemd and the script is not in a chroot that merely sees the
# host's /run (reloading the host's systemd from an image build would be wrong).
systemd_runs() {
	[ -d /run/systemd/system ] || return 1
	if command -v systemd-detect-virt >/dev/null 2>&1 && systemd-detect-virt --quiet --chroot; then
		return 1
	fi
	return 0
}
