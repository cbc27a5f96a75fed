//go:build !linux

package ledger

import "os"

// willNeed does nothing where posix_fadvise is not there: the reads wait on the disk.
func willNeed(f *os.File, off, n int64) {}
