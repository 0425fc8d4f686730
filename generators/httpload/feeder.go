package httpload

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync/atomic"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

// feeder hands out one template value per request.
type feeder struct {
	name       string
	values     []any // csv cells or rows, or random choices
	lo, hi     int64 // range, when values is nil
	sequential bool
	next       atomic.Uint64
	// columns are the header of a csv feeder that gives whole rows.
	columns []string
}

// value returns the feeder's next value.
func (f *feeder) value() any {
	var n uint64
	if f.values != nil {
		n = uint64(len(f.values))
	} else {
		n = uint64(f.hi-f.lo) + 1
	}
	var i uint64
	if f.sequential {
		i = (f.next.Add(1) - 1) % n
	} else {
		i = rand.Uint64N(n)
	}
	if f.values != nil {
		return f.values[i]
	}
	return f.lo + int64(i)
}

// validFeederOrder checks an order setting.
func sequentialOrder(order, path string, p *config.Problems) bool {
	switch order {
	case "", "random":
		return false
	case "sequential":
		return true
	}
	p.Addf(config.Key(path, "order"), "unknown order %q (want random or sequential)", order)
	return false
}

// compileFeeder validates one feeder config at path and loads its data.
// Relative CSV file names are resolved against baseDir.
func compileFeeder(name string, fc FeederConfig, path, baseDir string, p *config.Problems) *feeder {
	if !identRE.MatchString(name) {
		p.Addf(path, "invalid feeder name %q: templates use it as .%s, so use letters, digits and _", name, name)
		return nil
	}
	kinds := 0
	for _, set := range []bool{fc.Range != nil, fc.CSV != nil, fc.Random != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		p.Addf(path, "give exactly one of range, csv or random")
		return nil
	}
	f := &feeder{name: name}
	before := p.Len()
	switch {
	case fc.Range != nil:
		rp := config.Key(path, "range")
		f.lo, f.hi = fc.Range.From, fc.Range.To
		if f.hi < f.lo {
			p.Addf(config.Key(rp, "to"), "must not be below from (%d)", f.lo)
		}
		f.sequential = sequentialOrder(fc.Range.Order, rp, p)
	case fc.CSV != nil:
		cp := config.Key(path, "csv")
		f.sequential = sequentialOrder(fc.CSV.Order, cp, p)
		loadCSV(f, fc.CSV, generators.ResolvePath(baseDir, fc.CSV.File), cp, p)
	default:
		if len(fc.Random) == 0 {
			p.Addf(config.Key(path, "random"), "needs at least one value")
		}
		for i, v := range fc.Random {
			s, ok := scalarString(v)
			if !ok {
				p.Addf(config.Index(config.Key(path, "random"), i), "must be a string or number")
			}
			f.values = append(f.values, s)
		}
	}
	if p.Len() > before {
		return nil
	}
	return f
}

// loadCSV reads file: a header line, then at least one row.
func loadCSV(f *feeder, c *CSVFeeder, file, path string, p *config.Problems) {
	if c.File == "" {
		p.Addf(config.Key(path, "file"), "required")
		return
	}
	fh, err := os.Open(file)
	if err != nil {
		p.Addf(config.Key(path, "file"), "cannot read: %v", err)
		return
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	header, err := r.Read()
	if err != nil {
		p.Addf(config.Key(path, "file"), "%s: no header line: %v", c.File, err)
		return
	}
	col := -1
	if c.Column != "" {
		if col = slices.Index(header, c.Column); col < 0 {
			p.Addf(config.Key(path, "column"), "no column %q in %s (columns: %v)", c.Column, c.File, header)
			return
		}
	} else {
		f.columns = header
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.Addf(config.Key(path, "file"), "%s: %v", c.File, err)
			return
		}
		if col >= 0 {
			f.values = append(f.values, rec[col])
			continue
		}
		row := make(map[string]string, len(header))
		for i, h := range header {
			row[h] = rec[i]
		}
		f.values = append(f.values, row)
	}
	if len(f.values) == 0 {
		p.Addf(config.Key(path, "file"), "%s has a header but no rows", c.File)
	}
}

// scalarString renders a YAML scalar as a string.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int, int64, int32, uint, uint64, uint32, float64, float32, bool:
		return fmt.Sprint(v), true
	}
	return "", false
}
