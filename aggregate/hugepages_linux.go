package aggregate

import (
	"syscall"
	"unsafe"
)

// hugePages asks the kernel to back the whole 2 MiB pages within [p, p+n) with huge pages
// (madvise MADV_HUGEPAGE), for memory that is read at random over tens of megabytes or
// more (the directory's slots): with 4 KiB pages nearly every look-up there also missed the
// processor's page-table caches. The kernel may compact memory to find the huge pages when
// they are first touched, so it is not asked for the largest tables (NewDirectory). The
// memory must not have been touched yet for it to matter, and the advice is only advice:
// where transparent huge pages are off it does nothing, and an error is ignored for that
// reason.
//
// Only tables of hugeMin bytes or more are advised: the advice stays on that stretch of the
// Go heap after the table is freed, and a small table (a person partition's directory) gains
// nothing from it.
func hugePages(p unsafe.Pointer, n uintptr) {
	const huge = 2 << 20
	if n < hugeMin {
		return
	}
	start := (uintptr(p) + huge - 1) &^ (huge - 1)
	end := (uintptr(p) + n) &^ (huge - 1)
	if end <= start {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start), syscall.MADV_HUGEPAGE)
}
