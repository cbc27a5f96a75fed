//go:build !linux

package aggregate

import "unsafe"

// hugePages does nothing where madvise's MADV_HUGEPAGE is not (see hugepages_linux.go).
func hugePages(p unsafe.Pointer, n uintptr) {}
