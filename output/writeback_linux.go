package output

import (
	"os"
	"syscall"
)

// startWriteback asks for [off, off+n) of f to be written to disk now (sync_file_range
// with SYNC_FILE_RANGE_WRITE alone: start, don't wait). Its error is ignored: the request
// is advice, and fsync reports any write-back error that matters.
func startWriteback(f *os.File, off, n int64) {
	const syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE
	syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, f.Fd(), uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
}
