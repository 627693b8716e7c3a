package revoker

import (
	"strings"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// TestNewTakesTheEnvironmentFromItsCaller: the revoker reads no
// environment of its own; without Getenv (main passes os.Getenv) New fails
// instead of quietly reading the process's.
func TestNewTakesTheEnvironmentFromItsCaller(t *testing.T) {
	st, err := state.Open(t.Context(), storetest.SQLite(t), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tw := twilio.New(twilio.Options{})
	if _, err := New(Config{}, Deps{Store: st, Twilio: tw}); err == nil || !strings.Contains(err.Error(), "Getenv") {
		t.Fatalf("New without Getenv: %v", err)
	}
	var asked []string
	rv, err := New(Config{}, Deps{Store: st, Twilio: tw, Getenv: func(k string) string { asked = append(asked, k); return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if got := rv.ownerSecret(&AccountConfig{CredentialEnv: "OWNER_TOKEN"}); !got.IsZero() || len(asked) != 1 || asked[0] != "OWNER_TOKEN" {
		t.Fatalf("ownerSecret read %v, got %v", asked, got)
	}
}
