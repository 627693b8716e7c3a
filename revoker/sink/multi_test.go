package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

type fakeSink struct {
	name  string
	err   error
	panic bool
	leak  bool
	calls atomic.Int32
}

func (f *fakeSink) Name() string { return f.name }

func (f *fakeSink) Deliver(ctx context.Context, d Delivery) error {
	f.calls.Add(1)
	switch {
	case f.panic:
		panic("boom with " + d.Secret.Reveal())
	case f.leak:
		return fmt.Errorf("careless sink: %s", d.Secret.Reveal())
	}
	return f.err
}

var errFake = errors.New("fake failure")

func TestDeliverAll(t *testing.T) {
	sinks := []*fakeSink{
		{name: "ok-1"},
		{name: "bad", err: errFake},
		{name: "panics", panic: true},
		{name: "leaks", leak: true},
		{name: "ok-2"},
		{name: "ok-3"},
	}
	var list []Sink
	for _, s := range sinks {
		list = append(list, s)
	}
	d := newDelivery(t)
	rep := DeliverAll(context.Background(), d, list...)
	for _, s := range sinks {
		if s.calls.Load() != 1 {
			t.Errorf("%s called %d times", s.name, s.calls.Load())
		}
	}
	if rep.OK() || len(rep.Results) != 6 || rep.Results[4].Sink != "ok-2" {
		t.Fatalf("report = %+v", rep)
	}
	var failed []string
	for _, r := range rep.Failed() {
		failed = append(failed, r.Sink)
	}
	if strings.Join(failed, ",") != "bad,panics,leaks" {
		t.Fatalf("failed = %v", failed)
	}
	err := rep.Err()
	var de *DeliveryError
	if !errors.As(err, &de) || de.Total != 6 || !errors.Is(err, errFake) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "deliver to 3 of 6 sinks failed") || !strings.Contains(msg, "panics: panic: boom") {
		t.Fatalf("err = %v", msg)
	}
	assertNoSecretPiece(t, msg, d)

	if err := (Multi{sinks[0], sinks[4]}).Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	m := Multi{sinks[0], sinks[1]}
	if m.Name() != "multi(ok-1,bad)" || !errors.Is(m.Deliver(context.Background(), d), errFake) {
		t.Fatal("Multi does not report its failing sink")
	}
	if !DeliverAll(context.Background(), d).OK() {
		t.Fatal("no sinks is not OK")
	}
}
