package ledger

import (
	"os"
	"syscall"
)

// willNeed tells the kernel that [off, off+n) of f will be read soon (posix_fadvise
// POSIX_FADV_WILLNEED): it starts reading what is not cached, without waiting. Its error is
// ignored: the request is advice, and the read reports any failure that matters.
func willNeed(f *os.File, off, n int64) {
	const fadvWillNeed = 3 // POSIX_FADV_WILLNEED
	syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), uintptr(off), uintptr(n), fadvWillNeed, 0, 0)
}
