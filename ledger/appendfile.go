package ledger

import (
	"bufio"
	"fmt"
	"os"
	"unsafe"
)

// appendFile is an append-only temporary file of fixed-size records of T (plain data, no
// pointers), read back whole once: what a layer's index is built from is gathered while the
// run holds its own memory, and loaded only once the run's memory is garbage.
type appendFile[T any] struct {
	f   *os.File
	w   *bufio.Writer
	n   int
	err error
}

func newAppendFile[T any](dir, name string) (*appendFile[T], error) {
	f, err := os.CreateTemp(dir, name+"-*.tmp")
	if err != nil {
		return nil, err
	}
	return &appendFile[T]{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// add appends v.
func (a *appendFile[T]) add(v T) {
	if a.err == nil {
		_, a.err = a.w.Write(unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v)))
	}
	a.n++
}

// addAll appends vs.
func (a *appendFile[T]) addAll(vs []T) {
	if len(vs) == 0 {
		return
	}
	if a.err == nil {
		var zero T
		_, a.err = a.w.Write(unsafe.Slice((*byte)(unsafe.Pointer(&vs[0])), uintptr(len(vs))*unsafe.Sizeof(zero)))
	}
	a.n += len(vs)
}

// load reads every record back and removes the file.
func (a *appendFile[T]) load() ([]T, error) {
	defer a.drop()
	if a.err != nil {
		return nil, a.err
	}
	if err := a.w.Flush(); err != nil {
		return nil, err
	}
	out := make([]T, a.n)
	if a.n == 0 {
		return out, nil
	}
	var zero T
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), uintptr(a.n)*unsafe.Sizeof(zero))
	if n, err := a.f.ReadAt(buf, 0); n != len(buf) {
		return nil, fmt.Errorf("%s: %d bytes read back of %d: %v", a.f.Name(), n, len(buf), err)
	}
	return out, nil
}

// drop removes the file.
func (a *appendFile[T]) drop() {
	if a != nil && a.f != nil {
		a.f.Close()
		os.Remove(a.f.Name())
		a.f = nil
	}
}
