package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// A look-up in a mapped index touches a page of each of five or six sections, and a page
// first touched costs a fault: some 17 µs on this machine (the kernel maps the 16 pages
// around it), so that 262 households looked up in a month of 4 million took 30–50 ms, against
// 0.4 ms once the pages were mapped. A cascade looks its few households up in every month
// it reaches. For so few look-ups a view of the index reads the 4 KiB pages it needs with
// pread (a couple of microseconds each) instead; many look-ups share the pages they fault
// in, and keep to the mapping.

// pagedPage is the size of the pages a paged view reads.
const pagedPage = 4 << 10

// pagedPerLookup: keys fewer than one in pagedPerLookup households of an index are looked
// up through a paged view. A look-up reads some ten pages (20 µs); faulting in all of a
// month's sections takes some 2,000 faults (35 ms), the cost of about 2,000 look-ups.
const pagedPerLookup = 2048

// pagedFile reads an index's pages on demand and keeps them for the view's life.
type pagedFile struct {
	f     *os.File
	size  int
	pages map[int][]byte
	err   error
}

// read returns the n bytes at at; on an error, zeros (the view's err says what failed).
func (p *pagedFile) read(at, n int) []byte {
	if at < 0 || n < 0 || at+n > p.size {
		p.fail(fmt.Errorf("%s: read past the end of the index: damaged", p.f.Name()))
		return make([]byte, n)
	}
	first, last := at/pagedPage, (at+n-1)/pagedPage
	if n > 0 && first == last {
		pg := p.page(first)
		return pg[at-first*pagedPage : at-first*pagedPage+n]
	}
	out := make([]byte, 0, n)
	for pg := first; pg <= last && n > 0; pg++ {
		data := p.page(pg)
		from := max(at-pg*pagedPage, 0)
		to := min(at+n-pg*pagedPage, len(data))
		out = append(out, data[from:to]...)
	}
	return out
}

func (p *pagedFile) page(i int) []byte {
	if pg, ok := p.pages[i]; ok {
		return pg
	}
	pg := make([]byte, min(pagedPage, p.size-i*pagedPage))
	if _, err := p.f.ReadAt(pg, int64(i*pagedPage)); err != nil {
		p.fail(fmt.Errorf("%s: %w", p.f.Name(), err))
		clear(pg)
	}
	p.pages[i] = pg
	return pg
}

func (p *pagedFile) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// pagedViews gives, for the look-ups of keys, each index of xs or a paged view of it when
// keys are few beside its households; done closes the views' files.
func pagedViews(xs []*index, keys *keySet) (views []*index, done func()) {
	views = make([]*index, len(xs))
	var files []*os.File
	for i, x := range xs {
		views[i] = x
		if keys == nil || x.paged != nil || keys.size()*pagedPerLookup >= x.nH {
			continue
		}
		f, err := os.Open(filepath.Join(x.layer, IndexFile))
		if err != nil {
			continue // the mapping serves
		}
		files = append(files, f)
		v := *x
		v.paged = &pagedFile{f: f, size: len(x.data), pages: map[int][]byte{}}
		views[i] = &v
	}
	return views, func() {
		for _, f := range files {
			f.Close()
		}
	}
}

// viewsErr is the first error a paged view met.
func viewsErr(xs []*index) error {
	var errs []error
	for _, x := range xs {
		if x.paged != nil && x.paged.err != nil {
			errs = append(errs, x.paged.err)
		}
	}
	return errors.Join(errs...)
}
