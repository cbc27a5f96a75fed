package pqcol

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// Rows streams the rows of the file at path as structs of type T, a batch at a time (fn must
// not keep the slice). T's fields are matched to columns by their parquet tag (the name
// before any comma); every field must be a string, a bool, a float64 or a signed integer, and every
// tagged field's column must be in the file. Values are written straight from the column
// views into the structs: no parquet.Row, no reflection per value.
//
// Strings of columns whose values repeat (insurer numbers, months, codes) are interned, so
// a file of millions of rows does not allocate a string per field.
func Rows[T any](ctx context.Context, path string, fn func(rows []T) error) error {
	plan, err := planOf(reflect.TypeFor[T]())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	names := make([]string, len(plan))
	for i, f := range plan {
		names[i] = f.name
	}
	r, err := Open(path, names...)
	if err != nil {
		return err
	}
	defer r.Close()
	for i, f := range plan {
		if !kindFits(f.kind, r.Kind(i)) {
			return fmt.Errorf("%s: column %s is %v, which a %v field cannot hold", path, f.name, r.Kind(i), f.kind)
		}
	}
	buf := make([]T, maxBatch)
	interns := make([]Interner, len(plan))
	var total int64
	err = r.Scan(ctx, func(b *Batch) error {
		rows := buf[:b.Len]
		if b.Len == 0 {
			return nil
		}
		fill(unsafe.Pointer(&rows[0]), unsafe.Sizeof(rows[0]), b, plan, interns)
		total += int64(b.Len)
		return fn(rows)
	})
	if err == nil && total != r.NumRows() {
		err = fmt.Errorf("%s: read %d rows, footer says %d", path, total, r.NumRows())
	}
	return err
}

func kindFits(k reflect.Kind, col parquet.Kind) bool {
	switch k {
	case reflect.String:
		return col == parquet.ByteArray
	case reflect.Bool:
		return col == parquet.Boolean
	case reflect.Float64:
		return col == parquet.Double
	default:
		return col == parquet.Int64 || col == parquet.Int32
	}
}

// field is where one column's values go in the struct.
type field struct {
	name string
	off  uintptr
	kind reflect.Kind
}

func planOf(t reflect.Type) ([]field, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("row type %v is not a struct", t)
	}
	var plan []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("parquet")
		name, _, _ := strings.Cut(tag, ",")
		if !ok || name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		switch k := sf.Type.Kind(); k {
		case reflect.String, reflect.Bool, reflect.Float64, reflect.Int, reflect.Int64, reflect.Int32, reflect.Int16, reflect.Int8:
			plan = append(plan, field{name: name, off: sf.Offset, kind: k})
		default:
			return nil, fmt.Errorf("field %s of %v: type %v cannot be read by column", sf.Name, t, sf.Type)
		}
	}
	return plan, nil
}

// fill writes the batch's values into the structs at base (size bytes apart).
func fill(base unsafe.Pointer, size uintptr, b *Batch, plan []field, interns []Interner) {
	at := func(i int, f *field) unsafe.Pointer { return unsafe.Add(base, uintptr(i)*size+f.off) }
	for c := range plan {
		f := &plan[c]
		switch f.kind {
		case reflect.String:
			v := b.Bytes(c)
			for i := range b.Len {
				*(*string)(at(i, f)) = interns[c].String(v.At(i))
			}
		case reflect.Bool:
			v := b.Bools(c)
			for i := range b.Len {
				*(*bool)(at(i, f)) = v.At(i)
			}
		case reflect.Float64:
			v := b.Float64s(c)
			for i := range b.Len {
				*(*float64)(at(i, f)) = v.At(i)
			}
		case reflect.Int, reflect.Int64:
			v := b.Int64s(c)
			for i := range b.Len {
				*(*int64)(at(i, f)) = v.At(i)
			}
		case reflect.Int32:
			v := b.Int64s(c)
			for i := range b.Len {
				*(*int32)(at(i, f)) = int32(v.At(i))
			}
		case reflect.Int16:
			v := b.Int64s(c)
			for i := range b.Len {
				*(*int16)(at(i, f)) = int16(v.At(i))
			}
		case reflect.Int8:
			v := b.Int64s(c)
			for i := range b.Len {
				*(*int8)(at(i, f)) = int8(v.At(i))
			}
		}
	}
}

// Interner gives one string per distinct value of a column whose values repeat (dates,
// months, codes, insurer numbers), so that a file of millions of rows does not allocate a
// string per field. A column that turns out to have too many distinct values (ids) stops
// being interned and allocates as usual. The zero value is ready to use.
type Interner struct {
	m   map[string]string
	off bool
}

const internMax = 1 << 12

// String returns b as a string, the same string for the same bytes while interning lasts.
func (in *Interner) String(b []byte) string {
	if in.off {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) == internMax {
		in.off, in.m = true, nil
		return string(b)
	}
	s := string(b)
	in.m[s] = s
	return s
}
