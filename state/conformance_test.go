package state_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// TestConformance runs the same suite against every backend.
func TestConformance(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			for name, fn := range suite {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					fn(t, b.DSN(t))
				})
			}
		})
	}
}

var suite = map[string]func(t *testing.T, dsn string){
	"Hash":              testHash,
	"Rotations":         testRotations,
	"RotationRace":      testRotationRace,
	"UpdateRotationCAS": testUpdateRotationCAS,
	"StepsAndEvents":    testStepsAndEvents,
	"Verifications":     testVerifications,
	"Locks":             testLocks,
	"LockRace":          testLockRace,
	"LockChurn":         testLockChurn,
	"Audit":             testAudit,
	"Migrations":        testMigrations,
	"Schemas":           testSchemas,
}

func open(t *testing.T, dsn string) state.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := state.Open(ctx, dsn, state.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func testHash(t *testing.T, dsn string) {
	s1 := open(t, dsn)
	h := s1.Hash("x")
	if len(h) != 64 || h == s1.Hash("y") {
		t.Fatalf("Hash = %q", h)
	}
	// A second handle on the same database shares the key.
	s2 := open(t, dsn)
	if got := s2.Hash("x"); got != h {
		t.Fatalf("key not persistent: %s vs %s", got, h)
	}
}

func newRotation(s state.Store, n int) state.Rotation {
	return state.Rotation{
		ID:          fmt.Sprintf("rot-%d-%d", n, time.Now().UnixNano()),
		Fingerprint: s.Hash(fmt.Sprint("credential ", n)),
		Kind:        state.KindAuthToken,
		AccountSID:  fmt.Sprintf("acct-%d", n%2),
		CreatedBy:   "tester@host pid 1",
	}
}

func testRotations(t *testing.T, dsn string) {
	s := open(t, dsn)
	c := ctx(t)
	r1, err := s.CreateRotation(c, newRotation(s, 1))
	if err != nil {
		t.Fatal(err)
	}
	if r1.State != state.StateStarted || r1.Attempt != 1 || r1.CreatedAt.IsZero() {
		t.Fatalf("defaults not applied: %+v", r1)
	}
	dup := newRotation(s, 1)
	dup.ID = "other"
	got, err := s.CreateRotation(c, dup)
	if !errors.Is(err, state.ErrRotationExists) || got.ID != r1.ID {
		t.Fatalf("duplicate fingerprint: got %v, %+v", err, got)
	}
	if _, err := s.CreateRotation(c, state.Rotation{ID: "x"}); err == nil {
		t.Fatal("invalid rotation accepted")
	}
	r2, err := s.CreateRotation(c, newRotation(s, 2))
	if err != nil {
		t.Fatal(err)
	}
	r2.State, r2.FinishedAt = state.StateDone, time.Now()
	if _, err := s.UpdateRotation(c, r2, state.StateStarted); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Rotation(c, r1.ID); err != nil || got.Fingerprint != r1.Fingerprint {
		t.Fatalf("Rotation: %+v %v", got, err)
	}
	if _, err := s.Rotation(c, "nope"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("missing rotation: %v", err)
	}
	if got, err := s.RotationByFingerprint(c, r2.Fingerprint); err != nil || got.ID != r2.ID || got.State != state.StateDone || got.FinishedAt.IsZero() {
		t.Fatalf("RotationByFingerprint: %+v %v", got, err)
	}
	if _, err := s.RotationByFingerprint(c, "nope"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("missing fingerprint: %v", err)
	}
	all, err := s.Rotations(c, state.RotationFilter{})
	if err != nil || len(all) != 2 {
		t.Fatalf("Rotations: %d %v", len(all), err)
	}
	inflight, err := s.Rotations(c, state.RotationFilter{InFlight: true})
	if err != nil || len(inflight) != 1 || inflight[0].ID != r1.ID {
		t.Fatalf("InFlight: %+v %v", inflight, err)
	}
	byAcct, err := s.Rotations(c, state.RotationFilter{AccountSID: r2.AccountSID, States: []state.State{state.StateDone, state.StateFailed}})
	if err != nil || len(byAcct) != 1 || byAcct[0].ID != r2.ID {
		t.Fatalf("by account and state: %+v %v", byAcct, err)
	}
}

// testRotationRace: many handles (as many processes would) race to create
// the rotation of one credential; exactly one wins.
func testRotationRace(t *testing.T, dsn string) {
	const n = 8
	stores := make([]state.Store, n)
	for i := range stores {
		stores[i] = open(t, dsn)
	}
	c := ctx(t)
	var wins, exists atomic.Int32
	p := pool.New().WithErrors().WithContext(c)
	for i, s := range stores {
		p.Go(func(ctx context.Context) error {
			r := newRotation(s, 7)
			r.ID = fmt.Sprint("racer-", i)
			_, err := s.CreateRotation(ctx, r)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, state.ErrRotationExists):
				exists.Add(1)
			default:
				return err
			}
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if wins.Load() != 1 || exists.Load() != n-1 {
		t.Fatalf("wins=%d exists=%d", wins.Load(), exists.Load())
	}
}

func testUpdateRotationCAS(t *testing.T, dsn string) {
	s := open(t, dsn)
	c := ctx(t)
	r, err := s.CreateRotation(c, newRotation(s, 3))
	if err != nil {
		t.Fatal(err)
	}
	r.State, r.LeakedRole, r.NewSecretHash, r.Retryable = state.StateClassified, state.RolePrimary, s.Hash("new"), true
	step := state.Step{Attempt: 1, Name: "classify", Phase: state.PhaseDone, Detail: json.RawMessage(`{"role":"primary"}`), Actor: "a"}
	r, err = s.UpdateRotation(c, r, state.StateStarted, step)
	if err != nil {
		t.Fatal(err)
	}
	if r.LeakedRole != state.RolePrimary || r.NewSecretHash == "" || !r.Retryable {
		t.Fatalf("update lost fields: %+v", r)
	}
	stale := r
	stale.State = state.StateFailed
	if _, err := s.UpdateRotation(c, stale, state.StateStarted, step); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	steps, err := s.Steps(c, r.ID)
	if err != nil || len(steps) != 1 {
		t.Fatalf("steps after conflicting update: %d %v (the step must roll back with it)", len(steps), err)
	}
	if _, err := s.UpdateRotation(c, state.Rotation{ID: "nope", State: state.StateDone}, state.StateStarted); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
}

func testStepsAndEvents(t *testing.T, dsn string) {
	s := open(t, dsn)
	c := ctx(t)
	r, err := s.CreateRotation(c, newRotation(s, 4))
	if err != nil {
		t.Fatal(err)
	}
	for i, ph := range []state.Phase{state.PhaseStarted, state.PhaseDone, state.PhaseStarted, state.PhaseFailed} {
		if _, err := s.AppendStep(c, state.Step{RotationID: r.ID, Attempt: 1, Name: fmt.Sprint("step", i/2), Phase: ph, Actor: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendStep(c, state.Step{RotationID: r.ID, Name: "x", Phase: "bogus"}); err == nil {
		t.Fatal("bogus phase accepted")
	}
	if _, err := s.AppendStep(c, state.Step{RotationID: r.ID, Name: "x", Phase: state.PhaseDone, Detail: json.RawMessage("{")}); err == nil {
		t.Fatal("invalid detail accepted")
	}
	if _, err := s.AppendStep(c, state.Step{RotationID: "no-such-rotation", Name: "x", Phase: state.PhaseDone}); err == nil {
		t.Fatal("step of a missing rotation accepted")
	}
	steps, err := s.Steps(c, r.ID)
	if err != nil || len(steps) != 4 {
		t.Fatalf("Steps: %d %v", len(steps), err)
	}
	if steps[3].Phase != state.PhaseFailed || steps[2].Name != "step1" || steps[0].ID >= steps[1].ID {
		t.Fatalf("steps out of order: %+v", steps)
	}
	for _, k := range []string{"notified", "policy", "notified"} {
		if _, err := s.AppendEvent(c, state.Event{Fingerprint: r.Fingerprint, Kind: k, Detail: json.RawMessage(`{"a":1}`), Actor: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Events(c, state.EventFilter{Fingerprint: r.Fingerprint, Kind: "notified"})
	if err != nil || len(evs) != 2 || string(evs[0].Detail) != `{"a":1}` {
		t.Fatalf("Events: %+v %v", evs, err)
	}
	if evs, _ := s.Events(c, state.EventFilter{}); len(evs) != 3 {
		t.Fatalf("all events: %d", len(evs))
	}
}

func testVerifications(t *testing.T, dsn string) {
	s := open(t, dsn)
	c := ctx(t)
	fp := s.Hash("cred")
	for _, st := range []string{state.StatusUnknown, state.StatusLive} {
		if _, err := s.RecordVerification(c, state.Verification{Fingerprint: fp, Kind: state.KindAuthToken, AccountSID: "acct", Status: st, Actor: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordVerification(c, state.Verification{Fingerprint: fp, Status: "maybe"}); err == nil {
		t.Fatal("bogus status accepted")
	}
	vs, err := s.Verifications(c, fp)
	if err != nil || len(vs) != 2 || vs[1].Status != state.StatusLive || vs[0].At.IsZero() {
		t.Fatalf("Verifications: %+v %v", vs, err)
	}
	if vs, _ := s.Verifications(c, "other"); len(vs) != 0 {
		t.Fatalf("filter ignored: %+v", vs)
	}
}

func testLocks(t *testing.T, dsn string) {
	a, b := open(t, dsn), open(t, dsn)
	c := ctx(t)
	la, err := a.AcquireLock(c, "account:1", "alice", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.AcquireLock(c, "account:1", "bob", time.Minute)
	var le *state.LockedError
	if !errors.As(err, &le) || !errors.Is(err, state.ErrLocked) || le.Owner != "alice" {
		t.Fatalf("contended acquire: %v", err)
	}
	// Another name is independent.
	if _, err := b.AcquireLock(c, "account:2", "bob", time.Minute); err != nil {
		t.Fatal(err)
	}
	if locks, err := a.Locks(c); err != nil || len(locks) != 2 {
		t.Fatalf("Locks: %+v %v", locks, err)
	}
	// Renew, release, reacquire.
	if la, err = a.RenewLock(c, la, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.ReleaseLock(c, la); err != nil {
		t.Fatal(err)
	}
	lb, err := b.AcquireLock(c, "account:1", "bob", 200*time.Millisecond)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	// alice's old lease cannot renew or release bob's.
	if _, err := a.RenewLock(c, la, time.Minute); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("renew of a released lease: %v", err)
	}
	if err := a.ReleaseLock(c, la); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AcquireLock(c, "account:1", "alice", time.Minute); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("stale release freed the lock: %v", err)
	}
	// A crashed holder's lease expires.
	time.Sleep(300 * time.Millisecond)
	la, err = a.AcquireLock(c, "account:1", "alice", time.Minute)
	if err != nil {
		t.Fatalf("acquire after expiry: %v", err)
	}
	if _, err := b.RenewLock(c, lb, time.Minute); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("renew of a taken-over lease: %v", err)
	}
	// An expired lease nobody took over can still be renewed.
	lc, err := a.AcquireLock(c, "account:3", "alice", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := a.RenewLock(c, lc, time.Minute); err != nil {
		t.Fatalf("renew of an expired, untaken lease: %v", err)
	}
	_ = la
}

// testLockRace: many handles race for one lease; exactly one gets it.
func testLockRace(t *testing.T, dsn string) {
	const n = 8
	stores := make([]state.Store, n)
	for i := range stores {
		stores[i] = open(t, dsn)
	}
	c := ctx(t)
	var wins atomic.Int32
	p := pool.New().WithErrors().WithContext(c)
	for i, s := range stores {
		p.Go(func(ctx context.Context) error {
			_, err := s.AcquireLock(ctx, "account:race", fmt.Sprint("owner-", i), time.Minute)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, state.ErrLocked):
			default:
				return err
			}
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if wins.Load() != 1 {
		t.Fatalf("%d owners got the lease", wins.Load())
	}
}

// testLockChurn takes and releases one lease from several handles at once,
// over and over: a lease released (its row deleted) between another
// acquirer's insert and its read must not make that acquirer fail.
func testLockChurn(t *testing.T, dsn string) {
	const n, rounds = 6, 40
	c := ctx(t)
	var wins atomic.Int32
	p := pool.New().WithErrors().WithContext(c)
	for i := range n {
		s := open(t, dsn)
		p.Go(func(ctx context.Context) error {
			for range rounds {
				l, err := s.AcquireLock(ctx, "account:churn", fmt.Sprint("owner-", i), time.Minute)
				if errors.Is(err, state.ErrLocked) {
					continue
				}
				if err != nil {
					return err
				}
				wins.Add(1)
				if err := s.ReleaseLock(ctx, l); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if wins.Load() == 0 {
		t.Fatal("no one ever got the lease")
	}
}

func testAudit(t *testing.T, dsn string) {
	s := open(t, dsn)
	c := ctx(t)
	fp := s.Hash("audit")
	if _, err := s.RecordVerification(c, state.Verification{Fingerprint: fp, Kind: state.KindAuthToken, Status: state.StatusLive, Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	r := newRotation(s, 5)
	r.Fingerprint = fp
	r, err := s.CreateRotation(c, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendStep(c, state.Step{RotationID: r.ID, Attempt: 1, Name: "create-secondary", Phase: state.PhaseStarted, Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(c, state.Event{Fingerprint: fp, RotationID: r.ID, Kind: "notified", Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := state.WriteAudit(c, s, &buf); err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &entries); err != nil {
		t.Fatalf("audit is not JSON: %v\n%s", err, buf.String())
	}
	var types []string
	for _, e := range entries {
		types = append(types, e["type"].(string))
	}
	if fmt.Sprint(types) != "[verification rotation step event]" {
		t.Fatalf("audit order: %v\n%s", types, buf.String())
	}
}

func testMigrations(t *testing.T, dsn string) {
	// Opening many handles at once on a fresh database migrates it once.
	c := ctx(t)
	p := pool.NewWithResults[state.Store]().WithErrors().WithContext(c)
	for range 6 {
		p.Go(func(ctx context.Context) (state.Store, error) { return state.Open(ctx, dsn, state.Options{}) })
	}
	stores, err := p.Wait()
	for _, s := range stores {
		defer s.Close()
	}
	if err != nil {
		t.Fatalf("concurrent open: %v", err)
	}
	h := stores[0].Hash("k")
	for _, s := range stores {
		if s.Hash("k") != h {
			t.Fatal("concurrent first opens created different keys")
		}
	}
}

// testSchemas shows that a component's own tables are migrated once, versioned
// apart from the core's, grow by appended migrations, and are reachable
// through Store.Tx with '?' placeholders on both backends.
func testSchemas(t *testing.T, dsn string) {
	c := ctx(t)
	v1 := state.Schema{Name: "orgtest", Migrations: [][]string{1: {
		`CREATE TABLE orgtest_cursors (repo TEXT PRIMARY KEY, commit_id TEXT NOT NULL, at BIGINT NOT NULL)`,
	}}}
	p := pool.NewWithResults[state.Store]().WithErrors().WithContext(c)
	for range 4 {
		p.Go(func(ctx context.Context) (state.Store, error) {
			return state.Open(ctx, dsn, state.Options{Schemas: []state.Schema{v1}})
		})
	}
	stores, err := p.Wait()
	for _, s := range stores {
		defer s.Close()
	}
	if err != nil {
		t.Fatalf("concurrent open with a schema: %v", err)
	}
	s := stores[0]
	err = s.Tx(c, func(tx state.Tx) error {
		now, err := tx.Now(c)
		if err != nil {
			return err
		}
		if d := time.Since(now); d < -time.Minute || d > time.Minute {
			return fmt.Errorf("database clock %v is far from ours", now)
		}
		_, err = tx.Exec(c, `INSERT INTO orgtest_cursors (repo, commit_id, at) VALUES (?, ?, ?)`, "o/r", "c1", now.UnixMicro())
		return err
	})
	if err != nil {
		t.Fatalf("write through Tx: %v", err)
	}
	// An error rolls the transaction back.
	boom := errors.New("boom")
	err = s.Tx(c, func(tx state.Tx) error {
		if _, err := tx.Exec(c, `UPDATE orgtest_cursors SET commit_id = ? WHERE repo = ?`, "c2", "o/r"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	// A second version adds a column; reopening applies only it.
	v2 := v1
	v2.Migrations = append(append([][]string(nil), v1.Migrations...), []string{
		`ALTER TABLE orgtest_cursors ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0`,
	})
	s2 := open(t, dsn)
	s2.Close()
	s2, err = state.Open(c, dsn, state.Options{Schemas: []state.Schema{v2}})
	if err != nil {
		t.Fatalf("open with version 2: %v", err)
	}
	defer s2.Close()
	var commit string
	var attempts int
	err = s2.Tx(c, func(tx state.Tx) error {
		return tx.QueryRow(c, `SELECT commit_id, attempts FROM orgtest_cursors WHERE repo = ?`+tx.ForUpdate(), "o/r").Scan(&commit, &attempts)
	})
	if err != nil || commit != "c1" || attempts != 0 {
		t.Fatalf("after migration 2: %q %d %v; want the first write kept and the rollback undone", commit, attempts, err)
	}
	// The core schema is untouched by the extension's versions.
	if _, err := s2.CreateRotation(c, newRotation(s2, 1)); err != nil {
		t.Fatalf("core tables after an extension migrated: %v", err)
	}
	// The older code refuses the newer extension schema.
	if s3, err := state.Open(c, dsn, state.Options{Schemas: []state.Schema{v1}}); err == nil {
		s3.Close()
		t.Fatal("version-1 code opened a version-2 extension schema")
	} else if !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), "orgtest") {
		t.Fatalf("version-1 code on a version-2 schema: %v", err)
	}
}
