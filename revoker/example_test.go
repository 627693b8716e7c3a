package revoker_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/state"
)

// How a command wires the revoker: configuration, store, Twilio client,
// sinks and notifiers, then Plan or Apply.
func Example() {
	ctx := context.Background()
	cfg, err := revoker.LoadConfig("leakstop.toml")
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakstop: error:", err)
		return
	}
	dsn := cfg.State
	if dsn == "" { // $XDG_STATE_HOME/leakstop/state.db, else ~/.local/state/leakstop/state.db
		if dsn, err = state.DefaultPath(os.Getenv("XDG_STATE_HOME")); err != nil {
			fmt.Fprintln(os.Stderr, "leakstop: error:", err)
			return
		}
	}
	st, err := state.Open(ctx, dsn, state.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakstop: error:", err)
		return
	}
	defer st.Close()
	sinks, notifiers, err := cfg.Build(ctx, revoker.DefaultFactories(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakstop: warning:", err) // the plan shows what this blocks
	}
	rv, err := revoker.New(cfg, revoker.Deps{
		Store: st, Twilio: twilio.New(twilio.Options{}), Sinks: sinks, Notifiers: notifiers, Getenv: os.Getenv,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakstop: error:", err)
		return
	}
	var leaks []revoker.Leak // from the scanner's report
	res, err := rv.Apply(ctx, leaks)
	if errors.Is(err, revoker.ErrPlanMode) {
		plan, err := rv.Plan(ctx, leaks)
		if err == nil {
			_ = plan.WriteText(os.Stdout)
		}
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakstop: error:", err)
		return
	}
	_ = res.WriteText(os.Stdout)
}
