package demo

import (
	"fmt"
	"strconv"

	"github.com/loadd/loadd/config"
)

// faultFlag writes one field of the AllRoutes fault in Options.Faults.
type faultFlag struct{ o *Options }

type faultSetter func(f *Fault, s string) error

// field returns a kingpin.Value that sets one field of the AllRoutes fault.
func (ff faultFlag) field(set faultSetter) *faultField {
	return &faultField{o: ff.o, set: set}
}

type faultField struct {
	o   *Options
	set faultSetter
	s   string
}

// Set implements kingpin.Value.
func (f *faultField) Set(s string) error {
	if f.o.Faults == nil {
		f.o.Faults = map[string]Fault{}
	}
	cur := f.o.Faults[AllRoutes]
	if err := f.set(&cur, s); err != nil {
		return err
	}
	if err := cur.Validate(); err != nil {
		return err
	}
	f.o.Faults[AllRoutes] = cur
	f.s = s
	return nil
}

// String implements kingpin.Value.
func (f *faultField) String() string { return f.s }

func setBase(f *Fault, s string) (err error) {
	f.Base, err = config.ParseDuration(s)
	return err
}

func setJitter(f *Fault, s string) (err error) {
	f.Jitter, err = config.ParseDuration(s)
	return err
}

func setDist(f *Fault, s string) error {
	f.Dist = s
	return nil // Validate names the allowed values
}

func setRatio(f *Fault, s string) (err error) {
	f.ErrorRatio, err = config.ParseRatio(s)
	return err
}

func setCode(f *Fault, s string) error {
	c, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("invalid status code %q", s)
	}
	f.ErrorCode = c
	return nil
}

// routesFlag merges per-route faults given as JSON into Options.Faults.
type routesFlag struct{ o *Options }

// Set implements kingpin.Value.
func (r routesFlag) Set(s string) error {
	change, err := parseFaults([]byte(s), routeNames())
	if err != nil {
		return err
	}
	if r.o.Faults == nil {
		r.o.Faults = map[string]Fault{}
	}
	for route, f := range change {
		if f == nil {
			delete(r.o.Faults, route)
			continue
		}
		r.o.Faults[route] = *f
	}
	return nil
}

// String implements kingpin.Value.
func (r routesFlag) String() string { return "" }
