package output

import (
	"io"
	"os"
)

// writebackBytes is how much a file takes between two requests to start writing back
// (writeback): by its Close only the last stretch is left for fsync to wait for. On the
// 10M month the fsyncs at the end had been waiting on 300 MB of outputs with the processor
// idle.
const writebackBytes = 8 << 20

// writebackFile is an output file that asks the kernel to start writing its data to disk
// every writebackBytes, without waiting for it (the bytes-per-sync of careful storage
// engines). It changes nothing about what is durable: fsync at Close still decides that.
type writebackFile struct {
	*os.File
	written, requested int64 // bytes written; bytes whose write-back was asked for
}

func (f *writebackFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written += int64(n)
	if f.written-f.requested >= writebackBytes {
		startWriteback(f.File, f.requested, f.written-f.requested)
		f.requested = f.written
	}
	return n, err
}

// NewWritebackFile returns f as a writer that starts writing its data back every
// writebackBytes (see writebackFile), for a caller's own large files.
func NewWritebackFile(f *os.File) io.Writer { return &writebackFile{File: f} }
